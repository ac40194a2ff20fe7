// Package workerapp wires a Temporal worker: the dependencies the activities share
// (connection registry, S3 store, plan reader), control-schema migrations, and the
// registration of every workflow and activity. worker/main.go and the integration
// tests both use it, so the tests run exactly what production runs.
package workerapp

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"etl2elt/activities"
	"etl2elt/internal/config"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/warehouse"
	"etl2elt/workflows"
)

// Deps are the worker's shared resources.
type Deps struct {
	Config     config.Config
	Conns      *warehouse.Connections
	Store      *objectstore.Store
	Activities *activities.Activities
}

// NewDeps builds the dependencies and, when cfg.MigrateOnStart, brings the control
// schema up to date on the control connection.
func NewDeps(ctx context.Context, cfg config.Config, log *zap.Logger) (*Deps, error) {
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: cfg.S3PathStyle})
	if err != nil {
		return nil, err
	}
	if cfg.LoadStreams > 0 {
		ingest.ParallelStreams = cfg.LoadStreams
	}
	conns := warehouse.NewConnections(cfg.ConnDSN)
	if cfg.MigrateOnStart {
		pool, err := conns.Get(ctx, cfg.ControlConnection)
		if err != nil {
			conns.Close()
			return nil, fmt.Errorf("control schema: %w", err)
		}
		applied, err := warehouse.Migrate(ctx, pool)
		if err != nil {
			conns.Close()
			return nil, err
		}
		version, err := warehouse.SchemaVersion(ctx, pool)
		if err != nil {
			conns.Close()
			return nil, err
		}
		log.Info("control schema ready", zap.Int64s("applied", applied), zap.Int64("version", version))
	}
	return &Deps{
		Config: cfg,
		Conns:  conns,
		Store:  store,
		Activities: &activities.Activities{
			Plans:             plan.FileReader{Dir: cfg.PlanDir, S3: store, IsNotFound: func(err error) bool { return errors.Is(err, objectstore.ErrNotFound) }},
			Conns:             conns,
			Store:             store,
			ControlConnection: cfg.ControlConnection,
			PIIKey:            cfg.PIIHashKey,
			ReportBucket:      cfg.ReportBucket,
			Alerts:            quality.Notifier{Getenv: os.Getenv},
			Redshift: ingest.RedshiftOptions{
				IAMRole:    cfg.RedshiftIAMRole,
				Region:     cfg.RedshiftS3Region,
				LoadErrors: cfg.RedshiftLoadErrors,
			},
		},
	}, nil
}

// Close releases the connection pools.
func (d *Deps) Close() { d.Conns.Close() }

// Registry is the part of worker.Worker used to register workflows and activities.
type Registry interface {
	workflows.Registry
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Options are the worker options every etl2elt worker needs (the cost meter of each
// activity attempt), on top of base.
func Options(d *Deps, base worker.Options) worker.Options {
	base.Interceptors = append(base.Interceptors, &activities.CostInterceptor{Activities: d.Activities})
	return base
}

// Register registers every workflow and activity.
func Register(r Registry, d *Deps) {
	workflows.Register(r)
	r.RegisterActivityWithOptions(d.Activities, activity.RegisterOptions{})
}
