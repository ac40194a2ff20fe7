package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"

	"etl2elt/internal/backfill"
	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// PlanBackfillInput asks which chunks of a range a backfill must run.
type PlanBackfillInput struct {
	// WarehouseConnection holds the target and its chunk ledger.
	WarehouseConnection string        `json:"warehouse_connection"`
	Target              string        `json:"target"`
	Range               window.Window `json:"range"`
	ChunkSize           string        `json:"chunk_size"`
	Reprocess           string        `json:"reprocess"`
	// TrustedUntil is the domain's signed-off boundary (zero: none).
	TrustedUntil time.Time `json:"trusted_until,omitzero"`
	// Models are the target model and the models it reads, from the plan: set for
	// Reprocess "changed", which runs the chunks holding stale periods.
	Models []plan.Model `json:"models,omitempty"`
	// Verify (with Reprocess "changed") selects the chunks still holding periods built
	// by another definition of the target itself, skipped chunks settled: what a
	// backfill of changed logic can fix (an upstream model is rebuilt by its own runs).
	Verify bool `json:"verify,omitempty"`
}

// PlanBackfillResult is the selection plus the cost seen so far per chunk.
type PlanBackfillResult struct {
	backfill.Selection
	Total int `json:"total"`
}

// PlanBackfill splits the range and reads the ledger to select the chunks to run.
func (a *Activities) PlanBackfill(ctx context.Context, in PlanBackfillInput) (*PlanBackfillResult, error) {
	chunks, err := backfill.Split(in.Target, in.Range, in.ChunkSize)
	if err != nil {
		return nil, badInputError(err)
	}
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	ledger, err := backfill.Ledger(ctx, pool, in.Target, in.Range)
	if err != nil {
		return nil, err
	}
	if in.Reprocess == backfill.ReprocessChanged {
		sel, err := a.selectChanged(ctx, pool, in, chunks, ledger)
		if err != nil {
			return nil, err
		}
		activity.GetLogger(ctx).Info("backfill of changed logic", "target", in.Target, "chunks", len(sel.Run), "of", len(chunks))
		return &PlanBackfillResult{Selection: sel, Total: len(chunks)}, nil
	}
	sel, err := backfill.Select(chunks, ledger, in.Reprocess, in.TrustedUntil)
	if err != nil {
		return nil, badInputError(err)
	}
	return &PlanBackfillResult{Selection: sel, Total: len(chunks)}, nil
}

// selectChanged selects the chunks holding periods of the target built by another
// definition of it or, unless verifying, while a model it reads held rows of other
// logic (model.Staleness). Stale periods are clamped to the backfill's range.
func (a *Activities) selectChanged(ctx context.Context, pool *pgxpool.Pool, in PlanBackfillInput, chunks []backfill.Chunk, ledger map[string]backfill.Row) (backfill.Selection, error) {
	var target *plan.Model
	for i := range in.Models {
		if in.Models[i].Name == in.Target {
			target = &in.Models[i]
		}
	}
	if target == nil {
		return backfill.Selection{}, badInputError(fmt.Errorf("reprocess changed: %s is not a model of the plan (a source has no definition to change)", in.Target))
	}
	models := in.Models
	if in.Verify {
		models = []plan.Model{*target}
	}
	st, err := model.Staleness(ctx, pool, &plan.Plan{Models: models}, []plan.Model{*target})
	if err != nil {
		return backfill.Selection{}, err
	}
	var stale []window.Window
	for _, r := range st[0].Stale {
		w := in.Range
		if r.From != nil && r.From.After(w.From) {
			w.From = *r.From
		}
		if r.To != nil && r.To.Before(w.To) {
			w.To = *r.To
		}
		if w.From.Before(w.To) {
			stale = append(stale, w)
		}
	}
	if in.Verify {
		// A chunk an operator skipped stays skipped.
		kept := chunks[:0:0]
		for _, c := range chunks {
			if ledger[c.ID()].Status != backfill.StatusSkipped {
				kept = append(kept, c)
			}
		}
		sel := backfill.SelectStale(kept, ledger, stale, false, in.TrustedUntil)
		sel.Settled += len(chunks) - len(kept)
		return sel, nil
	}
	return backfill.SelectStale(chunks, ledger, stale, false, in.TrustedUntil), nil
}

// RunChunkInput runs one chunk of an incremental model, or of a source (its raw
// table re-landed from S3 for the chunk's days).
type RunChunkInput struct {
	Chunk               backfill.Chunk `json:"chunk"`
	Model               plan.Model     `json:"model,omitzero"`
	WarehouseConnection string         `json:"warehouse_connection"`
	Rates               plan.CostRates `json:"rates"`
	// Source, Landing, RawSchema and LoadID are set for a source target.
	Source    *plan.Source `json:"source,omitempty"`
	Landing   plan.Landing `json:"landing,omitzero"`
	RawSchema string       `json:"raw_schema,omitempty"`
	LoadID    string       `json:"load_id,omitempty"`
	// Trust protects a model's signed-off rows (model.Trust).
	Trust model.Trust `json:"trust,omitzero"`
}

// RunBackfillChunk runs a chunk in one warehouse transaction, heartbeating while the
// transaction runs so that a lost worker is noticed within the heartbeat timeout (the
// retried attempt replaces the window again: no duplicates).
func (a *Activities) RunBackfillChunk(ctx context.Context, in RunChunkInput) (*backfill.ChunkResult, error) {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	hb := startHeartbeat(ctx, in.Chunk.ID())
	defer hb.stop()
	wfID := activity.GetInfo(ctx).WorkflowExecution.ID
	if in.Source != nil {
		return a.runSourceChunk(ctx, pool, in, wfID)
	}
	res, err := backfill.RunModelChunk(ctx, pool, backfill.ChunkRequest{
		Chunk: in.Chunk, Model: in.Model, WorkflowID: wfID, Rates: in.Rates, Trust: in.Trust,
	})
	if err != nil {
		return nil, classify(err)
	}
	return &res, nil
}

func (a *Activities) runSourceChunk(ctx context.Context, pool *pgxpool.Pool, in RunChunkInput, wfID string) (*backfill.ChunkResult, error) {
	table := ident.Relation{Schema: in.RawSchema, Name: in.Source.Name}
	if err := ident.Validate(table.Schema); err != nil {
		return nil, classify(err)
	}
	if err := ingest.EnsureTable(ctx, pool, table, *in.Source); err != nil {
		return nil, classify(err)
	}
	req := backfill.SourceChunkRequest{
		Chunk: in.Chunk, Source: *in.Source, Table: table, LoadID: in.LoadID, WorkflowID: wfID, PIIKey: a.PIIKey, Rates: in.Rates,
		Open: func(ctx context.Context, key string) (io.ReadCloser, error) {
			body, _, err := a.Store.Open(ctx, in.Landing.Bucket, key)
			return body, err
		},
	}
	for _, day := range in.Chunk.Window.Days() {
		prefix := ingest.DayPrefix(in.Landing.Prefix, *in.Source, day)
		objects, err := a.Store.List(ctx, in.Landing.Bucket, prefix)
		if err != nil {
			return nil, classify(err)
		}
		if len(objects) == 0 {
			continue // a day without objects (expired or never landed) keeps its rows
		}
		req.Prefixes = append(req.Prefixes, prefix)
		req.Objects = append(req.Objects, objects...)
	}
	res, err := backfill.RunSourceChunk(ctx, pool, req)
	if err != nil {
		return nil, classify(err)
	}
	return &res, nil
}

// SkipChunkInput records an operator's skip of a chunk.
type SkipChunkInput struct {
	WarehouseConnection string         `json:"warehouse_connection"`
	Chunk               backfill.Chunk `json:"chunk"`
	By                  string         `json:"by"`
	Reason              string         `json:"reason"`
}

// SkipBackfillChunk marks a chunk skipped in the ledger and records the decision.
func (a *Activities) SkipBackfillChunk(ctx context.Context, in SkipChunkInput) error {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return err
	}
	return classify(backfill.MarkSkipped(ctx, pool, in.Chunk, activity.GetInfo(ctx).WorkflowExecution.ID, in.By, in.Reason))
}

// RecordDecision writes a decision (override, retry, budget raise) to the log.
func (a *Activities) RecordDecision(ctx context.Context, d backfill.Decision) error {
	pool, err := a.control(ctx)
	if err != nil {
		return err
	}
	d.WorkflowID = activity.GetInfo(ctx).WorkflowExecution.ID
	return classify(backfill.RecordDecision(ctx, pool, d)) // a value PostgreSQL refuses is not retried
}

// BackfillWatermarkResult is a target's watermark after a recompute.
type BackfillWatermarkResult struct {
	Watermark *time.Time `json:"watermark,omitempty"`
}

// WatermarkTarget names a backfill target and the connection of its ledger.
type WatermarkTarget struct {
	WarehouseConnection string `json:"warehouse_connection"`
	Target              string `json:"target"`
}

// AdvanceBackfillWatermark recomputes the target's watermark from the ledger.
func (a *Activities) AdvanceBackfillWatermark(ctx context.Context, in WatermarkTarget) (*BackfillWatermarkResult, error) {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	wm, err := backfill.AdvanceWatermark(ctx, pool, in.Target, activity.GetInfo(ctx).WorkflowExecution.ID)
	if err != nil {
		return nil, err
	}
	return &BackfillWatermarkResult{Watermark: wm}, nil
}

// WorkflowDescriber is the part of the Temporal client that tells whether a workflow
// still runs (a stale backfill claim is taken over only when its holder does not).
type WorkflowDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// ClaimBackfillInput claims a target's range for the calling backfill.
type ClaimBackfillInput struct {
	WarehouseConnection string        `json:"warehouse_connection"`
	Target              string        `json:"target"`
	Range               window.Window `json:"range"`
}

// ClaimBackfill claims the range of the target for the calling workflow: one
// execution per target and window. An overlapping backfill that still runs refuses it
// (BadInput, naming the running workflow); a claim left by one that no longer runs is
// taken over.
func (a *Activities) ClaimBackfill(ctx context.Context, in ClaimBackfillInput) error {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return err
	}
	info := activity.GetInfo(ctx).WorkflowExecution
	err = backfill.TakeClaim(ctx, pool, backfill.Claim{Target: in.Target, Window: in.Range, WorkflowID: info.ID, RunID: info.RunID}, a.isRunning)
	var claimed *backfill.ClaimedError
	if errors.As(err, &claimed) {
		return badInputError(err)
	}
	return err
}

func (a *Activities) isRunning(ctx context.Context, workflowID, runID string) (bool, error) {
	if a.Workflows == nil {
		return true, nil // cannot tell: a claim is kept
	}
	desc, err := a.Workflows.DescribeWorkflowExecution(ctx, workflowID, runID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// ReleaseBackfillInput releases the calling workflow's claim on a target.
type ReleaseBackfillInput struct {
	WarehouseConnection string `json:"warehouse_connection"`
	Target              string `json:"target"`
}

// ReleaseBackfill releases the calling workflow's claim (done when a backfill ends).
func (a *Activities) ReleaseBackfill(ctx context.Context, in ReleaseBackfillInput) error {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return err
	}
	return backfill.ReleaseClaim(ctx, pool, in.Target, activity.GetInfo(ctx).WorkflowExecution.ID)
}
