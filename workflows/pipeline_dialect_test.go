package workflows

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/internal/model"
	"etl2elt/internal/reconcile"
)

// The plan's warehouse.dialect reaches the load and model activities, which pick
// their loader / runner by it ("postgres" by default).
func TestPipelineRunPassesTheWarehouseDialect(t *testing.T) {
	for _, dialect := range []string{"", "redshift"} {
		t.Run("dialect "+dialect, func(t *testing.T) {
			want := dialect
			if want == "" {
				want = "postgres"
			}
			snap := testPlan()
			snap.Plan.Warehouse.Dialect = dialect
			env := newEnv(t)
			env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(snap, nil)
			env.OnActivity(a.LoadSource, mock.Anything, mock.MatchedBy(func(in activities.LoadSourceInput) bool {
				return in.Dialect == want
			})).Return(&activities.LoadSourceResult{Source: "orders", Rows: 1}, nil)
			env.OnActivity(a.RunModels, mock.Anything, mock.MatchedBy(func(in activities.RunModelsInput) bool {
				return in.Dialect == want
			})).Return(&activities.RunModelsResult{Models: []model.Result{{Model: "stg"}, {Model: "fct"}}}, nil)
			env.OnActivity(a.ReconcileTotals, mock.Anything, mock.Anything).Return(&activities.ReconcileResult{
				Output: "daily_revenue", Status: reconcile.Pass, Checks: []reconcile.Check{{Status: reconcile.Pass}}}, nil)
			env.ExecuteWorkflow(PipelineRunWorkflow, validInput)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
		})
	}
}
