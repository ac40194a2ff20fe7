package report

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"etl2elt/internal/criteria"
	"etl2elt/internal/plan"
)

func bp(v bool) *bool { return &v }
func ip(v int) *int   { return &v }

func TestVerdict(t *testing.T) {
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	met := &criteria.Result{Met: true, Criteria: []criteria.Criterion{{Name: "cycles", Value: "3", Threshold: "≥ 3", Pass: true}}}
	notMet := &criteria.Result{Criteria: []criteria.Criterion{{Name: "consecutive passing cycles", Value: "1", Threshold: "≥ 3"}}}
	pass := CycleRow{Cycle: 3, Status: "pass", FinishedAt: at}
	noData := CycleRow{Cycle: 3, Status: "no-data", NoData: true, FinishedAt: at}
	for _, tc := range []struct {
		name          string
		cycles        []CycleRow
		total, noData int
		latest        *criteria.Result
		state         string
		summary       string
	}{
		{name: "no cycles", state: "no-evidence", summary: "no evidence yet"},
		{name: "met", cycles: []CycleRow{pass}, total: 3, latest: met, state: "go", summary: "Every switching criterion holds after cycle 3"},
		{name: "not met", cycles: []CycleRow{pass}, total: 3, latest: notMet, state: "no-go", summary: "consecutive passing cycles is 1 (needs ≥ 3)"},
		{name: "no criteria", cycles: []CycleRow{pass}, total: 3, state: "no-go", summary: "recorded no criteria"},
		{name: "all no data, even if the criteria say met", cycles: []CycleRow{noData}, total: 3, noData: 3, latest: met, state: "no-data", summary: "no data is not a pass"},
		{name: "latest no data", cycles: []CycleRow{noData}, total: 3, noData: 1, latest: met, state: "no-go", summary: "compared no row"},
		{name: "latest failed", cycles: []CycleRow{{Cycle: 3, Status: "error"}}, total: 3, latest: met, state: "no-go", summary: "ended error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verdictOf(tc.cycles, tc.total, tc.noData, tc.latest)
			require.Equal(t, tc.state, v.State)
			require.Equal(t, tc.state == "go", v.Go)
			require.Contains(t, v.Summary, tc.summary)
		})
	}
	require.Equal(t, "NO EVIDENCE YET", Verdict{State: "no-evidence"}.Label())
	require.Equal(t, "NO DATA", Verdict{State: "no-data"}.Label())
	require.Equal(t, "NO-GO", Verdict{State: "no-go"}.Label())
	require.Equal(t, "GO", Verdict{State: "go"}.Label())
}

func TestProjection(t *testing.T) {
	d := plan.Domain{ParallelRun: &plan.ParallelRun{WatchCycles: 4}, SwitchingCriteria: &plan.SwitchingCriteria{MinCycles: 6, ConsecutivePassingCycles: 3}}
	cyc := func(phases ...string) []CycleRow {
		var out []CycleRow
		for i, ph := range phases {
			out = append(out, CycleRow{Cycle: i + 1, Phase: ph, Status: "pass"})
		}
		return out
	}
	crit := &criteria.Result{Criteria: []criteria.Criterion{{Name: "cycles", Value: "4"}, {Name: "consecutive passing cycles", Value: "1"}}}
	for _, tc := range []struct {
		name                       string
		d                          plan.Domain
		phase                      string
		cycles                     []CycleRow
		latest                     *criteria.Result
		spend                      float64
		parallel, watch, remaining int
		rate                       float64
		known                      bool
	}{
		// max(0, 3 − 1, 6 − 4) + 4 watch cycles.
		{name: "parallel run, from the criteria", d: d, phase: "parallel-run", cycles: cyc("parallel-run", "parallel-run", "parallel-run", "parallel-run"), latest: crit, spend: 40, parallel: 2, watch: 4, remaining: 6, rate: 10, known: true},
		// Without criteria: streak 4 from the rows, min cycles 6 − 4 = 2.
		{name: "parallel run, from the rows", d: d, phase: "parallel-run", cycles: cyc("parallel-run", "parallel-run", "parallel-run", "parallel-run"), spend: 8, parallel: 2, watch: 4, remaining: 6, rate: 2, known: true},
		{name: "watch", d: d, phase: "watch", cycles: cyc("parallel-run", "parallel-run", "watch"), spend: 30, watch: 3, remaining: 3, rate: 10, known: true},
		{name: "completed", d: d, phase: "completed", cycles: cyc("parallel-run", "watch"), spend: 4, rate: 2, known: true},
		{name: "no cycles", d: plan.Domain{}, phase: "no cycles yet", parallel: 1, watch: 24, remaining: 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := projectionOf(tc.d, tc.phase, tc.cycles, len(tc.cycles), tc.latest, tc.spend, tc.spend/2)
			require.Equal(t, tc.parallel, p.ParallelLeft)
			require.Equal(t, tc.watch, p.WatchLeft)
			require.Equal(t, tc.remaining, p.Remaining)
			require.Equal(t, tc.known, p.Known)
			require.InDelta(t, tc.rate, p.Rate, 1e-9)
		})
	}
}

func TestRaiseOf(t *testing.T) {
	for _, tc := range []struct {
		target, evidence string
		budget           string
		amount           float64
		ok               bool
	}{
		{target: "fct_orders", evidence: `{"amount": 50, "new_budget": 300}`, budget: BudgetBackfill, amount: 50, ok: true},
		{evidence: `{"amount": 75.5}`, budget: BudgetParallelRun, amount: 75.5, ok: true},
		{evidence: `{"budget": "reconciliation", "amount": "20"}`, budget: BudgetReconciliation, amount: 20, ok: true},
		{evidence: `{"budget": "parallel-run", "amount": 5}`, budget: BudgetParallelRun, amount: 5, ok: true},
		{evidence: `{"amount": -5}`},
		{evidence: `{"amount": "lots"}`},
		{evidence: `null`},
	} {
		r, ok := raiseOf(tc.target, []byte(tc.evidence))
		require.Equal(t, tc.ok, ok, tc.evidence)
		if ok {
			require.Equal(t, tc.budget, r.Budget, tc.evidence)
			require.InDelta(t, tc.amount, r.Amount, 1e-9)
		}
	}
}

func TestEvidenceSummary(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`null`, ``},
		{`{"criteria": {"met": true, "criteria": [{"name": "cycles", "pass": true}]}, "phase": "awaiting-approval", "last_cycle": 12, "report": "s3://b/r.html"}`,
			`criteria met (1) · phase awaiting-approval · last_cycle 12 · report s3://b/r.html`},
		{`{"criteria": {"met": false, "criteria": [{"name": "breaches", "value": "2", "threshold": "≤ 0"}]}, "views": ["a", "b"]}`,
			`criteria not met: breaches is 2 (needs ≤ 0) · views: 2 item(s)`},
		{`{"amount": 50, "new_budget": 300, "spent": 249.5}`, `amount 50 · new_budget 300 · spent 249.50`},
		// A migration's raise-budget (workflows/migration_cost.go).
		{`{"budget": "parallel_run", "amount": 250, "limit_before": 400, "limit_after": 650, "spent": 390.500000592, "currency": "USD", "projection": {"parallel_run": 700.123, "reconciliation": 0.004}, "remaining_cycles": 30}`,
			`budget parallel_run · amount 250 · limit_before 400 · limit_after 650 · spent 390.50 · remaining_cycles 30 · currency USD · projection {parallel_run 700.12, reconciliation 0.004}`},
		{`[1, 2]`, `[1, 2]`},
	} {
		require.Equal(t, tc.want, evidenceSummary([]byte(tc.in)), tc.in)
	}
	long := `{"x": "` + strings.Repeat("a", 400) + `"}`
	require.LessOrEqual(t, len([]rune(evidenceSummary([]byte(long)))), 300)
}

func TestRollupAndMoney(t *testing.T) {
	rel := 0.01
	// Two segments breaching by +50 and −50 cancel in the day total.
	r := rollupOf("o", "revenue", "2026-01-02", 2, 2, "1000.00", "1000.00", nil, &rel)
	require.True(t, r.Cancels)
	require.Equal(t, "0", r.Difference)
	r = rollupOf("o", "revenue", "2026-01-02", 2, 1, "1000", "1100.5", nil, &rel)
	require.False(t, r.Cancels)
	require.Equal(t, "100.5", r.Difference)
	require.InDelta(t, 0.1005, *r.RelativeDifference, 1e-12)
	require.Equal(t, "1,234,567.89", money(1234567.891))
	require.Equal(t, "0.00", money(0))
	require.Equal(t, "−12.50", money(-12.5))
	require.Equal(t, "USD 999.00", moneyC("USD", 999))
	require.Equal(t, "1,234 rows", rowsText(1234))
	require.Equal(t, "1 row", rowsText(1))
}

// sampleExecutive is a two-domain plan report with every section filled for finance
// and nothing for marketing.
func sampleExecutive() *Executive {
	at := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	rel := func(v float64) *float64 { return &v }
	var cycles []CycleRow
	var points []VariancePoint
	var qc []QualityCycle
	for i := 1; i <= 5; i++ {
		st := "pass"
		if i == 2 {
			st = "fail"
		}
		cycles = append(cycles, CycleRow{Cycle: i, Phase: "parallel-run", Status: st, WorkflowID: "migration/acme/finance/cycle-" + string(rune('0'+i)),
			StartedAt: at.Add(time.Duration(i-6) * time.Hour), FinishedAt: at.Add(time.Duration(i-6)*time.Hour + 10*time.Minute),
			QualityFailures: ip(0), FreshnessHeld: bp(i != 3), ReportHTML: "s3://reports/r.html"})
		points = append(points, VariancePoint{Cycle: i, RunID: "run-" + string(rune('0'+i)), Legacy: "1000", ELT: "1001", Difference: "1", RelativeDifference: rel(0.001 * float64(i%3)), Status: st})
		qc = append(qc, QualityCycle{Cycle: i, Checks: 3, Pass: 3, FreshnessMet: 1, FreshnessRuns: 1})
	}
	qc[0] = QualityCycle{Cycle: 1}
	proj := 250.0
	return &Executive{Plan: "acme", PlanHash: "0123456789abcdef0123", GeneratedAt: at, Currency: "USD",
		Domains: []DomainEvidence{{
			Name: "finance", Description: "Revenue <KPIs>", Owners: []string{"cfo-office"}, Approvers: []string{"dana", "lee"},
			MigrationID: "migration/acme/finance", MigrationRun: "r1", Phase: "parallel-run", CycleCount: 5, Cycles: cycles,
			CycleSource: "etl2elt.migration_cycles migration_id=migration/acme/finance migration_run=r1, 5 rows",
			Verdict: Verdict{State: "no-go", Summary: "Not met after cycle 5: consecutive passing cycles is 3 (needs ≥ 12).", Cycle: 5,
				Criteria: []criteria.Criterion{{Name: "consecutive passing cycles", Value: "3", Threshold: "≥ 12"}, {Name: "failed cycles", Value: "0", Threshold: "≤ 0", Pass: true}},
				Source:   "etl2elt.migration_cycles migration_id=migration/acme/finance migration_run=r1 cycle=5: criteria (jsonb), status"},
			Variance: Variance{
				Series:      []VarianceSeries{{Output: "daily_revenue", Measure: "revenue", Metric: "sum", ToleranceRelative: rel(0.0015), Points: points}},
				Breaches:    []CycleCount{{1, 0, 3}, {2, 1, 3}, {3, 0, 3}, {4, 0, 3}, {5, 2, 2003}},
				LatestCycle: 5, SegmentsCompared: 1000, SegmentsBreaching: 2,
				Worst: []WorstSegment{
					{Output: "daily_revenue", RunID: "run-5", Segment: "day=2026-01-02|region=<script>alert(1)</script>", Measure: "revenue", Metric: "sum", Legacy: "400", ELT: "450", Difference: "50", RelativeDifference: rel(0.125), Status: "fail", Resolution: "open"},
					{Output: "daily_revenue", RunID: "run-5", Segment: "day=2026-01-02|region=emea", Measure: "revenue", Metric: "sum", Legacy: "600", ELT: "550", Difference: "-50", RelativeDifference: rel(0.0833), Status: "fail", Resolution: "explained", ExplainedBy: "lee", Explanation: "late refunds booked in legacy", ExplanationID: 9},
				},
				Rollup:        []DayRollup{{Output: "daily_revenue", Measure: "revenue", Day: "2026-01-02", Segments: 4, Breaching: 2, Legacy: "1000", ELT: "1000", Difference: "0", RelativeDifference: rel(0), Cancels: true}},
				Source:        "etl2elt.reconcile_runs …, 5 rows",
				ExplainSource: "etl2elt.decisions kind=explain domain=finance",
			},
			Quality: QualityTrend{Cycles: qc, SLAs: []SLAAttainment{{Check: "freshness:orders", Relation: "raw.orders", Met: 4}}, FreshnessCycles: 5, FreshnessHeld: 4,
				FailingLatest: []QualityFailure{{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: "fail", Detail: "3 keys | twice"}},
				Source:        "etl2elt.check_results …, 12 rows"},
			Cost: CostReport{Currency: "USD", Total: 321.5, Outside: 1.5, Entries: 42,
				Budgets: []BudgetLine{
					{Name: BudgetBackfill, Planned: 250, Raised: 50, Budget: 300, HasBudget: true, Spent: 260, Raises: 1},
					{Name: BudgetParallelRun, Planned: 400, Budget: 400, HasBudget: true, Spent: 60, Projected: &proj},
					{Name: BudgetReconciliation, Planned: 100, Budget: 100, HasBudget: true, Spent: 20},
				},
				ByKind:     []KindCost{{Kind: "backfill", Cost: 260, Entries: 30}, {Kind: "reconciliation", Cost: 20, Entries: 5}, {Kind: "legacy-run", Cost: 40, Entries: 5}},
				Projection: Projection{Known: true, Cycles: 5, Spend: 60, Rate: 12, Remaining: 16, ParallelLeft: 9, WatchLeft: 7, WatchCycles: 7, Needed: 12, Streak: 3, MinCycles: 1, Counted: 5},
				Source:     "etl2elt.cost_usage plan_name=acme domain=finance, 42 rows"},
			Decisions: DecisionLog{Total: 2, Source: "etl2elt.decisions domain=finance, 2 rows", Entries: []DecisionEntry{
				{ID: 7, Kind: "raise-budget", By: "dana", Reason: "backfill of 2019 needs more <room>", Target: "fct_orders", At: at, Evidence: "amount 50 · new_budget 300"},
				{ID: 8, Kind: "rollback", By: "lee", Reason: "board pack numbers off", At: at, Evidence: "phase watch · last_cycle 4"},
			}},
			KPI: KPIRegistry{
				Metrics: []KPIMetric{{Name: "daily_revenue", Owner: "cfo-office", Version: 2, Recorded: []int{1, 2}, Relation: "reporting.daily_revenue", Dashboards: []string{"board_pack"}}},
				Outputs: []OutputDashboards{{Output: "daily_revenue", Consumption: "reporting.daily_revenue", Dashboards: []DashboardRef{{Name: "board_pack", Owner: "cfo-office", Tool: "looker"}}, Metrics: []string{"daily_revenue"}}},
				Changes: []DefinitionChange{{Metric: "daily_revenue", OldFrom: at.Add(-5 * time.Hour), Changed: at.Add(-2 * time.Hour), NewTo: at, CyclesBefore: 3, CyclesAfter: 2,
					Old: MetricVersion{Version: 1, Hash: "aaaaaaaaaaaaaaaa", Owner: "cfo-office", Definition: plan.MetricDefinition{Expression: "sum(revenue)", Relation: "reporting.daily_revenue", TimeColumn: "day"}},
					New: MetricVersion{Version: 2, Hash: "bbbbbbbbbbbbbbbb", Owner: "cfo-office", ChangedBy: "cfo-office", Reason: "net of refunds", Definition: plan.MetricDefinition{Expression: "sum(revenue) - sum(refunds)", Relation: "reporting.daily_revenue", TimeColumn: "day"}}}},
				Source: "etl2elt.metric_versions …, 2 rows"},
		}, {
			Name: "marketing", Phase: "no cycles yet", Verdict: Verdict{State: "no-evidence", Summary: "No parallel-run cycle has been recorded: there is no evidence yet, so it is not safe to switch."},
			Cost: CostReport{Currency: "USD", Budgets: []BudgetLine{{Name: BudgetBackfill}, {Name: BudgetParallelRun}, {Name: BudgetReconciliation}}, Projection: Projection{Note: "no cycle yet: no spend rate to project from"}},
		}}}
}

func TestRenderExecutiveHTML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderExecutiveHTML(&b, sampleExecutive()))
	page := b.String()
	_, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	for _, bad := range []string{"<script", "http://", "https://", "<link", "<img", "@import", "url("} {
		require.NotContains(t, page, bad)
	}
	require.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, page, "Revenue &lt;KPIs&gt;")
	require.Contains(t, page, "@page{size:A4")
	require.Contains(t, page, "@media print")
	for _, h := range []string{"Summary of domains", "1. Verdict: is it safe to switch?", "2. Variance across cycles", "3. Freshness and quality",
		"4. Cost to date against budget", "5. Decision log", "6. KPI registry"} {
		require.Contains(t, page, h)
	}
	require.Equal(t, 2, strings.Count(page, "5. Decision log"), "every domain has every section")
	require.Contains(t, page, `<span class="badge fail">NO-GO</span>`)
	require.Contains(t, page, `<span class="badge warn">NO EVIDENCE YET</span>`)
	require.Contains(t, page, "<polyline")
	require.Contains(t, page, "Checks over tolerance per cycle, totals and segments (highest: 2)")
	require.Contains(t, page, "cycle 5: 2 of 2003 check(s) over tolerance (etl2elt.reconcile_runs.breaches)")
	require.Contains(t, page, "tolerance ±0.150 %")
	require.Contains(t, page, "explained by lee: late refunds booked in legacy (decision #9)")
	require.Contains(t, page, "offsets cancel: within tolerance")
	require.Contains(t, page, "USD 260.00")
	require.Contains(t, page, "50.00 (1×)")
	require.Contains(t, page, "250.00")
	require.Contains(t, page, "Remaining cycles 16")
	require.Contains(t, page, "sum(revenue) - sum(refunds)")
	require.Contains(t, page, "board_pack (cfo-office, looker)")
	require.Contains(t, page, "quality not yet measured")
	require.Contains(t, page, "4 of 5 cycle(s) held every SLA")
	require.Contains(t, page, "source: etl2elt.cost_usage plan_name=acme domain=finance, 42 rows")
	require.Contains(t, page, "<code>s3://reports/r.html</code>", "S3 locations are text, never links")
	require.Contains(t, page, "Not projected: no cycle yet")
	require.Contains(t, page, "Freshness SLAs: not yet measured in any cycle.")
	if path := os.Getenv("EXECUTIVE_DUMP"); path != "" {
		require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644)) // to look at it in a browser
	}
}

func TestRenderExecutiveMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RenderExecutiveMarkdown(&b, sampleExecutive()))
	md := b.String()
	require.Contains(t, md, "# Executive evidence · acme\n")
	require.Contains(t, md, "| finance | parallel-run | NO-GO | 5 | USD 320.00 of 700.00 (45.7 %) | USD 510.00 |")
	require.Contains(t, md, "## marketing: NO EVIDENCE YET")
	require.Contains(t, md, "| consecutive passing cycles | 3 | ≥ 12 | FAIL |")
	require.Contains(t, md, "| 2 | 1 of 3 | 0.200 % ✗ |")
	require.Contains(t, md, "| tolerance | | ±0.150 % |")
	require.Contains(t, md, `region=&lt;script&gt;alert(1)&lt;/script&gt;`)
	require.NotContains(t, md, "<script>")
	require.Contains(t, md, "| daily_revenue | revenue | 2026-01-02 | 4 (2) | 1000 | 1000 | 0 | 0 % | offsets cancel: within tolerance |")
	require.Contains(t, md, `3 keys \| twice`)
	require.Contains(t, md, "| backfill | 250.00 | 50.00 (1×) | 300.00 | USD 260.00 | 86.7 % | — |")
	require.Contains(t, md, "| parallel_run | 400.00 | — | 400.00 | USD 60.00 | 15.0 % | 250.00 |")
	require.Contains(t, md, "| 7 | 2026-02-01 12:00 | **raise-budget** | dana | backfill of 2019 needs more &lt;room&gt; | fct_orders | amount 50 · new_budget 300 |")
	require.Contains(t, md, "| 1 | not yet measured |")
	require.Contains(t, md, "| expression | `sum(revenue)` | `sum(revenue) - sum(refunds)` |")
	require.Contains(t, md, "**Projection to completion.** Not projected: no cycle yet: no spend rate to project from.")
	for _, h := range []string{"### 1. Verdict", "### 2. Variance", "### 3. Freshness", "### 4. Cost", "### 5. Decision log", "### 6. KPI registry"} {
		require.Equal(t, 2, strings.Count(md, h), h)
	}
}

func TestVerdictAfterARollbackIsNoGo(t *testing.T) {
	goV := Verdict{State: "go", Go: true, Cycle: 4, Summary: "Every switching criterion holds after cycle 4."}
	tests := []struct {
		phase, state string
		isGo         bool
		contains     string
	}{
		{"watch", "go", true, "Every switching criterion holds"},
		{"completed", "go", true, "Every switching criterion holds"},
		{"rolled-back", "no-go", false, "The migration was rolled-back after cycle 4"},
		{"aborted", "no-go", false, "Not safe to switch"},
	}
	for _, tt := range tests {
		got := afterDecisions(goV, tt.phase)
		require.Equal(t, tt.state, got.State, tt.phase)
		require.Equal(t, tt.isGo, got.Go, tt.phase)
		require.Contains(t, got.Summary, tt.contains, tt.phase)
	}
	blocked := afterDecisions(Verdict{State: "no-go", Cycle: 2, Summary: "Not met after cycle 2: x."}, "rolled-back")
	require.Equal(t, "Not met after cycle 2: x. The migration was rolled-back after cycle 2: the evidence before it no longer counts (a rollback restarts the parallel run on fresh cycles).", blocked.Summary)
	require.Equal(t, Verdict{State: "no-evidence"}, afterDecisions(Verdict{State: "no-evidence"}, "rolled-back"))
}

// TestSpendVsBudget: the summary's share counts only the spend a budget covers; the
// rest is named apart.
func TestSpendVsBudget(t *testing.T) {
	line := func(name string, budget, spent float64) BudgetLine {
		return BudgetLine{Name: name, Planned: budget, Budget: budget, HasBudget: budget > 0, Spent: spent}
	}
	for _, tc := range []struct {
		name    string
		budgets []BudgetLine
		want    string
	}{
		{name: "every budget set", budgets: []BudgetLine{line(BudgetBackfill, 300, 260), line(BudgetParallelRun, 400, 60), line(BudgetReconciliation, 100, 20)},
			want: "USD 320.00 of 700.00 (45.7 %)"},
		{name: "no backfill budget", budgets: []BudgetLine{line(BudgetBackfill, 0, 300), line(BudgetParallelRun, 400, 100), line(BudgetReconciliation, 0, 10)},
			want: "USD 100.00 of 400.00 (25.0 %) · USD 300.00 with no budget"},
		{name: "only a reconciliation budget", budgets: []BudgetLine{line(BudgetBackfill, 0, 0), line(BudgetParallelRun, 0, 100), line(BudgetReconciliation, 50, 20)},
			want: "USD 20.00 of 50.00 (40.0 %) · USD 80.00 with no budget"},
		{name: "no budget", budgets: []BudgetLine{line(BudgetBackfill, 0, 30), line(BudgetParallelRun, 0, 20), line(BudgetReconciliation, 0, 5)},
			want: "USD 50.00 (no budget)"},
		{name: "nothing spent", budgets: []BudgetLine{line(BudgetBackfill, 100, 0), line(BudgetParallelRun, 0, 0), line(BudgetReconciliation, 0, 0)},
			want: "USD 0.00 of 100.00 (0 %)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CostReport{Currency: "USD", Budgets: tc.budgets}.SpendVsBudget())
		})
	}
}

// TestMoneySmallAmounts: an amount below 0.01 is shown with two significant digits,
// never as 0.00 (the demo's reconciliation spend is about 0.002 USD).
func TestMoneySmallAmounts(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.00"},
		{0.0018, "0.0018"},
		{0.002, "0.002"},
		{0.00234, "0.0023"},
		{0.0099, "0.0099"},
		{0.00999, "0.01"},
		{0.01, "0.01"},
		{0.0000001, "0.0000001"},
		{-0.0018, "−0.0018"},
		{1e-15, "< 0.000000000001"},
		{1234.5, "1,234.50"},
	} {
		require.Equal(t, tc.want, money(tc.in), "%v", tc.in)
	}
	require.Equal(t, "USD 0.0018", moneyC("USD", 0.0018))
	require.Equal(t, "spent 0.0018", evidenceSummary([]byte(`{"spent": 0.0018}`)))
	require.Equal(t, "spent 0.00001", evidenceSummary([]byte(`{"spent": 0.00001}`)))

	// Both renderings of a reconciliation budget of 100 with 0.0018 spent.
	proj := 0.0042
	e := &Executive{Plan: "acme", Currency: "USD", Domain: "finance", Domains: []DomainEvidence{{Name: "finance", Phase: "parallel-run",
		Verdict: Verdict{State: "no-go"},
		Cost: CostReport{Currency: "USD", Total: 0.0031,
			Budgets: []BudgetLine{{Name: BudgetParallelRun, Planned: 400, Budget: 400, HasBudget: true, Spent: 0.0031},
				{Name: BudgetReconciliation, Planned: 100, Budget: 100, HasBudget: true, Spent: 0.0018, Projected: &proj}},
			ByKind:     []KindCost{{Kind: "reconciliation", Cost: 0.0018, Entries: 2}},
			Projection: Projection{Known: true, Cycles: 2, Spend: 0.0031, Rate: 0.0016, ReconciliationRate: 0.0009}}}}}
	var h, m bytes.Buffer
	require.NoError(t, RenderExecutiveHTML(&h, e))
	require.NoError(t, RenderExecutiveMarkdown(&m, e))
	require.Contains(t, m.String(), "| reconciliation | 100.00 | — | 100.00 | USD 0.0018 | 0.0018 % | 0.0042 |")
	require.Contains(t, m.String(), "Spend rate per cycle USD 0.0016 (reconciliation 0.0009)")
	require.Contains(t, h.String(), "0.0018 of 100.00 · projected 0.0042")
	require.Contains(t, h.String(), "USD 0.0018")
	require.NotContains(t, m.String(), "USD 0.00 |", "no spent amount reads 0.00")
}
