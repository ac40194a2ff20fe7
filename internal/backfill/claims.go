package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/window"
)

// Claim is a running backfill's hold on a target's range.
type Claim struct {
	Target     string        `json:"target"`
	Window     window.Window `json:"window"`
	WorkflowID string        `json:"workflow_id"`
	RunID      string        `json:"run_id"`
}

// ClaimedError refuses a backfill whose range overlaps a running one's.
type ClaimedError struct {
	Held Claim
	// At is when the holder claimed it.
	At time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("backfill of %s over %s overlaps a running backfill: workflow %s (run %s, since %s); wait for it to end, or cancel it",
		e.Held.Target, e.Held.Window, e.Held.WorkflowID, e.Held.RunID, e.At.UTC().Format(time.RFC3339))
}

// IsRunning tells whether a workflow execution still runs. runID "" means the
// latest run of workflowID.
type IsRunning func(ctx context.Context, workflowID, runID string) (bool, error)

// TakeClaim claims c's range of its target for c.WorkflowID, in one transaction under
// the target's claim lock: a claim of another workflow overlapping it is refused with
// a *ClaimedError while running(holder) says it runs, and removed when it does not
// (a terminated backfill). The same workflow id (a continued or restarted run) takes
// its own claim over.
func TakeClaim(ctx context.Context, pool *pgxpool.Pool, c Claim, running IsRunning) error {
	// Liveness is read before the transaction: no network call while holding a lock.
	holders, err := overlapping(ctx, pool, c)
	if err != nil {
		return err
	}
	// stale: holder workflow id → the run id whose claim may be taken over.
	stale := map[string]string{}
	for _, h := range holders {
		alive, err := running(ctx, h.Held.WorkflowID, "")
		if err != nil {
			return fmt.Errorf("is backfill %s still running: %w", h.Held.WorkflowID, err)
		}
		if alive {
			return &h
		}
		stale[h.Held.WorkflowID] = h.Held.RunID
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('etl2elt.backfill_claims:' || $1))`, c.Target); err != nil {
			return fmt.Errorf("claim %s: %w", c.Target, err)
		}
		rows, err := tx.Query(ctx, `SELECT window_start, window_end, workflow_id, run_id, claimed_at FROM etl2elt.backfill_claims
WHERE target = $1 AND workflow_id <> $2 AND window_start < $4 AND window_end > $3`, c.Target, c.WorkflowID, c.Window.From, c.Window.To)
		if err != nil {
			return fmt.Errorf("claim %s: %w", c.Target, err)
		}
		held, err := scanClaims(rows, c.Target)
		if err != nil {
			return err
		}
		for _, h := range held {
			if run, ok := stale[h.Held.WorkflowID]; !ok || run != h.Held.RunID {
				return &h // claimed meanwhile (a new holder, or the same id started again)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.backfill_claims WHERE target = $1 AND workflow_id = $2 AND run_id = $3`, c.Target, h.Held.WorkflowID, h.Held.RunID); err != nil {
				return fmt.Errorf("remove the stale claim of %s: %w", h.Held.WorkflowID, err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO etl2elt.backfill_claims (target, window_start, window_end, workflow_id, run_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (target, workflow_id) DO UPDATE SET window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
    run_id = EXCLUDED.run_id, claimed_at = now()`, c.Target, c.Window.From, c.Window.To, c.WorkflowID, c.RunID)
		if err != nil {
			return fmt.Errorf("claim %s: %w", c.Target, err)
		}
		return nil
	})
}

func overlapping(ctx context.Context, pool *pgxpool.Pool, c Claim) ([]ClaimedError, error) {
	rows, err := pool.Query(ctx, `SELECT window_start, window_end, workflow_id, run_id, claimed_at FROM etl2elt.backfill_claims
WHERE target = $1 AND workflow_id <> $2 AND window_start < $4 AND window_end > $3`, c.Target, c.WorkflowID, c.Window.From, c.Window.To)
	if err != nil {
		return nil, fmt.Errorf("claims of %s: %w", c.Target, err)
	}
	return scanClaims(rows, c.Target)
}

func scanClaims(rows pgx.Rows, target string) ([]ClaimedError, error) {
	defer rows.Close()
	var out []ClaimedError
	for rows.Next() {
		var e ClaimedError
		e.Held.Target = target
		if err := rows.Scan(&e.Held.Window.From, &e.Held.Window.To, &e.Held.WorkflowID, &e.Held.RunID, &e.At); err != nil {
			return nil, fmt.Errorf("claims of %s: %w", target, err)
		}
		e.Held.Window.From, e.Held.Window.To = e.Held.Window.From.UTC(), e.Held.Window.To.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReleaseClaim removes a workflow's claim on a target (no error when there is none).
func ReleaseClaim(ctx context.Context, pool *pgxpool.Pool, target, workflowID string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM etl2elt.backfill_claims WHERE target = $1 AND workflow_id = $2`, target, workflowID); err != nil {
		return fmt.Errorf("release the claim on %s: %w", target, err)
	}
	return nil
}
