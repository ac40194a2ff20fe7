package cost

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Entry is one ledger row: an activity attempt's usage and its price.
type Entry struct {
	Plan, Domain, Phase, Kind string
	WorkflowID, RunID         string
	Activity, ActivityID      string
	Attempt                   int32
	Usage                     Usage
	Cost                      float64
	Currency                  string
}

// Record writes e once: the same attempt recorded again is ignored.
func Record(ctx context.Context, pool *pgxpool.Pool, e Entry) error {
	u := e.Usage
	var currency any
	if e.Currency != "" {
		currency = e.Currency
	}
	_, err := pool.Exec(Unmetered(ctx), `
INSERT INTO etl2elt.cost_usage (plan_name, domain, phase, kind, workflow_id, run_id, activity, activity_id, attempt,
  statements, statement_seconds, rows_read, rows_written, s3_requests, s3_bytes_read, s3_bytes_written, cost, currency, other_statement_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (workflow_id, run_id, activity_id, attempt) DO NOTHING`,
		e.Plan, e.Domain, e.Phase, e.Kind, e.WorkflowID, e.RunID, e.Activity, e.ActivityID, e.Attempt,
		u.Statements, u.StatementSeconds, u.RowsRead, u.RowsWritten, u.S3Requests, u.S3BytesRead, u.S3BytesWritten, e.Cost, currency, u.OtherStatementSeconds)
	if err != nil {
		return fmt.Errorf("record cost of %s: %w", e.Activity, err)
	}
	return nil
}

// Spend is what a domain spent, per budget and per phase and kind.
type Spend struct {
	// Backfill is the backfill phase; ParallelRun the parallel-run and watch phases
	// (legacy runs included, the migration's own bookkeeping, kind control, not);
	// Reconciliation the reconciliation work of those phases.
	Backfill       float64 `json:"backfill"`
	ParallelRun    float64 `json:"parallel_run"`
	Reconciliation float64 `json:"reconciliation"`
	// ByPhaseKind is "phase/kind" → money.
	ByPhaseKind map[string]float64 `json:"by_phase_kind,omitempty"`
	// Usage sums what was measured.
	Usage Usage `json:"usage"`
	// Entries counts ledger rows.
	Entries int64 `json:"entries"`
}

// SpendOf sums the ledger of a plan's domain since a time (zero: all of it).
func SpendOf(ctx context.Context, pool *pgxpool.Pool, planName, domain string, since time.Time) (Spend, error) {
	s := Spend{ByPhaseKind: map[string]float64{}}
	rows, err := pool.Query(Unmetered(ctx), `
SELECT phase, kind, count(*), sum(cost)::float8, sum(statements), sum(statement_seconds), sum(rows_read), sum(rows_written),
       sum(s3_requests), sum(s3_bytes_read), sum(s3_bytes_written), sum(other_statement_seconds)
FROM etl2elt.cost_usage
WHERE plan_name = $1 AND domain = $2 AND recorded_at >= $3
GROUP BY phase, kind ORDER BY phase, kind`, planName, domain, since)
	if err != nil {
		return s, fmt.Errorf("read the cost ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var phase, kind string
		var n int64
		var money float64
		var u Usage
		if err := rows.Scan(&phase, &kind, &n, &money, &u.Statements, &u.StatementSeconds, &u.RowsRead, &u.RowsWritten,
			&u.S3Requests, &u.S3BytesRead, &u.S3BytesWritten, &u.OtherStatementSeconds); err != nil {
			return s, fmt.Errorf("read the cost ledger: %w", err)
		}
		s.Entries += n
		s.Usage = s.Usage.Add(u)
		s.ByPhaseKind[phase+"/"+kind] += money
		switch phase {
		case PhaseBackfill:
			s.Backfill += money
		case PhaseParallelRun, PhaseWatch:
			if kind == KindControl {
				break // the migration's own bookkeeping (plans, decisions, reports) is in no budget
			}
			s.ParallelRun += money
			if kind == KindReconciliation {
				s.Reconciliation += money
			}
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read the cost ledger: %w", err)
	}
	return s, nil
}
