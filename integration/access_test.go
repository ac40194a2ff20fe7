package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/internal/access"
	"etl2elt/internal/cutover"
	"etl2elt/internal/demo"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
)

// TestAccessByLayer applies the plan's roles on the real warehouse and checks what
// each may do: the BI reader reads the consumption view (not its PII-marked column),
// never raw or the models; the transformer reads raw but cannot write it; the loader
// writes raw; tables created later get the grants; a cutover keeps the BI grants.
func TestAccessByLayer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	landed(t, h)
	require.NoError(t, demo.LinkLegacy(ctx, h.warehouse, h.legacyDSN))
	sfx := testenv.Suffix()
	loader, transformer, bi := "it_loader_"+sfx, "it_transformer_"+sfx, "it_bi_"+sfx
	for _, r := range []string{loader, transformer, bi} {
		_, err := h.warehouse.Exec(ctx, `CREATE ROLE `+pgx.Identifier{r}.Sanitize()+` NOLOGIN`)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = h.warehouse.Exec(context.Background(), `DROP OWNED BY `+pgx.Identifier{r}.Sanitize())
			_, _ = h.warehouse.Exec(context.Background(), `DROP ROLE `+pgx.Identifier{r}.Sanitize())
		})
	}
	b, err := os.ReadFile(filepath.Join(h.planDir, "demo", "plan.yaml"))
	require.NoError(t, err)
	p, err := plan.Parse("plan.yaml", b)
	require.NoError(t, err)
	for i, c := range p.Sources[0].Columns {
		if c.Name == "region" {
			p.Sources[0].Columns[i].PII = "mask" // marked PII for this test
		}
	}
	d, _ := p.Domain("finance")
	views := activities.ConsumptionViews(p, d)
	require.NoError(t, cutover.Switch(ctx, h.warehouse, "finance", views, cutover.Legacy))

	// Roles missing in the warehouse: a clear refusal.
	p.Access = &plan.Access{Loader: loader, Transformer: transformer, BIReader: "it_nobody_" + sfx}
	_, err = access.Apply(ctx, h.warehouse, p, []string{"reporting.daily_revenue"})
	var missing *access.MissingRoleError
	require.ErrorAs(t, err, &missing)
	require.Contains(t, err.Error(), "it_nobody_"+sfx)

	p.Access = &plan.Access{Loader: loader, Transformer: transformer, BIReader: bi}
	res, err := access.Apply(ctx, h.warehouse, p, []string{"reporting.daily_revenue"})
	require.NoError(t, err)
	require.Equal(t, []string{"region"}, res.Views["reporting.daily_revenue"])

	as := func(role, sql string) error {
		return pgx.BeginFunc(ctx, h.warehouse, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+pgx.Identifier{role}.Sanitize()); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
	}
	denied := func(err error) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == "42501"
	}
	check := func(when string) {
		require.NoError(t, as(bi, `SELECT day, orders, revenue FROM reporting.daily_revenue`), "%s: BI reads the consumption view", when)
		require.True(t, denied(as(bi, `SELECT region FROM reporting.daily_revenue`)), "%s: not its PII column", when)
		require.True(t, denied(as(bi, `SELECT * FROM raw.orders`)), "%s: not raw", when)
		require.True(t, denied(as(bi, `SELECT * FROM marts.fct_daily_revenue`)), "%s: not the models", when)
	}
	check("after apply")
	require.NoError(t, as(transformer, `SELECT count(*) FROM raw.orders`))
	require.NoError(t, as(transformer, `SELECT count(*) FROM marts.fct_daily_revenue`))
	require.True(t, denied(as(transformer, `DELETE FROM raw.orders`)), "the transformer does not write raw")
	require.ErrorIs(t, as(loader, `DELETE FROM raw.orders WHERE order_id = -1`), nil, "the loader writes raw")

	// A table the worker creates later: default privileges.
	_, err = h.warehouse.Exec(ctx, `CREATE TABLE raw.later (id int)`)
	require.NoError(t, err)
	require.NoError(t, as(transformer, `SELECT * FROM raw.later`))
	require.True(t, denied(as(bi, `SELECT * FROM raw.later`)))

	// Cutover and rollback keep the BI reader's grants.
	require.NoError(t, cutover.Switch(ctx, h.warehouse, "finance", views, cutover.ELT))
	check("after the cutover")
	require.NoError(t, cutover.Switch(ctx, h.warehouse, "finance", views, cutover.Legacy))
	check("after the rollback")
}
