package report

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"

	"etl2elt/internal/reconcile"
)

// CauseRow is one cause of a pair's differences (reconcile.Causes): how many
// aggregate checks, segments and rows have it, whether it fails the pair, and its
// worst examples, worst first.
type CauseRow struct {
	Cause, Title string
	// Checks are aggregate checks (totals, and segments both sides have); Segments
	// are segments one side lacks; Rows are the row diff's rows, a lower bound when
	// RowsAtLeast.
	Checks, Segments int
	Rows             int64
	RowsAtLeast      bool
	// Fails says the cause is a breach: it fails the pair.
	Fails    bool
	Examples []string
}

// Count is the row's counts as text: "2 check(s) · 541 row(s)".
func (c CauseRow) Count() string {
	var parts []string
	if c.Segments > 0 {
		parts = append(parts, fmt.Sprintf("%d segment(s)", c.Segments))
	}
	if c.Checks > 0 {
		parts = append(parts, fmt.Sprintf("%d check(s)", c.Checks))
	}
	if c.Rows > 0 || c.RowsAtLeast {
		at := ""
		if c.RowsAtLeast {
			at = "≥ "
		}
		parts = append(parts, fmt.Sprintf("%s%d row(s)", at, c.Rows))
	}
	return strings.Join(parts, " · ")
}

// maxCauseExamples bounds a cause's examples of each level (aggregates, rows).
const maxCauseExamples = 3

var causeTitles = map[string]string{
	reconcile.CauseKeyMissingInELT:        "Keys missing in ELT (legacy only)",
	reconcile.CauseKeyMissingInLegacy:     "Keys missing in legacy (ELT only)",
	reconcile.CauseSegmentMissingInELT:    "Segments missing in ELT (legacy only)",
	reconcile.CauseSegmentMissingInLegacy: "Segments missing in legacy (ELT only)",
	reconcile.CauseOutsideTolerance:       "Values outside tolerance",
	reconcile.CauseWithinTolerance:        "Values within tolerance",
	reconcile.CauseNormalisationOnly:      "Normalisation-only differences",
}

// Causes groups a pair's differences by cause, in reconcile.Causes order, the
// causes present only. Examples, worst first: aggregate checks by relative
// difference (undefined, legacy 0 or NULL, first), segments a side lacks by the
// rows the other side has, sampled rows by their largest relative difference (a
// NULL or a text value first), keys missing on a side in sample order. Counts of
// checks come from CheckCauses when set (the checks carried may be a part).
func Causes(p Pair) []CauseRow {
	oneSided, rowsOf := oneSidedSegments(p)
	byCause := map[string]*CauseRow{}
	row := func(cause string) *CauseRow {
		if byCause[cause] == nil {
			byCause[cause] = &CauseRow{Cause: cause, Title: causeTitles[cause]}
		}
		return byCause[cause]
	}
	// Segments one side lacks.
	for _, side := range []struct {
		cause string
		names []string
		count int
	}{
		{reconcile.CauseSegmentMissingInELT, p.OnlyInLegacy, p.OnlyInLegacyCount},
		{reconcile.CauseSegmentMissingInLegacy, p.OnlyInELT, p.OnlyInELTCount},
	} {
		var segs []string
		for s, c := range oneSided {
			if c == side.cause {
				segs = append(segs, s)
			}
		}
		n := max(side.count, len(side.names), len(segs))
		if n == 0 {
			continue
		}
		sort.Slice(segs, func(i, j int) bool {
			a, b := rowsOf[segs[i]], rowsOf[segs[j]]
			switch {
			case a != nil && b != nil && a.Cmp(b) != 0:
				return a.Cmp(b) > 0
			case (a == nil) != (b == nil):
				return b == nil
			}
			return segs[i] < segs[j]
		})
		r := row(side.cause)
		r.Segments = n
		where := "legacy"
		if side.cause == reconcile.CauseSegmentMissingInLegacy {
			where = "ELT"
		}
		for _, s := range segs[:min(len(segs), maxCauseExamples)] {
			if n := rowsOf[s]; n != nil {
				s = fmt.Sprintf("%s (%s row(s) in %s)", s, n.FloatString(0), where)
			}
			r.Examples = append(r.Examples, s)
		}
	}
	// Aggregate checks of segments both sides have, and the totals.
	byCheck := map[string][]Check{}
	counted := map[string]int{}
	for _, c := range p.Checks {
		if _, ok := oneSided[c.Segment]; ok {
			continue
		}
		if cause := reconcile.CheckCause(toReconcile(c), false, false); cause != "" {
			byCheck[cause] = append(byCheck[cause], c)
			counted[cause]++
		}
	}
	if p.CheckCauses != nil {
		counted = p.CheckCauses
	}
	for _, cause := range []string{reconcile.CauseOutsideTolerance, reconcile.CauseWithinTolerance, reconcile.CauseNormalisationOnly} {
		if counted[cause] == 0 && len(byCheck[cause]) == 0 {
			continue
		}
		r := row(cause)
		r.Checks = max(counted[cause], len(byCheck[cause]))
		checks := byCheck[cause]
		sort.SliceStable(checks, func(i, j int) bool { return checkSeverity(checks[i]) > checkSeverity(checks[j]) })
		for _, c := range checks[:min(len(checks), maxCauseExamples)] {
			r.Examples = append(r.Examples, checkExample(c))
		}
	}
	// Rows of the row diff, and their sample.
	if d := p.RowDiff; d != nil {
		for cause, n := range map[string]int64{
			reconcile.CauseKeyMissingInELT: d.MissingInELT, reconcile.CauseKeyMissingInLegacy: d.MissingInLegacy,
			reconcile.CauseOutsideTolerance: d.Mismatched, reconcile.CauseWithinTolerance: d.WithinTolerance,
			reconcile.CauseNormalisationOnly: d.NormalisationOnly,
		} {
			normBounded := cause == reconcile.CauseNormalisationOnly && d.NormalisationOnlyBounded
			atLeast := d.Bounded || normBounded
			if n > 0 || normBounded {
				r := row(cause)
				r.Rows, r.RowsAtLeast = n, atLeast
			}
		}
		for _, cause := range reconcile.Causes {
			var keys []KeyDiff
			for _, k := range d.Sample {
				if k.Cause == cause {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 || byCause[cause] == nil {
				continue
			}
			if cause == reconcile.CauseOutsideTolerance || cause == reconcile.CauseWithinTolerance {
				sort.SliceStable(keys, func(i, j int) bool { return rowSeverity(keys[i]) > rowSeverity(keys[j]) })
			}
			for _, k := range keys[:min(len(keys), maxCauseExamples)] {
				byCause[cause].Examples = append(byCause[cause].Examples, rowExample(k))
			}
		}
	}
	var out []CauseRow
	for _, cause := range reconcile.Causes {
		if r := byCause[cause]; r != nil {
			r.Fails = cause != reconcile.CauseWithinTolerance && cause != reconcile.CauseNormalisationOnly
			out = append(out, *r)
		}
	}
	return out
}

// oneSidedSegments finds the segments one side lacks, from the lists and from the
// row-count checks (a side without the segment has no row count: count(*) is never
// NULL), with the rows the other side has (when a row-count check says).
func oneSidedSegments(p Pair) (map[string]string, map[string]*big.Rat) {
	out, rows := map[string]string{}, map[string]*big.Rat{}
	for _, s := range p.OnlyInLegacy {
		out[s] = reconcile.CauseSegmentMissingInELT
	}
	for _, s := range p.OnlyInELT {
		out[s] = reconcile.CauseSegmentMissingInLegacy
	}
	for _, c := range p.Checks {
		if c.Segment == "" || c.Metric != reconcile.MetricRowCount {
			continue
		}
		switch {
		case c.Legacy == "" && c.ELT != "":
			out[c.Segment], rows[c.Segment] = reconcile.CauseSegmentMissingInLegacy, ratOf(c.ELT)
		case c.ELT == "" && c.Legacy != "":
			out[c.Segment], rows[c.Segment] = reconcile.CauseSegmentMissingInELT, ratOf(c.Legacy)
		}
	}
	return out, rows
}

func ratOf(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

func toReconcile(c Check) reconcile.Check {
	return reconcile.Check{Segment: c.Segment, Measure: c.Measure, Metric: c.Metric, Legacy: c.Legacy, ELT: c.ELT,
		Difference: c.Difference, RelativeDifference: c.RelativeDifference, Status: c.Status}
}

// checkSeverity orders checks worst first: an undefined relative difference (legacy
// 0 or NULL) above any number.
func checkSeverity(c Check) float64 {
	if c.RelativeDifference == nil {
		if c.Difference == "0" || (c.Difference == "" && c.Legacy == c.ELT) {
			return 0
		}
		return math.Inf(1)
	}
	return *c.RelativeDifference
}

func checkExample(c Check) string {
	seg := c.Segment
	if seg == "" {
		seg = "total"
	}
	what := c.Measure + " " + c.Metric
	switch c.Metric {
	case reconcile.MetricRowCount:
		what = "rows"
	case reconcile.MetricNullCountUnnormalised:
		return fmt.Sprintf("%s · %s NULLs: %s → %s (%s; NULL-or-empty counts equal under null_equals_empty)", seg, c.Measure, dash(c.Legacy), dash(c.ELT), signed(c.Difference))
	}
	return fmt.Sprintf("%s · %s: %s → %s (%s, %s; tolerance %s)", seg, what, dash(c.Legacy), dash(c.ELT), signed(c.Difference),
		relText(c.RelativeDifference), tolText(c.ToleranceAbsolute, c.ToleranceRelative))
}

// rowSeverity is a sampled row's largest relative difference over the columns that
// make its cause (a mismatched row's columns within tolerance do not): a NULL or a
// value that is not a number is the largest.
func rowSeverity(k KeyDiff) float64 {
	worst := 0.0
	for _, c := range k.Columns {
		if k.Cause == reconcile.CauseOutsideTolerance && c.WithinTolerance {
			continue
		}
		worst = max(worst, columnRel(c))
	}
	return worst
}

func columnRel(c ColumnDiff) float64 {
	if c.LegacyNull || c.ELTNull {
		return math.Inf(1)
	}
	l, ok1 := new(big.Rat).SetString(c.Legacy)
	e, ok2 := new(big.Rat).SetString(c.ELT)
	if !ok1 || !ok2 {
		return math.Inf(1)
	}
	diff := new(big.Rat).Sub(e, l)
	if diff.Sign() == 0 {
		return 0
	}
	if l.Sign() == 0 {
		return math.Inf(1)
	}
	f, _ := new(big.Rat).Quo(diff.Abs(diff), new(big.Rat).Abs(l)).Float64()
	return f
}

func rowExample(k KeyDiff) string {
	s := k.Key
	if k.Segment != "" {
		s += " [" + k.Segment + "]"
	}
	var cols []string
	for _, c := range k.Columns {
		if len(cols) == maxCauseExamples {
			cols = append(cols, fmt.Sprintf("and %d more column(s)", len(k.Columns)-maxCauseExamples))
			break
		}
		cols = append(cols, fmt.Sprintf("%s %s → %s", c.Column, shown(c.Legacy, c.LegacyNull), shown(c.ELT, c.ELTNull)))
	}
	if len(cols) > 0 {
		s += ": " + strings.Join(cols, ", ")
	}
	return s
}

// shown is a compared value as the report prints it: a NULL as <null>, an empty
// string as two single quotes.
func shown(v string, null bool) string {
	switch {
	case null:
		return "<null>"
	case v == "":
		return "''"
	}
	return v
}
