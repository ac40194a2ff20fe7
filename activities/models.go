package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/dialect"
	"etl2elt/internal/metrics"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
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
	// Dialect is the plan's warehouse.dialect ("" is postgres).
	Dialect string `json:"dialect,omitempty"`
	// Trust protects the incremental models' signed-off rows (model.Trust; the
	// domain's trusted period, and the run's recorded override if any).
	Trust model.Trust `json:"trust,omitzero"`
}

// modelRunner materialises one model in one warehouse dialect.
type modelRunner func(ctx context.Context, req model.Request) (model.Result, error)

// runnerFor returns the model runner of in's dialect and what to release after.
// PostgreSQL runs each model in a transaction of the warehouse pool, which also holds
// the control schema; Redshift runs them on one session (temporary tables live
// there) and records the runs in the control database.
func (a *Activities) runnerFor(ctx context.Context, in RunModelsInput) (modelRunner, func(), error) {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, nil, err
	}
	switch in.Dialect {
	case "", dialect.Postgres:
		return func(ctx context.Context, req model.Request) (model.Result, error) { return model.Run(ctx, pool, req) }, func() {}, nil
	case dialect.Redshift:
		control, err := a.control(ctx)
		if err != nil {
			return nil, nil, err
		}
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		s := warehouse.NewSession(conn)
		return func(ctx context.Context, req model.Request) (model.Result, error) {
			return model.RunRedshift(ctx, s, control, req)
		}, conn.Release, nil
	}
	_, err = dialect.For(in.Dialect)
	return nil, nil, err
}

// RunModelsResult lists each model run.
type RunModelsResult struct {
	Models []model.Result `json:"models"`
}

// RunModels materialises the models one after the other, heartbeating throughout
// with the models finished so far, so that a retried attempt resumes after them. A
// model that fails stops the run (its dependents would read stale data).
func (a *Activities) RunModels(ctx context.Context, in RunModelsInput) (*RunModelsResult, error) {
	run, release, err := a.runnerFor(ctx, in)
	if err != nil {
		return nil, classify(err)
	}
	defer release()
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
		r, err := run(ctx, model.Request{Model: m, RunID: in.RunID, WorkflowID: wfID, Window: in.Window, Inputs: in.Inputs, Trust: in.Trust})
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
