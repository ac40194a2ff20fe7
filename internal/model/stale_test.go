package model

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// TestStaleness builds an incremental model over four days with real runs, then
// changes its SQL, its lookback and its upstream model in turn, and checks which
// periods are stale, why, and with how many rows; a whitespace-only change marks
// nothing, and rebuilding a period makes it fresh.
func TestStaleness(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-02', 20), (3, '2026-01-03', 30), (4, '2026-01-04', 40), (5, '2026-01-04', 5)`)
	stg := plan.Model{Name: "stg_events", Schema: "staging", Materialized: plan.MaterializedView, SQLText: "select id, day, amount from raw.events"}
	fct := plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental, UniqueKey: []string{"id"}, EventTime: "day",
		DependsOn: []string{"stg_events"}, SQLText: "select id, day, amount from staging.stg_events"}
	build := func(p plan.Model, runID, from, to string) {
		t.Helper()
		_, err := Run(ctx, pool, Request{Model: p, RunID: runID, Window: window.Window{From: day(from), To: day(to)}})
		require.NoError(t, err)
	}
	status := func(models ...plan.Model) Status {
		t.Helper()
		p := &plan.Plan{Models: models}
		st, err := Staleness(ctx, pool, p, models[len(models)-1:])
		require.NoError(t, err)
		require.Len(t, st, 1)
		return st[0]
	}
	build(stg, "s1", "2026-01-01", "2026-01-05")
	build(fct, "r1", "2026-01-01", "2026-01-03")
	build(fct, "r2", "2026-01-03", "2026-01-05")

	st := status(stg, fct)
	require.Empty(t, st.Stale, "nothing changed")
	require.Equal(t, st.Current, st.Built)

	ws := fct
	ws.SQLText = "SELECT id, day, amount\n  FROM staging.stg_events -- the same\n"
	require.Empty(t, status(stg, ws).Stale, "a whitespace-only change marks nothing")

	// The SQL changes: every period is stale, one range, with its rows.
	changed := fct
	changed.SQLText = "select id, day, amount * 2 as amount from staging.stg_events"
	st = status(stg, changed)
	require.Equal(t, []string{"SQL"}, st.Changes)
	require.Len(t, st.Stale, 1)
	require.Equal(t, day("2026-01-01"), *st.Stale[0].From)
	require.Equal(t, day("2026-01-05"), *st.Stale[0].To)
	require.EqualValues(t, 5, st.Stale[0].Rows)
	require.Equal(t, []string{"SQL"}, st.Stale[0].Why)

	// Rebuilding Jan 3-4 with the new SQL leaves Jan 1-2 stale.
	build(changed, "r3", "2026-01-03", "2026-01-05")
	st = status(stg, changed)
	require.Len(t, st.Stale, 1)
	require.Equal(t, day("2026-01-01"), *st.Stale[0].From)
	require.Equal(t, day("2026-01-03"), *st.Stale[0].To)
	require.EqualValues(t, 2, st.Stale[0].Rows)

	// A lookback change is a settings change.
	longer := changed
	longer.Lookback = "2d"
	st = status(stg, longer)
	require.Equal(t, []string{"lookback - → 2d"}, st.Changes)
	require.Len(t, st.Stale, 2, "Jan 1-2 (SQL and lookback) and Jan 3-4 (lookback): different reasons")
	require.Equal(t, []string{"lookback - → 2d"}, st.Stale[1].Why)

	// An upstream change marks the downstream periods built before it.
	stg2 := stg
	stg2.SQLText = "select id, day, amount from raw.events where amount > 0"
	st = status(stg2, changed)
	require.Len(t, st.Stale, 2)
	require.Equal(t, []string{"SQL", "upstream stg_events: SQL"}, st.Stale[0].Why)
	require.Equal(t, []string{"upstream stg_events: SQL"}, st.Stale[1].Why)
	// Once the upstream model is rebuilt and the periods after it, they are fresh.
	build(stg2, "s2", "2026-01-01", "2026-01-05")
	build(changed, "r4", "2026-01-01", "2026-01-05")
	require.Empty(t, status(stg2, changed).Stale)
}

// TestStalenessIncrementalUpstream: an incremental upstream rebuilt only in part keeps
// old rows; a downstream period rebuilt then still reads them: stale until the
// upstream is whole again and the downstream rebuilt after. A table model that
// became incremental keeps its whole build stale outside the windows rebuilt since.
func TestStalenessIncrementalUpstream(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	exec(t, pool, `INSERT INTO raw.events VALUES (1, '2026-01-01', 10), (2, '2026-01-02', 20), (3, '2026-01-03', 30)`)
	up := plan.Model{Name: "int_events", Schema: "staging", Materialized: plan.MaterializedIncremental, UniqueKey: []string{"id"}, EventTime: "day",
		SQLText: "select id, day, amount from raw.events"}
	down := plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental, UniqueKey: []string{"id"}, EventTime: "day",
		DependsOn: []string{"int_events"}, SQLText: "select id, day, amount from staging.int_events"}
	build := func(p plan.Model, runID, from, to string) {
		t.Helper()
		_, err := Run(ctx, pool, Request{Model: p, RunID: runID, Window: window.Window{From: day(from), To: day(to)}})
		require.NoError(t, err)
	}
	status := func(models ...plan.Model) Status {
		t.Helper()
		st, err := Staleness(ctx, pool, &plan.Plan{Models: models}, models[len(models)-1:])
		require.NoError(t, err)
		return st[0]
	}
	build(up, "u1", "2026-01-01", "2026-01-04")
	build(down, "d1", "2026-01-01", "2026-01-04")
	require.Empty(t, status(up, down).Stale)

	up2 := up
	up2.SQLText = "select id, day, amount * 2 as amount from raw.events"
	build(up2, "u2", "2026-01-03", "2026-01-04")  // only the newest day
	build(down, "d2", "2026-01-01", "2026-01-04") // the whole downstream, on half-old rows
	st := status(up2, down)
	require.Len(t, st.Stale, 1, "rebuilt while its upstream still held old rows")
	require.Equal(t, []string{"upstream int_events: SQL"}, st.Stale[0].Why)

	build(up2, "u3", "2026-01-01", "2026-01-03") // the upstream whole again
	require.Len(t, status(up2, down).Stale, 1, "still built before that")
	build(down, "d3", "2026-01-01", "2026-01-04")
	require.Empty(t, status(up2, down).Stale)

	// table → incremental: the windows rebuilt since are fresh, the rest of the
	// table's build stays stale (with no rows here, before and after the data).
	tbl := plan.Model{Name: "agg", Schema: "marts", Materialized: plan.MaterializedTable, SQLText: "select id, day, amount from raw.events"}
	_, err := Run(ctx, pool, Request{Model: tbl, RunID: "t1"})
	require.NoError(t, err)
	inc := tbl
	inc.Materialized, inc.UniqueKey, inc.EventTime = plan.MaterializedIncremental, []string{"id"}, "day"
	exec(t, pool, `DROP TABLE marts.agg`)
	build(inc, "i1", "2026-01-01", "2026-01-04")
	st = status(inc)
	require.Len(t, st.Stale, 2)
	require.Nil(t, st.Stale[0].From)
	require.Equal(t, day("2026-01-01"), *st.Stale[0].To)
	require.Equal(t, day("2026-01-04"), *st.Stale[1].From)
	require.Nil(t, st.Stale[1].To)
	require.Zero(t, st.Stale[0].Rows+st.Stale[1].Rows, "no rows outside the rebuilt windows")
}
