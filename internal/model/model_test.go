package model

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "model"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE SCHEMA raw; CREATE TABLE raw.events (id bigint, day date, amount numeric)`)
	require.NoError(t, err)
	return pool
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql)
	require.NoError(t, err)
}

func fingerprint(t *testing.T, pool *pgxpool.Pool, rel string) (int64, string) {
	t.Helper()
	var n int64
	var sum string
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*), coalesce(md5(string_agg(concat_ws('|', id, day, amount), ',' ORDER BY id)), '') FROM `+rel).Scan(&n, &sum))
	return n, sum
}

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

var incr = plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental,
	UniqueKey: []string{"id"}, EventTime: "day", Lookback: "1d",
	SQLText: "select id, day, amount from raw.events"}

func TestIncrementalReplacesOnlyItsWindow(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-02', 20), (3, '2026-01-03', 30), (4, '2026-01-04', 40)`)

	full := window.Window{From: day("2026-01-01"), To: day("2026-01-05")}
	res, err := Run(ctx, pool, Request{Model: incr, RunID: "r1", Window: full, Inputs: []Input{{Source: "events", LoadID: "l1", ObjectKey: "k1"}}})
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Rows)
	require.Equal(t, day("2025-12-31"), res.Window.From, "the lookback widens the window")
	n1, sum1 := fingerprint(t, pool, "marts.fct_events")
	require.EqualValues(t, 4, n1)

	// Rerunning the same window changes nothing.
	_, err = Run(ctx, pool, Request{Model: incr, RunID: "r2", Window: full})
	require.NoError(t, err)
	n2, sum2 := fingerprint(t, pool, "marts.fct_events")
	require.Equal(t, n1, n2)
	require.Equal(t, sum1, sum2)

	// A late row for Jan 3 and a change to Jan 1 (outside the next window).
	exec(t, pool, `INSERT INTO raw.events VALUES (5, '2026-01-03', 5); UPDATE raw.events SET amount = 999 WHERE id = 1`)
	res, err = Run(ctx, pool, Request{Model: incr, RunID: "r3", Window: window.Window{From: day("2026-01-04"), To: day("2026-01-05")}})
	require.NoError(t, err)
	require.Equal(t, day("2026-01-03"), res.Window.From)
	require.EqualValues(t, 3, res.Rows, "Jan 3 (ids 3 and 5) and Jan 4 (id 4)")
	require.EqualValues(t, 2, res.RowsDeleted)
	var amount1, n int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount FROM marts.fct_events WHERE id = 1`).Scan(&amount1))
	require.EqualValues(t, 10, amount1, "rows outside the window are untouched")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM marts.fct_events`).Scan(&n))
	require.EqualValues(t, 5, n)

	// A key whose event time moved into the window is not counted twice.
	exec(t, pool, `UPDATE raw.events SET day = '2026-01-04' WHERE id = 2`)
	_, err = Run(ctx, pool, Request{Model: incr, RunID: "r4", Window: window.Window{From: day("2026-01-04"), To: day("2026-01-05")}})
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM marts.fct_events WHERE id = 2`).Scan(&n))
	require.EqualValues(t, 1, n)

	// Runs and lineage are recorded.
	var runs, inputs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.model_runs WHERE model = 'fct_events' AND status = 'succeeded' AND window_from IS NOT NULL`).Scan(&runs))
	require.Equal(t, 4, runs)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.model_run_inputs i JOIN etl2elt.model_runs r ON r.id = i.model_run_id WHERE r.run_id = 'r1' AND i.object_key = 'k1'`).Scan(&inputs))
	require.Equal(t, 1, inputs)
}

func TestIncrementalRefusesDuplicateKeys(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (1, '2026-01-01', 11)`)
	_, err := Run(ctx, pool, Request{Model: incr, RunID: "r1", Window: window.Window{From: day("2026-01-01"), To: day("2026-01-02")}})
	var dup *DuplicateKeyError
	require.ErrorAs(t, err, &dup)
	require.EqualError(t, err, "model fct_events: unique key (id) is not unique in the window, e.g. (1)")
	var status string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM etl2elt.model_runs WHERE run_id = 'r1'`).Scan(&status))
	require.Equal(t, "failed", status)
}

func TestTableModelKeepsDependentViews(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10)`)
	m := plan.Model{Name: "totals", Schema: "marts", Materialized: plan.MaterializedTable, SQLText: "select day, sum(amount) as amount from raw.events group by day"}
	_, err := Run(ctx, pool, Request{Model: m, RunID: "r1"})
	require.NoError(t, err)
	exec(t, pool, `CREATE SCHEMA reporting; CREATE VIEW reporting.totals AS SELECT * FROM marts.totals`)
	exec(t, pool, `INSERT INTO raw.events VALUES (2, '2026-01-01', 5)`)
	res, err := Run(ctx, pool, Request{Model: m, RunID: "r2"})
	require.NoError(t, err, "a consumption view on the table does not block the rebuild")
	require.EqualValues(t, 1, res.Rows)
	var total int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount FROM reporting.totals`).Scan(&total))
	require.EqualValues(t, 15, total)

	bad := plan.Model{Name: "broken", Schema: "marts", Materialized: plan.MaterializedView, SQLText: "select * from raw.missing"}
	_, err = Run(ctx, pool, Request{Model: bad, RunID: "r3"})
	require.ErrorContains(t, err, `model broken: ERROR: relation "raw.missing" does not exist`)

	// A data-modifying WITH in a model is refused, for tables and views alike.
	exec(t, pool, `CREATE TABLE raw.victim (a int); INSERT INTO raw.victim VALUES (1)`)
	for _, mat := range []string{plan.MaterializedTable, plan.MaterializedView} {
		evil := plan.Model{Name: "evil_" + mat, Schema: "marts", Materialized: mat, SQLText: "with d as (delete from raw.victim returning a) select a from d"}
		_, err = Run(ctx, pool, Request{Model: evil, RunID: "r5"})
		require.ErrorContains(t, err, "WITH clause containing a data-modifying statement must be at the top level")
	}
	var victims int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM raw.victim`).Scan(&victims))
	require.Equal(t, 1, victims)

	// Columns in another order are inserted by name; a changed column set is refused.
	reordered := m
	reordered.SQLText = "select sum(amount) as amount, day from raw.events group by day"
	_, err = Run(ctx, pool, Request{Model: reordered, RunID: "r6"})
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount FROM marts.totals`).Scan(&total))
	require.EqualValues(t, 15, total)
	widened := m
	widened.SQLText = "select day, sum(amount) as amount, count(*) as n from raw.events group by day"
	_, err = Run(ctx, pool, Request{Model: widened, RunID: "r7"})
	var changed *ColumnsChangedError
	require.ErrorAs(t, err, &changed)
	require.ErrorContains(t, err, "model totals: the columns of marts.totals changed (added: n; removed: none)")

	twoStatements := plan.Model{Name: "sneaky", Schema: "marts", Materialized: plan.MaterializedView, SQLText: "select 1; drop table marts.totals"}
	_, err = Run(ctx, pool, Request{Model: twoStatements, RunID: "r4"})
	require.ErrorContains(t, err, `syntax error at or near ";"`, "a second statement is refused, never run")
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount FROM marts.totals`).Scan(&total))
}

// A view model whose columns change other than by appending (renamed, dropped,
// reordered) is dropped and created again in its run's transaction; with other views
// on it, the run fails naming them and the old view stays.
func TestViewModelColumnsChange(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10)`)
	v := plan.Model{Name: "stg_events", Schema: "staging", Materialized: plan.MaterializedView, SQLText: "select id, day, amount as old_name from raw.events"}
	_, err := Run(ctx, pool, Request{Model: v, RunID: "r1"})
	require.NoError(t, err)

	// What a DROP would lose: grants, comment, options.
	exec(t, pool, `GRANT SELECT ON staging.stg_events TO PUBLIC; COMMENT ON VIEW staging.stg_events IS 'it''s staged';
ALTER VIEW staging.stg_events SET (security_barrier = true)`)
	props := func() (acl, comment string, opts []string) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT c.relacl::text, obj_description(c.oid, 'pg_class'), c.reloptions
FROM pg_class AS c WHERE c.oid = 'staging.stg_events'::regclass`).Scan(&acl, &comment, &opts))
		return
	}
	acl, comment, opts := props()

	v.SQLText = "select id, amount as new_name from raw.events" // a column renamed, one dropped
	_, err = Run(ctx, pool, Request{Model: v, RunID: "r2"})
	require.NoError(t, err)
	var got int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT new_name FROM staging.stg_events`).Scan(&got))
	require.EqualValues(t, 10, got)
	acl2, comment2, opts2 := props()
	require.Equal(t, acl, acl2, "grants kept")
	require.Contains(t, acl2, "=r/", "PUBLIC may still read it")
	require.Equal(t, "it's staged", comment2)
	require.Equal(t, comment, comment2)
	require.Equal(t, opts, opts2)

	exec(t, pool, `CREATE SCHEMA reporting; CREATE VIEW reporting.events AS SELECT id FROM staging.stg_events`)
	v.SQLText = "select id, amount as newer_name from raw.events"
	_, err = Run(ctx, pool, Request{Model: v, RunID: "r3"})
	var colErr *ViewColumnsError
	require.ErrorAs(t, err, &colErr)
	require.ErrorContains(t, err, `view staging.stg_events: cannot change name of view column "new_name" to "newer_name"; it must be dropped and created again, but other views depend on it (view reporting.events depends on view staging.stg_events): change or drop them first`)
	require.NoError(t, pool.QueryRow(ctx, `SELECT new_name FROM staging.stg_events`).Scan(&got), "the old view stays")
}
