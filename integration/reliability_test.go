//go:build reliability

package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// The fault suite (`make reliability`, docs/RELIABILITY.md). Each test compares the end
// state with a clean run of the same backfill: ledger checksums, the table's
// fingerprint (no duplicate, no missing row), every chunk done, the watermark at the
// range end. Lines starting RELIABILITY are the figures the docs report.

// outage runs scripts/service.sh (ETL2ELT_SERVICE_SCRIPT, set by make reliability).
func outage(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("ETL2ELT_SERVICE_SCRIPT")
	if script == "" {
		t.Skip("ETL2ELT_SERVICE_SCRIPT is not set: run `make reliability`")
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "service.sh %v: %s", args, out)
}

// cleanBaseline backfills fct_orders over in's range on the harness's data, keeps the
// ledger checksums and the table's fingerprint, then empties the target for the test.
func (h *harness) cleanBaseline(in workflows.BackfillInput) (map[string]string, string) {
	h.t.Helper()
	clean, err := h.backfill(in)
	require.NoError(h.t, err)
	require.True(h.t, clean.Counters.Verified)
	want := h.chunkChecksums()
	_, sum := h.tableFingerprint()
	_, err = h.warehouse.Exec(context.Background(), `DROP TABLE marts.fct_orders; DELETE FROM etl2elt.backfill_chunks; DELETE FROM etl2elt.backfill_watermarks`)
	require.NoError(h.t, err)
	return want, sum
}

// requireSameAsClean checks the end state against the clean run.
func (h *harness) requireSameAsClean(res workflows.BackfillResult, chunks int, want map[string]string, wantSum string) {
	h.t.Helper()
	require.Equal(h.t, chunks, res.Counters.Done)
	require.Zero(h.t, res.Counters.Skipped, "no chunk needed a person")
	require.True(h.t, res.Counters.Verified, "completion checked against the ledger")
	require.Equal(h.t, want, h.chunkChecksums(), "same ledger checksums as a clean run")
	n, sum := h.tableFingerprint()
	require.EqualValues(h.t, 1400, n, "no row lost or duplicated")
	require.Equal(h.t, wantSum, sum)
	var notDone int
	require.NoError(h.t, h.warehouse.QueryRow(context.Background(), `SELECT count(*) FROM etl2elt.backfill_chunks WHERE target = 'fct_orders' AND status <> 'done'`).Scan(&notDone))
	require.Zero(h.t, notDone)
}

// TestReliabilityPostgresCrashAfterCommit crashes PostgreSQL (`pg_ctl -m immediate`)
// 0.1 s after a chunk committed, three times during one backfill, with the fast
// settings of the local cluster (synchronous_commit=off: a commit reported to the
// client can be lost) and with durable settings. Either way the backfill completes
// unaided with the clean run's data: lost commits are found in the ledger at the end
// and run again, never counted as done.
func TestReliabilityPostgresCrashAfterCommit(t *testing.T) {
	for _, durable := range []bool{false, true} {
		name := "fast settings"
		if durable {
			name = "durable settings"
		}
		t.Run(name, func(t *testing.T) {
			if durable {
				outage(t, "down", "pg", "fast")
				t.Setenv("ETL2ELT_PG_FAST", "0")
				outage(t, "up")
				t.Cleanup(func() {
					outage(t, "down", "pg", "fast")
					os.Setenv("ETL2ELT_PG_FAST", "1")
					outage(t, "up")
				})
			}
			h := newHarness(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			landed(t, h)
			in := weekBackfill
			in.Concurrency = 1
			want, wantSum := h.cleanBaseline(in)
			h.slowModel(400 * time.Millisecond)

			run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-pgcrash-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName, in)
			require.NoError(t, err)
			crashes := 0
			for _, after := range []int{1, 3, 5} {
				require.Eventually(t, func() bool { return h.doneChunks(ctx, "fct_orders") >= after }, 3*time.Minute, 20*time.Millisecond)
				time.Sleep(100 * time.Millisecond)
				outage(t, "down", "pg", "immediate")
				crashes++
				time.Sleep(5 * time.Second)
				outage(t, "up")
			}
			var res workflows.BackfillResult
			require.NoError(t, run.Get(ctx, &res))
			h.requireSameAsClean(res, 7, want, wantSum)
			if durable {
				require.Zero(t, res.Counters.Lost, "a durable commit is never lost")
			}
			t.Logf("RELIABILITY postgres crash (%s): %d crashes 0.1 s after a commit, %d chunk(s) found lost and re-run, end state identical to a clean run", name, crashes, res.Counters.Lost)
		})
	}
}

// TestReliabilityServiceRestarts: PostgreSQL down 5 s and 30 s, the S3 server down
// 10 s, the Temporal dev server killed and back after 10 s, each during a backfill:
// every one recovered by retries alone (no chunk waiting for a person).
func TestReliabilityServiceRestarts(t *testing.T) {
	tests := []struct {
		name     string
		svc      string
		mode     string
		downtime time.Duration
		// before: the outage starts before the backfill (the first activities meet it).
		before bool
		target string
	}{
		{"postgres 5s", "pg", "fast", 5 * time.Second, false, "fct_orders"},
		{"postgres 30s", "pg", "fast", 30 * time.Second, false, "fct_orders"},
		{"s3 10s", "s3", "", 10 * time.Second, true, "orders"},
		{"temporal 10s", "temporal", "", 10 * time.Second, false, "fct_orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			landed(t, h)
			in := weekBackfill
			in.Concurrency = 1
			in.Target = tt.target
			var want map[string]string
			var wantSum string
			if tt.target == "fct_orders" {
				want, wantSum = h.cleanBaseline(in)
				h.slowModel(400 * time.Millisecond)
			}
			args := []string{"down", tt.svc}
			if tt.mode != "" {
				args = append(args, tt.mode)
			}
			var run client.WorkflowRun
			var err error
			start := func() {
				run, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-outage-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName, in)
				require.NoError(t, err)
			}
			began := time.Now()
			if tt.before {
				outage(t, args...)
				start()
			} else {
				start()
				require.Eventually(t, func() bool { return h.doneChunks(ctx, "fct_orders") >= 2 }, 2*time.Minute, 20*time.Millisecond)
				outage(t, args...)
			}
			time.Sleep(tt.downtime)
			outage(t, "up")
			var res workflows.BackfillResult
			require.NoError(t, run.Get(ctx, &res))
			if tt.target == "fct_orders" {
				h.requireSameAsClean(res, 7, want, wantSum)
			} else {
				require.Equal(t, 7, res.Counters.Done)
				require.Zero(t, res.Counters.Skipped)
				require.True(t, res.Counters.Verified)
				var n int64
				require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM raw.orders`).Scan(&n))
				require.EqualValues(t, 1400, n, "no row lost or duplicated")
			}
			t.Logf("RELIABILITY %s outage: recovered unaided, backfill completed %.0f s after the outage began, end state identical to a clean run", tt.name, time.Since(began).Seconds())
		})
	}
}

// TestReliabilityWorkerKills kills the worker process with SIGKILL at 12 points of a
// backfill (random offsets inside chunks: before, during and after their
// transactions), with a second worker on the same task queue for half of them; the
// end state equals a clean run's.
func TestReliabilityWorkerKills(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	landed(t, h)
	in := weekBackfill
	in.From = "2025-12-22" // 17 chunks, 10 of them empty days
	in.Concurrency = 2
	in.HeartbeatTimeoutSeconds = 2
	want, wantSum := h.cleanBaseline(in)
	h.slowModel(700 * time.Millisecond)

	ws := h.workerPair("it-kills-")
	defer ws.stop()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-kills-" + testenv.Suffix(), TaskQueue: ws.tq}, workflows.BackfillWorkflowName, in)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 13))
	kills, twoWorkers := 0, 0
	for i := 0; i < 12; i++ {
		desc, err := h.client.DescribeWorkflowExecution(ctx, run.GetID(), "")
		require.NoError(t, err)
		if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
			break
		}
		ws.second(i%2 == 1) // half of the kills happen with a second worker polling
		if ws.b != nil {
			twoWorkers++
		}
		time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
		ws.killFirst()
		kills++
	}
	var res workflows.BackfillResult
	require.NoError(t, run.Get(ctx, &res))
	h.requireSameAsClean(res, 17, want, wantSum)
	t.Logf("RELIABILITY worker kill -9: %d of %d kill points ended identical to a clean run (%d with a second worker polling)", kills, kills, twoWorkers)
	require.GreaterOrEqual(t, kills, 10, "the backfill must outlast the kill points")
}

// TestReliabilityLoad runs 5 backfills at once on one in-process worker, one per
// business area of a 5-domain plan (each its own incremental model over 99 days, a week
// of them with data), 10 chunks in flight each (50 concurrent chunks), and records
// throughput; every chunk must succeed and every range be verified against the ledger.
func TestReliabilityLoad(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	landed(t, h)
	targets := h.fiveDomainPlan("demo/load.yaml")
	var runs []client.WorkflowRun
	began := time.Now()
	for _, target := range targets {
		in := workflows.BackfillInput{Plan: "demo/load.yaml", Target: target, Concurrency: 10, From: "2025-10-01", To: "2026-01-08"}
		run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-load-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName, in)
		require.NoError(t, err)
		runs = append(runs, run)
	}
	chunks := 0
	for _, run := range runs {
		var res workflows.BackfillResult
		require.NoError(t, run.Get(ctx, &res))
		require.True(t, res.Counters.Verified)
		require.Zero(t, res.Counters.Skipped)
		require.Equal(t, 99, res.Counters.Done)
		chunks += res.Counters.Done
	}
	elapsed := time.Since(began)
	var failed int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_chunks WHERE status <> 'done' OR attempts > 1`).Scan(&failed))
	require.Zero(t, failed, "no chunk failed or needed a retry")
	for _, target := range targets {
		var n, distinct int
		require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*), count(DISTINCT order_id) FROM marts.`+target).Scan(&n, &distinct))
		require.Equal(t, 1400, n, target)
		require.Equal(t, 1400, distinct, target)
	}
	t.Logf("RELIABILITY load: 5 domains backfilling at once, 50 chunks in flight, %d chunks (35 with data, 7,000 rows) in %.1f s (%.0f chunks/min), 0 failed, 0 retried", chunks, elapsed.Seconds(), float64(chunks)/elapsed.Minutes())
}

// fiveDomainPlan writes a copy of the demo plan with four more business areas, each
// owning its own copy of fct_orders (fct_orders_2 .. fct_orders_5), next to the demo
// plan as name; it returns the five backfill targets.
func (h *harness) fiveDomainPlan(name string) []string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.planDir, "demo", "plan.yaml"))
	require.NoError(h.t, err)
	text := string(b)
	var models, domains strings.Builder
	targets := []string{"fct_orders"}
	for i := 2; i <= 5; i++ {
		m := fmt.Sprintf("fct_orders_%d", i)
		targets = append(targets, m)
		fmt.Fprintf(&models, "  - { name: %s, schema: marts, sql: models/fct_orders.sql, materialized: incremental, unique_key: [order_id], event_time: ordered_at, batch_size: day, lookback: 2d, depends_on: [stg_orders] }\n", m)
		fmt.Fprintf(&domains, "  - { name: area_%d, owners: [cfo-office], sources: [orders], models: [%s], outputs: [{ name: orders_%d, legacy: { connection: legacy, relation: legacy.daily_revenue, warehouse_relation: legacy_link.daily_revenue }, elt: { connection: warehouse, relation: marts.%s }, keys: [order_id], time_column: order_day }], backfill: { from: \"2025-01-01\", to: \"2026-02-01\", chunk_size: day, concurrency: 10 } }\n", i, m, i, m)
	}
	for _, cut := range []struct{ before, insert string }{{"\n# The KPI registry", models.String()}, {"\nquality:", domains.String()}} {
		i := strings.Index(text, cut.before)
		require.Positive(h.t, i, "the demo plan changed shape: %q not found", cut.before)
		text = text[:i+1] + cut.insert + text[i+1:]
	}
	require.NoError(h.t, os.WriteFile(filepath.Join(h.planDir, name), []byte(text), 0o600))
	return targets
}

// doneChunks counts the ledger's done chunks of fct_orders (-1 when the database does
// not answer).
func (h *harness) doneChunks(ctx context.Context, target string) int {
	var n int
	if err := h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.backfill_chunks WHERE target = $1 AND status = 'done'`, target).Scan(&n); err != nil {
		return -1
	}
	return n
}

// TestReliabilityMigrationKills kills the worker process with SIGKILL 8 times while a
// migration runs its backfill, its parallel-run cycles (1 s cadence: child pipeline
// runs, reconciliations, continue-as-new every 100 cycles is not reached) and after the
// cutover; the migration goes on with each new worker, reaches the watch with the
// view on ELT, and its decision log holds each decision once.
func TestReliabilityMigrationKills(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h.rehearsal(ctx, 4)
	planName := "acme_kill_" + testenv.Suffix()
	h.editPlan("\nname: acme\n", "\nname: "+planName+"\n")
	id := workflows.MigrationWorkflowID(planName, "finance")

	bin := buildWorker(t)
	tq := "it-mkill-" + testenv.Suffix()
	w := h.startWorker(bin, tq)
	defer func() { _ = w.Process.Signal(syscall.SIGTERM); _ = w.Wait() }()
	_, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, workflows.MigrationWorkflowName,
		workflows.MigrationInput{Plan: "demo/plan.yaml", Domain: "finance", Cadence: "1s", WatchCycles: 1000})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 5))
	kill := func() {
		require.NoError(t, w.Process.Signal(syscall.SIGKILL))
		_ = w.Wait()
		w = h.startWorker(bin, tq)
	}
	kills := 0
	for i := 0; i < 5; i++ { // backfill and parallel-run cycles
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		kill()
		kills++
	}
	st := h.waitPhaseWithin(ctx, id, workflows.PhaseAwaitingApproval, 3*time.Minute)
	require.True(t, st.Criteria.Met)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "dana", Comment: "after the kills"})
	require.NoError(t, err)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "lee"})
	require.NoError(t, err)
	h.waitPhaseWithin(ctx, id, workflows.PhaseWatch, 3*time.Minute)
	for i := 0; i < 3; i++ { // watch cycles
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		kill()
		kills++
	}
	time.Sleep(3 * time.Second)
	st = h.migrationStatus(ctx, id)
	require.Equal(t, workflows.PhaseWatch, st.Phase, "no rollback trigger fired: %v", st.Notices)
	require.Greater(t, st.WatchCycles, 0)
	require.Equal(t, "marts.fct_daily_revenue", h.viewPointsAt(ctx))
	var dupes int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM (SELECT kind, decided_by FROM etl2elt.decisions WHERE workflow_id = $1 GROUP BY 1, 2 HAVING count(*) > 1) d`, id).Scan(&dupes))
	require.Zero(t, dupes, "each decision recorded once")
	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.AbortSignal, workflows.MigrationSignal{By: "dana", Reason: "end of the kill test"}))
	t.Logf("RELIABILITY migration kill -9: %d kills during backfill, parallel-run and watch cycles; cutover reached, view on ELT, %d watch cycles, every decision recorded once", kills, st.WatchCycles)
}

// waitPhaseWithin polls the migration's status until the phase is reached.
func (h *harness) waitPhaseWithin(ctx context.Context, id, phase string, d time.Duration) workflows.MigrationStatus {
	h.t.Helper()
	var st workflows.MigrationStatus
	require.Eventually(h.t, func() bool {
		v, err := h.client.QueryWorkflow(ctx, id, "", workflows.StatusQuery)
		if err != nil {
			return false
		}
		return v.Get(&st) == nil && st.Phase == phase
	}, d, 250*time.Millisecond, "phase %s never reached (at %s)", phase, st.Phase)
	return st
}

// TestReliabilityKillsAroundContinueAsNew kills the worker exactly at the hand-over
// between runs of a backfill that continues as new every 3 chunks: right after a run's
// last chunk committed (the run is draining into continue-as-new) and right after a new
// run appeared (its first workflow task not yet done), alternately, with a second
// worker polling for half of the kills. The end state equals a clean run's.
func TestReliabilityKillsAroundContinueAsNew(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	landed(t, h)
	in := weekBackfill
	in.From = "2025-12-22" // 17 chunks
	in.Concurrency = 1
	in.HeartbeatTimeoutSeconds = 2
	in.ChunksPerRun = 3
	want, wantSum := h.cleanBaseline(in)
	h.slowModel(300 * time.Millisecond)

	ws := h.workerPair("it-can-")
	defer ws.stop()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-can-" + testenv.Suffix(), TaskQueue: ws.tq}, workflows.BackfillWorkflowName, in)
	require.NoError(t, err)
	kill := ws.killFirst
	afterCommit, afterNewRun, twoWorkers := 0, 0, 0
	runID, done := run.GetRunID(), 0
	for closed := false; !closed; {
		time.Sleep(10 * time.Millisecond)
		desc, err := h.client.DescribeWorkflowExecution(ctx, run.GetID(), "")
		require.NoError(t, err)
		info := desc.GetWorkflowExecutionInfo()
		closed = info.GetCloseTime() != nil && info.GetExecution().GetRunId() == runID
		ws.second((afterCommit+afterNewRun)%2 == 1)
		now := h.doneChunks(ctx, "fct_orders")
		switch {
		case info.GetExecution().GetRunId() != runID:
			runID = info.GetExecution().GetRunId()
			if afterNewRun <= afterCommit {
				if ws.b != nil {
					twoWorkers++
				}
				kill()
				afterNewRun++
			}
		case now > done && now%in.ChunksPerRun == 0 && now < 17 && afterCommit <= afterNewRun:
			if ws.b != nil {
				twoWorkers++
			}
			kill()
			afterCommit++
		}
		if now > done {
			done = now
		}
	}
	var res workflows.BackfillResult
	require.NoError(t, h.client.GetWorkflow(ctx, run.GetID(), "").Get(ctx, &res))
	h.requireSameAsClean(res, 17, want, wantSum)
	t.Logf("RELIABILITY continue-as-new kills: %d of %d kill points ended identical to a clean run (%d right after a run's last chunk committed, %d right after a new run began; %d with a second worker polling)",
		afterCommit+afterNewRun, afterCommit+afterNewRun, afterCommit, afterNewRun, twoWorkers)
	require.GreaterOrEqual(t, afterCommit+afterNewRun, 6, "the backfill must outlast the kill points")
}

// workers are real worker processes on a task queue of their own: the first is killed
// with SIGKILL at the test's kill points and started again; a second one polls when
// asked.
type workers struct {
	h    *harness
	bin  string
	tq   string
	a, b *exec.Cmd
}

// workerPair builds the worker and starts the first process on a new task queue.
func (h *harness) workerPair(prefix string) *workers {
	w := &workers{h: h, bin: buildWorker(h.t), tq: prefix + testenv.Suffix()}
	w.a = h.startWorker(w.bin, w.tq)
	return w
}

// killFirst kills the first worker (kill -9) and starts it again.
func (w *workers) killFirst() {
	require.NoError(w.h.t, w.a.Process.Signal(syscall.SIGKILL))
	_ = w.a.Wait()
	w.a = w.h.startWorker(w.bin, w.tq)
}

// second starts or stops (SIGTERM) the second worker.
func (w *workers) second(on bool) {
	switch {
	case on && w.b == nil:
		w.b = w.h.startWorker(w.bin, w.tq)
	case !on && w.b != nil:
		_ = w.b.Process.Signal(syscall.SIGTERM)
		_ = w.b.Wait()
		w.b = nil
	}
}

// stop ends both workers.
func (w *workers) stop() {
	for _, c := range []*exec.Cmd{w.a, w.b} {
		if c != nil {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}
}
