// Package activities adapts the engines in internal/ to Temporal: it resolves
// connection names, streams objects, heartbeats progress, records metrics and
// classifies errors (bad input is non-retryable; everything else retries with the
// workflow's policy). The work itself happens in internal/ packages.
package activities

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/registry"
	"etl2elt/internal/warehouse"
)

// ErrTypeBadInput is the application error type of non-retryable input problems
// (invalid plans, malformed objects, unknown relations). Workflows list it in their
// retry policies' NonRetryableErrorTypes.
const ErrTypeBadInput = "BadInput"

// Activities holds what the activities share. Register a pointer with the worker.
type Activities struct {
	// Plans reads plan files and model SQL.
	Plans plan.Reader
	// Conns resolves connection names to pools.
	Conns *warehouse.Connections
	// Store is the S3 landing zone.
	Store *objectstore.Store
	// ControlConnection hosts the control schema.
	ControlConnection string
	// PIIKey keys the HMAC of pii: hash columns.
	PIIKey []byte
	// ReportBucket receives reconciliation reports.
	ReportBucket string
	// Redshift holds the worker's Redshift settings (IAM role, bucket region, where
	// load errors are read) for plans whose warehouse.dialect is redshift.
	Redshift ingest.RedshiftOptions
	// Alerts delivers quality alerts to webhooks (URLs from the worker's environment).
	Alerts quality.Notifier
	// Workflows tells whether a workflow still runs (the worker's Temporal client);
	// nil: claims of other backfills are never taken over.
	Workflows WorkflowDescriber
}

func (a *Activities) control(ctx context.Context) (*pgxpool.Pool, error) {
	return a.Conns.Get(ctx, a.ControlConnection)
}

// badInput is implemented by engine errors that retrying cannot fix.
type badInput interface{ BadInput() bool }

// classify turns err into a non-retryable application error when retrying cannot
// help: the engines' bad-input errors, and SQL errors of the classes that mean the
// statement itself is wrong (22 data exception, 23 integrity, 42 syntax or undefined
// object). Connection loss, deadlocks and timeouts stay retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return err // already classified
	}
	var bi badInput
	if errors.As(err, &bi) && bi.BadInput() {
		return badInputError(err)
	}
	if errors.Is(err, objectstore.ErrNotFound) {
		return badInputError(err)
	}
	switch warehouse.ClassifyError(err) {
	case warehouse.BadData:
		return badInputError(err)
	case warehouse.Conflict:
		// A serialization conflict (Redshift 1023, PostgreSQL 40001): the other
		// transaction may hold the tables for minutes, so wait longer than the
		// activity's usual backoff, with jitter so that the loser does not collide
		// again at once.
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeWarehouseConflict, temporal.ApplicationErrorOptions{
			NextRetryDelay: conflictRetryDelay(),
		})
	}
	return err
}

// ErrTypeWarehouseConflict is the application error type of a serialization conflict
// with a concurrent transaction: retried after 30 s to 3 min.
const ErrTypeWarehouseConflict = "WarehouseConflict"

// conflictRetryDelay is the wait before retrying after a conflict: 30 s to 3 min.
func conflictRetryDelay() time.Duration {
	return 30*time.Second + time.Duration(rand.Int64N(int64(150*time.Second)))
}

// badInputError is a non-retryable BadInput error carrying err's message. The cause is
// not attached: its message is already the error's, and Temporal would show it twice.
func badInputError(err error, details ...any) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadInput, nil, details...)
}

// LoadPlanInput names a plan: a path under the worker's plan directory, or s3://.
type LoadPlanInput struct {
	Ref string `json:"ref"`
}

// LoadPlan reads and validates a plan, inlines its model SQL, records the version in
// the control schema, checks its metrics against the KPI registry (a definition
// changed without a version bump is refused as BadInput; a bump is recorded) and
// returns the plan with its content hash.
func (a *Activities) LoadPlan(ctx context.Context, in LoadPlanInput) (*plan.Snapshot, error) {
	if in.Ref == "" {
		return nil, temporal.NewNonRetryableApplicationError("plan reference is empty", ErrTypeBadInput, nil)
	}
	snap, err := plan.Load(ctx, a.Plans, in.Ref)
	if err != nil {
		var ve *plan.ValidationError
		if errors.As(err, &ve) {
			return nil, classify(err)
		}
		// A missing plan is bad input (a wrong path does not heal); a read that failed
		// for another reason (S3 timeout, 5xx) is retried.
		if plan.IsMissing(err) {
			return nil, badInputError(err)
		}
		return nil, err
	}
	if err := a.checkWarehouse(snap.Plan, activity.GetInfo(ctx).WorkflowType.Name); err != nil {
		return nil, badInputError(err)
	}
	pool, err := a.control(ctx)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	if err := warehouse.RecordPlan(ctx, pool, snap); err != nil {
		return nil, err
	}
	reg, err := registry.Sync(ctx, pool, snap, activity.GetInfo(ctx).WorkflowExecution.ID)
	if err != nil {
		return nil, classify(err)
	}
	for _, b := range reg.Recorded {
		activity.GetLogger(ctx).Info("KPI registry: metric version recorded", "metric", b.Metric, "version", b.Version, "previous_hash", b.PreviousHash)
	}
	return snap, nil
}

// redshiftWorkflows are the workflows that run on a Redshift warehouse: loads, models
// and the run's bookkeeping. Backfills (one warehouse transaction holding the data and
// the chunk ledger) and the rest are PostgreSQL-only for now (docs/DIALECTS.md).
var redshiftWorkflows = map[string]bool{"PipelineRunWorkflow": true}

// checkWarehouse refuses, when the plan is loaded, a warehouse this worker cannot run
// the plan on, rather than failing mid-run. postgres: the control schema must live in
// the warehouse (the ledgers are written in the data's transactions). redshift: the
// control schema must live elsewhere, on PostgreSQL (its DDL is PostgreSQL's), the
// worker needs ETL2ELT_REDSHIFT_IAM_ROLE, every source must be loadable by Redshift's
// COPY, and only PipelineRunWorkflow runs there.
func (a *Activities) checkWarehouse(p *plan.Plan, workflowType string) error {
	switch p.Dialect() {
	case dialect.Postgres:
		if p.Warehouse.Connection != a.ControlConnection {
			return fmt.Errorf("plan %s: warehouse.connection %q is not the worker's control connection %q (ETL2ELT_CONTROL_CONNECTION): "+
				"the load ledger, quarantine and chunk ledger are written in the warehouse's transactions, so the control schema must live there",
				p.Name, p.Warehouse.Connection, a.ControlConnection)
		}
	case dialect.Redshift:
		if p.Warehouse.Connection == a.ControlConnection {
			return fmt.Errorf("plan %s: warehouse.dialect is redshift and warehouse.connection %q is also the worker's control connection (ETL2ELT_CONTROL_CONNECTION): "+
				"the control schema is PostgreSQL-only; point ETL2ELT_CONTROL_CONNECTION at a PostgreSQL database (docs/DIALECTS.md)", p.Name, p.Warehouse.Connection)
		}
		if a.Redshift.IAMRole == "" {
			return fmt.Errorf("plan %s: %w", p.Name, errNoIAMRole)
		}
		if workflowType != "" && !redshiftWorkflows[workflowType] {
			return fmt.Errorf("plan %s: %s is not supported on warehouse dialect redshift yet (only PipelineRunWorkflow: loads and models; docs/DIALECTS.md)", p.Name, workflowType)
		}
		for _, src := range p.Sources {
			if err := ingest.CheckRedshiftSource(src); err != nil {
				return fmt.Errorf("plan %s: %w", p.Name, err)
			}
		}
	default:
		_, err := dialect.For(p.Dialect())
		return err
	}
	return nil
}
