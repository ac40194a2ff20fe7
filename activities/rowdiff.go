package activities

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/report"
	"etl2elt/internal/window"
)

// RowDiffOptions asks a reconciliation for a row-level diff by key of every output
// pair that has keys (reconcile.RowDiff). Zero values: no row or time bound, the
// default sample, exact comparison.
type RowDiffOptions struct {
	// MaxRowsFetched bounds the rows read from both sides together, per pair.
	MaxRowsFetched int64 `json:"max_rows_fetched,omitempty"`
	// MaxSeconds bounds each pair's diff.
	MaxSeconds int `json:"max_seconds,omitempty"`
	// SampleSize is the most differing keys kept per pair (default 20; negative: none).
	SampleSize int `json:"sample_size,omitempty"`
	// NormalisationOnlyMaxRows bounds the rows the normalisation-only pass reads per
	// pair (default reconcile.DefaultNormalisationOnlyRows; negative: no such pass).
	NormalisationOnlyMaxRows int64 `json:"normalisation_only_max_rows,omitempty"`
	// Normalisation, applied to keys and compared columns on both sides (see
	// reconcile.Normalization).
	NumericScale    *int `json:"numeric_scale,omitempty"`
	TimestampsUTC   bool `json:"timestamps_utc,omitempty"`
	TrimStrings     bool `json:"trim_strings,omitempty"`
	CaseInsensitive bool `json:"case_insensitive,omitempty"`
	NullEqualsEmpty bool `json:"null_equals_empty,omitempty"`
	// NumericTolerance is an absolute tolerance per column name, applied in every
	// pair that compares a column of that name: a difference of at most this is
	// "within tolerance", not a mismatch. It overrides the absolute bound of the
	// plan's measure tolerance for that column (the relative bound still applies).
	NumericTolerance map[string]float64 `json:"numeric_tolerance,omitempty"`
}

// RowDiffInput diffs one output pair's rows over a window.
type RowDiffInput struct {
	// RunID is the pair's reconciliation run (already saved by ReconcileTotals): the
	// diff is stored beside it in etl2elt.row_diffs. Empty: not stored.
	RunID   string          `json:"run_id,omitempty"`
	Domain  string          `json:"domain"`
	Pair    plan.OutputPair `json:"pair"`
	Window  window.Window   `json:"window"`
	Options RowDiffOptions  `json:"options"`
}

// RowDiffColumns are the columns a pair's row diff compares besides its keys: the
// plan's compare list when it has one, else every column both sides share (shared,
// in the legacy relation's order) but those in ignore.
func RowDiffColumns(p plan.OutputPair, shared []string) []string {
	if len(p.Compare) > 0 {
		return slices.Clone(p.Compare)
	}
	var cols []string
	for _, c := range shared {
		if !slices.Contains(p.Keys, c) && !slices.Contains(p.Ignore, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// RowDiffSpec is the row diff of pair over w comparing columns, with the plan's
// normalisation and tolerances and the options on top (an option turns a rule on or
// sets the scale; it never turns the plan's off); its sample is stratified by the
// pair's segments that are keys or compared columns.
func RowDiffSpec(p plan.OutputPair, w window.Window, o RowDiffOptions, columns []string) reconcile.RowDiffSpec {
	n := reconcile.Normalization{NumericScale: o.NumericScale, TimestampsUTC: o.TimestampsUTC, TrimStrings: o.TrimStrings,
		CaseInsensitive: o.CaseInsensitive, NullEqualsEmpty: o.NullEqualsEmpty}
	if pn := p.Normalize; pn != nil {
		n.TimestampsUTC = n.TimestampsUTC || pn.TimestampsUTC
		n.TrimStrings = n.TrimStrings || pn.Trim
		n.CaseInsensitive = n.CaseInsensitive || pn.CaseInsensitive
		n.NullEqualsEmpty = n.NullEqualsEmpty || pn.NullEqualsEmpty
		if n.NumericScale == nil {
			n.NumericScale = pn.NumericScale
		}
	}
	spec := reconcile.RowDiffSpec{
		LegacyRelation: p.Legacy.Relation, ELTRelation: p.ELT.Relation, Keys: p.Keys, Columns: columns,
		TimeColumn: p.TimeColumn, Window: w, Normalize: n,
	}
	// The sample is stratified by the pair's segments that the diff reads.
	for _, s := range p.Segments {
		if slices.Contains(p.Keys, s) || slices.Contains(columns, s) {
			spec.Segments = append(spec.Segments, s)
		}
	}
	// Each measure's tolerance from the plan applies to its column's row values as it
	// does to the aggregates.
	for _, m := range p.Measures {
		col := m.Column
		if col == "" {
			col = m.Name
		}
		if tol := m.Tol(); slices.Contains(spec.Columns, col) && (tol.Absolute != nil || tol.Relative != nil) {
			if spec.Tolerance == nil {
				spec.Tolerance = map[string]plan.Tolerance{}
			}
			spec.Tolerance[col] = tol
		}
	}
	for col, t := range o.NumericTolerance {
		if slices.Contains(spec.Columns, col) {
			if spec.NumericTolerance == nil {
				spec.NumericTolerance = map[string]float64{}
			}
			spec.NumericTolerance[col] = t
		}
	}
	return spec
}

// RowDiffHeartbeat is RowDiffPair's heartbeat detail: where the diff is (shown in
// the UI's pending activity).
type RowDiffHeartbeat struct {
	Output string `json:"output"`
	reconcile.RowDiffProgress
}

// RowDiffPair compares the pair's rows by key on each side's connection
// (reconcile.RowDiff: checksum bisection, only differing rows travel), heartbeating
// while it runs. Being stopped by MaxRowsFetched or MaxSeconds is a result (Bounded),
// not an error; a spec the relations cannot satisfy is BadInput.
func (a *Activities) RowDiffPair(ctx context.Context, in RowDiffInput) (*reconcile.RowDiffResult, error) {
	if len(in.Pair.Keys) == 0 {
		return nil, badInputError(fmt.Errorf("row diff of %s: the output pair has no keys", in.Pair.Name))
	}
	legacy, err := a.Conns.Get(ctx, in.Pair.Legacy.Connection)
	if err != nil {
		return nil, err
	}
	elt, err := a.Conns.Get(ctx, in.Pair.ELT.Connection)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	hb := startHeartbeat(ctx, RowDiffHeartbeat{Output: in.Pair.Name, RowDiffProgress: reconcile.RowDiffProgress{Level: "starting"}})
	defer hb.stop()
	lim := reconcile.RowDiffLimits{MaxRowsFetched: in.Options.MaxRowsFetched, SampleSize: in.Options.SampleSize, NormalisationOnlyMaxRows: in.Options.NormalisationOnlyMaxRows,
		MaxDuration: time.Duration(in.Options.MaxSeconds) * time.Second,
		Progress:    func(p reconcile.RowDiffProgress) { hb.set(RowDiffHeartbeat{Output: in.Pair.Name, RowDiffProgress: p}) }}
	var shared []string
	if len(in.Pair.Compare) == 0 {
		if shared, err = reconcile.SharedColumns(ctx, legacy, elt, in.Pair.Legacy.Relation, in.Pair.ELT.Relation); err != nil {
			return nil, classify(fmt.Errorf("row diff of %s: %w", in.Pair.Name, err))
		}
	}
	res, err := reconcile.RowDiff(ctx, legacy, elt, RowDiffSpec(in.Pair, in.Window, in.Options, RowDiffColumns(in.Pair, shared)), lim)
	if err != nil {
		return nil, classify(fmt.Errorf("row diff of %s: %w", in.Pair.Name, err))
	}
	if in.RunID != "" {
		control, err := a.control(ctx)
		if err != nil {
			return nil, err
		}
		if err := reconcile.SaveRowDiff(ctx, control, in.RunID, res); err != nil {
			return nil, err
		}
	}
	if in.RunID != "" {
		// The stored sample is whole; the result carries a bounded one.
		res = res.BoundedForResult()
	}
	activity.GetLogger(ctx).Info("row diff done", "output", in.Pair.Name, "missing_in_legacy", res.MissingInLegacy,
		"missing_in_elt", res.MissingInELT, "mismatched", res.Mismatched, "within_tolerance", res.WithinTolerance,
		"normalisation_only", res.NormalisationOnly,
		"bounded", res.Bounded, "rows_fetched", res.RowsFetched, "queries", res.Queries, "seconds", time.Since(started).Seconds())
	return &res, nil
}

// ReportRowDiff maps a pair's row diff into the report (nil when none ran). A key
// reads "col=value, ..." by column name; a column's values are shown as compared
// (normalised; before the value rules for a normalisation-only difference), cut to
// reconcile.ResultValueChars, NULL as <null>.
func ReportRowDiff(d *reconcile.RowDiffResult) *report.RowDiff {
	if d == nil {
		return nil
	}
	out := &report.RowDiff{MissingInLegacy: d.MissingInLegacy, MissingInELT: d.MissingInELT, Mismatched: d.Mismatched,
		WithinTolerance: d.WithinTolerance, NormalisationOnly: d.NormalisationOnly, NormalisationOnlyBounded: d.NormalisationOnlyBounded,
		Bounded: d.Bounded, RowsFetched: d.RowsFetched, BytesFetched: d.BytesFetched, SampleStored: max(d.SampleStored, len(d.Sample))}
	if d.Bounded {
		out.BoundReason = strings.ReplaceAll(d.BoundReason, "_", " ")
		if d.UnexaminedRows > 0 {
			out.BoundReason += fmt.Sprintf("; %d rows of differing buckets unexamined", d.UnexaminedRows)
		}
	}
	for _, k := range d.Sample {
		names := make([]string, 0, len(k.Key))
		for n := range k.Key {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + "=" + k.Key[n]
		}
		kd := report.KeyDiff{Key: strings.Join(parts, ", "), Kind: strings.ReplaceAll(k.Kind, "_", " "), Cause: reconcile.CauseOfKind(k.Kind),
			Segment: reconcile.CutText(k.Segment, reconcile.ResultValueChars)}
		for _, c := range k.Columns {
			kd.Columns = append(kd.Columns, report.ColumnDiff{Column: c.Column,
				Legacy: reconcile.CutText(c.Legacy, reconcile.ResultValueChars), ELT: reconcile.CutText(c.ELT, reconcile.ResultValueChars),
				LegacyNull: c.LegacyNull, ELTNull: c.ELTNull, WithinTolerance: c.WithinTolerance, NormalisationOnly: c.NormalisationOnly})
		}
		out.Sample = append(out.Sample, kd)
	}
	return out
}
