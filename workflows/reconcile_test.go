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
