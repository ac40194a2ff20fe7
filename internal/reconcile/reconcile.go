// Package reconcile compares a legacy output with the ELT output that replaces it,
// for a time window, each side computed in its own database (pushed down: only
// aggregates travel). This first level compares totals: the row count, and each
// measure's sum and null count, against the measure's tolerance, and the NULL count
// of each other compared column (ColumnNulls). Results are kept exactly (big.Rat),
// and written to etl2elt.reconcile_runs / reconcile_results.
//
// Segmented aggregates and row-level diffs build on the same Check type; causes.go
// classifies their differences by cause for reports.
package reconcile

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// Status of a check or a run. NoData is a run whose window holds no row on either
// side: nothing was compared, so it is not a pass.
const (
	Pass   = "pass"
	Fail   = "fail"
	NoData = "no-data"
)

// PairStatus is a pair's status from its checks: fail with a breach, no-data when both
// sides were empty, else pass.
func PairStatus(checks []Check) string {
	switch {
	case Breaches(checks) > 0:
		return Fail
	case Empty(checks):
		return NoData
	}
	return Pass
}

// RunStatus folds the statuses of a run's output pairs: fail when one is neither pass
// nor no-data, no-data when every pair compared nothing, else pass (no pair: pass).
func RunStatus(pairs []string) string {
	empty := 0
	for _, st := range pairs {
		switch st {
		case NoData:
			empty++
		case Pass:
		default:
			return Fail
		}
	}
	if len(pairs) > 0 && empty == len(pairs) {
		return NoData
	}
	return Pass
}

// Empty reports whether the checks compared two empty sides: the totals' row count is
// 0 on both (a pair without totals is not empty).
func Empty(checks []Check) bool {
	for _, c := range checks {
		if c.Segment == "" && c.Metric == MetricRowCount {
			return c.Legacy == "0" && c.ELT == "0"
		}
	}
	return false
}

// Metrics compared per measure, and per column of ColumnNulls (the measure of a
// column's check is the column's name).
const (
	MetricRowCount  = "row_count"
	MetricSum       = "sum"
	MetricNullCount = "null_count"
	// MetricNullOrEmptyCount is a column's NULL count when the plan normalises
	// null_equals_empty: a value that is '' (after trimming, with trim) counts too.
	MetricNullOrEmptyCount = "null_or_empty_count"
	// MetricNullCountUnnormalised is the NULLs alone of a column whose
	// null_or_empty_count matches while its NULLs differ: a difference the
	// normalisation accepts, recorded as a passing check (only then).
	MetricNullCountUnnormalised = "null_count_unnormalised"
)

// ColumnNulls asks the aggregates for each column's NULL count, in the totals and
// every segment: the columns a pair compares besides its keys, segments and
// measures, so that a ” that became NULL is found without a row diff. With
// NullEqualsEmpty (the plan's normalisation) a value that is ” (after trimming with
// Trim) counts as NULL, and the NULLs alone are counted too, so that a difference
// the normalisation accepts is reported as such (MetricNullCountUnnormalised).
type ColumnNulls struct {
	Columns         []string `json:"columns,omitempty"`
	NullEqualsEmpty bool     `json:"null_equals_empty,omitempty"`
	Trim            bool     `json:"trim,omitempty"`
}

// NullCount is a column's NULL count on one side: Judged with the pair's
// normalisation, Raw the NULLs alone (only under NullEqualsEmpty).
type NullCount struct{ Judged, Raw *big.Rat }

// aggregateExprs is one side's select list of aggregates: count(*), each measure's
// sum and null count, then each column's NULL count (and NULLs alone under
// NullEqualsEmpty). Only count and sum: the SQL PostgreSQL and Redshift share.
func aggregateExprs(measures []plan.Measure, nulls ColumnNulls) ([]string, error) {
	exprs := []string{"count(*)::text"}
	for _, m := range measures {
		col := m.ColumnName()
		if err := ident.Validate(col); err != nil {
			return nil, err
		}
		exprs = append(exprs, fmt.Sprintf("sum(%s)::text", ident.Quote(col)), fmt.Sprintf("(count(*) - count(%s))::text", ident.Quote(col)))
	}
	for _, col := range nulls.Columns {
		if err := ident.Validate(col); err != nil {
			return nil, err
		}
		q := ident.Quote(col)
		if !nulls.NullEqualsEmpty {
			exprs = append(exprs, fmt.Sprintf("(count(*) - count(%s))::text", q))
			continue
		}
		text := "CAST(" + q + " AS text)"
		if nulls.Trim {
			text = "BTRIM(" + text + ")"
		}
		exprs = append(exprs, fmt.Sprintf("(count(*) - count(NULLIF(%s, '')))::text", text), fmt.Sprintf("(count(*) - count(%s))::text", q))
	}
	return exprs, nil
}

// readTotals reads the values of aggregateExprs.
func readTotals(vals []*string, measures []plan.Measure, nulls ColumnNulls) Totals {
	t := Totals{Rows: rat(vals[0]), Sums: map[string]*big.Rat{}, Nulls: map[string]*big.Rat{}}
	for i, m := range measures {
		t.Sums[m.Name] = rat(vals[1+2*i])
		t.Nulls[m.Name] = rat(vals[2+2*i])
	}
	if len(nulls.Columns) > 0 {
		t.ColumnNulls = map[string]NullCount{}
	}
	at := 1 + 2*len(measures)
	for _, col := range nulls.Columns {
		n := NullCount{Judged: rat(vals[at])}
		at++
		if nulls.NullEqualsEmpty {
			n.Raw = rat(vals[at])
			at++
		}
		t.ColumnNulls[col] = n
	}
	return t
}

// Querier is what a side needs for totals: a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// segmentQuerier runs the GROUP BY of segmented aggregates.
type segmentQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Totals are one side's aggregates over a window.
type Totals struct {
	Rows  *big.Rat
	Sums  map[string]*big.Rat // nil value: every value NULL (SUM is NULL)
	Nulls map[string]*big.Rat
	// ColumnNulls are the NULL counts of ColumnNulls.Columns, by column.
	ColumnNulls map[string]NullCount
}

// ComputeTotals aggregates rel over w on q: count(*), and for each measure its sum
// and null count. Identifiers are validated and quoted; bounds are parameters.
func ComputeTotals(ctx context.Context, q Querier, relation, timeColumn string, measures []plan.Measure, w window.Window) (Totals, error) {
	return ComputeTotalsWith(ctx, q, relation, timeColumn, measures, ColumnNulls{}, w)
}

// ComputeTotalsWith is ComputeTotals with each column of nulls' NULL count.
func ComputeTotalsWith(ctx context.Context, q Querier, relation, timeColumn string, measures []plan.Measure, nulls ColumnNulls, w window.Window) (Totals, error) {
	rel, err := ident.ParseRelation(relation)
	if err != nil {
		return Totals{}, err
	}
	if err := ident.Validate(timeColumn); err != nil {
		return Totals{}, err
	}
	exprs, err := aggregateExprs(measures, nulls)
	if err != nil {
		return Totals{}, err
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= $1 AND %s < $2",
		strings.Join(exprs, ", "), rel.Quoted(), ident.Quote(timeColumn), ident.Quote(timeColumn))
	vals := make([]*string, len(exprs))
	dest := make([]any, len(exprs))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := q.QueryRow(ctx, sql, w.From, w.To).Scan(dest...); err != nil {
		return Totals{}, fmt.Errorf("totals of %s: %w", rel, err)
	}
	return readTotals(vals, measures, nulls), nil
}

func rat(s *string) *big.Rat {
	if s == nil {
		return nil
	}
	r, ok := new(big.Rat).SetString(*s)
	if !ok {
		return nil
	}
	return r
}

// Check is one compared number.
type Check struct {
	Segment            string   `json:"segment,omitempty"`
	Measure            string   `json:"measure"`
	Metric             string   `json:"metric"`
	Legacy             string   `json:"legacy"`
	ELT                string   `json:"elt"`
	Difference         string   `json:"difference"`
	RelativeDifference *float64 `json:"relative_difference,omitempty"`
	ToleranceAbsolute  *float64 `json:"tolerance_absolute,omitempty"`
	ToleranceRelative  *float64 `json:"tolerance_relative,omitempty"`
	Status             string   `json:"status"`
}

// CompareTotals compares legacy with ELT for an output pair: the row count against
// the pair's row-count tolerance, each measure's sum against the measure's tolerance,
// and null counts exactly: the measures', then each counted column's (by name).
func CompareTotals(pair plan.OutputPair, legacy, elt Totals) []Check {
	checks := []Check{compare("", "*", MetricRowCount, legacy.Rows, elt.Rows, pair.RowCountTolerance)}
	for _, m := range pair.Measures {
		checks = append(checks,
			compare("", m.Name, MetricSum, legacy.Sums[m.Name], elt.Sums[m.Name], m.Tol()),
			compare("", m.Name, MetricNullCount, legacy.Nulls[m.Name], elt.Nulls[m.Name], plan.Tolerance{}))
	}
	return append(checks, compareColumnNulls(legacy.ColumnNulls, elt.ColumnNulls)...)
}

// compareColumnNulls compares each column's NULL count exactly (a side without the
// column, such as a segment it lacks, fails). Under null_equals_empty the judged
// count is null_or_empty_count; when it matches and the NULLs alone do not, a passing
// null_count_unnormalised check records the difference the normalisation accepts.
func compareColumnNulls(legacy, elt map[string]NullCount) []Check {
	cols := make([]string, 0, len(legacy)+len(elt))
	for c := range legacy {
		cols = append(cols, c)
	}
	for c := range elt {
		if _, ok := legacy[c]; !ok {
			cols = append(cols, c)
		}
	}
	sort.Strings(cols)
	var checks []Check
	for _, col := range cols {
		l, e := legacy[col], elt[col]
		normalised := l.Raw != nil || e.Raw != nil
		metric := MetricNullCount
		if normalised {
			metric = MetricNullOrEmptyCount
		}
		c := compare("", col, metric, l.Judged, e.Judged, plan.Tolerance{})
		checks = append(checks, c)
		if normalised && c.Status == Pass {
			if raw := compare("", col, MetricNullCountUnnormalised, l.Raw, e.Raw, plan.Tolerance{}); raw.Status != Pass {
				raw.Status = Pass // accepted by the plan's normalisation
				checks = append(checks, raw)
			}
		}
	}
	return checks
}

// compare checks one number. Two NULLs are equal; NULL against a value fails. The
// difference is elt - legacy; the relative difference is |diff| / |legacy|, absent
// when legacy is zero and elt is not (only an absolute tolerance can pass it then).
func compare(segment, measure, metric string, legacy, elt *big.Rat, tol plan.Tolerance) Check {
	c := Check{Segment: segment, Measure: measure, Metric: metric, Legacy: str(legacy), ELT: str(elt),
		ToleranceAbsolute: tol.Absolute, ToleranceRelative: tol.Relative}
	if legacy == nil || elt == nil {
		if legacy == nil && elt == nil {
			c.Status = Pass
		} else {
			c.Status = Fail
		}
		return c
	}
	diff := new(big.Rat).Sub(elt, legacy)
	c.Difference = diff.FloatString(scale(diff))
	absDiff := new(big.Rat).Abs(diff)
	switch {
	case absDiff.Sign() == 0:
		zero := 0.0
		c.RelativeDifference = &zero
	case legacy.Sign() != 0:
		rel, _ := new(big.Rat).Quo(absDiff, new(big.Rat).Abs(legacy)).Float64()
		c.RelativeDifference = &rel
	}
	c.Status = Fail
	if WithinTolerance(absDiff, c.RelativeDifference, tol) {
		c.Status = Pass
	}
	return c
}

// WithinTolerance is the tolerance rule: an exact match always passes; otherwise the
// difference passes when it is within the absolute or within the relative bound
// (whichever are set). With no bound set, only an exact match passes.
func WithinTolerance(absDiff *big.Rat, rel *float64, tol plan.Tolerance) bool {
	if absDiff.Sign() == 0 {
		return true
	}
	if tol.Absolute != nil {
		bound := new(big.Rat)
		if bound.SetFloat64(*tol.Absolute) != nil && absDiff.Cmp(bound) <= 0 {
			return true
		}
	}
	return tol.Relative != nil && rel != nil && *rel <= *tol.Relative
}

func str(r *big.Rat) string {
	if r == nil {
		return ""
	}
	return r.FloatString(scale(r))
}

// scale is the number of decimals needed to show r exactly (up to 12).
func scale(r *big.Rat) int {
	if r.IsInt() {
		return 0
	}
	for s := 1; s <= 12; s++ {
		m := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
		if m.IsInt() {
			return s
		}
	}
	return 12
}

// Breaches counts failed checks.
func Breaches(checks []Check) int {
	n := 0
	for _, c := range checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}
