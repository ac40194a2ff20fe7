package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/window"
)

// Run identifies one reconciliation of one output pair over one window.
type Run struct {
	RunID          string
	PlanName       string
	PlanHash       string
	Domain         string
	Output         string
	LegacyRelation string
	ELTRelation    string
	Window         window.Window
	WorkflowID     string
	StartedAt      time.Time
}

// Save writes the run and its checks in one transaction. Saving the same run id
// again replaces its checks (an activity retry leaves one copy).
func Save(ctx context.Context, pool *pgxpool.Pool, run Run, checks []Check) error {
	status, breaches := PairStatus(checks), Breaches(checks)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("save reconciliation %s: %w", run.RunID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	_, err = tx.Exec(ctx, `
INSERT INTO etl2elt.reconcile_runs (run_id, plan_name, plan_hash, domain, output, legacy_relation, elt_relation,
  window_from, window_to, status, checks, breaches, workflow_id, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
ON CONFLICT (run_id) DO UPDATE SET plan_hash = EXCLUDED.plan_hash, status = EXCLUDED.status, checks = EXCLUDED.checks,
  breaches = EXCLUDED.breaches, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at`,
		run.RunID, run.PlanName, run.PlanHash, run.Domain, run.Output, run.LegacyRelation, run.ELTRelation,
		run.Window.From, run.Window.To, status, len(checks), breaches, run.WorkflowID, run.StartedAt)
	if err != nil {
		return fmt.Errorf("save reconciliation %s: %w", run.RunID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.reconcile_results WHERE run_id = $1`, run.RunID); err != nil {
		return fmt.Errorf("save reconciliation %s: %w", run.RunID, err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"etl2elt", "reconcile_results"},
		[]string{"run_id", "segment", "measure", "metric", "legacy_value", "elt_value", "difference",
			"relative_difference", "tolerance_absolute", "tolerance_relative", "status"},
		pgx.CopyFromSlice(len(checks), func(i int) ([]any, error) {
			c := checks[i]
			return []any{run.RunID, c.Segment, c.Measure, c.Metric, numeric(c.Legacy), numeric(c.ELT), numeric(c.Difference),
				c.RelativeDifference, c.ToleranceAbsolute, c.ToleranceRelative, c.Status}, nil
		}))
	if err != nil {
		return fmt.Errorf("save reconciliation %s: results: %w", run.RunID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save reconciliation %s: %w", run.RunID, err)
	}
	return nil
}

func numeric(s string) pgtype.Numeric {
	var n pgtype.Numeric
	if s != "" {
		_ = n.Scan(s) // s comes from big.Rat.FloatString: always a valid decimal
	}
	return n
}

// SaveRowDiff stores a run's row diff beside its aggregate checks (the run must be
// saved first). Saving the same run id again replaces it.
func SaveRowDiff(ctx context.Context, pool *pgxpool.Pool, runID string, r RowDiffResult) error {
	sample := r.Sample
	if sample == nil {
		sample = []KeyDiff{}
	}
	b, err := json.Marshal(sample)
	if err != nil {
		return fmt.Errorf("save row diff %s: %w", runID, err)
	}
	_, err = pool.Exec(ctx, `
INSERT INTO etl2elt.row_diffs (run_id, missing_in_legacy, missing_in_elt, mismatched, within_tolerance, duplicate_keys,
  bounded, bound_reason, unexamined_rows, rows_fetched, bytes_fetched, queries, sample, finished_at, normalisation_only, normalisation_only_bounded)
VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9, $10, $11, $12, $13, now(), $14, $15)
ON CONFLICT (run_id) DO UPDATE SET missing_in_legacy = EXCLUDED.missing_in_legacy, missing_in_elt = EXCLUDED.missing_in_elt,
  mismatched = EXCLUDED.mismatched, within_tolerance = EXCLUDED.within_tolerance, duplicate_keys = EXCLUDED.duplicate_keys,
  bounded = EXCLUDED.bounded, bound_reason = EXCLUDED.bound_reason, unexamined_rows = EXCLUDED.unexamined_rows,
  rows_fetched = EXCLUDED.rows_fetched, bytes_fetched = EXCLUDED.bytes_fetched, queries = EXCLUDED.queries,
  sample = EXCLUDED.sample, finished_at = EXCLUDED.finished_at,
  normalisation_only = EXCLUDED.normalisation_only, normalisation_only_bounded = EXCLUDED.normalisation_only_bounded`,
		runID, r.MissingInLegacy, r.MissingInELT, r.Mismatched, r.WithinTolerance, r.DuplicateKeys,
		r.Bounded, r.BoundReason, r.UnexaminedRows, r.RowsFetched, r.BytesFetched, r.Queries, b, r.NormalisationOnly, r.NormalisationOnlyBounded)
	if err != nil {
		return fmt.Errorf("save row diff %s: %w", runID, err)
	}
	return nil
}

// StoredSample reads the whole sample of a stored row diff.
func StoredSample(ctx context.Context, pool *pgxpool.Pool, runID string) ([]KeyDiff, error) {
	var b []byte
	if err := pool.QueryRow(ctx, `SELECT sample FROM etl2elt.row_diffs WHERE run_id = $1`, runID).Scan(&b); err != nil {
		return nil, fmt.Errorf("read the row diff sample of %s: %w", runID, err)
	}
	var out []KeyDiff
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("read the row diff sample of %s: %w", runID, err)
	}
	return out, nil
}
