package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/cutover"
	"etl2elt/internal/demo"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/testenv"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

// rehearsal prepares a rehearsal of the demo plan's migration: the last seven days and
// today seeded in S3 and legacy (the parallel run's 7-day window is covered, so the
// missing-days check passes), legacy linked into the warehouse, a backfill over those
// days, criteria of cycles consecutive passing cycles, the plan's quality checks and
// freshness SLA and budgets as they are (the budget criterion judged on the cost
// ledger). It returns the first seeded day.
func (h *harness) rehearsal(ctx context.Context, cycles int) time.Time {
	h.t.Helper()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -7)
	_, err := demo.Seed(ctx, h.store, h.legacy, demo.Options{Bucket: h.bucket, Prefix: "landing/",
		Window: window.Window{From: from, To: today.AddDate(0, 0, 1)}, OrdersPerDay: 100, Seed: 5})
	require.NoError(h.t, err)
	require.NoError(h.t, demo.LinkLegacy(ctx, h.warehouse, h.legacyDSN))
	h.editPlan("      from: \"2025-01-01\"\n      to: \"2026-01-01\"", fmt.Sprintf("      from: %q\n      to: %q", from.Format(time.DateOnly), today.Format(time.DateOnly)))
	h.editPlan("      min_cycles: 24\n      consecutive_passing_cycles: 12", fmt.Sprintf("      min_cycles: %d\n      consecutive_passing_cycles: %d", cycles, cycles))
	return from
}

// criteriaValues lists the status's criteria as name=value.
func criteriaValues(st workflows.MigrationStatus) []string {
	var out []string
	for _, c := range st.Criteria.Criteria {
		out = append(out, c.Name+"="+c.Value)
	}
	return out
}

// migrationStatus queries the migration's status.
func (h *harness) migrationStatus(ctx context.Context, id string) workflows.MigrationStatus {
	h.t.Helper()
	v, err := h.client.QueryWorkflow(ctx, id, "", workflows.StatusQuery)
	require.NoError(h.t, err)
	var st workflows.MigrationStatus
	require.NoError(h.t, v.Get(&st))
	return st
}

// waitPhase polls the status until the phase is reached.
func (h *harness) waitPhase(ctx context.Context, id, phase string) workflows.MigrationStatus {
	h.t.Helper()
	var st workflows.MigrationStatus
	ok := assert.Eventually(h.t, func() bool {
		st = h.migrationStatus(ctx, id)
		return st.Phase == phase
	}, 90*time.Second, 250*time.Millisecond, "phase %s never reached", phase)
	if !ok {
		last := ""
		if n := len(st.History); n > 0 {
			b, _ := json.Marshal(st.History[n-1])
			last = string(b)
		}
		h.t.Fatalf("phase %s never reached: phase %s, blockers %v, notices %v, last cycle %s", phase, st.Phase, st.Blockers, st.Notices, last)
	}
	return st
}

// requireListed waits until a visibility query (as typed in the UI) lists a workflow.
func (h *harness) requireListed(ctx context.Context, query, what string) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		resp, err := h.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 30*time.Second, 200*time.Millisecond, "%s: not listed by %s", what, query)
}

func (h *harness) viewPointsAt(ctx context.Context) string {
	h.t.Helper()
	where, err := cutover.Where(ctx, h.warehouse, "reporting.daily_revenue")
	require.NoError(h.t, err)
	return where
}

func (h *harness) approve(ctx context.Context, id string, req workflows.ApproveCutoverRequest) (workflows.ApproveCutoverResult, error) {
	var res workflows.ApproveCutoverResult
	handle, err := h.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.ApproveCutoverUpdate, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return res, err
	}
	return res, handle.Get(ctx, &res)
}

// TestMigrationLifecycle runs a whole migration on the real local services with a
// cadence of a second: preflight (the consumption view created on legacy), backfill of
// the source and the incremental model, parallel-run cycles until the criteria hold,
// approvals (two refused), cutover, a variance breach planted in legacy during the
// watch, the automatic rollback, a pause and resume, a second cutover, a rollback
// asked by a person, an abort, and the consumption view checked at every step.
func TestMigrationLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	from := h.rehearsal(ctx, 2)

	// A plan name of its own: the migration's id is migration/<plan>/<domain>.
	planName := "acme_it_" + testenv.Suffix()
	h.editPlan("\nname: acme\n", "\nname: "+planName+"\n")
	id := workflows.MigrationWorkflowID(planName, "finance")
	_, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL, WorkflowExecutionErrorWhenAlreadyStarted: true},
		workflows.MigrationWorkflowName, workflows.MigrationInput{Plan: "demo/plan.yaml", Domain: "finance", Cadence: "1s", WatchCycles: 50})
	require.NoError(t, err)
	// A second start for the same domain is refused.
	_, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL, WorkflowExecutionErrorWhenAlreadyStarted: true},
		workflows.MigrationWorkflowName, workflows.MigrationInput{Plan: "demo/plan.yaml", Domain: "finance"})
	require.Error(t, err)

	st := h.waitPhase(ctx, id, workflows.PhaseAwaitingApproval)
	require.Len(t, st.Backfills, 2, "the source, then the incremental model")
	require.Equal(t, "raw.orders", st.Backfills[0].Target)
	require.Equal(t, "fct_orders", st.Backfills[1].Target)
	require.Equal(t, 7, st.Backfills[1].Counters.Done)
	require.True(t, st.Criteria.Met, "%+v", st.Criteria)
	require.Contains(t, criteriaValues(st), "freshness held=2 of 2", "met on evidence, no override")
	require.Contains(t, criteriaValues(st), "quality check failures (recent cycles)=0")
	require.Contains(t, criteriaValues(st), "within budget=2 of 2", "the budget criterion is judged on the cost ledger")

	// The cycles' work is in the cost ledger, tagged with the phase and kind of work,
	// one legacy run (4.20) per cycle; the status shows spend against the budget.
	require.NotNil(t, st.Cost)
	require.Greater(t, st.Cost.Spent.ParallelRun, 4.2*float64(st.CyclesSinceStart)-1e-9)
	require.InDelta(t, 400, st.Cost.Limits.ParallelRun, 1e-9)
	require.Greater(t, st.Cost.Spent.Backfill, 0.0, "the child backfills' chunks are metered too")
	kindsUsed := map[string]int{}
	used, err := h.warehouse.Query(ctx, `SELECT kind, count(*) FROM etl2elt.cost_usage WHERE plan_name = $1 AND domain = 'finance' AND phase = 'parallel-run' GROUP BY kind`, planName)
	require.NoError(t, err)
	for used.Next() {
		var k string
		var n int
		require.NoError(t, used.Scan(&k, &n))
		kindsUsed[k] = n
	}
	require.NoError(t, used.Err())
	for _, k := range []string{"load", "models", "reconciliation", "quality", "legacy-run"} {
		require.Positive(t, kindsUsed[k], "parallel-run work of kind %s is in the ledger: %v", k, kindsUsed)
	}
	// Each cycle's evidence is in migration_cycles, with the criteria after it.
	var cycles int
	var lastCriteria string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*), (array_agg(criteria::text ORDER BY cycle DESC))[1] FROM etl2elt.migration_cycles
WHERE migration_id = $1 AND within_budget`, id).Scan(&cycles, &lastCriteria))
	require.GreaterOrEqual(t, cycles, 2)
	require.Contains(t, lastCriteria, `"met": true`)
	// The executive report is written after every cycle, from those rows: GO.
	require.NotNil(t, st.ExecutiveReport)
	bucket, key, err := objectstore.ParseURI(st.ExecutiveReport.HTML)
	require.NoError(t, err)
	page, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	for _, section := range []string{"1. Verdict: is it safe to switch?", "4. Cost to date against budget", "5. Decision log", "6. KPI registry"} {
		require.Contains(t, string(page), section)
	}
	require.Contains(t, string(page), "GO")
	require.GreaterOrEqual(t, st.CyclesSinceStart, 2)
	require.Equal(t, "legacy_link.daily_revenue", h.viewPointsAt(ctx), "preflight created the view on legacy")
	require.Equal(t, "legacy_link.daily_revenue", st.Views["reporting.daily_revenue"])
	require.NotNil(t, st.History[len(st.History)-1].Report)

	// The UI filter operators use lists it among the domains awaiting approval.
	require.Eventually(t, func() bool {
		resp, err := h.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: searchattr.Query(workflows.MigrationWorkflowName, workflows.PhaseAwaitingApproval, "finance")})
		if err != nil {
			return false
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == id {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "listed by Etl2eltPhase = awaiting-approval")
	h.requireListed(ctx, `WorkflowId = '`+id+`' AND Etl2eltNeedsAction != '' AND Etl2eltNeedsAction = 'approval'`, "needs approval")

	// Refused: not an approver; then two distinct approvers.
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "mallory"})
	require.ErrorContains(t, err, "mallory is not an approver of domain finance (approvers: dana, lee)")
	res, err := h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "dana", Comment: "3 days reconcile exactly"})
	require.NoError(t, err)
	require.Equal(t, 1, res.Approvals)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "dana"})
	require.ErrorContains(t, err, "dana already approved")
	res, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "lee"})
	require.NoError(t, err)
	require.True(t, res.CutoverStarting)

	st = h.waitPhase(ctx, id, workflows.PhaseWatch)
	require.Equal(t, "marts.fct_daily_revenue", h.viewPointsAt(ctx), "cut over to ELT")
	require.NotNil(t, st.CutOverAt)
	var viaView, elt string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT sum(revenue)::text FROM reporting.daily_revenue`).Scan(&viaView))
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT sum(revenue)::text FROM marts.fct_daily_revenue`).Scan(&elt))
	require.Equal(t, elt, viaView)

	// Legacy drifts during the watch (50.00 on one region's day: beyond the plan's
	// 0.01 % relative tolerance over the 8-day window): the next cycle breaches and
	// rolls back.
	tag, err := h.legacy.Exec(ctx, `UPDATE legacy.daily_revenue SET revenue = revenue + 50 WHERE day = $1 AND region = (SELECT min(region) FROM legacy.daily_revenue WHERE day = $1)`, from)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected(), "the drift is planted")
	st = h.waitPhase(ctx, id, workflows.PhaseParallelRun)
	require.Len(t, st.Rollbacks, 1)
	require.True(t, st.Rollbacks[0].Automatic)
	require.Contains(t, st.Rollbacks[0].Reason, "variance breach")
	require.Equal(t, "legacy_link.daily_revenue", h.viewPointsAt(ctx), "rolled back to legacy")
	require.Nil(t, st.CutOverAt)
	require.Empty(t, st.Approvals)
	var legacySum string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT sum(revenue)::text FROM reporting.daily_revenue`).Scan(&viaView))
	require.NoError(t, h.legacy.QueryRow(ctx, `SELECT sum(revenue)::text FROM legacy.daily_revenue`).Scan(&legacySum))
	require.Equal(t, legacySum, viaView, "dashboards read legacy again")

	// Pause: no cycle starts while paused; resume.
	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.PauseSignal, workflows.MigrationSignal{By: "dana", Reason: "legacy team fixing the drift"}))
	require.Eventually(t, func() bool { return h.migrationStatus(ctx, id).Paused != nil }, 30*time.Second, 100*time.Millisecond)
	h.requireListed(ctx, `WorkflowId = '`+id+`' AND Etl2eltPhase = 'paused' AND Etl2eltNeedsAction = 'resume'`, "paused, needs resume")
	// The legacy fix lands while paused.
	_, err = h.legacy.Exec(ctx, `UPDATE legacy.daily_revenue SET revenue = revenue - 50 WHERE day = $1 AND region = (SELECT min(region) FROM legacy.daily_revenue WHERE day = $1)`, from)
	require.NoError(t, err)
	time.Sleep(time.Second) // a cycle started before the pause may still finish
	paused := h.migrationStatus(ctx, id).Cycles
	time.Sleep(3 * time.Second)
	require.Equal(t, paused, h.migrationStatus(ctx, id).Cycles, "no cycle while paused (cadence 1 s)")
	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.ResumeSignal, workflows.MigrationSignal{By: "dana"}))

	// Fresh evidence, fresh approvals, a second cutover, then a rollback asked by a person.
	st = h.waitPhase(ctx, id, workflows.PhaseAwaitingApproval)
	require.Greater(t, st.Cycles, paused)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "dana"})
	require.NoError(t, err)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "lee"})
	require.NoError(t, err)
	h.waitPhase(ctx, id, workflows.PhaseWatch)
	require.Equal(t, "marts.fct_daily_revenue", h.viewPointsAt(ctx), "cut over again")

	// Everything a person can get wrong, sent to the watching migration: nothing
	// blocks it, and a valid rollback sent after all of it is acted on in the very
	// workflow task that sees it.
	refused := h.sendMalformedInputs(ctx, id, []string{workflows.PauseSignal, workflows.ResumeSignal, workflows.AbortSignal, workflows.RollbackSignal},
		[]string{workflows.ApproveCutoverUpdate})
	require.Eventually(t, func() bool { return h.migrationStatus(ctx, id).RefusedInputs == refused }, 30*time.Second, 100*time.Millisecond)
	st = h.migrationStatus(ctx, id)
	require.Equal(t, workflows.PhaseWatch, st.Phase, "no malformed input paused, aborted or rolled back: %v", st.Notices)
	require.Nil(t, st.Paused)
	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.RollbackSignal, workflows.MigrationSignal{By: "lee", Reason: "board pack review"}))
	st = h.waitPhase(ctx, id, workflows.PhaseParallelRun)
	h.requireActedOnInOneTask(ctx, id, workflows.RollbackSignal, `"lee"`, "SwitchViews")
	require.Len(t, st.Rollbacks, 2)
	require.False(t, st.Rollbacks[1].Automatic)
	require.Equal(t, "legacy_link.daily_revenue", h.viewPointsAt(ctx), "rolled back by lee")

	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.AbortSignal, workflows.MigrationSignal{By: "dana", Reason: "legacy drift to investigate"}))
	// An abort ends the workflow as cancelled (not completed); the result is the
	// cancellation's details.
	err = h.client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	var out workflows.MigrationResult
	require.NoError(t, canceled.Details(&out))
	require.Equal(t, workflows.PhaseAborted, out.Phase)
	desc, err := h.client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.GetWorkflowExecutionInfo().GetStatus())
	require.Equal(t, "legacy_link.daily_revenue", out.Views["reporting.daily_revenue"])

	rows, err := h.warehouse.Query(ctx, `SELECT kind || ':' || decided_by FROM etl2elt.decisions WHERE workflow_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	var kinds []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		kinds = append(kinds, k)
	}
	require.NoError(t, rows.Err())
	var decided []string
	inputRefused := 0
	for _, k := range kinds {
		if strings.HasPrefix(k, "input-refused:") {
			inputRefused++
			continue
		}
		decided = append(decided, k)
	}
	require.Equal(t, []string{"cutover-approval:dana", "cutover-approval:lee", "cutover:dana,lee", "rollback-automatic:etl2elt (rollback trigger)",
		"pause:dana", "resume:dana", "cutover-approval:dana", "cutover-approval:lee", "cutover:dana,lee", "rollback:lee", "abort:dana"}, decided)
	require.Equal(t, 20, inputRefused, "refused signals recorded, at most 20 per run")

	t.Logf("migration workflow %s (export its history with `temporal workflow show -w %s --output json`)", id, id)
}

// TestMigrationFreshnessBreachRollsBack: a migration reaches awaiting-approval on the
// plan's quality and freshness evidence (no override), cuts over, and rolls back on
// its own when a watch cycle misses the freshness SLA (here: the plan's max lag
// tightened to 1 s while the source's last load grows older).
func TestMigrationFreshnessBreachRollsBack(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h.rehearsal(ctx, 2)
	planName := "acme_fresh_" + testenv.Suffix()
	h.editPlan("\nname: acme\n", "\nname: "+planName+"\n")
	id := workflows.MigrationWorkflowID(planName, "finance")
	_, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue},
		workflows.MigrationWorkflowName, workflows.MigrationInput{Plan: "demo/plan.yaml", Domain: "finance", Cadence: "1s", WatchCycles: 50})
	require.NoError(t, err)
	st := h.waitPhase(ctx, id, workflows.PhaseAwaitingApproval)
	require.True(t, st.Criteria.Met, "%v", st.Blockers)
	require.Contains(t, criteriaValues(st), "freshness held=2 of 2")
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "dana"})
	require.NoError(t, err)
	_, err = h.approve(ctx, id, workflows.ApproveCutoverRequest{Approver: "lee"})
	require.NoError(t, err)
	h.waitPhase(ctx, id, workflows.PhaseWatch)
	require.Equal(t, "marts.fct_daily_revenue", h.viewPointsAt(ctx))

	h.editPlan("warn: 2h, max_lag: 6h, lag_of: load", "max_lag: 1s, lag_of: load")
	st = h.waitPhase(ctx, id, workflows.PhaseParallelRun)
	require.Len(t, st.Rollbacks, 1)
	require.True(t, st.Rollbacks[0].Automatic)
	require.Contains(t, st.Rollbacks[0].Reason, "freshness breach: cycle")
	require.Contains(t, st.Rollbacks[0].Reason, "freshness:orders: last successful load")
	require.Equal(t, "legacy_link.daily_revenue", h.viewPointsAt(ctx), "rolled back to legacy")
	var alerts int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.alerts WHERE check_name = 'freshness:orders' AND to_status = 'fail'`).Scan(&alerts))
	require.Equal(t, 2, alerts, "one alert per target (log, webhook) for the state change, not one per cycle")
	require.NoError(t, h.client.CancelWorkflow(ctx, id, ""))
	var canceled *temporal.CanceledError
	require.ErrorAs(t, h.client.GetWorkflow(ctx, id, "").Get(ctx, nil), &canceled, "the cancellation completes")
	t.Logf("migration workflow %s", id)
}
