package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/activities"
	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// landed seeds the demo week and lands it (pipeline run), so raw.orders is full.
func landed(t *testing.T, h *harness) {
	t.Helper()
	h.seed(0)
	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)
	_, err = h.warehouse.Exec(context.Background(), `DROP TABLE marts.fct_orders`)
	require.NoError(t, err, "start the backfill from an empty target")
}

func (h *harness) backfill(in workflows.BackfillInput) (*workflows.BackfillResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-backfill-" + testenv.Suffix(), TaskQueue: h.taskQueue},
		workflows.BackfillWorkflowName, in)
	require.NoError(h.t, err)
	var res workflows.BackfillResult
	err = run.Get(ctx, &res)
	return &res, err
}

// chunkChecksums reads the ledger: chunk window start → (rows, checksum).
func (h *harness) chunkChecksums() map[string]string {
	h.t.Helper()
	rows, err := h.warehouse.Query(context.Background(), `SELECT window_start::date::text, rows, coalesce(checksum, '') FROM etl2elt.backfill_chunks WHERE target = 'fct_orders' ORDER BY 1`)
	require.NoError(h.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var day, sum string
		var n int64
		require.NoError(h.t, rows.Scan(&day, &n, &sum))
		out[day] = fmt.Sprintf("%d/%s", n, sum)
	}
	return out
}

func (h *harness) tableFingerprint() (int64, string) {
	h.t.Helper()
	var n int64
	var sum string
	require.NoError(h.t, h.warehouse.QueryRow(context.Background(),
		`SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM marts.fct_orders t`).Scan(&n, &sum))
	return n, sum
}

var weekBackfill = workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "fct_orders", From: "2026-01-01", To: "2026-01-08", Reprocess: "all"}

func TestBackfillThreeRunsAreIdentical(t *testing.T) {
	h := newHarness(t)
	landed(t, h)
	var sums []map[string]string
	for i := 0; i < 3; i++ {
		res, err := h.backfill(weekBackfill)
		require.NoError(t, err)
		require.Equal(t, 7, res.Counters.Done)
		require.EqualValues(t, 1400, res.Counters.Rows)
		require.Equal(t, "2026-01-08T00:00:00Z", res.Watermark.Format(time.RFC3339))
		sums = append(sums, h.chunkChecksums())
		n, _ := h.tableFingerprint()
		require.EqualValues(t, 1400, n, "no double counting after run %d", i+1)
	}
	require.Len(t, sums[0], 7)
	require.Equal(t, sums[0], sums[1])
	require.Equal(t, sums[0], sums[2])

	// The default mode runs only what is missing: nothing.
	missing := weekBackfill
	missing.Reprocess = ""
	res, err := h.backfill(missing)
	require.NoError(t, err)
	require.Equal(t, 0, res.Counters.Done)
	require.Equal(t, 7, res.Counters.Settled)
}

func TestBackfillTwoAtOnceDoNotInterleave(t *testing.T) {
	h := newHarness(t)
	landed(t, h)
	clean, err := h.backfill(weekBackfill)
	require.NoError(t, err)
	require.Equal(t, 7, clean.Counters.Done)
	want := h.chunkChecksums()
	_, wantSum := h.tableFingerprint()

	// Two overlapping backfills of the same target at the same time.
	ctx := context.Background()
	a, b := weekBackfill, weekBackfill
	a.From, a.To = "2026-01-01", "2026-01-06"
	b.From, b.To = "2026-01-03", "2026-01-08"
	var runs []client.WorkflowRun
	for _, in := range []workflows.BackfillInput{a, b} {
		run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-backfill-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName, in)
		require.NoError(t, err)
		runs = append(runs, run)
	}
	// Either both ran one after the other, or the second was refused naming the
	// first (one execution per target and window): never interleaved.
	ok := 0
	for i, run := range runs {
		if err := run.Get(ctx, nil); err != nil {
			require.ErrorContains(t, err, "overlaps a running backfill: workflow "+runs[1-i].GetID())
			continue
		}
		ok++
	}
	require.GreaterOrEqual(t, ok, 1)
	require.Equal(t, want, h.chunkChecksums())
	n, sum := h.tableFingerprint()
	require.EqualValues(t, 1400, n)
	require.Equal(t, wantSum, sum)
}

func TestBackfillTrustedPeriodAndLateRows(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	landed(t, h)
	h.editPlan(`trusted_until: "2025-07-01"`, `trusted_until: "2026-01-03"`)
	h.editPlan(`  to: "2026-01-01"`, `  to: "2026-02-01"`)

	// A first backfill of the trusted period: ELT never loaded it, nothing to protect.
	res, err := h.backfill(weekBackfill)
	require.NoError(t, err)
	require.Equal(t, 7, res.Counters.Done)
	var overrides int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.decisions WHERE kind = 'override-trusted'`).Scan(&overrides))
	require.Zero(t, overrides)
	first := h.chunkChecksums()

	// Rewriting what ELT loaded there is refused without an override.
	_, err = h.backfill(weekBackfill)
	require.ErrorContains(t, err, "2 chunk(s) of [2026-01-01, 2026-01-08) fall in the trusted period before 2026-01-03 and were loaded by ELT before")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeBadInput, appErr.Type())
	require.Equal(t, first, h.chunkChecksums(), "nothing ran")

	in := weekBackfill
	in.OverrideTrusted = &workflows.Override{By: "cfo-office", Reason: "re-reconciled after the December restatement"}
	res, err = h.backfill(in)
	require.NoError(t, err)
	require.Equal(t, 7, res.Counters.Done)
	var by, reason string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT decided_by, reason FROM etl2elt.decisions WHERE kind = 'override-trusted'`).Scan(&by, &reason))
	require.Equal(t, "cfo-office", by)
	require.Equal(t, "re-reconciled after the December restatement", reason)
	before := h.chunkChecksums()

	// A late order for Jan 5 lands in raw; a rerun of that window only picks it up.
	_, err = h.warehouse.Exec(ctx, `INSERT INTO raw.orders (order_id, customer_id, region, amount, ordered_at, _etl_load, _etl_loaded_at, _etl_line)
VALUES (777777, 'c-late', 'emea', 42.00, '2026-01-05 23:59:00+00', 0, now(), 2)`)
	require.NoError(t, err)
	late := weekBackfill
	late.From, late.To = "2026-01-05", "2026-01-06"
	res, err = h.backfill(late)
	require.NoError(t, err)
	require.Equal(t, 1, res.Counters.Done)
	after := h.chunkChecksums()
	for day, sum := range before {
		if day == "2026-01-05" {
			require.NotEqual(t, sum, after[day])
			require.True(t, strings.HasPrefix(after[day], "201/"), after[day])
		} else {
			require.Equal(t, sum, after[day], "window %s untouched", day)
		}
	}
}

// TestBackfillSurvivesAKilledWorker runs the real worker binary, kills it with SIGKILL
// while chunks are in flight, starts another and checks that the result equals a
// clean run: no duplicates, a consistent ledger.
func TestBackfillSurvivesAKilledWorker(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	landed(t, h)
	clean, err := h.backfill(weekBackfill)
	require.NoError(t, err)
	require.Equal(t, 7, clean.Counters.Done)
	want := h.chunkChecksums()
	_, wantSum := h.tableFingerprint()
	_, err = h.warehouse.Exec(ctx, `DROP TABLE marts.fct_orders; DELETE FROM etl2elt.backfill_chunks; DELETE FROM etl2elt.backfill_watermarks`)
	require.NoError(t, err)

	// Slow chunks (0.7 s each) so that the kill lands mid-transaction.
	h.slowModel(700 * time.Millisecond)
	bin := buildWorker(t)
	tq := "it-kill-" + testenv.Suffix()
	start := func() *exec.Cmd { return h.startWorker(bin, tq) }
	w1 := start()
	in := weekBackfill
	in.Concurrency = 2
	in.HeartbeatTimeoutSeconds = 3
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-backfill-kill-" + testenv.Suffix(), TaskQueue: tq}, workflows.BackfillWorkflowName, in)
	require.NoError(t, err)

	// Kill once some chunks are done and others are running.
	require.Eventually(t, func() bool {
		var done int
		_ = h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_chunks WHERE status = 'done'`).Scan(&done)
		return done >= 2
	}, 60*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, w1.Process.Signal(syscall.SIGKILL))
	_ = w1.Wait()
	var doneAtKill int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_chunks WHERE status = 'done'`).Scan(&doneAtKill))
	require.Less(t, doneAtKill, 7, "the kill happened before the end")

	w2 := start()
	defer func() { _ = w2.Process.Signal(syscall.SIGTERM); _ = w2.Wait() }()
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var res workflows.BackfillResult
	require.NoError(t, run.Get(waitCtx, &res))
	require.Equal(t, 7, res.Counters.Done)

	require.Equal(t, want, h.chunkChecksums(), "same checksums as a clean run")
	n, sum := h.tableFingerprint()
	require.EqualValues(t, 1400, n, "no duplicates")
	require.Equal(t, wantSum, sum)
	var bad int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_chunks WHERE status <> 'done'`).Scan(&bad))
	require.Zero(t, bad)
}

func TestBackfillOfASourceRelandsItsDays(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	landed(t, h)
	in := workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "orders", From: "2026-01-01", To: "2026-01-08", Reprocess: "all"}
	first, err := h.backfill(in)
	require.NoError(t, err)
	require.Equal(t, "raw.orders", first.Target)
	require.Equal(t, 7, first.Counters.Done)
	require.EqualValues(t, 1400, first.Counters.Rows)
	sums := func() map[string]string {
		rows, err := h.warehouse.Query(ctx, `SELECT window_start::date::text, checksum FROM etl2elt.backfill_chunks WHERE target = 'raw.orders'`)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var d, s string
			require.NoError(t, rows.Scan(&d, &s))
			out[d] = s
		}
		return out
	}
	before := sums()

	// Jan 3 is re-delivered under a new object name: the old object's rows must go.
	b, err := h.store.ReadAll(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv")
	require.NoError(t, err)
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders-v2.csv", b, ""))
	require.NoError(t, h.store.Delete(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv"))

	second, err := h.backfill(in)
	require.NoError(t, err)
	require.EqualValues(t, 1400, second.Counters.Rows)
	var n int64
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM raw.orders`).Scan(&n))
	require.EqualValues(t, 1400, n, "no double counting after a re-delivery")
	after := sums()
	for day, sum := range before {
		if day == "2026-01-03" {
			require.NotEqual(t, sum, after[day], "the object key is part of the lineage")
		} else {
			require.Equal(t, sum, after[day], "day %s identical", day)
		}
	}
	var quarantined int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine`).Scan(&quarantined))
	require.Equal(t, 1, quarantined, "the malformed row is quarantined once, not once per run")
}

// TestBackfillOneExecutionPerTargetAndWindow: while a backfill runs (one chunk waiting
// for a person), another backfill of an overlapping range of the same target is
// refused with the running one's id, whatever its own id; a range that does not
// overlap runs; once the first ends, the refused one runs; a claim left by a
// terminated backfill is taken over.
func TestBackfillOneExecutionPerTargetAndWindow(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h.seed(0)
	good, err := h.store.ReadAll(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv")
	require.NoError(t, err)
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", []byte("foo,bar\n1,2\n"), ""))
	start := func(id, from, to string) client.WorkflowRun {
		run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName,
			workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "orders", From: from, To: to})
		require.NoError(t, err)
		return run
	}
	first := start("it-claim-first-"+testenv.Suffix(), "2026-01-01", "2026-01-05")
	require.Eventually(t, func() bool {
		v, err := h.client.QueryWorkflow(ctx, first.GetID(), "", workflows.StatusQuery)
		if err != nil {
			return false
		}
		var st workflows.BackfillStatus
		return v.Get(&st) == nil && st.Phase == workflows.PhaseWaitingForOperator
	}, time.Minute, 200*time.Millisecond)

	err = start("it-claim-second-"+testenv.Suffix(), "2026-01-04", "2026-01-08").Get(ctx, nil)
	require.ErrorContains(t, err, "backfill of raw.orders over [2026-01-01, 2026-01-05) overlaps a running backfill: workflow "+first.GetID())
	var res workflows.BackfillResult
	require.NoError(t, start("it-claim-apart-"+testenv.Suffix(), "2026-01-05", "2026-01-08").Get(ctx, &res), "a range that does not overlap runs")
	require.Equal(t, 3, res.Counters.Done)

	// The first ends (its chunk skipped): the refused range runs now.
	require.NoError(t, h.client.SignalWorkflow(ctx, first.GetID(), "", workflows.SkipChunkSignal,
		workflows.ChunkSignal{ChunkID: "raw.orders@2026-01-03..2026-01-04", By: "dana", Reason: "header lost at the source; re-sent later"}))
	require.NoError(t, first.Get(ctx, nil))
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", good, ""))
	require.NoError(t, start("it-claim-third-"+testenv.Suffix(), "2026-01-03", "2026-01-08").Get(ctx, nil))

	// A terminated backfill leaves its claim; the next one takes it over.
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", []byte("foo,bar\n1,2\n"), ""))
	gone := start("it-claim-gone-"+testenv.Suffix(), "2026-01-01", "2026-01-05")
	require.Eventually(t, func() bool {
		var n int
		return h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_claims WHERE workflow_id = $1`, gone.GetID()).Scan(&n) == nil && n == 1
	}, time.Minute, 100*time.Millisecond)
	require.NoError(t, h.client.TerminateWorkflow(ctx, gone.GetID(), "", "test: a backfill that never releases its claim"))
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", good, ""))
	require.NoError(t, start("it-claim-after-"+testenv.Suffix(), "2026-01-01", "2026-01-05").Get(ctx, nil))
	var claims int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_claims`).Scan(&claims))
	require.Zero(t, claims, "every claim released or taken over")
}
