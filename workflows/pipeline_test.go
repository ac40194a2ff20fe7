package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"etl2elt/activities"
	"etl2elt/internal/ingest"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
)

func testPlan() *plan.Snapshot {
	abs := 0.01
	return &plan.Snapshot{Ref: "demo/plan.yaml", Hash: "abc123", Plan: &plan.Plan{
		Version:     1,
		Name:        "acme",
		People:      []plan.Person{{ID: "dana"}, {ID: "lee"}, {ID: "cfo"}, {ID: "ops"}, {ID: "test"}},
		Warehouse:   plan.Warehouse{Connection: "warehouse"},
		Landing:     plan.Landing{Bucket: "b", Prefix: "landing/"},
		Connections: map[string]plan.Connection{"warehouse": {Role: "warehouse"}, "legacy": {Role: "legacy"}},
		Sources:     []plan.Source{{Name: "orders", Layout: "orders/dt={date}/", Format: "csv", Columns: []plan.Column{{Name: "id", Type: "bigint"}}}},
		Models: []plan.Model{
			{Name: "fct", Schema: "marts", SQL: "fct.sql", Materialized: "table", DependsOn: []string{"stg"}, SQLText: "select 1"},
			{Name: "stg", Schema: "staging", SQL: "stg.sql", Materialized: "view", SQLText: "select 1"},
		},
		Domains: []plan.Domain{{
			Name: "finance", Sources: []string{"orders"}, Models: []string{"fct"},
			Outputs: []plan.OutputPair{{
				Name:       "daily_revenue",
				Legacy:     plan.Side{Connection: "legacy", Relation: "legacy.daily_revenue"},
				ELT:        plan.Side{Connection: "warehouse", Relation: "marts.fct"},
				TimeColumn: "day",
				Measures:   []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Absolute: &abs}}},
			}},
		}},
	}}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	// Every reconciliation writes a report; tests that care assert on it.
	env.OnActivity(a.WriteReport, mock.Anything, mock.Anything).Return(&activities.ReportLocation{
		Markdown: "s3://b/reports/r.md", HTML: "s3://b/reports/r.html"}, nil).Maybe()
	return env
}

var validInput = PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08"}

func TestPipelineRunHappyPath(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, activities.LoadPlanInput{Ref: "demo/plan.yaml"}).Return(testPlan(), nil)
	env.OnActivity(a.LoadSource, mock.Anything, mock.MatchedBy(func(in activities.LoadSourceInput) bool {
		return in.Source.Name == "orders" && in.RawSchema == "raw" && len(in.Window.Days()) == 7 && in.WarehouseConnection == "warehouse"
	})).Return(&activities.LoadSourceResult{Source: "orders", Rows: 1400, Quarantined: 1}, nil)
	env.OnActivity(a.RunModels, mock.Anything, mock.MatchedBy(func(in activities.RunModelsInput) bool {
		// dependencies first
		return len(in.Models) == 2 && in.Models[0].Name == "stg" && in.Models[1].Name == "fct"
	})).Return(&activities.RunModelsResult{Models: []model.Result{{Model: "stg"}, {Model: "fct", Rows: 21}}}, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.MatchedBy(func(in activities.ReconcileInput) bool {
		return in.Pair.Name == "daily_revenue" && in.PlanHash == "abc123" && in.Domain == "finance"
	})).Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Pass, Checks: []reconcile.Check{{Status: reconcile.Pass}}}, nil)

	env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res PipelineRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, StatusPass, res.Status)
	require.Equal(t, "[2026-01-01, 2026-01-08)", res.Window)
	require.EqualValues(t, 1400, res.Loads[0].Rows)
	require.Len(t, res.Models.Models, 2)
	require.Equal(t, "s3://b/reports/r.html", res.Report.HTML)

	v, err := env.QueryWorkflow(StatusQuery)
	require.NoError(t, err)
	var st PipelineRunStatus
	require.NoError(t, v.Get(&st))
	require.Equal(t, PhaseCompleted, st.Phase)
	require.Equal(t, 2, st.ModelsRun)
}

func TestPipelineRunBreachIsAResultNotAFailure(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(&activities.LoadSourceResult{Source: "orders"}, nil)
	env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(&activities.RunModelsResult{}, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).
		Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Fail, Breaches: 2}, nil)

	env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
	require.NoError(t, env.GetWorkflowError())
	var res PipelineRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, StatusFail, res.Status)
	require.Equal(t, 2, res.Breaches)
}

func TestPipelineRunBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   PipelineRunInput
		want string
	}{
		{"reversed window", PipelineRunInput{Plan: "p.yaml", Domain: "finance", From: "2026-01-08", To: "2026-01-01"}, "window [2026-01-08, 2026-01-01) is empty"},
		{"not a date", PipelineRunInput{Plan: "p.yaml", Domain: "finance", From: "yesterday", To: "2026-01-01"}, `from "yesterday" is not a date`},
		{"unknown domain", PipelineRunInput{Plan: "p.yaml", Domain: "marketing", From: "2026-01-01", To: "2026-01-02"}, `plan acme has no domain "marketing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
			env.ExecuteWorkflow(PipelineRunWorkflow, tt.in)
			err := env.GetWorkflowError()
			require.Error(t, err)
			require.ErrorContains(t, err, tt.want)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr))
			require.True(t, appErr.NonRetryable())
			require.Equal(t, activities.ErrTypeBadInput, appErr.Type())
		})
	}
}

func TestPipelineRunBadDataIsNotRetried(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	calls := 0
	env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.LoadSourceInput) (*activities.LoadSourceResult, error) {
		calls++
		return nil, temporal.NewNonRetryableApplicationError("object x: 3 of 10 rows are bad", activities.ErrTypeBadInput, nil)
	})
	env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
	require.ErrorContains(t, env.GetWorkflowError(), "load source orders")
	require.ErrorContains(t, env.GetWorkflowError(), "3 of 10 rows are bad")
	require.Equal(t, 1, calls)

	v, err := env.QueryWorkflow(StatusQuery)
	require.NoError(t, err)
	var st PipelineRunStatus
	require.NoError(t, v.Get(&st))
	require.Equal(t, PhaseFailed, st.Phase)
}

func TestPipelineRunTransientErrorsRetry(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	calls := 0
	env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.LoadSourceInput) (*activities.LoadSourceResult, error) {
		calls++
		if calls < 3 {
			return nil, errors.New("connection reset by peer")
		}
		return &activities.LoadSourceResult{Source: "orders"}, nil
	})
	env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(&activities.RunModelsResult{}, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{Status: reconcile.Pass}, nil)
	env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, calls)
}

func TestScheduledWindow(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC)
	d := func(s string) time.Time { v, _ := time.Parse("2006-01-02", s); return v }
	old := d("2026-03-01")
	recent := d("2026-03-10")
	week := plan.Domain{Name: "finance", ParallelRun: &plan.ParallelRun{Cadence: "1h", Window: "7d"}}
	tests := []struct {
		name      string
		watermark *time.Time
		domain    plan.Domain
		want      string
	}{
		{"first run, default one day back", nil, plan.Domain{Name: "finance"}, "[2026-03-09, 2026-03-11)"},
		{"first run, domain window", nil, week, "[2026-03-03, 2026-03-11)"},
		{"caught up", &recent, plan.Domain{Name: "finance"}, "[2026-03-09, 2026-03-11)"},
		{"catching up after a pause", &old, plan.Domain{Name: "finance"}, "[2026-03-01, 2026-03-11)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ScheduledWindow(now, tt.watermark, tt.domain)
			require.NoError(t, err)
			require.Equal(t, tt.want, w.String())
		})
	}
	_, err := ScheduledWindow(now, nil, plan.Domain{Name: "finance", ParallelRun: &plan.ParallelRun{Window: "a week"}})
	require.ErrorContains(t, err, `domain finance parallel_run.window: "a week" is not a duration`)
}

func TestPipelineRunScheduledUsesAndAdvancesTheWatermark(t *testing.T) {
	env := newEnv(t)
	start := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	wm := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(a.GetPipelineWatermark, mock.Anything, activities.WatermarkInput{PlanName: "acme", Domain: "finance"}).
		Return(&activities.WatermarkResult{Watermark: &wm}, nil)
	env.OnActivity(a.LoadSource, mock.Anything, mock.MatchedBy(func(in activities.LoadSourceInput) bool {
		return in.Window.String() == "[2026-03-05, 2026-03-11)"
	})).Return(&activities.LoadSourceResult{Source: "orders"}, nil)
	env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(&activities.RunModelsResult{}, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{Status: reconcile.Pass}, nil)
	advanced := time.Time{}
	env.OnActivity(a.AdvancePipelineWatermark, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.WatermarkInput) error {
		advanced = in.To
		return nil
	})
	env.ExecuteWorkflow(PipelineRunWorkflow, PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), advanced)
	var res PipelineRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "[2026-03-05, 2026-03-11)", res.Window)
}

func TestPipelineRunExplicitWindowLeavesTheWatermarkAlone(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(&activities.LoadSourceResult{Source: "orders"}, nil)
	env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(&activities.RunModelsResult{}, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{Status: reconcile.Pass}, nil)
	env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
	require.NoError(t, env.GetWorkflowError())
	env.AssertNotCalled(t, "GetPipelineWatermark", mock.Anything, mock.Anything)
	env.AssertNotCalled(t, "AdvancePipelineWatermark", mock.Anything, mock.Anything)
}

// An object reported landed whose commit was lost is found missing in the load ledger
// and landed again before the run goes on; one that never shows up fails the run.
func TestPipelineRunRelandsObjectsMissingFromTheLedger(t *testing.T) {
	for _, forever := range []bool{false, true} {
		env := newEnv(t)
		env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
		loads := 0
		env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(func(context.Context, activities.LoadSourceInput) (*activities.LoadSourceResult, error) {
			loads++
			if loads == 1 {
				return &activities.LoadSourceResult{Source: "orders", Rows: 400, Objects: []ingest.Result{{ObjectKey: "a.csv", Rows: 200}, {ObjectKey: "b.csv", Rows: 200}}}, nil
			}
			// Landed again: a.csv is in the ledger (skipped), b.csv lands.
			return &activities.LoadSourceResult{Source: "orders", Rows: 200, Objects: []ingest.Result{{ObjectKey: "a.csv", Skipped: true}, {ObjectKey: "b.csv", Rows: 200}}}, nil
		})
		verifies := 0
		env.OnActivity(a.VerifyLoads, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.VerifyLoadsInput) (*activities.VerifyLoadsResult, error) {
			verifies++
			if verifies == 1 || forever {
				return &activities.VerifyLoadsResult{Missing: []string{"b.csv"}}, nil
			}
			return &activities.VerifyLoadsResult{}, nil
		})
		env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(&activities.RunModelsResult{}, nil)
		env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Pass}, nil)
		env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
		if forever {
			require.ErrorContains(t, env.GetWorkflowError(), "source orders: 1 object(s) reported landed are still not in the load ledger after 3 re-loads (first: b.csv)")
			continue
		}
		require.NoError(t, env.GetWorkflowError())
		var res PipelineRunResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, 2, loads, "landed again once")
		require.Equal(t, 1, res.Loads[0].Lost)
		require.True(t, res.Loads[0].Verified)
	}
}

func TestPipelineRunChecksQualityAfterItsModels(t *testing.T) {
	withChecks := func() *plan.Snapshot {
		snap := testPlan()
		zero := 0.0
		snap.Plan.Quality = []plan.QualityCheck{
			{Name: "keys", Relation: "raw.orders", Kind: "unique", Columns: []string{"id"}, Fail: &zero, Blocks: true},
			{Name: "other_domain", Relation: "raw.elsewhere", Domain: "sales", Kind: "unique", Columns: []string{"id"}, Fail: &zero},
		}
		snap.Plan.Freshness = []plan.FreshnessSLA{{Source: "orders", MaxLag: "6h"}}
		snap.Plan.Alerts = []plan.AlertTarget{{Name: "log", Kind: "log"}}
		return snap
	}
	for _, blocking := range []bool{false, true} {
		env := newEnv(t)
		env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(withChecks(), nil)
		env.OnActivity(a.GetPipelineWatermark, mock.Anything, mock.Anything).Return(&activities.WatermarkResult{}, nil)
		env.OnActivity(a.LoadSource, mock.Anything, mock.Anything).Return(&activities.LoadSourceResult{Source: "orders"}, nil)
		modelsDone := false
		env.OnActivity(a.RunModels, mock.Anything, mock.Anything).Return(func(context.Context, activities.RunModelsInput) (*activities.RunModelsResult, error) {
			modelsDone = true
			return &activities.RunModelsResult{}, nil
		})
		held := !blocking
		out := &activities.RunChecksResult{Counts: map[string]int{"pass": 2}, FreshnessHeld: &held}
		if blocking {
			out = &activities.RunChecksResult{Counts: map[string]int{"fail": 2}, Failures: 1, Blocking: []string{"keys"}, FreshnessHeld: &held,
				NotPassing: []activities.CheckBrief{{Check: "keys", Status: "fail", Detail: "2 keys appear more than once"}}}
		}
		env.OnActivity(a.RunChecks, mock.Anything, mock.MatchedBy(func(in activities.RunChecksInput) bool {
			// Only this domain's check, after the models, with the SLA and the alert targets.
			return modelsDone && len(in.Checks) == 1 && in.Checks[0].Name == "keys" && in.Checks[0].TimeColumn == "" &&
				len(in.Freshness) == 1 && in.Freshness[0].Relation == "raw.orders" && len(in.Alerts) == 1 && in.Window != nil
		})).Return(out, nil).Once()
		env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Pass}, nil)
		advanced := false
		env.OnActivity(a.AdvancePipelineWatermark, mock.Anything, mock.Anything).Return(func(context.Context, activities.WatermarkInput) error {
			advanced = true
			return nil
		}).Maybe()
		env.ExecuteWorkflow(PipelineRunWorkflow, PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance"})
		require.NoError(t, env.GetWorkflowError())
		var res PipelineRunResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.NotNil(t, res.Quality)
		if blocking {
			require.Equal(t, StatusFail, res.Status, "a failing blocking check fails the run")
			require.False(t, advanced, "and keeps the watermark, so that the next run covers the window again")
		} else {
			require.Equal(t, StatusPass, res.Status)
			require.True(t, advanced)
		}
	}
}
