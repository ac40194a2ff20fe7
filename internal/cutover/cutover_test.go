package cutover

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/testenv"
)

func TestSwitchRepointsEveryViewAtOnceAndKeepsGrants(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "cutover"))
	role := "dash_" + testenv.Suffix() // roles are cluster-wide: unique per run
	_, err := pool.Exec(ctx, `
CREATE SCHEMA legacy; CREATE SCHEMA marts;
CREATE TABLE legacy.revenue (day date, revenue numeric); INSERT INTO legacy.revenue VALUES ('2026-01-01', 10);
CREATE TABLE marts.revenue (day date, revenue numeric); INSERT INTO marts.revenue VALUES ('2026-01-01', 11);
CREATE TABLE legacy.orders (day date, orders bigint); INSERT INTO legacy.orders VALUES ('2026-01-01', 1);
CREATE TABLE marts.orders (day date, orders bigint); INSERT INTO marts.orders VALUES ('2026-01-01', 2);
CREATE ROLE `+role)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP OWNED BY `+role+`; DROP ROLE IF EXISTS `+role) })
	views := []View{
		{Name: "reporting.revenue", Legacy: "legacy.revenue", ELT: "marts.revenue"},
		{Name: "reporting.orders", Legacy: "legacy.orders", ELT: "marts.orders"},
	}
	require.NoError(t, Switch(ctx, pool, "finance", views, Legacy))
	_, err = pool.Exec(ctx, `GRANT SELECT ON reporting.revenue, reporting.orders TO `+role)
	require.NoError(t, err)

	where := func(v string) string {
		rel, err := Where(ctx, pool, v)
		require.NoError(t, err)
		return rel
	}
	require.Equal(t, "legacy.revenue", where("reporting.revenue"))

	require.NoError(t, Switch(ctx, pool, "finance", views, ELT))
	require.Equal(t, "marts.revenue", where("reporting.revenue"))
	require.Equal(t, "marts.orders", where("reporting.orders"))
	var revenue int
	require.NoError(t, pool.QueryRow(ctx, `SELECT revenue FROM reporting.revenue`).Scan(&revenue))
	require.Equal(t, 11, revenue)
	var granted bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT has_table_privilege($1, 'reporting.orders', 'SELECT')`, role).Scan(&granted))
	require.True(t, granted, "grants survive the switch")

	// A view that cannot switch (columns differ) leaves every view where it was.
	_, err = pool.Exec(ctx, `CREATE TABLE marts.orders_v2 (day date, orders bigint, channel text)`)
	require.NoError(t, err)
	bad := []View{views[0], {Name: "reporting.orders", Legacy: "legacy.orders", ELT: "marts.orders_v2"}}
	require.NoError(t, Switch(ctx, pool, "finance", views, Legacy))
	err = Switch(ctx, pool, "finance", bad, ELT)
	require.ErrorContains(t, err, "point reporting.orders at marts.orders_v2: its columns (day date, orders bigint, channel text) differ from the view's (day date, orders bigint)")
	require.Equal(t, "legacy.revenue", where("reporting.revenue"), "never half-switched")
	require.Equal(t, "legacy.orders", where("reporting.orders"))

	require.ErrorContains(t, Switch(ctx, pool, "finance", []View{{Name: "reporting.x; drop", Legacy: "a.b", ELT: "c.d"}}, ELT), "not a safe SQL identifier")
	require.ErrorContains(t, Switch(ctx, pool, "finance", views, "sideways"), `cutover side "sideways"`)
}
