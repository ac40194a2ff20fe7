package reconcile

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

func TestCheckCause(t *testing.T) {
	tests := []struct {
		name                    string
		check                   Check
		onlyInLegacy, onlyInELT bool
		want                    string
	}{
		{"equal", Check{Metric: MetricSum, Legacy: "10", ELT: "10", Difference: "0", Status: Pass}, false, false, ""},
		{"both NULL", Check{Metric: MetricSum, Status: Pass}, false, false, ""},
		{"within tolerance", Check{Metric: MetricSum, Legacy: "1000", ELT: "1000.01", Difference: "0.01", Status: Pass}, false, false, CauseWithinTolerance},
		{"outside tolerance", Check{Metric: MetricSum, Legacy: "100", ELT: "130", Difference: "30", Status: Fail}, false, false, CauseOutsideTolerance},
		{"NULL against a value", Check{Metric: MetricSum, Legacy: "100", Status: Fail}, false, false, CauseOutsideTolerance},
		{"a column's NULLs differ", Check{Metric: MetricNullCount, Measure: "note", Legacy: "0", ELT: "200", Difference: "200", Status: Fail}, false, false, CauseOutsideTolerance},
		{"NULLs the normalisation accepts", Check{Metric: MetricNullCountUnnormalised, Measure: "note", Legacy: "0", ELT: "200", Difference: "200", Status: Pass}, false, false, CauseNormalisationOnly},
		{"segment only in legacy", Check{Segment: "region=apac", Metric: MetricRowCount, Legacy: "5", Status: Fail}, true, false, CauseSegmentMissingInELT},
		{"segment only in ELT", Check{Segment: "region=latam", Metric: MetricRowCount, ELT: "5", Status: Fail}, false, true, CauseSegmentMissingInLegacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, CheckCause(tt.check, tt.onlyInLegacy, tt.onlyInELT))
		})
	}
}

func TestCountCauses(t *testing.T) {
	checks := []Check{
		{Metric: MetricRowCount, Legacy: "10", ELT: "10", Difference: "0", Status: Pass},
		{Metric: MetricSum, Measure: "revenue", Legacy: "100", ELT: "100.01", Difference: "0.01", Status: Pass},
		{Segment: "region=amer", Metric: MetricSum, Measure: "revenue", Legacy: "40", ELT: "70", Difference: "30", Status: Fail},
		{Segment: "region=emea", Metric: MetricSum, Measure: "revenue", Legacy: "60", ELT: "30", Difference: "-30", Status: Fail},
		{Segment: "region=emea", Metric: MetricNullCountUnnormalised, Measure: "note", Legacy: "0", ELT: "3", Difference: "3", Status: Pass},
		{Segment: "region=apac", Metric: MetricRowCount, Legacy: "5", Status: Fail},
		{Segment: "region=apac", Metric: MetricSum, Measure: "revenue", Legacy: "5", Status: Fail},
		{Segment: "region=latam", Metric: MetricRowCount, ELT: "1", Status: Fail},
	}
	require.Equal(t, map[string]int{
		CauseWithinTolerance: 1, CauseOutsideTolerance: 2, CauseNormalisationOnly: 1,
		CauseSegmentMissingInELT: 1, CauseSegmentMissingInLegacy: 1,
	}, CountCauses(checks, []string{"region=apac"}, []string{"region=latam"}), "a one-sided segment counts once")
}

func TestCompareColumnNulls(t *testing.T) {
	n := func(judged, raw string) NullCount {
		c := NullCount{Judged: r(judged)}
		if raw != "" {
			c.Raw = r(raw)
		}
		return c
	}
	type got struct{ Measure, Metric, Difference, Status string }
	tests := []struct {
		name        string
		legacy, elt map[string]NullCount
		want        []got
	}{
		{
			name:   "'' became NULL on 200 rows: found",
			legacy: map[string]NullCount{"note": n("0", "")},
			elt:    map[string]NullCount{"note": n("200", "")},
			want:   []got{{"note", MetricNullCount, "200", Fail}},
		},
		{
			name:   "'' became NULL, the plan normalises null_equals_empty: accepted, and said",
			legacy: map[string]NullCount{"note": n("200", "0")},
			elt:    map[string]NullCount{"note": n("200", "200")},
			want:   []got{{"note", MetricNullOrEmptyCount, "0", Pass}, {"note", MetricNullCountUnnormalised, "200", Pass}},
		},
		{
			name:   "null_equals_empty, but more NULL-or-empty values: a breach, nothing else to say",
			legacy: map[string]NullCount{"note": n("200", "0")},
			elt:    map[string]NullCount{"note": n("210", "210")},
			want:   []got{{"note", MetricNullOrEmptyCount, "10", Fail}},
		},
		{
			name:   "null_equals_empty, same NULLs: one check",
			legacy: map[string]NullCount{"note": n("5", "2")},
			elt:    map[string]NullCount{"note": n("5", "2")},
			want:   []got{{"note", MetricNullOrEmptyCount, "0", Pass}},
		},
		{
			name:   "a segment ELT lacks: every column fails, in column order",
			legacy: map[string]NullCount{"status": n("0", ""), "note": n("1", "")},
			want:   []got{{"note", MetricNullCount, "", Fail}, {"status", MetricNullCount, "", Fail}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []got
			for _, c := range compareColumnNulls(tt.legacy, tt.elt) {
				out = append(out, got{c.Measure, c.Metric, c.Difference, c.Status})
			}
			require.Equal(t, tt.want, out)
		})
	}
	checks := CompareTotals(plan.OutputPair{}, Totals{Rows: big.NewRat(3, 1), ColumnNulls: tests[0].legacy}, Totals{Rows: big.NewRat(3, 1), ColumnNulls: tests[0].elt})
	require.Len(t, checks, 2, "row count, then the column's NULLs")
	require.Equal(t, 1, Breaches(checks))
}
