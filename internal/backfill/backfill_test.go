package backfill

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func d(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSplit(t *testing.T) {
	tests := []struct {
		size, from, to string
		want           []string
	}{
		{Day, "2026-01-30", "2026-02-02", []string{"t@2026-01-30..2026-01-31", "t@2026-01-31..2026-02-01", "t@2026-02-01..2026-02-02"}},
		{Week, "2026-01-01", "2026-01-20", []string{"t@2026-01-01..2026-01-08", "t@2026-01-08..2026-01-15", "t@2026-01-15..2026-01-20"}},
		{Month, "2026-01-15", "2026-03-10", []string{"t@2026-01-15..2026-02-01", "t@2026-02-01..2026-03-01", "t@2026-03-01..2026-03-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.size, func(t *testing.T) {
			chunks, err := Split("t", window.Window{From: d(tt.from), To: d(tt.to)}, tt.size)
			require.NoError(t, err)
			var ids []string
			for _, c := range chunks {
				ids = append(ids, c.ID())
			}
			require.Equal(t, tt.want, ids)
		})
	}
	year, err := Split("t", window.Window{From: d("2025-01-01"), To: d("2026-01-01")}, Day)
	require.NoError(t, err)
	require.Len(t, year, 365)
	_, err = Split("t", window.Window{From: d("2025-01-01"), To: d("2026-01-01")}, "hour")
	require.EqualError(t, err, `chunk size "hour": want day, week or month`)
}

var events = plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental,
	UniqueKey: []string{"id"}, EventTime: "day", SQLText: "select id, day, amount from raw.events"}

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "backfill"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE SCHEMA raw; CREATE TABLE raw.events AS
SELECT g AS id, date '2026-01-01' + (g % 10) AS day, (g * 7 % 1000)::numeric / 100 AS amount FROM generate_series(1, 5000) g`)
	require.NoError(t, err)
	return pool
}

func TestChunksAreIdempotentAndDoNotInterleave(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	chunks, err := Split("fct_events", window.Window{From: d("2026-01-01"), To: d("2026-01-11")}, Day)
	require.NoError(t, err)

	run := func() map[string]string {
		sums := map[string]string{}
		for _, c := range chunks {
			res, err := RunModelChunk(ctx, pool, ChunkRequest{Chunk: c, Model: events, WorkflowID: "wf"})
			require.NoError(t, err)
			require.EqualValues(t, 500, res.Rows)
			sums[c.ID()] = res.Checksum
		}
		return sums
	}
	first, second, third := run(), run(), run()
	require.Equal(t, first, second)
	require.Equal(t, first, third)
	var total int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM marts.fct_events`).Scan(&total))
	require.Equal(t, 5000, total, "no double counting after three runs")

	// Two writers of the same chunk at once: serialised by the lock, same result.
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			_, err := RunModelChunk(ctx, pool, ChunkRequest{Chunk: chunks[3], Model: events, WorkflowID: "wf-concurrent"})
			return err
		})
	}
	require.NoError(t, g.Wait())
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM marts.fct_events`).Scan(&total))
	require.Equal(t, 5000, total)

	ledger, err := Ledger(ctx, pool, "fct_events", window.Window{From: d("2026-01-01"), To: d("2026-01-11")})
	require.NoError(t, err)
	require.Len(t, ledger, 10)
	require.Equal(t, 7, ledger[chunks[3].ID()].Attempts)
	require.Equal(t, first[chunks[3].ID()], ledger[chunks[3].ID()].Checksum)

	wm, err := AdvanceWatermark(ctx, pool, "fct_events", "wf")
	require.NoError(t, err)
	require.Equal(t, d("2026-01-11"), *wm)
}

func TestLateRowsChangeOnlyTheirWindow(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	chunks, err := Split("fct_events", window.Window{From: d("2026-01-01"), To: d("2026-01-11")}, Day)
	require.NoError(t, err)
	before := map[string]string{}
	for _, c := range chunks {
		res, err := RunModelChunk(ctx, pool, ChunkRequest{Chunk: c, Model: events, WorkflowID: "wf"})
		require.NoError(t, err)
		before[c.ID()] = res.Checksum
	}
	_, err = pool.Exec(ctx, `INSERT INTO raw.events VALUES (9001, '2026-01-05', 1.00)`)
	require.NoError(t, err)
	for _, c := range chunks {
		res, err := RunModelChunk(ctx, pool, ChunkRequest{Chunk: c, Model: events, WorkflowID: "wf"})
		require.NoError(t, err)
		if c.Window.From.Equal(d("2026-01-05")) {
			require.NotEqual(t, before[c.ID()], res.Checksum, "the late row's window changed")
			require.EqualValues(t, 501, res.Rows)
		} else {
			require.Equal(t, before[c.ID()], res.Checksum, "other windows are identical")
		}
	}
}

func TestWatermarkStopsAtTheFirstGapAndNeverMovesBack(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	chunks, err := Split("fct_events", window.Window{From: d("2026-01-01"), To: d("2026-01-06")}, Day)
	require.NoError(t, err)
	for _, i := range []int{0, 1, 3} {
		_, err := RunModelChunk(ctx, pool, ChunkRequest{Chunk: chunks[i], Model: events, WorkflowID: "wf"})
		require.NoError(t, err)
	}
	wm, err := AdvanceWatermark(ctx, pool, "fct_events", "wf")
	require.NoError(t, err)
	require.Equal(t, d("2026-01-03"), *wm, "chunk 2 is missing")

	require.NoError(t, MarkSkipped(ctx, pool, chunks[2], "wf", "dana", "source outage, agreed with finance"))
	wm, err = AdvanceWatermark(ctx, pool, "fct_events", "wf")
	require.NoError(t, err)
	require.Equal(t, d("2026-01-05"), *wm, "a skipped chunk counts as settled")

	// A failing rerun of a done chunk leaves it done and the watermark in place.
	broken := events
	broken.SQLText = "select id, day, amount / 0 as amount from raw.events"
	_, err = RunModelChunk(ctx, pool, ChunkRequest{Chunk: chunks[0], Model: broken, WorkflowID: "wf"})
	require.ErrorContains(t, err, "division by zero")
	ledger, err := Ledger(ctx, pool, "fct_events", window.Window{From: d("2026-01-01"), To: d("2026-01-06")})
	require.NoError(t, err)
	require.Equal(t, StatusDone, ledger[chunks[0].ID()].Status)
	require.Contains(t, ledger[chunks[0].ID()].Error, "division by zero")
	wm, err = AdvanceWatermark(ctx, pool, "fct_events", "wf")
	require.NoError(t, err)
	require.Equal(t, d("2026-01-05"), *wm)

	require.NoError(t, ResetWatermark(ctx, pool, "fct_events", d("2026-01-02"), "dana", "reload after a source correction", "wf"))
	var kinds int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.decisions WHERE kind IN ('skip-chunk', 'reset-watermark')`).Scan(&kinds))
	require.Equal(t, 2, kinds)
}
