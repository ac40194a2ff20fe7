package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PipelineWatermark returns where the domain's next scheduled pipeline run starts
// (nil before the first one).
func PipelineWatermark(ctx context.Context, pool *pgxpool.Pool, planName, domain string) (*time.Time, error) {
	var w time.Time
	err := pool.QueryRow(ctx, `SELECT watermark FROM etl2elt.pipeline_watermarks WHERE plan_name = $1 AND domain = $2`, planName, domain).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline watermark %s/%s: %w", planName, domain, err)
	}
	w = w.UTC()
	return &w, nil
}

// AdvancePipelineWatermark moves the watermark forward to w; it never moves back.
func AdvancePipelineWatermark(ctx context.Context, pool *pgxpool.Pool, planName, domain string, w time.Time, workflowID string) error {
	_, err := pool.Exec(ctx, `
INSERT INTO etl2elt.pipeline_watermarks (plan_name, domain, watermark, workflow_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (plan_name, domain) DO UPDATE
SET watermark = greatest(etl2elt.pipeline_watermarks.watermark, EXCLUDED.watermark),
    workflow_id = CASE WHEN EXCLUDED.watermark > etl2elt.pipeline_watermarks.watermark THEN EXCLUDED.workflow_id ELSE etl2elt.pipeline_watermarks.workflow_id END,
    updated_at = now()`, planName, domain, w, workflowID)
	if err != nil {
		return fmt.Errorf("advance pipeline watermark %s/%s: %w", planName, domain, err)
	}
	return nil
}
