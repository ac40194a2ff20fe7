package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

func backfillPlan(budget float64, trustedUntil string) *plan.Snapshot {
	s := testPlan()
	s.Plan.Models = append(s.Plan.Models, plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental,
		UniqueKey: []string{"id"}, EventTime: "day", SQLText: "select 1"})
	d := &s.Plan.Domains[0]
	d.Models = append(d.Models, "fct_events")
	d.Backfill = &plan.Backfill{From: "2026-01-01", To: "2026-02-01", ChunkSize: "day", Concurrency: 3, TrustedUntil: trustedUntil}
	if budget > 0 {
		d.Budget = &plan.Budget{Backfill: budget}
		s.Plan.CostRates = plan.CostRates{Currency: "USD"}
	}
	return s
}

// planned mocks PlanBackfill with the real selection logic over an empty ledger.
func planned(env *testsuite.TestWorkflowEnvironment) {
	plannedDone(env, "")
	env.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(nil)
}

// plannedDone mocks PlanBackfill with the real selection logic over a ledger where
// every chunk starting before doneBefore (YYYY-MM-DD; "" none) is done: ELT loaded it.
// The ledger follows the chunks the test's activities run and skip, as the real one
// does; the returned ledger lets a test lose a commit.
func plannedDone(env *testsuite.TestWorkflowEnvironment, doneBefore string) *testLedger {
	l := &testLedger{rows: map[string]backfill.Row{}, started: map[string]backfill.Chunk{}, doneBefore: doneBefore}
	env.OnActivity(a.PlanBackfill, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanBackfillInput) (*activities.PlanBackfillResult, error) {
			chunks, err := backfill.Split(in.Target, in.Range, in.ChunkSize)
			if err != nil {
				return nil, err
			}
			sel, err := backfill.Select(chunks, l.snapshot(chunks), in.Reprocess, in.TrustedUntil)
			return &activities.PlanBackfillResult{Selection: sel, Total: len(chunks)}, err
		})
	env.OnActivity(a.AdvanceBackfillWatermark, mock.Anything, mock.Anything).Return(&activities.BackfillWatermarkResult{}, nil)
	env.OnActivity(a.ClaimBackfill, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(a.ReleaseBackfill, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch info.ActivityType.Name {
		case "RunBackfillChunk":
			var in activities.RunChunkInput
			if args.Get(&in) == nil {
				l.started[info.ActivityID] = in.Chunk
			}
		case "SkipBackfillChunk":
			var in activities.SkipChunkInput
			if args.Get(&in) == nil {
				l.rows[in.Chunk.ID()] = backfill.Row{Status: backfill.StatusSkipped}
			}
		}
	})
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if c, ok := l.started[info.ActivityID]; ok && info.ActivityType.Name == "RunBackfillChunk" && err == nil {
			if l.lose[c.ID()] > 0 {
				l.lose[c.ID()]-- // the commit is lost after the activity reported success
				return
			}
			l.rows[c.ID()] = backfill.Row{Status: backfill.StatusDone}
		}
	})
	return l
}

// testLedger is the chunk ledger of a mocked backfill.
type testLedger struct {
	mu         sync.Mutex
	rows       map[string]backfill.Row
	started    map[string]backfill.Chunk
	lose       map[string]int
	doneBefore string
}

func (l *testLedger) snapshot(chunks []backfill.Chunk) map[string]backfill.Row {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]backfill.Row{}
	for _, c := range chunks {
		if l.doneBefore != "" && c.Window.From.Format(window.DateLayout) < l.doneBefore {
			out[c.ID()] = backfill.Row{Status: backfill.StatusDone}
		}
		if r, ok := l.rows[c.ID()]; ok {
			out[c.ID()] = r
		}
	}
	return out
}

var backfillInput = BackfillInput{Plan: "demo/plan.yaml", Target: "fct_events", From: "2026-01-01", To: "2026-01-11"}

func backfillStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) BackfillStatus {
	t.Helper()
	v, err := env.QueryWorkflow(StatusQuery)
	require.NoError(t, err)
	var st BackfillStatus
	require.NoError(t, v.Get(&st))
	return st
}

func TestBackfillRunsEveryChunkWithBoundedConcurrency(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	planned(env)
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RunChunkInput) (*backfill.ChunkResult, error) {
			mu.Lock()
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			return &backfill.ChunkResult{ChunkID: in.Chunk.ID(), Rows: 10}, nil
		})
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 10, res.Counters.Done)
	require.EqualValues(t, 100, res.Counters.Rows)
	require.LessOrEqual(t, maxInFlight, 3, "the domain's concurrency")
	require.Equal(t, PhaseCompleted, backfillStatus(t, env).Phase)
}

func TestBackfillStuckChunkWaitsForAPersonWhileOthersGoOn(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	planned(env)
	bad := backfill.Chunk{Target: "fct_events", Window: window.Window{From: day("2026-01-03"), To: day("2026-01-04")}}
	worse := backfill.Chunk{Target: "fct_events", Window: window.Window{From: day("2026-01-07"), To: day("2026-01-08")}}
	calls := map[string]int{}
	var mu sync.Mutex
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RunChunkInput) (*backfill.ChunkResult, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[in.Chunk.ID()]++
			switch {
			case in.Chunk.ID() == bad.ID() && calls[bad.ID()] <= int(chunkRetryPolicy.MaximumAttempts):
				return nil, errors.New("connection reset by peer")
			case in.Chunk.ID() == worse.ID():
				return nil, temporal.NewNonRetryableApplicationError("model fct_events: unique key (id) is not unique", activities.ErrTypeBadInput, nil)
			}
			return &backfill.ChunkResult{ChunkID: in.Chunk.ID(), Rows: 1}, nil
		})
	env.OnActivity(a.SkipBackfillChunk, mock.Anything, mock.MatchedBy(func(in activities.SkipChunkInput) bool {
		return in.Chunk.ID() == worse.ID() && in.By == "dana" && in.Reason == "duplicates fixed at source next week"
	})).Return(nil).Once()

	env.RegisterDelayedCallback(func() {
		st := backfillStatus(t, env)
		require.Equal(t, PhaseWaitingForOperator, st.Phase)
		require.Equal(t, 8, st.Counters.Done, "the other chunks went on")
		require.Len(t, st.Waiting, 2)
		env.SignalWorkflow(RetryChunkSignal, ChunkSignal{ChunkID: bad.ID(), By: "dana"})
		env.SignalWorkflow(SkipChunkSignal, ChunkSignal{ChunkID: worse.ID(), By: "dana", Reason: "duplicates fixed at source next week"})
	}, time.Hour)
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 9, res.Counters.Done)
	require.Equal(t, 1, res.Counters.Skipped)
	require.Equal(t, int(chunkRetryPolicy.MaximumAttempts)+1, calls[bad.ID()], "every automatic attempt, then one after retry-chunk")
	require.Equal(t, 1, calls[worse.ID()], "bad input is not retried automatically")
}

func TestBackfillRefusesTrustedPeriodWithoutOverride(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, "2026-01-05"), nil)
	plannedDone(env, "2026-01-20") // ELT loaded the whole range before
	in := backfillInput
	in.Reprocess = backfill.ReprocessAll
	env.ExecuteWorkflow(BackfillWorkflow, in)
	err := env.GetWorkflowError()
	require.ErrorContains(t, err, "4 chunk(s) of [2026-01-01, 2026-01-11) fall in the trusted period before 2026-01-05")
	require.ErrorContains(t, err, "pass override_trusted {by, reason} in the input")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeBadInput, appErr.Type())
}

func TestBackfillTrustedOverrideIsRecorded(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, "2026-01-05"), nil)
	plannedDone(env, "2026-01-20")
	var recorded []backfill.Decision
	env.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(func(_ context.Context, d backfill.Decision) error {
		recorded = append(recorded, d)
		return nil
	})
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1}, nil)
	in := backfillInput
	in.Reprocess = backfill.ReprocessAll
	in.OverrideTrusted = &Override{By: "cfo", Reason: "restated Q4"}
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, recorded, 1)
	d := recorded[0]
	require.Equal(t, "override-trusted", d.Kind)
	require.Equal(t, "cfo", d.By)
	require.Equal(t, "restated Q4", d.Reason)
	require.Equal(t, "finance", d.Domain)
}

// A first backfill of the trusted period (ELT never loaded it) has nothing to
// protect: it runs without an override and records none.
func TestBackfillFirstLoadOfTrustedPeriodNeedsNoOverride(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, "2026-01-05"), nil)
	plannedDone(env, "")
	env.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(func(context.Context, backfill.Decision) error {
		t.Fatal("no decision expected")
		return nil
	}).Maybe()
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1}, nil)
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 10, res.Counters.Done)
}

func TestBackfillPausesAtTheBudgetUntilRaised(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(3.5, ""), nil)
	planned(env)
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1, Cost: 1}, nil)
	in := backfillInput
	in.Concurrency = 1
	env.RegisterDelayedCallback(func() {
		st := backfillStatus(t, env)
		require.Equal(t, PhasePausedBudget, st.Phase)
		require.Equal(t, 3, st.Counters.Done)
		env.UpdateWorkflow(RaiseBudgetUpdate, "bad", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { require.ErrorContains(t, err, "raise-budget amount must be positive") },
			OnAccept:   func() { t.Fatal("a negative raise must be rejected") },
			OnComplete: func(any, error) {},
		}, RaiseBudgetRequest{By: "cfo", Amount: -1, Reason: "x"})
		env.UpdateWorkflow(RaiseBudgetUpdate, "good", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Fatalf("rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { require.NoError(t, err); require.EqualValues(t, 13.5, v) },
		}, RaiseBudgetRequest{By: "cfo", Amount: 10, Reason: "Q1 restatement needs the full year"})
	}, time.Hour)
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 10, res.Counters.Done)
	require.InDelta(t, 10, res.Counters.Spent, 1e-9)
}

func TestBackfillDryRunChangesNothing(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, "2026-01-03"), nil)
	plannedDone(env, "2026-01-05")
	in := backfillInput
	in.DryRun = true
	in.Reprocess = backfill.ReprocessAll
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.DryRun)
	require.Len(t, res.ToRun, 10)
	require.Equal(t, []string{"fct_events@2026-01-01..2026-01-02", "fct_events@2026-01-02..2026-01-03"}, res.Trusted)
}

func TestBackfillContinuesAsNewWithItsState(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	planned(env)
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1}, nil)
	in := backfillInput
	in.ChunksPerRun = 4
	env.ExecuteWorkflow(BackfillWorkflow, in)
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "got %v", err)
	var next BackfillInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carry)
	// Chunks already in flight when the limit is reached finish before the hand-over.
	require.GreaterOrEqual(t, next.Carry.Counters.Done, 4)
	require.Equal(t, 10, next.Carry.Counters.Done+len(next.Carry.Pending), "nothing lost, nothing run twice")
	require.Equal(t, 1, next.Carry.Runs)
	require.Equal(t, 4, next.ChunksPerRun, "the bound is carried")
}

func TestBackfillBadTarget(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	in := backfillInput
	in.Target = "fct" // a table model
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.ErrorContains(t, env.GetWorkflowError(), `target "fct" is a table model of plan acme: only incremental models (and sources) are backfilled by window`)

	env = newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	in.Target = "nope"
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.ErrorContains(t, env.GetWorkflowError(), `plan acme has no incremental model or source "nope"`)
}

func TestBackfillOfASourceRelandsItsRawTable(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	planned(env)
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.MatchedBy(func(in activities.RunChunkInput) bool {
		return in.Source != nil && in.Source.Name == "orders" && in.RawSchema == "raw" && in.Landing.Bucket == "b" &&
			in.Chunk.Target == "raw.orders" && in.LoadID != ""
	})).Return(&backfill.ChunkResult{Rows: 5}, nil)
	in := backfillInput
	in.Target = "orders"
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "raw.orders", res.Target)
	require.Equal(t, 10, res.Counters.Done)
}

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

// A chunk whose commit is lost after its activity reported success (a database crash
// 0.1 s after the commit, with fast settings) is found missing in the ledger at the
// end, run again, and only then counted: never a COMPLETED with a hole.
func TestBackfillLostCommitIsRunAgainBeforeCompleting(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	l := plannedDone(env, "")
	env.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(nil)
	l.lose = map[string]int{"fct_events@2026-01-04..2026-01-05": 1, "fct_events@2026-01-09..2026-01-10": 2}
	runs := map[string]int{}
	var mu sync.Mutex
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunChunkInput) (*backfill.ChunkResult, error) {
		mu.Lock()
		defer mu.Unlock()
		runs[in.Chunk.ID()]++
		return &backfill.ChunkResult{Rows: 1}, nil
	})
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 10, res.Counters.Done, "each chunk counted once, when the ledger holds it")
	require.Equal(t, 3, res.Counters.Lost)
	require.True(t, res.Counters.Verified)
	require.Equal(t, 2, runs["fct_events@2026-01-04..2026-01-05"])
	require.Equal(t, 3, runs["fct_events@2026-01-09..2026-01-10"])
	require.Equal(t, 1, runs["fct_events@2026-01-01..2026-01-02"])
}

func TestBackfillChunkLostForGoodFailsWithItsID(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	l := plannedDone(env, "")
	env.OnActivity(a.RecordDecision, mock.Anything, mock.Anything).Return(nil)
	l.lose = map[string]int{"fct_events@2026-01-04..2026-01-05": 100}
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1}, nil)
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.Contains(t, err.Error(), "1 chunk(s) of [2026-01-01, 2026-01-11) are still not done in the ledger after 3 re-runs (first: fct_events@2026-01-04..2026-01-05)")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, ErrTypeIncomplete, appErr.Type())
}
