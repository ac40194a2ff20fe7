package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/metrics"
	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/window"
)

// ReconcileInput reconciles one output pair over a window.
type ReconcileInput struct {
	PlanName string          `json:"plan_name"`
	PlanHash string          `json:"plan_hash"`
	Domain   string          `json:"domain"`
	Pair     plan.OutputPair `json:"pair"`
	Window   window.Window   `json:"window"`
	// RunID keys the stored results: a retried attempt replaces them.
	RunID string `json:"run_id"`
}

// ReconcileResult is the outcome for one pair.
type ReconcileResult struct {
	RunID    string            `json:"run_id"`
	Output   string            `json:"output"`
	Status   string            `json:"status"`
	Breaches int               `json:"breaches"`
	Checks   []reconcile.Check `json:"checks"`
	// Segments present on one side only (segmented pairs).
	OnlyInLegacy []string `json:"only_in_legacy,omitempty"`
	OnlyInELT    []string `json:"only_in_elt,omitempty"`
	// RowDiff is the pair's row-level diff by key (RowDiffPair), when the
	// reconciliation asked for one and the pair has keys. A diff that did not pass
	// (differences beyond tolerance, or bounded) makes Status fail; it adds no breach:
	// Breaches count the aggregate checks.
	RowDiff *reconcile.RowDiffResult `json:"row_diff,omitempty"`
}

// ReconcileTotals computes the pair's totals and, when the pair has segments, its
// segmented aggregates on each side's connection (pushed down: only aggregates
// travel), compares them against the plan's tolerances and stores the run and its
// checks in the control schema.
func (a *Activities) ReconcileTotals(ctx context.Context, in ReconcileInput) (*ReconcileResult, error) {
	started := time.Now().UTC()
	legacyPool, err := a.Conns.Get(ctx, in.Pair.Legacy.Connection)
	if err != nil {
		return nil, err
	}
	eltPool, err := a.Conns.Get(ctx, in.Pair.ELT.Connection)
	if err != nil {
		return nil, err
	}
	legacy, err := reconcile.ComputeTotals(ctx, legacyPool, in.Pair.Legacy.Relation, in.Pair.TimeColumn, in.Pair.Measures, in.Window)
	if err != nil {
		return nil, classify(fmt.Errorf("legacy side: %w", err))
	}
	elt, err := reconcile.ComputeTotals(ctx, eltPool, in.Pair.ELT.Relation, in.Pair.TimeColumn, in.Pair.Measures, in.Window)
	if err != nil {
		return nil, classify(fmt.Errorf("ELT side: %w", err))
	}
	checks := reconcile.CompareTotals(in.Pair, legacy, elt)
	var onlyLegacy, onlyELT []string
	if len(in.Pair.Segments) > 0 {
		activity.RecordHeartbeat(ctx, "segments")
		ls, err := reconcile.ComputeSegments(ctx, legacyPool, in.Pair.Legacy.Relation, in.Pair.TimeColumn, in.Pair.Segments, in.Pair.Measures, in.Window)
		if err != nil {
			return nil, classify(fmt.Errorf("legacy side: %w", err))
		}
		es, err := reconcile.ComputeSegments(ctx, eltPool, in.Pair.ELT.Relation, in.Pair.TimeColumn, in.Pair.Segments, in.Pair.Measures, in.Window)
		if err != nil {
			return nil, classify(fmt.Errorf("ELT side: %w", err))
		}
		seg := reconcile.CompareSegments(in.Pair, ls, es)
		checks = append(checks, seg.Checks...)
		onlyLegacy, onlyELT = seg.OnlyInLegacy, seg.OnlyInELT
	}
	control, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	run := reconcile.Run{
		RunID: in.RunID, PlanName: in.PlanName, PlanHash: in.PlanHash, Domain: in.Domain, Output: in.Pair.Name,
		LegacyRelation: in.Pair.Legacy.Relation, ELTRelation: in.Pair.ELT.Relation, Window: in.Window,
		WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID, StartedAt: started,
	}
	if err := reconcile.Save(ctx, control, run, checks); err != nil {
		return nil, err
	}
	breaches := reconcile.Breaches(checks)
	status := reconcile.Pass
	if breaches == 0 && reconcile.Empty(checks) {
		status = reconcile.NoData // nothing compared: never a pass
	}
	if breaches > 0 {
		status = reconcile.Fail
		activity.GetMetricsHandler(ctx).WithTags(map[string]string{"domain": in.Domain, "output": in.Pair.Name}).
			Counter(metrics.ReconcileBreaches).Inc(int64(breaches))
	}
	return &ReconcileResult{RunID: in.RunID, Output: in.Pair.Name, Status: status, Breaches: breaches, Checks: checks,
		OnlyInLegacy: onlyLegacy, OnlyInELT: onlyELT}, nil
}
