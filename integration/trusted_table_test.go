package integration

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/model"
	"etl2elt/workflows"
)

// dailyRevenue reads marts.fct_daily_revenue: "day/region" → "orders/revenue".
func (h *harness) dailyRevenue(where string) map[string]string {
	h.t.Helper()
	return h.keyValues(`SELECT day::text || '/' || region, orders::text || '/' || revenue::text FROM marts.fct_daily_revenue WHERE ` + where)
}

// TestTrustedRowsStayTrustedInTableModels: the demo's table model (it declares an
// event_time) keeps its signed-off days through pipeline runs: a late order dated in
// the trusted period is held and reported instead of changing a day's revenue, the
// database guard refuses SQL that would remove trusted rows, and a run with a
// recorded override rewrites them.
func TestTrustedRowsStayTrustedInTableModels(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h.seed(0)
	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)
	// The week is signed off up to Jan 4.
	h.editPlan(`trusted_until: "2025-07-01"`, `trusted_until: "2026-01-04"`)
	h.editPlan(`  to: "2026-01-01"`, `  to: "2026-02-01"`)
	signedOff := h.dailyRevenue(`day < '2026-01-04'`)
	require.Len(t, signedOff, 9, "3 days × 3 regions")
	const jan3 = "2026-01-03/emea"
	require.Contains(t, signedOff, jan3)

	// A late order dated Jan 3 lands; the next run (Jan 4) rebuilds the table.
	_, err = h.warehouse.Exec(ctx, `INSERT INTO raw.orders (order_id, customer_id, region, amount, ordered_at, _etl_load, _etl_loaded_at, _etl_line)
VALUES (777777, 'c-late', 'emea', 4200.00, '2026-01-03 10:00:00+00', 0, now(), 2)`)
	require.NoError(t, err)
	in := demoInput
	in.From, in.To = "2026-01-04", "2026-01-05"
	_, out, err := h.run(in)
	require.NoError(t, err)
	require.Equal(t, signedOff, h.dailyRevenue(`day < '2026-01-04'`), "a signed-off day's revenue is unchanged")
	var got *model.Held
	for _, m := range out.Models.Models {
		if m.Model == "fct_daily_revenue" {
			got = m.Held
		}
	}
	require.Equal(t, &model.Held{Rows: 1, Kept: 1, Days: []string{"2026-01-03"}}, got, "the run reports the day that differs")
	var held int
	var region string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*), min(row_data->>'region') FROM etl2elt.held_rows WHERE relation = 'marts.fct_daily_revenue'`).Scan(&held, &region))
	require.Equal(t, 1, held)
	require.Equal(t, "emea", region)

	// The database guard on the table model.
	for _, stmt := range []string{
		`DELETE FROM marts.fct_daily_revenue WHERE day = '2026-01-02'`,
		`UPDATE marts.fct_daily_revenue SET revenue = revenue + 1 WHERE day = '2026-01-01'`,
		`TRUNCATE marts.fct_daily_revenue`,
	} {
		_, err := h.warehouse.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, stmt)
		require.Equal(t, "23514", pgErr.Code, stmt)
	}

	// A run of Jan 3 with a recorded override takes the late order in.
	in.From, in.To = "2026-01-03", "2026-01-04"
	in.OverrideTrusted = &workflows.Override{By: "cfo-office", Reason: "late order of Jan 3 restated by finance"}
	_, out, err = h.run(in)
	require.NoError(t, err)
	after := h.dailyRevenue(`day < '2026-01-04'`)
	require.NotEqual(t, signedOff[jan3], after[jan3], "the override rewrote the trusted day")
	for k, v := range signedOff {
		if k != jan3 {
			require.Equal(t, v, after[k], k)
		}
	}
	for _, m := range out.Models.Models {
		if m.Model == "fct_daily_revenue" {
			require.Nil(t, m.Held)
		}
	}
	var overrides int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.decisions WHERE kind = 'override-trusted'`).Scan(&overrides))
	require.Equal(t, 1, overrides)
}
