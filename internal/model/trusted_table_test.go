package model

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

// daily is a table model of one row per day, judged by its day.
var daily = plan.Model{Name: "daily", Schema: "marts", Materialized: plan.MaterializedTable, EventTime: "day",
	SQLText: "select day, count(*)::bigint as n, sum(amount)::numeric(14, 2) as amount from raw.events group by day"}

// days returns the table's rows as day → "n/amount".
func days(t *testing.T, pool *pgxpool.Pool, rel string) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT day::text, n::text || '/' || amount::text FROM `+rel)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var d, v string
		require.NoError(t, rows.Scan(&d, &v))
		out[d] = v
	}
	require.NoError(t, rows.Err())
	return out
}

func heldCount(t *testing.T, pool *pgxpool.Pool, rel string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM etl2elt.held_rows WHERE relation = $1`, rel).Scan(&n))
	return n
}

// A table model with an event_time in a domain with a trusted period keeps its
// trusted rows: a late row dated in a trusted day is held and reported, rows from the
// trusted-until on are rebuilt, the database guard refuses SQL that would remove
// trusted rows, and an override rewrites them.
func TestTableModelKeepsTrustedRows(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-02', 20), (3, '2026-01-03', 30), (4, '2026-01-04', 40)`)
	trust := Trust{Until: day("2026-01-03"), Domain: "finance"}

	res, err := Run(ctx, pool, Request{Model: daily, RunID: "r1", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Rows, "a first build loads everything: nothing was signed off in ELT")
	require.Nil(t, res.Held)
	signedOff := days(t, pool, "marts.daily")
	require.Equal(t, map[string]string{"2026-01-01": "1/10.00", "2026-01-02": "1/20.00", "2026-01-03": "1/30.00", "2026-01-04": "1/40.00"}, signedOff)
	var eventTime, domain string
	require.NoError(t, pool.QueryRow(ctx, `SELECT event_time, domain FROM etl2elt.trusted_periods WHERE relation = 'marts.daily' AND trusted_until = '2026-01-03'`).Scan(&eventTime, &domain))
	require.Equal(t, "day", eventTime)
	require.Equal(t, "finance", domain)

	// An unchanged rerun changes nothing and holds nothing.
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r2", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	require.EqualValues(t, 2, res.Rows, "only the days from the trusted-until on are rewritten")
	require.Equal(t, signedOff, days(t, pool, "marts.daily"))

	// A late event dated Jan 2 (trusted), a changed Jan 4 (not trusted), a new Jan 5.
	exec(t, pool, `INSERT INTO raw.events VALUES (5, '2026-01-02', 5), (6, '2026-01-05', 50); UPDATE raw.events SET amount = 44 WHERE id = 4`)
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r3", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.Equal(t, &Held{Rows: 1, Kept: 1, Days: []string{"2026-01-02"}}, res.Held, "the new Jan 2 row is held, the signed-off one kept")
	require.EqualValues(t, 3, res.Rows)
	got := days(t, pool, "marts.daily")
	require.Equal(t, "1/20.00", got["2026-01-02"], "the trusted row is unchanged")
	require.Equal(t, "1/44.00", got["2026-01-04"], "rows after the trusted-until are rebuilt")
	require.Equal(t, "1/50.00", got["2026-01-05"])
	var reason, run, wf, heldDay string
	var heldAmount float64
	require.NoError(t, pool.QueryRow(ctx, `SELECT reason, run_id, workflow_id, to_char(event_time, 'YYYY-MM-DD'), (row_data->>'amount')::float8 FROM etl2elt.held_rows WHERE relation = 'marts.daily'`).
		Scan(&reason, &run, &wf, &heldDay, &heldAmount))
	require.Equal(t, heldReason, reason)
	require.Equal(t, "r3", run)
	require.Equal(t, "wf", wf)
	require.Equal(t, "2026-01-02", heldDay)
	require.EqualValues(t, 25, heldAmount, "what the model computes now is kept as evidence")

	// Rerunning holds the same row again, reports it, and records it once.
	before := days(t, pool, "marts.daily")
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r4", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.Equal(t, &Held{Rows: 1, Kept: 1, Days: []string{"2026-01-02"}}, res.Held)
	require.Equal(t, before, days(t, pool, "marts.daily"), "idempotent")
	require.Equal(t, 1, heldCount(t, pool, "marts.daily"))

	// A trusted day ELT never had loads; a trusted day whose events are gone stays.
	exec(t, pool, `INSERT INTO raw.events VALUES (7, '2025-12-31', 7); DELETE FROM raw.events WHERE id = 1`)
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r5", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.Equal(t, &Held{Rows: 1, Kept: 2, Days: []string{"2026-01-01", "2026-01-02"}}, res.Held)
	got = days(t, pool, "marts.daily")
	require.Equal(t, "1/7.00", got["2025-12-31"], "a day with no trusted rows yet loads")
	require.Equal(t, "1/10.00", got["2026-01-01"], "a signed-off day the model no longer produces is kept")

	// The database guard: SQL written later cannot remove trusted rows.
	for _, stmt := range []string{
		`DELETE FROM marts.daily WHERE day = '2026-01-01'`,
		`UPDATE marts.daily SET amount = 0 WHERE day = '2026-01-02'`,
		`TRUNCATE marts.daily`,
		`DELETE FROM marts.daily`,
	} {
		_, err := pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, stmt)
		require.Equal(t, "23514", pgErr.Code, stmt)
		require.Contains(t, pgErr.Message, "trusted rows", stmt)
	}
	errRollback := errors.New("roll back")
	require.ErrorIs(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM marts.daily WHERE day = '2026-01-05'`)
		require.NoError(t, err, "rows after the trusted period are not guarded")
		if _, err := tx.Exec(ctx, `SELECT set_config('etl2elt.trusted_override', 'override by dana: test of the guard', true)`); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM marts.daily WHERE day = '2026-01-01'`)
		require.NoError(t, err, "with the override set, the transaction may remove trusted rows")
		return errRollback // the next runs see the table as it was
	}), errRollback)
	require.Equal(t, got, days(t, pool, "marts.daily"))

	// With a recorded override, the run rewrites the trusted rows.
	over := trust
	over.Override = "override by dana: restated Jan 2 after the late order"
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r6", WorkflowID: "wf", Trust: over})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	require.EqualValues(t, 5, res.Rows)
	got = days(t, pool, "marts.daily")
	require.Equal(t, map[string]string{"2025-12-31": "1/7.00", "2026-01-02": "2/25.00", "2026-01-03": "1/30.00", "2026-01-04": "1/44.00", "2026-01-05": "1/50.00"}, got)

	// The rewritten rows are the trusted rows now: the next run holds nothing.
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r7", WorkflowID: "wf", Trust: trust})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	require.Equal(t, got, days(t, pool, "marts.daily"))
	var runs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.model_runs WHERE model = 'daily' AND status = 'succeeded'`).Scan(&runs))
	require.Equal(t, 7, runs)
}

// Rows are compared as a multiset of whole rows: a model without a key that produces
// a row once more than the table holds has that copy held; NULL event times are not
// trusted.
func TestTableModelComparesWholeRows(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-01', 10), (3, NULL, 1), (4, '2026-01-05', 5)`)
	m := plan.Model{Name: "events_copy", Schema: "marts", Materialized: plan.MaterializedTable, EventTime: "day", SQLText: "select day, amount from raw.events"}
	trust := Trust{Until: day("2026-01-03")}
	_, err := Run(ctx, pool, Request{Model: m, RunID: "r1", Trust: trust})
	require.NoError(t, err)

	exec(t, pool, `INSERT INTO raw.events VALUES (5, '2026-01-01', 10), (6, NULL, 2)`)
	res, err := Run(ctx, pool, Request{Model: m, RunID: "r2", Trust: trust})
	require.NoError(t, err)
	require.Equal(t, &Held{Rows: 1, Days: []string{"2026-01-01"}}, res.Held, "the third identical copy is held")
	require.EqualValues(t, 3, res.Rows, "Jan 5 and both NULL-dated rows")
	var trusted, undated int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE day = '2026-01-01'), count(*) FILTER (WHERE day IS NULL) FROM marts.events_copy`).Scan(&trusted, &undated))
	require.Equal(t, 2, trusted)
	require.Equal(t, 2, undated)

	// A timestamptz event time, and a column type without an equality operator (json).
	hourly := plan.Model{Name: "hourly", Schema: "marts", Materialized: plan.MaterializedTable, EventTime: "at",
		SQLText: `select (day::timestamptz + interval '1 hour') as at, amount, json_build_object('id', id) as meta from raw.events where day is not null`}
	_, err = Run(ctx, pool, Request{Model: hourly, RunID: "r3", Trust: trust})
	require.NoError(t, err)
	res, err = Run(ctx, pool, Request{Model: hourly, RunID: "r4", Trust: trust})
	require.NoError(t, err)
	require.Nil(t, res.Held, "identical rows are not held")
	exec(t, pool, `UPDATE raw.events SET amount = 11 WHERE id = 2`)
	res, err = Run(ctx, pool, Request{Model: hourly, RunID: "r5", Trust: trust})
	require.NoError(t, err)
	require.Equal(t, &Held{Rows: 1, Kept: 1, Days: []string{"2026-01-01"}}, res.Held)
	var amount float64
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount FROM marts.hourly WHERE meta->>'id' = '2'`).Scan(&amount))
	require.EqualValues(t, 10, amount)
}

// Without a trusted period, or without an event_time, a table model is rebuilt
// whole, as before; a trusted period an earlier run recorded goes with the setting
// that made it.
func TestTableModelWithoutTrustIsRebuiltWhole(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-04', 40)`)
	trust := Trust{Until: day("2026-01-03")}
	registered := func() bool {
		var ok bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl2elt.trusted_periods WHERE relation = 'marts.daily')`).Scan(&ok))
		return ok
	}

	// No trusted period: every row follows the model.
	_, err := Run(ctx, pool, Request{Model: daily, RunID: "r1"})
	require.NoError(t, err)
	require.False(t, registered())
	exec(t, pool, `INSERT INTO raw.events VALUES (3, '2026-01-01', 5)`)
	res, err := Run(ctx, pool, Request{Model: daily, RunID: "r2"})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	require.EqualValues(t, 2, res.Rows)
	require.Equal(t, "2/15.00", days(t, pool, "marts.daily")["2026-01-01"])

	// Protected, then the plan drops event_time: the table is rebuilt whole again.
	_, err = Run(ctx, pool, Request{Model: daily, RunID: "r3", Trust: trust})
	require.NoError(t, err)
	require.True(t, registered())
	exec(t, pool, `INSERT INTO raw.events VALUES (4, '2026-01-01', 1)`)
	res, err = Run(ctx, pool, Request{Model: daily, RunID: "r4", Trust: trust})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Held.Rows)
	noEventTime := daily
	noEventTime.EventTime = ""
	res, err = Run(ctx, pool, Request{Model: noEventTime, RunID: "r5", Trust: trust})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	require.False(t, registered(), "nothing to judge rows by: not protected")
	require.Equal(t, "3/16.00", days(t, pool, "marts.daily")["2026-01-01"])

	// Protected again, then the plan drops trusted_until.
	_, err = Run(ctx, pool, Request{Model: daily, RunID: "r6", Trust: trust})
	require.NoError(t, err)
	require.True(t, registered())
	exec(t, pool, `DELETE FROM raw.events WHERE id = 4`)
	_, err = Run(ctx, pool, Request{Model: daily, RunID: "r7"})
	require.NoError(t, err)
	require.False(t, registered())
	require.Equal(t, "2/15.00", days(t, pool, "marts.daily")["2026-01-01"])
	_, err = pool.Exec(ctx, `DELETE FROM marts.daily WHERE day = '2026-01-01'`)
	require.NoError(t, err, "no trusted period: the guard lets it")

	// A view model is untouched by trust: it shows what its sources hold.
	v := plan.Model{Name: "v_daily", Schema: "marts", Materialized: plan.MaterializedView, EventTime: "day", SQLText: "select * from marts.daily"}
	res, err = Run(ctx, pool, Request{Model: v, RunID: "r8", Trust: trust})
	require.NoError(t, err)
	require.Nil(t, res.Held)
	var viewRegistered bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl2elt.trusted_periods WHERE relation = 'marts.v_daily')`).Scan(&viewRegistered))
	require.False(t, viewRegistered)
}

// An event_time that cannot judge rows fails the run as bad input, before any write.
func TestTableModelEventTimeMustBeADate(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10)`)
	trust := Trust{Until: day("2026-01-03")}
	for _, c := range []struct{ eventTime, want string }{
		{"missing", `model daily: marts.daily: event_time "missing" is not one of its columns; it must be a date or timestamp column of the model's rows`},
		{"amount", `model daily: marts.daily: event_time "amount" is numeric; it must be a date or timestamp column of the model's rows`},
	} {
		m := daily
		m.EventTime = c.eventTime
		_, err := Run(ctx, pool, Request{Model: m, RunID: "r-" + c.eventTime, Trust: trust})
		var et *EventTimeError
		require.ErrorAs(t, err, &et)
		require.True(t, et.BadInput())
		require.EqualError(t, err, c.want)
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('marts.daily') IS NOT NULL`).Scan(&exists))
		require.False(t, exists, "the first build is rolled back")
	}
}
