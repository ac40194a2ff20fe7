package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/warehouse"
)

// WatermarkInput names a domain's scheduled pipeline.
type WatermarkInput struct {
	PlanName string `json:"plan_name"`
	Domain   string `json:"domain"`
	// To is the new watermark (AdvancePipelineWatermark only).
	To time.Time `json:"to,omitzero"`
}

// WatermarkResult is the current watermark (nil before the first scheduled run).
type WatermarkResult struct {
	Watermark *time.Time `json:"watermark,omitempty"`
}

// GetPipelineWatermark reads where the domain's next scheduled run starts.
func (a *Activities) GetPipelineWatermark(ctx context.Context, in WatermarkInput) (*WatermarkResult, error) {
	pool, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	w, err := warehouse.PipelineWatermark(ctx, pool, in.PlanName, in.Domain)
	if err != nil {
		return nil, err
	}
	return &WatermarkResult{Watermark: w}, nil
}

// AdvancePipelineWatermark records a successful scheduled run (never moves back).
func (a *Activities) AdvancePipelineWatermark(ctx context.Context, in WatermarkInput) error {
	pool, err := a.control(ctx)
	if err != nil {
		return err
	}
	return warehouse.AdvancePipelineWatermark(ctx, pool, in.PlanName, in.Domain, in.To, activity.GetInfo(ctx).WorkflowExecution.ID)
}
