package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"etl2elt/internal/reconcile"
)

// causesPair has a difference of every cause, at both levels where there is one.
func causesPair() Pair {
	rel := 0.001
	return Pair{Output: "orders", Status: "fail", OnlyInLegacy: []string{"region=apac"}, OnlyInELT: []string{"region=latam"},
		Checks: []Check{
			{Measure: "*", Metric: "row_count", Legacy: "100", ELT: "100", Difference: "0", RelativeDifference: f(0), Status: "pass"},
			{Measure: "amount", Metric: "sum", Legacy: "1000", ELT: "1000.5", Difference: "0.5", RelativeDifference: f(0.0005), ToleranceRelative: &rel, Status: "pass"},
			{Segment: "region=amer", Measure: "amount", Metric: "sum", Legacy: "400", ELT: "430", Difference: "30", RelativeDifference: f(0.075), ToleranceRelative: &rel, Status: "fail"},
			{Segment: "region=emea", Measure: "amount", Metric: "sum", Legacy: "0", ELT: "5", Difference: "5", ToleranceRelative: &rel, Status: "fail"},
			{Segment: "region=north", Measure: "amount", Metric: "sum", Legacy: "100", ELT: "101", Difference: "1", RelativeDifference: f(0.01), ToleranceRelative: &rel, Status: "fail"},
			{Segment: "region=emea", Measure: "note", Metric: "null_count_unnormalised", Legacy: "0", ELT: "200", Difference: "200", Status: "pass"},
			{Segment: "region=apac", Measure: "*", Metric: "row_count", Legacy: "7", Status: "fail"},
			{Segment: "region=apac", Measure: "amount", Metric: "sum", Legacy: "70", Status: "fail"},
			{Segment: "region=latam", Measure: "*", Metric: "row_count", ELT: "2", Status: "fail"},
			// A segment ELT lacks beyond the listed ones: known by its row count.
			{Segment: "region=mars", Measure: "*", Metric: "row_count", Legacy: "9", Status: "fail"},
		},
		RowDiff: &RowDiff{MissingInELT: 2, MissingInLegacy: 1, Mismatched: 3, WithinTolerance: 1, NormalisationOnly: 200, NormalisationOnlyBounded: true,
			Sample: []KeyDiff{
				{Key: "id=1", Kind: "missing in elt", Cause: reconcile.CauseKeyMissingInELT, Segment: "region=apac"},
				{Key: "id=2", Kind: "missing in legacy", Cause: reconcile.CauseKeyMissingInLegacy, Segment: "region=latam"},
				{Key: "id=3", Kind: "mismatched", Cause: reconcile.CauseOutsideTolerance, Segment: "region=amer", Columns: []ColumnDiff{
					{Column: "amount", Legacy: "10", ELT: "11"}, {Column: "qty", Legacy: "1", ELT: "9", WithinTolerance: true}}},
				{Key: "id=4", Kind: "within tolerance", Cause: reconcile.CauseWithinTolerance, Segment: "region=amer", Columns: []ColumnDiff{
					{Column: "amount", Legacy: "100", ELT: "100.01", WithinTolerance: true}}},
				{Key: "id=5", Kind: "normalisation only", Cause: reconcile.CauseNormalisationOnly, Segment: "region=emea", Columns: []ColumnDiff{
					{Column: "note", Legacy: "", ELT: "<null>", ELTNull: true, NormalisationOnly: true}}},
				{Key: "id=6", Kind: "mismatched", Cause: reconcile.CauseOutsideTolerance, Segment: "region=emea", Columns: []ColumnDiff{
					{Column: "status", Legacy: "open", ELT: "<null>", ELTNull: true}}},
				{Key: "id=7", Kind: "missing in elt", Cause: reconcile.CauseKeyMissingInELT, Segment: "region=amer"},
			}}}
}

func TestCauses(t *testing.T) {
	type row struct {
		Cause, Count string
		Fails        bool
		Examples     []string
	}
	tests := []struct {
		name string
		pair func() Pair
		want []row
	}{
		{
			name: "every cause, worst examples first",
			pair: causesPair,
			want: []row{
				{reconcile.CauseKeyMissingInELT, "2 row(s)", true, []string{"id=1 [region=apac]", "id=7 [region=amer]"}},
				{reconcile.CauseKeyMissingInLegacy, "1 row(s)", true, []string{"id=2 [region=latam]"}},
				{reconcile.CauseSegmentMissingInELT, "2 segment(s)", true, []string{"region=mars (9 row(s) in legacy)", "region=apac (7 row(s) in legacy)"}},
				{reconcile.CauseSegmentMissingInLegacy, "1 segment(s)", true, []string{"region=latam (2 row(s) in ELT)"}},
				{reconcile.CauseOutsideTolerance, "3 check(s) · 3 row(s)", true, []string{
					"region=emea · amount sum: 0 → 5 (+5, n/a; tolerance ±0.100 %)",
					"region=amer · amount sum: 400 → 430 (+30, 7.500 %; tolerance ±0.100 %)",
					"region=north · amount sum: 100 → 101 (+1, 1.000 %; tolerance ±0.100 %)",
					"id=6 [region=emea]: status open → <null>",
					"id=3 [region=amer]: amount 10 → 11, qty 1 → 9"}},
				{reconcile.CauseWithinTolerance, "1 check(s) · 1 row(s)", false, []string{
					"total · amount sum: 1000 → 1000.5 (+0.5, 0.050 %; tolerance ±0.100 %)", "id=4 [region=amer]: amount 100 → 100.01"}},
				{reconcile.CauseNormalisationOnly, "1 check(s) · ≥ 200 row(s)", false, []string{
					"region=emea · note NULLs: 0 → 200 (+200; NULL-or-empty counts equal under null_equals_empty)", "id=5 [region=emea]: note '' → <null>"}},
			},
		},
		{
			name: "counts of every check when the checks carried are a part",
			pair: func() Pair {
				p := causesPair()
				p.RowDiff, p.OnlyInLegacyCount = nil, 40
				p.CheckCauses = map[string]int{reconcile.CauseOutsideTolerance: 290, reconcile.CauseWithinTolerance: 12}
				return p
			},
			want: []row{
				{reconcile.CauseSegmentMissingInELT, "40 segment(s)", true, []string{"region=mars (9 row(s) in legacy)", "region=apac (7 row(s) in legacy)"}},
				{reconcile.CauseSegmentMissingInLegacy, "1 segment(s)", true, []string{"region=latam (2 row(s) in ELT)"}},
				{reconcile.CauseOutsideTolerance, "290 check(s)", true, []string{
					"region=emea · amount sum: 0 → 5 (+5, n/a; tolerance ±0.100 %)",
					"region=amer · amount sum: 400 → 430 (+30, 7.500 %; tolerance ±0.100 %)",
					"region=north · amount sum: 100 → 101 (+1, 1.000 %; tolerance ±0.100 %)"}},
				{reconcile.CauseWithinTolerance, "12 check(s)", false, []string{"total · amount sum: 1000 → 1000.5 (+0.5, 0.050 %; tolerance ±0.100 %)"}},
				{reconcile.CauseNormalisationOnly, "1 check(s)", false, []string{"region=emea · note NULLs: 0 → 200 (+200; NULL-or-empty counts equal under null_equals_empty)"}},
			},
		},
		{
			name: "nothing differs",
			pair: func() Pair {
				return Pair{Checks: []Check{{Measure: "*", Metric: "row_count", Legacy: "3", ELT: "3", Difference: "0", Status: "pass"}}, RowDiff: &RowDiff{}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []row
			for _, c := range Causes(tt.pair()) {
				r := row{c.Cause, c.Count(), c.Fails, c.Examples}
				require.Equal(t, causeTitles[c.Cause], c.Title)
				got = append(got, r)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReportSectionsByCause(t *testing.T) {
	r := Run{RunID: "r", Plan: "p", Domain: "d", Window: "w", Status: "fail", Pairs: []Pair{causesPair()}}
	md, err := Markdown(r)
	require.NoError(t, err)
	for _, want := range []string{
		"### Differences by cause\n\n| cause | count | fails the pair | worst examples |",
		"| Keys missing in ELT (legacy only) | 2 row(s) | yes | id=1 [region=apac]; id=7 [region=amer] |",
		"| Normalisation-only differences | 1 check(s) · ≥ 200 row(s) | no |",
		"missing in legacy 1 · missing in ELT 2 · mismatched 3 · within tolerance 1 · normalisation-only ≥ 200 · rows fetched 0",
		"> The normalisation-only pass stopped early: its count is a lower bound.",
		"#### Row sample: 7 key(s), stratified across causes and segments\n\n| key | cause | segment | column | legacy | ELT |",
		"| id=5 | normalisation only | region=emea | note (normalisation only) | '' | &lt;null&gt; |",
		"| id=3 | mismatched | region=amer | qty (within tolerance) | 1 | 9 |",
		"| id=1 | missing in elt | region=apac | | | |",
	} {
		require.Contains(t, string(md), want)
	}
	page, err := HTML(r)
	require.NoError(t, err)
	_, err = html.Parse(strings.NewReader(string(page)))
	require.NoError(t, err)
	for _, want := range []string{
		"<h3>Differences by cause</h3>",
		"<td>Values outside tolerance</td><td>3 check(s) · 3 row(s)</td><td class=\"fail\">yes</td>",
		"<td>Values within tolerance</td><td>1 check(s) · 1 row(s)</td><td class=\"pass\">no</td>",
		"<h4>Row sample: 7 key(s), stratified across causes and segments</h4>",
		"<td>note (normalisation only)</td><td>&#39;&#39;</td><td>&lt;null&gt;</td>",
	} {
		require.Contains(t, string(page), want)
	}

	none, err := Markdown(Run{Status: "pass", Pairs: []Pair{{Output: "o", Status: "pass"}}})
	require.NoError(t, err)
	require.Contains(t, string(none), "### Differences by cause\n\nNo difference: every compared number agrees exactly.")
	long := causesPair()
	long.OnlyInLegacyCount = 12
	md, err = Markdown(Run{Status: "fail", Pairs: []Pair{long}})
	require.NoError(t, err)
	require.Contains(t, string(md), "Segments only in legacy: region=apac … and 11 more")
}
