package activities

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/metrics"
	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/report"
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
	// CheckCount is the number of checks compared; Checks holds the totals and the
	// worst failing segments (at most 100 in all; every check is in
	// etl2elt.reconcile_results under RunID).
	CheckCount int `json:"check_count"`
	// Segments present on one side only (segmented pairs): the first 50, and how many.
	OnlyInLegacy      []string `json:"only_in_legacy,omitempty"`
	OnlyInELT         []string `json:"only_in_elt,omitempty"`
	OnlyInLegacyCount int      `json:"only_in_legacy_count,omitempty"`
	OnlyInELTCount    int      `json:"only_in_elt_count,omitempty"`
	// RowDiff is the pair's row-level diff by key (RowDiffPair), when the
	// reconciliation asked for one and the pair has keys. A diff that did not pass
	// (differences beyond tolerance, or bounded) makes Status fail; it adds no breach:
	// Breaches count the aggregate checks.
	RowDiff *reconcile.RowDiffResult `json:"row_diff,omitempty"`
	// Causes counts every aggregate check that differs by cause
	// (reconcile.CountCauses: outside_tolerance, within_tolerance,
	// normalisation_only; a segment one side lacks counts once, as
	// segment_missing_in_elt or segment_missing_in_legacy). Results from before
	// have none.
	Causes map[string]int `json:"causes,omitempty"`
}

// ReconcileTotals computes the pair's totals and, when the pair has segments, its
// segmented aggregates on each side's connection (pushed down: only aggregates
// travel), compares them against the plan's tolerances and stores the run and its
// checks in the control schema. Besides the measures, the NULLs of every column the
// pair compares (NullCountColumns) are counted, with the plan's null_equals_empty.
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
	var shared []string
	if len(in.Pair.Compare) == 0 {
		if shared, err = reconcile.SharedColumns(ctx, legacyPool, eltPool, in.Pair.Legacy.Relation, in.Pair.ELT.Relation); err != nil {
			return nil, classify(fmt.Errorf("reconcile %s: %w", in.Pair.Name, err))
		}
	}
	nulls := reconcile.ColumnNulls{Columns: NullCountColumns(in.Pair, shared)}
	if n := in.Pair.Normalize; n != nil {
		nulls.NullEqualsEmpty, nulls.Trim = n.NullEqualsEmpty, n.Trim
	}
	legacy, err := reconcile.ComputeTotalsWith(ctx, legacyPool, in.Pair.Legacy.Relation, in.Pair.TimeColumn, in.Pair.Measures, nulls, in.Window)
	if err != nil {
		return nil, classify(fmt.Errorf("legacy side: %w", err))
	}
	elt, err := reconcile.ComputeTotalsWith(ctx, eltPool, in.Pair.ELT.Relation, in.Pair.TimeColumn, in.Pair.Measures, nulls, in.Window)
	if err != nil {
		return nil, classify(fmt.Errorf("ELT side: %w", err))
	}
	checks := reconcile.CompareTotals(in.Pair, legacy, elt)
	var onlyLegacy, onlyELT []string
	if len(in.Pair.Segments) > 0 {
		activity.RecordHeartbeat(ctx, "segments")
		ls, err := reconcile.ComputeSegmentsWith(ctx, legacyPool, in.Pair.Legacy.Relation, in.Pair.TimeColumn, in.Pair.Segments, in.Pair.Measures, nulls, in.Window)
		if err != nil {
			return nil, classify(fmt.Errorf("legacy side: %w", err))
		}
		es, err := reconcile.ComputeSegmentsWith(ctx, eltPool, in.Pair.ELT.Relation, in.Pair.TimeColumn, in.Pair.Segments, in.Pair.Measures, nulls, in.Window)
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
	status := reconcile.PairStatus(checks) // no-data when nothing was compared: never a pass
	if breaches > 0 {
		activity.GetMetricsHandler(ctx).WithTags(map[string]string{"domain": in.Domain, "output": in.Pair.Name}).
			Counter(metrics.ReconcileBreaches).Inc(int64(breaches))
	}
	res := &ReconcileResult{RunID: in.RunID, Output: in.Pair.Name, Status: status, Breaches: breaches, CheckCount: len(checks),
		OnlyInLegacyCount: len(onlyLegacy), OnlyInELTCount: len(onlyELT), Causes: reconcile.CountCauses(checks, onlyLegacy, onlyELT)}
	res.Checks = BoundChecks(checks, maxResultChecks)
	res.OnlyInLegacy = onlyLegacy[:min(len(onlyLegacy), maxResultSegments)]
	res.OnlyInELT = onlyELT[:min(len(onlyELT), maxResultSegments)]
	return res, nil
}

// NullCountColumns are the columns whose NULLs the aggregate checks count: those the
// row diff compares (RowDiffColumns: the plan's compare list, else the columns both
// sides share but ignore), without the keys, the segments, the time column and the
// measures' columns (whose null counts are checked already), nor a measure's name.
func NullCountColumns(p plan.OutputPair, shared []string) []string {
	var out []string
	for _, c := range RowDiffColumns(p, shared) {
		skip := c == p.TimeColumn || slices.Contains(p.Keys, c) || slices.Contains(p.Segments, c) ||
			slices.ContainsFunc(p.Measures, func(m plan.Measure) bool { return m.Name == c || m.ColumnName() == c })
		if !skip && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// ReportPair is a pair's result as the reconciliation report reads it, with checks
// (those carried, or every stored one) and relations; the segments one side lacks
// keep their counts, and the row diff its sample as given.
func ReportPair(p ReconcileResult, legacyRelation, eltRelation string, checks []reconcile.Check) report.Pair {
	rp := report.Pair{Output: p.Output, LegacyRelation: legacyRelation, ELTRelation: eltRelation, Status: p.Status,
		OnlyInLegacy: p.OnlyInLegacy, OnlyInELT: p.OnlyInELT, StoredRunID: p.RunID,
		OnlyInLegacyCount: max(p.OnlyInLegacyCount, len(p.OnlyInLegacy)), OnlyInELTCount: max(p.OnlyInELTCount, len(p.OnlyInELT)),
		CheckCauses: p.Causes, RowDiff: ReportRowDiff(p.RowDiff)}
	for _, c := range checks {
		rp.Checks = append(rp.Checks, report.Check{Segment: c.Segment, Measure: c.Measure, Metric: c.Metric, Legacy: c.Legacy, ELT: c.ELT,
			Difference: c.Difference, RelativeDifference: c.RelativeDifference, ToleranceAbsolute: c.ToleranceAbsolute,
			ToleranceRelative: c.ToleranceRelative, Status: c.Status})
	}
	return rp
}

// Compared is the number of checks compared (results from before CheckCount: the
// checks carried).
func (r ReconcileResult) Compared() int {
	if r.CheckCount > 0 {
		return r.CheckCount
	}
	return len(r.Checks)
}

// Bounds of what a reconciliation carries in workflow payloads (every check is in
// etl2elt.reconcile_results; reports read them there): 810 segments once made a
// result of 840 KB, and Temporal fails a workflow on a 2 MB payload.
const (
	maxResultChecks   = 100
	maxResultSegments = 50
)

// BoundChecks keeps the totals' checks and then the failing segment checks, largest
// relative difference first, up to n in all (the totals are always kept).
func BoundChecks(checks []reconcile.Check, n int) []reconcile.Check {
	if len(checks) <= n {
		return checks
	}
	var out, failing []reconcile.Check
	for _, c := range checks {
		switch {
		case c.Segment == "":
			out = append(out, c)
		case c.Status != reconcile.Pass:
			failing = append(failing, c)
		}
	}
	rel := func(c reconcile.Check) float64 {
		if c.RelativeDifference == nil {
			return math.Inf(1) // a side missing: the worst
		}
		return math.Abs(*c.RelativeDifference)
	}
	sort.SliceStable(failing, func(i, j int) bool { return rel(failing[i]) > rel(failing[j]) })
	for _, c := range failing {
		if len(out) >= n {
			break
		}
		out = append(out, c)
	}
	return out
}
