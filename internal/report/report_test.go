package report

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

func f(v float64) *float64 { return &v }

func sample() Run {
	at := time.Date(2026, 1, 8, 9, 0, 0, 0, time.UTC)
	checks := []Check{
		{Measure: "revenue", Metric: "sum", Legacy: "1000.00", ELT: "1000.00", Difference: "0", RelativeDifference: f(0), ToleranceAbsolute: f(0.01), Status: "pass"},
		{Segment: "region=amer", Measure: "revenue", Metric: "sum", Legacy: "400.00", ELT: "450.00", Difference: "50", RelativeDifference: f(0.125), ToleranceRelative: f(0.001), Status: "fail"},
		{Segment: "region=emea", Measure: "revenue", Metric: "sum", Legacy: "600.00", ELT: "550.00", Difference: "-50", RelativeDifference: f(0.0833), ToleranceRelative: f(0.001), Status: "fail"},
		{Segment: "region=<script>alert(1)</script>", Measure: "revenue", Metric: "sum", Legacy: "1", ELT: "1", Difference: "0", RelativeDifference: f(0), ToleranceRelative: f(0.001), Status: "pass"},
		{Segment: "region=a|b", Measure: "revenue", Metric: "sum", Legacy: "2", ELT: "2", Difference: "0", RelativeDifference: f(0), Status: "pass"},
	}
	var trend []CyclePoint
	for i := 0; i < 5; i++ {
		trend = append(trend, CyclePoint{RunID: fmt.Sprintf("run-%d", i), At: at.Add(time.Duration(i-5) * time.Hour), Checks: 20, Breaches: i % 3})
	}
	quality := []QualityResult{
		{Check: "revenue_rows_stable", Kind: "row_count_change", Relation: "marts.fct_daily_revenue", Status: "pass", NoData: true, Detail: "the previous window is empty", Warn: f(0.2), Fail: f(0.5)},
		{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: "fail", Value: 3, Fail: f(0), Detail: "3 keys appear more than once",
			Examples: []string{"order_id=1 ×2", "order_id=2 ×2", "order_id=3 ×2", "order_id=4 ×2"}},
		{Check: "freshness:orders", Kind: "freshness", Relation: "raw.orders", Status: "warn", Value: 3 * 3600, Warn: f(7200), Fail: f(21600), Detail: "last successful load 3h 0m ago"},
		{Check: "orders_colour", Kind: "not_null", Relation: "raw.orders", Status: "error", Detail: `column "colour" does not exist`},
	}
	return Run{RunID: "run-5", Plan: "acme", Quality: quality, QualityMeasured: true, PlanHash: "0123456789abcdef", Domain: "finance", Window: "[2026-01-01, 2026-01-08)",
		GeneratedAt: at, Status: "fail", Trend: trend,
		KPIDefinitionChanges: []KPIChange{{Metric: "daily_revenue", Version: 2, ChangedBy: "cfo-office", Reason: "net of refunds", At: at}},
		Pairs: []Pair{{Output: "daily_revenue", LegacyRelation: "legacy.daily_revenue", ELTRelation: "marts.fct_daily_revenue", Status: "fail",
			Checks: checks, OnlyInELT: []string{"region=latam"},
			RowDiff: &RowDiff{MissingInELT: 2, Mismatched: 1, Bounded: true, BoundReason: "max rows fetched (1000)", RowsFetched: 1000,
				Sample: []KeyDiff{{Key: "day=2026-01-02|region=amer", Kind: "mismatched", Columns: []ColumnDiff{{Column: "revenue", Legacy: "10", ELT: "12"}}}}}}},
	}
}

func TestMarkdown(t *testing.T) {
	b, err := Markdown(sample())
	require.NoError(t, err)
	md := string(b)
	require.Contains(t, md, "# Reconciliation · finance · [2026-01-01, 2026-01-08)")
	require.Contains(t, md, "**FAIL** · plan `acme` (0123456789ab)")
	require.Contains(t, md, "Worst variance: 12.5 % (daily_revenue · region=amer · revenue sum)")
	require.Contains(t, md, "> **Comparisons across a KPI definition change.** daily_revenue v2 on 2026-01-08 by cfo-office: net of refunds")
	amer, emea := strings.Index(md, "| region=amer |"), strings.Index(md, "| region=emea |")
	require.True(t, amer > 0 && emea > amer, "worst segment first")
	require.Contains(t, md, `| region=a\|b |`, "pipes escaped")
	require.NotContains(t, md, "<script>")
	require.Contains(t, md, "Segments only in ELT: region=latam")
	require.Contains(t, md, "The diff stopped early (max rows fetched (1000)): the counts are lower bounds.")
	require.Contains(t, md, "| run-4 | 2026-01-08 08:00 | 20 | 1 |")
	require.Contains(t, md, "## Quality and freshness\n\n1 pass, 1 warn, 1 fail, 1 error.")
	require.Contains(t, md, "| FAIL | orders_key_unique | unique | raw.orders | 3 | — | 0 | 3 keys appear more than once | order_id=1 ×2; order_id=2 ×2; order_id=3 ×2 |")
	require.Contains(t, md, "| WARN | freshness:orders | freshness | raw.orders | 3.0 h | 2.0 h | 6.0 h |")
	require.Contains(t, md, "| PASS (no data) | revenue_rows_stable |")
	require.Less(t, strings.Index(md, "| ERROR | orders_colour"), strings.Index(md, "| FAIL | orders_key_unique"), "worst first")
}

func TestHTML(t *testing.T) {
	b, err := HTML(sample())
	require.NoError(t, err)
	page := string(b)
	_, err = html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, "http://")
	require.NotContains(t, page, "https://")
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, page, `<span class="badge fail">FAIL</span>`)
	require.Contains(t, page, "Variance by segment, worst first")
	require.Contains(t, page, "stroke-dasharray", "the tolerance line")
	require.Contains(t, page, "Breaches per run, oldest first (highest: 2)")
	require.Contains(t, page, "Comparisons across a KPI definition change.")
	require.Less(t, strings.Index(page, ">region=amer<"), strings.Index(page, ">region=emea<"))
	require.Contains(t, page, "@media print")
	require.Contains(t, page, "<h2>Quality and freshness</h2>")
	require.Contains(t, page, `<td class="fail">FAIL</td><td>orders_key_unique</td>`)
	if path := os.Getenv("REPORT_DUMP"); path != "" {
		require.NoError(t, os.WriteFile(path, b, 0o644)) // to look at it in a browser
	}
}

func TestEmptyStatesAndOmittedSegments(t *testing.T) {
	r := Run{RunID: "r", Plan: "p", Domain: "d", Window: "w", Status: "pass", Pairs: []Pair{{Output: "o", Status: "pass"}}}
	for i := 0; i < 60; i++ {
		r.Pairs[0].Checks = append(r.Pairs[0].Checks, Check{Segment: fmt.Sprintf("k=%02d", i), Measure: "m", Metric: "sum", Legacy: "1", ELT: "1", Difference: "0", RelativeDifference: f(0), Status: "pass"})
	}
	md, err := Markdown(r)
	require.NoError(t, err)
	require.Contains(t, string(md), "10 more segment(s) not shown.")
	require.Contains(t, string(md), "No earlier run.")
	page, err := HTML(r)
	require.NoError(t, err)
	require.Contains(t, string(page), "10 more segment(s) not shown.")
	require.Contains(t, string(page), "No earlier run.")

	bare, err := HTML(Run{Status: "pass"})
	require.NoError(t, err)
	require.Contains(t, string(bare), "0 output pair(s)")
	require.Contains(t, string(bare), "Not measured: no quality check or freshness SLA ran for this run.", "no checks is never a pass")
	require.Contains(t, string(md), "Not measured: no quality check or freshness SLA ran for this run.")
}

func TestSegmentTableSaysWhichSideLacksASegment(t *testing.T) {
	rel := 0.001
	abs := 0.01
	p := Pair{Output: "o", OnlyInLegacy: []string{"region=<null>"}, OnlyInELT: []string{"region="}, Checks: []Check{
		{Segment: "region=<null>", Measure: "amount", Metric: "sum", Legacy: "140", ELT: "", Status: "fail", ToleranceAbsolute: &abs, ToleranceRelative: &rel},
		{Segment: "region=", Measure: "amount", Metric: "sum", Legacy: "", ELT: "140", Status: "fail", ToleranceAbsolute: &abs, ToleranceRelative: &rel},
		{Segment: "region=emea", Measure: "*", Metric: "row_count", Legacy: "10", ELT: "12", Difference: "2", Status: "fail"},
		{Segment: "region=emea", Measure: "amount", Metric: "sum", Legacy: "100", ELT: "100", Difference: "0", Status: "pass", ToleranceRelative: &rel},
	}}
	rows, omitted := segments(p)
	require.Zero(t, omitted)
	bySeg := map[string]segmentRow{}
	for _, r := range rows {
		bySeg[r.Segment] = r
	}
	require.Equal(t, absent, bySeg["region=<null>"].ELT, "only in legacy: the ELT side has no such segment, not a NULL")
	require.Equal(t, absent, bySeg["region="].Legacy)
	require.Equal(t, "rows", bySeg["region=emea"].Measure, "the row-count variance is the segment's worst")
	require.Equal(t, "±0.01 or ±0.100 %", bySeg["region=<null>"].TolText)
	md, err := Markdown(Run{Status: "fail", Pairs: []Pair{p}})
	require.NoError(t, err)
	require.Contains(t, string(md), "| segment | measure | legacy | ELT | difference | relative | tolerance | status |")
	require.Contains(t, string(md), "| region=&lt;null&gt; | amount | 140 | (no such segment) |")
}

func TestLandingSection(t *testing.T) {
	r := sample()
	md, err := Markdown(r)
	require.NoError(t, err)
	require.NotContains(t, string(md), "## Landing", "no section for a run that landed nothing")

	r.Landing = &Landing{Loaded: 3, Rows: 1200, Quarantined: 2, Failed: 1, Skipped: 1, More: 4, Objects: []LandedObject{
		{Source: "orders", Key: "o/dt=2026-01-02/bad.csv.gz", Status: "failed", Reason: "gzip: truncated"},
		{Source: "orders", Key: "o/dt=2026-01-03/a|b.csv", Status: "loaded", Rows: 400, Quarantined: 2, ExtraColumns: []string{"note", "<b>coupon</b>"}},
		{Source: "orders", Key: "o/dt=2026-01-04/x.csv", Status: "skipped", Reason: "too many bad rows"},
	}}
	md, err = Markdown(r)
	require.NoError(t, err)
	require.Contains(t, string(md), "## Landing\n\nThis run landed 3 object(s) (1200 rows, 2 quarantined); 1 could not be landed, 1 skipped by decision.")
	require.Contains(t, string(md), "| FAILED | orders | o/dt=2026-01-02/bad.csv.gz | 0 | 0 |  | gzip: truncated |")
	require.Contains(t, string(md), `| LOADED | orders | o/dt=2026-01-03/a\|b.csv | 400 | 2 | note, &lt;b&gt;coupon&lt;/b&gt; |  |`)
	require.Contains(t, string(md), "…and 4 more (etl2elt.loads).")
	page, err := HTML(r)
	require.NoError(t, err)
	require.Contains(t, string(page), "<h2>Landing</h2>")
	require.Contains(t, string(page), "note, &lt;b&gt;coupon&lt;/b&gt;", "escaped")
	require.Contains(t, string(page), `<td class="fail">FAILED</td>`)
}
