package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/metrics"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// RunModelsInput runs models, in the given order (dependencies first).
type RunModelsInput struct {
	Models              []plan.Model `json:"models"`
	WarehouseConnection string       `json:"warehouse_connection"`
	RunID               string       `json:"run_id"`
	// Window is the pipeline run's window (incremental models use it).
	Window window.Window `json:"window"`
	// Inputs are the objects landed by this pipeline run (recorded as lineage).
	Inputs []model.Input `json:"inputs,omitempty"`
}

// RunModelsResult lists each model run.
type RunModelsResult struct {
	Models []model.Result `json:"models"`
}

// RunModels materialises the models one after the other, heartbeating throughout
// with the models finished so far, so that a retried attempt resumes after them. A
// model that fails stops the run (its dependents would read stale data).
func (a *Activities) RunModels(ctx context.Context, in RunModelsInput) (*RunModelsResult, error) {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	wfID := activity.GetInfo(ctx).WorkflowExecution.ID
	res := &RunModelsResult{}
	// A retried attempt resumes after the models the previous one finished.
	if activity.HasHeartbeatDetails(ctx) {
		var done RunModelsResult
		if err := activity.GetHeartbeatDetails(ctx, &done); err == nil {
			res.Models = done.Models
		}
	}
	hb := startHeartbeat(ctx, *res)
	defer hb.stop()
	for _, m := range in.Models {
		if finished(res.Models, m.Name) {
			continue
		}
		r, err := model.Run(ctx, pool, model.Request{Model: m, RunID: in.RunID, WorkflowID: wfID, Window: in.Window, Inputs: in.Inputs})
		if err != nil {
			return nil, classify(err)
		}
		activity.GetMetricsHandler(ctx).WithTags(map[string]string{"model": m.Name}).Counter(metrics.ModelRuns).Inc(1)
		activity.GetLogger(ctx).Info("model materialised", "model", r.Relation, "materialized", r.Materialized, "rows", r.Rows)
		res.Models = append(res.Models, r)
		hb.set(RunModelsResult{Models: append([]model.Result(nil), res.Models...)})
	}
	return res, nil
}

func finished(done []model.Result, name string) bool {
	for _, d := range done {
		if d.Model == name {
			return true
		}
	}
	return false
}
