package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/internal/reconcile"
)

func TestReconcileWorkflow(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.MatchedBy(func(in activities.ReconcileInput) bool {
		return in.Pair.Name == "daily_revenue" && in.Window.String() == "[2026-01-01, 2026-01-08)"
	})).Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Fail, Breaches: 2}, nil)
	env.ExecuteWorkflow(ReconcileWorkflow, ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08"})
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, StatusFail, res.Status)
	require.Equal(t, 2, res.Breaches)
	require.Equal(t, "s3://b/reports/r.html", res.Report.HTML)

	v, err := env.QueryWorkflow(StatusQuery)
	require.NoError(t, err)
	var st ReconcileStatus
	require.NoError(t, v.Get(&st))
	require.Equal(t, PhaseCompleted, st.Phase)
	require.Equal(t, "s3://b/reports/r.md", st.Report.Markdown)
}

func TestReconcileWorkflowUnknownOutput(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.ExecuteWorkflow(ReconcileWorkflow, ReconcileInput{Plan: "p", Domain: "finance", From: "2026-01-01", To: "2026-01-08", Outputs: []string{"nope"}})
	require.ErrorContains(t, env.GetWorkflowError(), `domain finance has no output pair "nope"`)
}

func TestReconcileWorkflowRowDiff(t *testing.T) {
	env := newEnv(t)
	snap := testPlan()
	snap.Plan.Domains[0].Outputs[0].Keys = []string{"day", "region"}
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(snap, nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).
		Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Pass}, nil)
	env.OnActivity(a.RowDiffPair, mock.Anything, mock.MatchedBy(func(in activities.RowDiffInput) bool {
		return in.Pair.Name == "daily_revenue" && in.Options.MaxRowsFetched == 1000 && in.Window.String() == "[2026-01-01, 2026-01-08)"
	})).Return(&reconcile.RowDiffResult{MissingInELT: 2, Mismatched: 1, WithinTolerance: 4}, nil).Once()
	env.ExecuteWorkflow(ReconcileWorkflow, ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08",
		RowDiff: &RowDiffOptions{MaxRowsFetched: 1000}})
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, StatusFail, res.Status, "rows differ: the aggregates passing is not enough")
	require.Zero(t, res.Breaches)
	require.EqualValues(t, 3, res.RowDifferences)
	require.Equal(t, reconcile.Fail, res.Pairs[0].Status)
	require.EqualValues(t, 2, res.Pairs[0].RowDiff.MissingInELT)
	env.AssertExpectations(t)
}

func TestReconcileWorkflowRowDiffSkipsPairsWithoutKeys(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(testPlan(), nil)
	env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).
		Return(&activities.ReconcileResult{Output: "daily_revenue", Status: reconcile.Pass}, nil)
	env.ExecuteWorkflow(ReconcileWorkflow, ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08",
		RowDiff: &RowDiffOptions{}})
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, StatusPass, res.Status)
	require.Nil(t, res.Pairs[0].RowDiff)
}
