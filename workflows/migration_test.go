package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/cost"
	"etl2elt/internal/cutover"
	"etl2elt/internal/plan"
)

func migrationPlan() *plan.Snapshot {
	snap := testPlan()
	p := snap.Plan
	p.Models = append(p.Models, plan.Model{Name: "fct_orders", Schema: "marts", SQL: "o.sql", Materialized: plan.MaterializedIncremental,
		UniqueKey: []string{"id"}, EventTime: "at", SQLText: "select 1", DependsOn: []string{"stg"}})
	d := &p.Domains[0]
	d.Models = append(d.Models, "fct_orders")
	d.Approvers = []string{"dana", "lee"}
	d.RequiredApprovals = 2
	d.Outputs[0].Consumption = "reporting.daily_revenue"
	d.Outputs[0].Legacy.WarehouseRelation = "legacy_link.daily_revenue"
	d.Backfill = &plan.Backfill{From: "2025-01-01", To: "2025-02-01", ChunkSize: "day"}
	d.ParallelRun = &plan.ParallelRun{Cadence: "1h", WatchCycles: 2}
	d.SwitchingCriteria = &plan.SwitchingCriteria{MinCycles: 2, ConsecutivePassingCycles: 2}
	d.RollbackTriggers = &plan.RollbackTriggers{VarianceBreach: true, FailedCycles: 2, FreshnessBreach: true, QualityFailure: true}
	return snap
}

// migrationEnv is a test environment with the migration's activities and child
// workflows mocked: cycle results come from cycles (in order; pass when exhausted),
// and every view switch and decision is recorded.
type migrationEnv struct {
	*testsuite.TestWorkflowEnvironment
	t         *testing.T
	mu        sync.Mutex
	cycles    []*PipelineRunResult // nil entry: the cycle fails
	ran       int
	switches  []string
	decisions []backfill.Decision
	backfills []string
	switchErr error
	// switchCommits: the switch commits before switchErr is returned.
	switchCommits bool
	// failLegacy fails that many switches to legacy (nothing moves).
	failLegacy int
	// cycleTime and backfillTime are how long the child workflows take.
	cycleTime, backfillTime time.Duration
	// cycleCost and reconCost are each cycle's parallel-run spend and its
	// reconciliation part (the ledger CycleSpend reads); recorded the cycle rows.
	cycleCost, reconCost float64
	recorded             []activities.RecordCycleInput
	// reports are the executive reports written: "<domain or all>@<cycle>".
	reports []string
}

func newMigrationEnv(t *testing.T, snap *plan.Snapshot) *migrationEnv {
	e := &migrationEnv{TestWorkflowEnvironment: newEnv(t), t: t}
	e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "migration/acme/finance"})
	e.RegisterWorkflowWithOptions(PipelineRunWorkflow, workflow.RegisterOptions{Name: PipelineRunWorkflowName})
	e.RegisterWorkflowWithOptions(BackfillWorkflow, workflow.RegisterOptions{Name: BackfillWorkflowName})
	e.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(snap, nil)
	e.OnActivity(a.Preflight, mock.Anything, mock.Anything).Return(&activities.PreflightResult{
		Checks: []activities.PreflightCheck{{Name: "connection warehouse", OK: true}},
		Views:  map[string]string{"reporting.daily_revenue": "legacy_link.daily_revenue"},
	}, nil)
	e.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunModelsInput) (*activities.RunModelsResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, md := range in.Models {
			e.backfills = append(e.backfills, "materialise "+md.Name)
		}
		return &activities.RunModelsResult{}, nil
	})
	e.OnWorkflow(BackfillWorkflowName, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in BackfillInput) (*BackfillResult, error) {
		if e.backfillTime > 0 {
			if err := workflow.Sleep(ctx, e.backfillTime); err != nil {
				return nil, err
			}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.backfills = append(e.backfills, in.Target)
		return &BackfillResult{Target: in.Target, Counters: BackfillCounters{Done: 31, Spent: 1.5}}, nil
	})
	e.OnWorkflow(PipelineRunWorkflowName, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in PipelineRunInput) (*PipelineRunResult, error) {
		if e.cycleTime > 0 {
			if err := workflow.Sleep(ctx, e.cycleTime); err != nil {
				return nil, err
			}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		require.Empty(t, in.From, "cycles are incremental runs from the watermark")
		i := e.ran
		e.ran++
		if i < len(e.cycles) && e.cycles[i] == nil {
			return nil, temporal.NewNonRetryableApplicationError("load failed", "BadInput", nil)
		}
		res := &PipelineRunResult{Status: StatusPass, Window: "w", Report: &activities.ReportLocation{HTML: "s3://b/r.html"}}
		if i < len(e.cycles) {
			res = e.cycles[i]
		}
		return res, nil
	})
	e.OnActivity(a.SwitchViews, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SwitchViewsInput) (*activities.SwitchViewsResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.switchErr != nil && !e.switchCommits {
			return nil, e.switchErr
		}
		if in.Side == cutover.Legacy && e.failLegacy > 0 {
			e.failLegacy--
			return nil, temporal.NewNonRetryableApplicationError("warehouse refuses the switch", activities.ErrTypeBadInput, nil)
		}
		require.Equal(t, []cutover.View{{Name: "reporting.daily_revenue", Legacy: "legacy_link.daily_revenue", ELT: "marts.fct"}}, in.Views)
		e.switches = append(e.switches, in.Side)
		target := in.Views[0].Legacy
		if in.Side == cutover.ELT {
			target = in.Views[0].ELT
		}
		if e.switchErr != nil {
			return nil, e.switchErr // committed, then failed (e.g. its read-back)
		}
		return &activities.SwitchViewsResult{Views: map[string]string{in.Views[0].Name: target}}, nil
	})
	e.OnActivity(a.ViewTargets, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SwitchViewsInput) (*activities.SwitchViewsResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		side := cutover.Legacy
		if n := len(e.switches); n > 0 {
			side = e.switches[n-1]
		}
		target := in.Views[0].Legacy
		if side == cutover.ELT {
			target = in.Views[0].ELT
		}
		return &activities.SwitchViewsResult{Views: map[string]string{in.Views[0].Name: target}}, nil
	})
	e.OnActivity(a.CycleSpend, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CycleSpendInput) (*cost.Spend, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		n := float64(e.ran)
		return &cost.Spend{ParallelRun: e.cycleCost * n, Reconciliation: e.reconCost * n, Backfill: 3}, nil
	})
	e.OnActivity(a.RecordCycle, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordCycleInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.recorded = append(e.recorded, in)
		return nil
	})
	e.OnActivity(a.WriteExecutiveReport, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ExecutiveReportInput) (*activities.ReportLocation, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		d := in.Domain
		if d == "" {
			d = "all"
		}
		e.reports = append(e.reports, fmt.Sprintf("%s@%d", d, in.Cycle))
		return &activities.ReportLocation{HTML: fmt.Sprintf("s3://b/executive/%s/%s/cycle-%d.html", in.Plan.Name, in.Domain, in.Cycle)}, nil
	})
	e.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(func(_ context.Context, d backfill.Decision) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.decisions = append(e.decisions, d)
		return nil
	})
	return e
}

func (e *migrationEnv) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, d := range e.decisions {
		out = append(out, d.Kind+":"+d.By)
	}
	return out
}

// approve sends approve-cutover at delay and stores the outcome in *res / *rejected.
func (e *migrationEnv) approve(delay time.Duration, req ApproveCutoverRequest, rejected *error, res *ApproveCutoverResult) {
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(ApproveCutoverUpdate, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) {
				if rejected != nil {
					*rejected = err
				}
			},
			OnComplete: func(v any, err error) {
				if res != nil && err == nil {
					*res = v.(ApproveCutoverResult)
				}
			},
		}, req)
	}, delay)
}

func (e *migrationEnv) status() MigrationStatus {
	e.t.Helper()
	v, err := e.QueryWorkflow(StatusQuery)
	require.NoError(e.t, err)
	var st MigrationStatus
	require.NoError(e.t, v.Get(&st))
	return st
}

// result is how the migration ended: its result, or for an abort (which ends the
// workflow as cancelled) the cancellation's details.
func (e *migrationEnv) result() MigrationResult {
	e.t.Helper()
	require.True(e.t, e.IsWorkflowCompleted())
	var res MigrationResult
	if err := e.GetWorkflowError(); err != nil {
		var canceled *temporal.CanceledError
		require.ErrorAs(e.t, err, &canceled, "only an abort ends a migration with an error here")
		require.True(e.t, canceled.HasDetails())
		var details *MigrationResult
		require.NoError(e.t, canceled.Details(&details))
		require.Equal(e.t, PhaseAborted, details.Phase)
		return *details
	}
	require.NoError(e.t, e.GetWorkflowResult(&res))
	return res
}

var migrationInput = MigrationInput{Plan: "demo/plan.yaml", Domain: "finance"}

func TestMigrationFullLifecycle(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	var phases []string
	var awaiting MigrationStatus
	// Cycles at 0h and 1h pass: criteria met (min 2, 2 consecutive).
	e.RegisterDelayedCallback(func() { phases = append(phases, e.status().Phase) }, 30*time.Minute)
	e.RegisterDelayedCallback(func() { awaiting = e.status() }, 90*time.Minute)
	var first, second ApproveCutoverResult
	e.approve(100*time.Minute, ApproveCutoverRequest{Approver: "dana", Comment: "numbers agree"}, nil, &first)
	e.approve(110*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, &second)
	var watching MigrationStatus
	e.RegisterDelayedCallback(func() { watching = e.status() }, 115*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)

	res := e.result()
	require.Equal(t, PhaseCompleted, res.Phase)
	require.Equal(t, []string{"orders", "materialise stg", "fct_orders"}, e.backfills, "sources first, then the views incremental models read, then incremental models")
	require.Equal(t, []string{PhaseParallelRun}, phases)
	require.Equal(t, PhaseAwaitingApproval, awaiting.Phase)
	require.True(t, awaiting.Criteria.Met)
	require.Equal(t, 2, awaiting.CyclesSinceStart)
	require.Equal(t, 3.0, awaiting.BackfillCost)
	require.Equal(t, 1, first.Approvals)
	require.False(t, first.CutoverStarting)
	require.True(t, second.CutoverStarting)
	require.Equal(t, PhaseWatch, watching.Phase)
	require.Equal(t, "marts.fct", watching.Views["reporting.daily_revenue"])
	require.Equal(t, []string{cutover.ELT}, e.switches)
	require.Equal(t, "marts.fct", res.Views["reporting.daily_revenue"])
	require.Equal(t, 4, res.Cycles, "2 parallel-run cycles + 2 watch cycles")
	require.Equal(t, []string{"cutover-approval:dana", "cutover-approval:lee", "cutover:dana,lee", "migration-completed:etl2elt"}, e.kinds())
}

func TestMigrationApprovalValidator(t *testing.T) {
	type vote struct {
		at   time.Duration
		req  ApproveCutoverRequest
		want string // "" accepted
	}
	tests := []struct {
		name  string
		votes []vote
		setup func(e *migrationEnv)
	}{
		{"before the parallel run", []vote{{0, ApproveCutoverRequest{Approver: "dana"}, "the domain is in phase preflight: approvals are taken during the parallel run"}}, nil},
		{"not an approver", []vote{{90 * time.Minute, ApproveCutoverRequest{Approver: "mallory"}, "mallory is not an approver of domain finance (approvers: dana, lee)"}}, nil},
		{"no approver", []vote{{90 * time.Minute, ApproveCutoverRequest{Approver: " "}, "approver is required"}}, nil},
		{"second vote by the same person", []vote{
			{90 * time.Minute, ApproveCutoverRequest{Approver: "dana"}, ""},
			{95 * time.Minute, ApproveCutoverRequest{Approver: "dana"}, "dana already approved at"},
		}, nil},
		{"criteria not met", []vote{{30 * time.Minute, ApproveCutoverRequest{Approver: "dana"}, "switching criteria not met: cycles is 1 (needs ≥ 2); consecutive passing cycles is 1 (needs ≥ 2); to approve anyway, give an override reason"}}, nil},
		{"paused", []vote{{90 * time.Minute, ApproveCutoverRequest{Approver: "dana"}, "paused by ops"}}, func(e *migrationEnv) {
			e.RegisterDelayedCallback(func() { e.SignalWorkflow(PauseSignal, MigrationSignal{By: "ops", Reason: "warehouse maintenance"}) }, 80*time.Minute)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMigrationEnv(t, migrationPlan())
			if tt.setup != nil {
				tt.setup(e)
			}
			errs := make([]error, len(tt.votes))
			for i, v := range tt.votes {
				e.approve(v.at, v.req, &errs[i], nil)
			}
			e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 3*time.Hour)
			e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
			require.Equal(t, PhaseAborted, e.result().Phase)
			for i, v := range tt.votes {
				if v.want == "" {
					require.NoError(t, errs[i], "vote %d", i)
					continue
				}
				require.Error(t, errs[i], "vote %d", i)
				require.Contains(t, errs[i].Error(), v.want)
			}
			require.Empty(t, e.switches, "no cutover")
		})
	}
}

func TestMigrationOverrideApprovalIsRecordedAsSuch(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	var res ApproveCutoverResult
	e.approve(30*time.Minute, ApproveCutoverRequest{Approver: "dana", Override: "quarter close: legacy host is being retired", Comment: "ok"}, nil, &res)
	e.approve(40*time.Minute, ApproveCutoverRequest{Approver: "lee", Override: "same reason as dana: legacy host retiring"}, nil, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 45*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.True(t, res.Override)
	require.False(t, res.Criteria.Met)
	require.Equal(t, []string{cutover.ELT}, e.switches, "the cutover ran on the overrides")
	kinds := e.kinds()
	require.Equal(t, []string{"cutover-approval-override:dana", "cutover-approval-override:lee", "cutover:dana,lee", "abort:test"}, kinds)
	require.Equal(t, "quarter close: legacy host is being retired (ok)", e.decisions[0].Reason)
}

// checked is a cycle's quality outcome.
func checked(failures int, fresh bool, notPassing ...activities.CheckBrief) *activities.RunChecksResult {
	return &activities.RunChecksResult{Counts: map[string]int{}, Failures: failures, FreshnessHeld: &fresh, NotPassing: notPassing}
}

func TestMigrationRollbackTriggerDuringWatch(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cycles  []*PipelineRunResult
		trigger string
	}{
		{"variance breach", []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, {Status: StatusFail, Breaches: 3}}, "variance breach: cycle 3 has 3 reconciliation check(s) over tolerance"},
		{"failed cycles", []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, nil, nil}, "2 consecutive failed cycles (trigger: 2)"},
		{"freshness breach", []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, {Status: StatusPass, Quality: checked(0, false, activities.CheckBrief{
			Check: "freshness:orders", Kind: "freshness", Status: "fail", Detail: "newest event 9h 0m ago (max lag 6h)"})}},
			"freshness breach: cycle 3 missed a freshness SLA (freshness:orders: newest event 9h 0m ago (max lag 6h))"},
		{"quality failure", []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, {Status: StatusPass, Quality: checked(1, true, activities.CheckBrief{
			Check: "keys", Kind: "unique", Status: "fail", Detail: "2 keys appear more than once"})}},
			"quality failure: cycle 3 has 1 failing quality check(s) (keys: 2 keys appear more than once)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newMigrationEnv(t, migrationPlan())
			e.cycles = tt.cycles
			e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
			e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
			in := migrationInput
			in.EndAfterRollback = true
			e.ExecuteWorkflow(MigrationWorkflow, in)
			res := e.result()
			require.Equal(t, PhaseRolledBack, res.Phase)
			require.Equal(t, []string{cutover.ELT, cutover.Legacy}, e.switches)
			require.Equal(t, "legacy_link.daily_revenue", res.Views["reporting.daily_revenue"])
			require.Len(t, res.Rollbacks, 1)
			require.True(t, res.Rollbacks[0].Automatic)
			require.Contains(t, res.Rollbacks[0].Reason, tt.trigger)
			require.Contains(t, e.kinds(), "rollback-automatic:etl2elt (rollback trigger)")
		})
	}
}

func TestMigrationRollbackSignalReturnsToParallelRun(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	// Before the cutover a rollback is ignored, with a notice.
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "dana", Reason: "too early"}) }, 10*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "lee", Reason: "board pack shows a gap"}) }, 100*time.Minute)
	var after MigrationStatus
	e.RegisterDelayedCallback(func() { after = e.status() }, 101*time.Minute)
	var rejected error
	e.approve(102*time.Minute, ApproveCutoverRequest{Approver: "dana"}, &rejected, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 150*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	res := e.result()
	require.Equal(t, PhaseAborted, res.Phase)
	require.Equal(t, []string{cutover.ELT, cutover.Legacy}, e.switches)
	require.Equal(t, PhaseParallelRun, after.Phase, "back to the parallel run")
	require.Equal(t, 1, after.CyclesSinceStart, "fresh evidence: only the cycle run right after the rollback")
	require.Empty(t, after.Approvals, "fresh approvals")
	require.Nil(t, after.CutOverAt)
	require.Equal(t, "legacy_link.daily_revenue", after.Views["reporting.daily_revenue"])
	require.Contains(t, strings.Join(after.Notices, "\n"), "rollback by dana ignored: the domain is not cut over")
	require.Error(t, rejected, "criteria are evaluated on the evidence since the rollback")
	require.Contains(t, rejected.Error(), "cycles is 1 (needs ≥ 2)")
	require.Contains(t, e.kinds(), "rollback:lee")
}

func TestMigrationPauseStopsCycles(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(PauseSignal, MigrationSignal{By: "ops", Reason: "maintenance"}) }, 30*time.Minute)
	var paused MigrationStatus
	e.RegisterDelayedCallback(func() { paused = e.status() }, 5*time.Hour)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(ResumeSignal, MigrationSignal{By: "ops"}) }, 6*time.Hour)
	var resumed MigrationStatus
	e.RegisterDelayedCallback(func() { resumed = e.status() }, 6*time.Hour+time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "ops", Reason: "done"}) }, 6*time.Hour+2*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.NotNil(t, paused.Paused)
	require.Equal(t, 1, paused.Cycles, "no cycle while paused")
	require.Nil(t, resumed.Paused)
	require.Equal(t, 2, resumed.Cycles, "a cycle right after resume")
	require.Equal(t, []string{"pause:ops", "resume:ops", "abort:ops"}, e.kinds())
}

func TestMigrationPreflightProblemsFailWithoutRetry(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "migration/acme/finance"})
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(migrationPlan(), nil)
	env.OnActivity(a.Preflight, mock.Anything, mock.Anything).Return(&activities.PreflightResult{Problems: 1, Checks: []activities.PreflightCheck{
		{Name: "connection legacy", OK: true}, {Name: "legacy relation legacy.daily_revenue", OK: false, Detail: "missing on connection legacy"},
	}}, nil).Once()
	env.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.True(t, appErr.NonRetryable())
	require.Contains(t, err.Error(), "preflight of domain finance found 1 problem(s): legacy relation legacy.daily_revenue: missing on connection legacy")
}

func TestMigrationRefusesBadPlans(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *plan.Domain)
		in     MigrationInput
		want   string
		id     string
	}{
		{"workflow id other than migration/<plan>/<domain>", nil, migrationInput, `workflow id "finance-2": a migration's id must be "migration/acme/finance", so that a domain has one migration at a time`, "finance-2"},
		{"unknown domain", nil, MigrationInput{Plan: "p", Domain: "sales"}, `plan acme has no domain "sales"`, ""},
		{"no approvers", func(d *plan.Domain) { d.Approvers = nil }, migrationInput, "lists no approvers", ""},
		{"no consumption view", func(d *plan.Domain) { d.Outputs[0].Consumption = "" }, migrationInput, "nothing to cut over", ""},
		{"no cadence", func(d *plan.Domain) { d.ParallelRun = nil }, migrationInput, "no parallel_run.cadence", ""},
		{"bad cadence override", nil, MigrationInput{Plan: "p", Domain: "finance", Cadence: "soon"}, `cadence "soon"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := migrationPlan()
			if tt.change != nil {
				tt.change(&snap.Plan.Domains[0])
			}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.RegisterActivity(&activities.Activities{})
			id := tt.id
			if id == "" {
				id = "migration/acme/finance"
			}
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
			env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(snap, nil)
			env.ExecuteWorkflow(MigrationWorkflow, tt.in)
			require.ErrorContains(t, env.GetWorkflowError(), tt.want)
		})
	}
}

func TestMigrationFailedCutoverLeavesLegacy(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.switchErr = temporal.NewNonRetryableApplicationError("point reporting.daily_revenue at marts.fct: its columns differ", activities.ErrTypeBadInput, nil)
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	var after MigrationStatus
	e.RegisterDelayedCallback(func() { after = e.status() }, 95*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 100*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.Contains(t, []string{PhaseParallelRun, PhaseAwaitingApproval}, after.Phase)
	require.Empty(t, after.Approvals)
	require.Nil(t, after.CutOverAt)
	require.Contains(t, strings.Join(after.Notices, "\n"), "cutover failed, every view still points at legacy")
}

func TestMigrationContinuesAsNewWithItsState(t *testing.T) {
	old := maxCyclesPerRun
	maxCyclesPerRun = 3
	t.Cleanup(func() { maxCyclesPerRun = old })
	e := newMigrationEnv(t, migrationPlan())
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.True(t, e.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(e.GetWorkflowError(), &can))
	var next MigrationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carry)
	require.Equal(t, 3, next.Carry.State.Cycles)
	require.Len(t, next.Carry.Evidence, 3)
	require.Equal(t, PhaseAwaitingApproval, next.Carry.State.Phase)
	require.Len(t, next.Carry.State.Approvals, 1, "approvals survive")

	// The next run resumes the parallel run: no preflight, no backfill again.
	e2 := newMigrationEnv(t, migrationPlan())
	e2.approve(time.Minute, ApproveCutoverRequest{Approver: "dana"}, new(error), nil)
	e2.approve(2*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	e2.SetContinuedExecutionRunID("previous-run") // a continued run: carry is its state
	e2.ExecuteWorkflow(MigrationWorkflow, next)
	require.Equal(t, PhaseCompleted, e2.result().Phase)
	require.Empty(t, e2.backfills)
	e2.AssertNotCalled(t, "Preflight", mock.Anything, mock.Anything)
}

func TestMigrationCriteriaThatStopHoldingLeaveAwaitingApproval(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.cycles = []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, {Status: StatusFail, Breaches: 1}}
	var awaiting, after MigrationStatus
	e.RegisterDelayedCallback(func() { awaiting = e.status() }, 90*time.Minute)
	e.RegisterDelayedCallback(func() { after = e.status() }, 150*time.Minute)
	var rejected error
	e.approve(151*time.Minute, ApproveCutoverRequest{Approver: "dana"}, &rejected, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 160*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.Equal(t, PhaseAwaitingApproval, awaiting.Phase)
	require.Equal(t, PhaseParallelRun, after.Phase)
	require.Contains(t, strings.Join(after.Notices, "\n"), "cycle 3: the switching criteria no longer hold")
	require.ErrorContains(t, rejected, "switching criteria not met: consecutive passing cycles is 0 (needs ≥ 2); breaches over tolerance (recent cycles) is 1 (needs ≤ 0)")
}

func TestMigrationRefusesVotesBeyondTheRequired(t *testing.T) {
	snap := migrationPlan()
	snap.Plan.Domains[0].RequiredApprovals = 1
	e := newMigrationEnv(t, snap)
	// The first vote completes the approvals; a second one arriving in the same
	// instant, before the cutover starts, must not count.
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	var rejected error
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "lee"}, &rejected, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 100*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.Error(t, rejected)
	require.Equal(t, []string{cutover.ELT}, e.switches)
}

func TestMigrationTwoVotesAtOnceBySamePersonCountOnce(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	var first, second error
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, &first, nil)
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, &second, nil)
	var st MigrationStatus
	e.RegisterDelayedCallback(func() { st = e.status() }, 95*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 100*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.NoError(t, first)
	require.ErrorContains(t, second, "dana's vote is being recorded: a second vote by the same person does not count")
	require.Len(t, st.Approvals, 1)
	require.Empty(t, e.switches)
}

func TestMigrationRollbackDuringARunningCycleIsImmediate(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.cycleTime = 20 * time.Minute
	// Cycles end at 20m and 1h40m; criteria met after the second; votes at 1h45m,
	// cutover; the first watch cycle runs from 1h45m to 2h05m.
	e.approve(105*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(105*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "lee", Reason: "EMEA gap"}) }, 110*time.Minute)
	var after MigrationStatus
	e.RegisterDelayedCallback(func() { after = e.status() }, 111*time.Minute)
	in := migrationInput
	in.EndAfterRollback = true
	e.ExecuteWorkflow(MigrationWorkflow, in)
	res := e.result()
	require.Equal(t, PhaseRolledBack, res.Phase)
	require.Equal(t, []string{cutover.ELT, cutover.Legacy}, e.switches)
	require.Equal(t, PhaseRolledBack, after.Phase, "the views went back within a minute, not at the end of the cycle")
	final := e.status()
	require.Equal(t, StatusCancelled, final.History[len(final.History)-1].Status, "the watch cycle was cancelled")
	require.Equal(t, "legacy_link.daily_revenue", res.Views["reporting.daily_revenue"])
}

func TestMigrationAbortDuringBackfillCancelsIt(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.backfillTime = 10 * time.Hour
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "ops", Reason: "wrong plan"}) }, time.Hour)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	res := e.result()
	require.Equal(t, PhaseAborted, res.Phase)
	require.Equal(t, "wrong plan", res.Reason)
	require.Zero(t, e.ran, "no cycle ran")
	require.Equal(t, []string{"abort:ops"}, e.kinds())
}

func TestMigrationPendingAbortSurvivesContinueAsNew(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.SetContinuedExecutionRunID("previous-run")
	e.ExecuteWorkflow(MigrationWorkflow, MigrationInput{Plan: "demo/plan.yaml", Domain: "finance", Carry: &MigrationCarry{
		State:        MigrationStatus{Domain: "finance", Phase: PhaseParallelRun, Cycles: 7},
		PendingAbort: &MigrationSignal{By: "ops", Reason: "received just before continue-as-new"},
	}})
	res := e.result()
	require.Equal(t, PhaseAborted, res.Phase)
	require.Equal(t, 7, res.Cycles, "no new cycle")
	e.AssertNotCalled(t, "Preflight", mock.Anything, mock.Anything)
}

func TestMigrationCutoverNeedsCriteriaOrOverrideWhenItStarts(t *testing.T) {
	snap := migrationPlan()
	e := newMigrationEnv(t, snap)
	// Cycles 1-2 pass (criteria met), cycle 3 breaches: dana voted in between, lee's
	// vote after cycle 3 needs an override; when the cutover starts, lee's override
	// covers it.
	e.cycles = []*PipelineRunResult{{Status: StatusPass}, {Status: StatusPass}, {Status: StatusFail, Breaches: 2}}
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	var rejected error
	e.approve(130*time.Minute, ApproveCutoverRequest{Approver: "lee"}, &rejected, nil)
	e.approve(131*time.Minute, ApproveCutoverRequest{Approver: "lee", Override: "breach explained: late refunds"}, nil, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 140*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.ErrorContains(t, rejected, "switching criteria not met")
	require.Equal(t, []string{cutover.ELT}, e.switches)
}

func TestMigrationSwitchThatCommittedBeforeItsErrorCountsAsDone(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.switchErr, e.switchCommits = errors.New("connection reset after commit"), true
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	var st MigrationStatus
	e.RegisterDelayedCallback(func() { st = e.status() }, 95*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 100*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	res := e.result()
	require.Equal(t, PhaseWatch, st.Phase, "read back: the views point at ELT, so the domain is cut over")
	require.NotNil(t, st.CutOverAt)
	require.Equal(t, "marts.fct", res.Views["reporting.daily_revenue"])
}

func TestMigrationFailedRollbackIsRetriedThenAbortWaitsForIt(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.failLegacy = 3
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "lee", Reason: "gap"}) }, 100*time.Minute)
	// An abort while the rollback keeps failing: the rollback is done first.
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "dana", Reason: "stop"}) }, 101*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	res := e.result()
	require.Equal(t, PhaseAborted, res.Phase)
	require.Equal(t, "legacy_link.daily_revenue", res.Views["reporting.daily_revenue"], "rolled back before ending")
	require.Len(t, res.Rollbacks, 1)
	require.False(t, res.Rollbacks[0].Automatic)
	require.Equal(t, []string{"cutover-approval:dana", "cutover-approval:lee", "cutover:dana,lee", "rollback:lee", "abort:dana"}, e.kinds())
	require.Contains(t, strings.Join(e.status().Notices, "\n"), "ROLLBACK FAILED (attempt 3)")
}

func TestMigrationEndAfterRollbackClearsTheCutover(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "lee", Reason: "gap"}) }, 100*time.Minute)
	in := migrationInput
	in.EndAfterRollback = true
	e.ExecuteWorkflow(MigrationWorkflow, in)
	require.Equal(t, PhaseRolledBack, e.result().Phase)
	st := e.status()
	require.Nil(t, st.CutOverAt)
	require.Equal(t, "legacy_link.daily_revenue", st.Views["reporting.daily_revenue"])
}

// TestMigrationQualityEvidenceGatesTheApproval: cycles whose checks fail or whose
// freshness SLA is missed do not reach awaiting-approval; once they pass, it does,
// with no override.
func TestMigrationQualityEvidenceGatesTheApproval(t *testing.T) {
	snap := migrationPlan()
	sc := snap.Plan.Domains[0].SwitchingCriteria
	sc.RequireFreshness = true
	e := newMigrationEnv(t, snap)
	e.cycles = []*PipelineRunResult{
		{Status: StatusPass, Quality: checked(2, true)},
		{Status: StatusPass, Quality: checked(0, false)},
		{Status: StatusPass, Quality: checked(0, true)},
		{Status: StatusPass, Quality: checked(0, true)},
	}
	var phases []string
	for i := 0; i < 4; i++ { // cycles run at 0 h, 1 h, 2 h, 3 h
		e.RegisterDelayedCallback(func() { phases = append(phases, e.status().Phase) }, time.Duration(i)*time.Hour+30*time.Minute)
	}
	e.RegisterDelayedCallback(func() {
		st := e.status()
		require.True(t, st.Criteria.Met, "%v", st.Blockers)
		names := []string{}
		for _, c := range st.Criteria.Criteria {
			names = append(names, c.Name+"="+c.Value)
		}
		require.Contains(t, names, "quality check failures (recent cycles)=0")
		require.Contains(t, names, "freshness held=2 of 2")
		e.CancelWorkflow()
	}, 3*time.Hour+40*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, []string{PhaseParallelRun, PhaseParallelRun, PhaseParallelRun, PhaseAwaitingApproval}, phases)
}

// TestMigrationNoDataCycleIsNotEvidence: a cycle whose reconciliation compared nothing
// does not count as a passing cycle.
func TestMigrationNoDataCycleIsNotEvidence(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.cycles = []*PipelineRunResult{{Status: StatusPass}, {Status: StatusNoData}, {Status: StatusPass}, {Status: StatusPass}}
	var phases []string
	for i := 0; i < 4; i++ {
		e.RegisterDelayedCallback(func() { phases = append(phases, e.status().Phase) }, time.Duration(i)*time.Hour+30*time.Minute)
	}
	e.RegisterDelayedCallback(func() {
		st := e.status()
		require.True(t, st.History[1].Evidence.NoData)
		e.CancelWorkflow()
	}, 3*time.Hour+40*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, []string{PhaseParallelRun, PhaseParallelRun, PhaseParallelRun, PhaseAwaitingApproval}, phases)
}

func TestMigrationBudgetHoldsAndARaiseResumes(t *testing.T) {
	snap := migrationPlan()
	d := &snap.Plan.Domains[0]
	d.Budget = &plan.Budget{ParallelRun: 25, Reconciliation: 100}
	d.SwitchingCriteria = &plan.SwitchingCriteria{MinCycles: 3, ConsecutivePassingCycles: 3, RequireWithinBudget: true}
	snap.Plan.CostRates = plan.CostRates{Currency: "EUR", WarehouseHour: 2, LegacyRun: 1}
	e := newMigrationEnv(t, snap)
	e.cycleCost, e.reconCost = 10, 2 // cycles 1 and 2 spend 20; a third would make 30 > 25

	var held, resumed MigrationStatus
	e.RegisterDelayedCallback(func() { held = e.status() }, 150*time.Minute)
	raise := func(at time.Duration, req MigrationRaiseBudgetRequest, rejected *error, res *MigrationRaiseBudgetResult) {
		e.RegisterDelayedCallback(func() {
			e.UpdateWorkflow(RaiseBudgetUpdate, "", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { *rejected = err },
				OnComplete: func(v any, err error) {
					if err == nil && res != nil {
						*res = v.(MigrationRaiseBudgetResult)
					}
				},
			}, req)
		}, at)
	}
	var errStranger, errNegative, errUnknown, errBackfill error
	raise(160*time.Minute, MigrationRaiseBudgetRequest{By: "mallory", Budget: "parallel_run", Amount: 50, Reason: "because I say so"}, &errStranger, nil)
	raise(161*time.Minute, MigrationRaiseBudgetRequest{By: "dana", Budget: "parallel_run", Amount: -5, Reason: "two more weeks agreed"}, &errNegative, nil)
	raise(162*time.Minute, MigrationRaiseBudgetRequest{By: "dana", Budget: "paralel_run", Amount: 50, Reason: "two more weeks agreed"}, &errUnknown, nil)
	raise(163*time.Minute, MigrationRaiseBudgetRequest{By: "dana", Budget: "backfill", Amount: 50, Reason: "two more weeks agreed"}, &errBackfill, nil)
	var errText, errTypo error
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(RaiseBudgetUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) { errText = err }, OnComplete: func(any, error) {}},
			map[string]any{"by": "dana", "budget": "parallel_run", "amount": "lots", "reason": "two more weeks agreed"})
		e.UpdateWorkflow(RaiseBudgetUpdate, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(err error) { errTypo = err }, OnComplete: func(any, error) {}},
			map[string]any{"by": "dana", "budget": "parallel_run", "ammount": 5, "reason": "two more weeks agreed"})
	}, 164*time.Minute)
	var errOK error
	var raised MigrationRaiseBudgetResult
	raise(180*time.Minute, MigrationRaiseBudgetRequest{By: "dana", Budget: "parallel_run", Amount: 50, Reason: "two more weeks of dual running agreed with finance"}, &errOK, &raised)
	e.RegisterDelayedCallback(func() { resumed = e.status() }, 190*time.Minute)
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(AbortSignal, MigrationSignal{By: "dana", Reason: "test over"})
	}, 200*time.Minute)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	e.result()

	require.NotNil(t, held.Cost)
	require.Equal(t, BudgetParallelRun, held.Cost.Exceeded)
	require.Equal(t, NeedsBudget, held.NeedsAction)
	require.Equal(t, 2, held.Cycles, "no third cycle while the budget holds")
	require.InDelta(t, 20, held.Cost.Spent.ParallelRun, 1e-9)
	require.InDelta(t, 25, held.Cost.Limits.ParallelRun, 1e-9)
	require.InDelta(t, 10, held.Cost.PerCycle, 1e-9)
	require.Equal(t, 3, held.Cost.RemainingCycles, "3 passing cycles needed, 2 done: one more, plus 2 watch cycles")
	require.InDelta(t, 50, held.Cost.Projection.ParallelRun, 1e-9, "20 spent + 10 a cycle × 3 cycles")
	require.Contains(t, held.Notices[len(held.Notices)-1], "budget parallel_run: spent 20.00 EUR of 25.00")

	require.ErrorContains(t, errStranger, "mallory")
	require.ErrorContains(t, errNegative, "amount must be a positive number, got -5")
	require.ErrorContains(t, errUnknown, `budget "paralel_run": want parallel_run or reconciliation`)
	require.ErrorContains(t, errBackfill, "raised on the running backfill workflow")
	require.ErrorContains(t, errText, "amount")
	require.NotContains(t, errText.Error(), "json:", "no raw decoder output")
	require.ErrorContains(t, errTypo, `"ammount"`)
	require.NoError(t, errOK)
	require.InDelta(t, 75, raised.Limit, 1e-9)

	require.Equal(t, 3, resumed.Cycles, "the raise let the third cycle run at once")
	require.Equal(t, "s3://b/executive/acme/finance/cycle-3.html", resumed.ExecutiveReport.HTML, "an executive report after every cycle")
	require.Empty(t, resumed.Cost.Exceeded)
	require.Contains(t, e.kinds(), "raise-budget:dana")
	for _, d := range e.decisions {
		if d.Kind == "raise-budget" {
			ev := d.Evidence.(map[string]any)
			require.Equal(t, 25.0, ev["limit_before"])
			require.Equal(t, 75.0, ev["limit_after"])
			require.Equal(t, 20.0, ev["spent"])
		}
	}
	require.Equal(t, []string{"finance@1", "all@1", "finance@2", "all@2", "finance@3", "all@3", "finance@3", "all@3"}, e.reports,
		"the domain's and the plan's reports after every cycle, and again after the abort")
	require.Len(t, e.recorded, 3)
	for _, r := range e.recorded {
		require.NotNil(t, r.CostStatus, "the cost status after the cycle (the report's projection)")
		require.False(t, r.MigrationStartedAt.IsZero())
		require.NotNil(t, r.WithinBudget)
		require.True(t, *r.WithinBudget)
		require.NotNil(t, r.Spend)
	}
	require.Equal(t, "within budget", e.recorded[2].Criteria.Criteria[len(e.recorded[2].Criteria.Criteria)-1].Name)
}

func TestMoneyShowsSmallAmounts(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 16.8: "16.80", 0.00182: "0.0018", 0.0004: "0.00040", 0.05: "0.05", -0.00123: "-0.0012", 1234.567: "1234.57"} {
		require.Equal(t, want, money(v), "%v", v)
	}
}
