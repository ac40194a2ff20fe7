package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// Ledger statuses.
const (
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Row is a chunk's ledger row.
type Row struct {
	Status   string `json:"status"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum,omitempty"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}

// ChunkRequest runs one chunk of an incremental model.
type ChunkRequest struct {
	Chunk      Chunk
	Model      plan.Model
	WorkflowID string
	Rates      plan.CostRates
	// Trust protects the model's signed-off rows (model.Trust).
	Trust model.Trust
}

// ChunkResult is what a chunk did.
type ChunkResult struct {
	ChunkID    string  `json:"chunk_id"`
	Rows       int64   `json:"rows"`
	Inserted   int64   `json:"inserted"`
	Deleted    int64   `json:"deleted"`
	Checksum   string  `json:"checksum"`
	DurationMS int64   `json:"duration_ms"`
	Cost       float64 `json:"cost"`
	// Held is what the chunk held back instead of changing trusted rows.
	Held *model.Held `json:"held,omitempty"`
}

// Cost prices a chunk's work with the plan's rates.
func Cost(r plan.CostRates, rows int64, d time.Duration) float64 {
	return float64(rows)/1e6*r.PerMillionRows + d.Hours()*r.WarehouseHour
}

// RunModelChunk replaces the model's rows of the chunk's window and upserts the
// chunk's ledger row in one transaction under the model's lock. A failure is recorded
// in the ledger (a chunk that was done stays done: its rows were not touched).
func RunModelChunk(ctx context.Context, pool *pgxpool.Pool, req ChunkRequest) (ChunkResult, error) {
	started := time.Now().UTC()
	c := req.Chunk
	res := ChunkResult{ChunkID: c.ID()}
	rel := ident.Relation{Schema: req.Model.Schema, Name: req.Model.Name}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := model.Lock(ctx, tx, rel); err != nil {
			return err
		}
		r, err := model.ReplaceWindow(ctx, tx, req.Model, c.Window, model.ReplaceOptions{Trust: req.Trust, RunID: c.ID(), WorkflowID: req.WorkflowID})
		if err != nil {
			return err
		}
		res.Inserted, res.Deleted = r.Inserted, r.Deleted
		if r.Held.Rows > 0 {
			res.Held = &r.Held
		}
		if res.Rows, res.Checksum, err = model.WindowChecksum(ctx, tx, rel, req.Model.EventTime, c.Window); err != nil {
			return err
		}
		res.DurationMS = time.Since(started).Milliseconds()
		res.Cost = Cost(req.Rates, res.Rows, time.Since(started))
		def := model.DefinitionOf(req.Model)
		def.Held = res.Held != nil && res.Held.Rows > 0 // trusted rows of earlier logic stay
		return upsert(ctx, tx, c, StatusDone, res, req.WorkflowID, "", started, &def)
	})
	if err != nil {
		res.DurationMS = time.Since(started).Milliseconds()
		if rerr := recordFailure(ctx, pool, c, res, req.WorkflowID, err, started); rerr != nil {
			return res, errors.Join(err, rerr)
		}
		return res, fmt.Errorf("chunk %s: %w", c.ID(), err)
	}
	return res, nil
}

// def is the model's definition for a done chunk of a model (nil otherwise: a failed
// or skipped chunk keeps what built its rows last).
func upsert(ctx context.Context, tx pgx.Tx, c Chunk, status string, res ChunkResult, workflowID, errText string, started time.Time, def *model.Definition) error {
	var errArg, defHash, defArg any
	if errText != "" {
		errArg = errText
	}
	if def != nil {
		defHash, defArg = def.Hash(), *def
	}
	_, err := tx.Exec(ctx, `
INSERT INTO etl2elt.backfill_chunks AS l (target, window_start, window_end, status, rows, checksum, attempts, workflow_id, error, duration_ms, cost, started_at, finished_at,
  definition_hash, definition, built_at)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), 1, $7, $8, $9, $10, $11, now(), $12, $13, CASE WHEN $12::text IS NOT NULL THEN clock_timestamp() END)
ON CONFLICT (target, window_start, window_end) DO UPDATE SET
  status = CASE WHEN EXCLUDED.status = 'failed' AND l.status = 'done' THEN 'done' ELSE EXCLUDED.status END,
  rows = CASE WHEN EXCLUDED.status = 'failed' THEN l.rows ELSE EXCLUDED.rows END,
  checksum = CASE WHEN EXCLUDED.status = 'failed' THEN l.checksum ELSE EXCLUDED.checksum END,
  attempts = l.attempts + 1, workflow_id = EXCLUDED.workflow_id, error = EXCLUDED.error,
  duration_ms = EXCLUDED.duration_ms, cost = coalesce(l.cost, 0) + EXCLUDED.cost,
  started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
  definition_hash = COALESCE(EXCLUDED.definition_hash, l.definition_hash), definition = COALESCE(EXCLUDED.definition, l.definition),
  built_at = COALESCE(EXCLUDED.built_at, l.built_at)`,
		c.Target, c.Window.From, c.Window.To, status, res.Rows, res.Checksum, workflowID, errArg, res.DurationMS, res.Cost, started, defHash, defArg)
	if err != nil {
		return fmt.Errorf("ledger of chunk %s: %w", c.ID(), err)
	}
	return nil
}

func recordFailure(ctx context.Context, pool *pgxpool.Pool, c Chunk, res ChunkResult, workflowID string, cause error, started time.Time) error {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return upsert(ctx, tx, c, StatusFailed, ChunkResult{Rows: 0, DurationMS: res.DurationMS}, workflowID, msg, started, nil)
	})
}

// MarkSkipped records an operator's decision to skip a chunk.
func MarkSkipped(ctx context.Context, pool *pgxpool.Pool, c Chunk, workflowID, by, reason string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := upsert(ctx, tx, c, StatusSkipped, ChunkResult{}, workflowID, "skipped by "+by+": "+reason, time.Now().UTC(), nil); err != nil {
			return err
		}
		return recordDecision(ctx, tx, Decision{Kind: "skip-chunk", Target: c.Target, Subject: c.ID(), By: by, Reason: reason, WorkflowID: workflowID})
	})
}

// Ledger reads the ledger rows of target's chunks that start inside w, by chunk id.
func Ledger(ctx context.Context, pool *pgxpool.Pool, target string, w window.Window) (map[string]Row, error) {
	rows, err := pool.Query(ctx, `
SELECT window_start, window_end, status, coalesce(rows, 0), coalesce(checksum, ''), attempts, coalesce(error, '')
FROM etl2elt.backfill_chunks WHERE target = $1 AND window_start >= $2 AND window_start < $3`, target, w.From, w.To)
	if err != nil {
		return nil, fmt.Errorf("ledger of %s: %w", target, err)
	}
	out := map[string]Row{}
	for rows.Next() {
		var from, to time.Time
		var r Row
		if err := rows.Scan(&from, &to, &r.Status, &r.Rows, &r.Checksum, &r.Attempts, &r.Error); err != nil {
			return nil, fmt.Errorf("ledger of %s: %w", target, err)
		}
		out[Chunk{Target: target, Window: window.Window{From: from.UTC(), To: to.UTC()}}.ID()] = r
	}
	return out, rows.Err()
}

// AdvanceWatermark recomputes the target's watermark from the ledger (the end of the
// contiguous run of done or skipped chunks from the earliest chunk) and stores it if
// it moved forward. It returns the stored watermark (nil when there is none).
func AdvanceWatermark(ctx context.Context, pool *pgxpool.Pool, target, workflowID string) (*time.Time, error) {
	var wm *time.Time
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT window_start, window_end, status FROM etl2elt.backfill_chunks WHERE target = $1 ORDER BY window_start, window_end`, target)
		if err != nil {
			return err
		}
		type r struct {
			from, to time.Time
			status   string
		}
		ledger, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (r, error) {
			var v r
			err := row.Scan(&v.from, &v.to, &v.status)
			return v, err
		})
		if err != nil {
			return err
		}
		var end *time.Time
		for i, l := range ledger {
			if i > 0 && l.from.After(*end) || (l.status != StatusDone && l.status != StatusSkipped) {
				break
			}
			if end == nil || l.to.After(*end) {
				t := l.to
				end = &t
			}
		}
		if end != nil {
			if _, err := tx.Exec(ctx, `
INSERT INTO etl2elt.backfill_watermarks AS w (target, watermark, workflow_id) VALUES ($1, $2, $3)
ON CONFLICT (target) DO UPDATE SET watermark = EXCLUDED.watermark, workflow_id = EXCLUDED.workflow_id, updated_at = now()
WHERE EXCLUDED.watermark > w.watermark`, target, *end, workflowID); err != nil {
				return err
			}
		}
		var stored time.Time
		err = tx.QueryRow(ctx, `SELECT watermark FROM etl2elt.backfill_watermarks WHERE target = $1`, target).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		stored = stored.UTC()
		wm = &stored
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("watermark of %s: %w", target, err)
	}
	return wm, nil
}

// ResetWatermark moves a target's watermark to an explicit point (backwards too) and
// records the decision.
func ResetWatermark(ctx context.Context, pool *pgxpool.Pool, target string, to time.Time, by, reason, workflowID string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
INSERT INTO etl2elt.backfill_watermarks (target, watermark, workflow_id) VALUES ($1, $2, $3)
ON CONFLICT (target) DO UPDATE SET watermark = EXCLUDED.watermark, workflow_id = EXCLUDED.workflow_id, updated_at = now()`,
			target, to, workflowID); err != nil {
			return fmt.Errorf("reset watermark of %s: %w", target, err)
		}
		return recordDecision(ctx, tx, Decision{Kind: "reset-watermark", Target: target, Subject: to.Format(time.RFC3339), By: by, Reason: reason, WorkflowID: workflowID})
	})
}

// Decision is a human decision recorded in etl2elt.decisions.
type Decision struct {
	Kind       string `json:"kind"`
	Domain     string `json:"domain,omitempty"`
	Target     string `json:"target,omitempty"`
	Subject    string `json:"subject,omitempty"`
	By         string `json:"by"`
	Reason     string `json:"reason"`
	Evidence   any    `json:"evidence,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
}

// RecordDecision writes a decision.
func RecordDecision(ctx context.Context, pool *pgxpool.Pool, d Decision) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return recordDecision(ctx, tx, d) })
}

// RecordDecisionTx writes a decision inside tx (with the change it decides).
func RecordDecisionTx(ctx context.Context, tx pgx.Tx, d Decision) error {
	return recordDecision(ctx, tx, d)
}

func recordDecision(ctx context.Context, tx pgx.Tx, d Decision) error {
	var evidence any
	if d.Evidence != nil {
		b, err := json.Marshal(d.Evidence)
		if err != nil {
			return fmt.Errorf("decision evidence: %w", err)
		}
		evidence = b
	}
	_, err := tx.Exec(ctx, `
INSERT INTO etl2elt.decisions (kind, domain, target, subject, decided_by, reason, evidence, workflow_id)
VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7, NULLIF($8, ''))`,
		d.Kind, d.Domain, d.Target, d.Subject, d.By, d.Reason, evidence, d.WorkflowID)
	if err != nil {
		return fmt.Errorf("record %s decision: %w", d.Kind, err)
	}
	return nil
}
