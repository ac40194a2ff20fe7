package report

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"etl2elt/internal/criteria"
	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
)

// Executive is the evidence a steering committee signs off on, for one domain or for
// every domain of a plan: is it safe to switch, what did it cost, who decided. Every
// figure carries the control-schema rows it came from (the Source fields).
type Executive struct {
	Plan, PlanHash string
	// Domain is the one domain reported; "" for the whole plan.
	Domain      string
	GeneratedAt time.Time
	Currency    string
	Domains     []DomainEvidence
}

// DomainEvidence is one domain's executive evidence (the latest migration: the
// migration run with the newest cycle).
type DomainEvidence struct {
	Name, Description         string
	Owners, Approvers         []string
	MigrationID, MigrationRun string
	// Phase is the latest cycle's phase, moved on by the migration's later decisions
	// (cutover, rollback, pause, abort, completion); "no cycles yet" without cycles.
	Phase string
	// Window is when the migration's cycles ran: [first cycle start, generated).
	WindowFrom, WindowTo time.Time
	Verdict              Verdict
	// Cycles are the latest cycles, oldest first (CycleCount counts all of them).
	Cycles       []CycleRow
	CycleCount   int
	CyclesNoData int
	CycleSource  string
	Variance     Variance
	Quality      QualityTrend
	Cost         CostReport
	Decisions    DecisionLog
	KPI          KPIRegistry
}

// Verdict is go / no-go against the switching criteria of the latest cycle.
type Verdict struct {
	// State is go, no-go, no-evidence (no cycle) or no-data (no cycle compared a row).
	State   string
	Go      bool
	Summary string
	Cycle   int
	At      time.Time
	// Criteria are the latest cycle's evaluated criteria (criteria.Result).
	Criteria []criteria.Criterion
	Source   string
}

// Label is the verdict as a headline.
func (v Verdict) Label() string {
	switch v.State {
	case "go":
		return "GO"
	case "no-evidence":
		return "NO EVIDENCE YET"
	case "no-data":
		return "NO DATA"
	}
	return "NO-GO"
}

// CycleRow is one parallel-run or watch cycle (etl2elt.migration_cycles).
type CycleRow struct {
	Cycle                      int
	Phase, Status, WorkflowID  string
	Window                     string
	StartedAt, FinishedAt      time.Time
	Breaches                   int
	NoData                     bool
	QualityFailures            *int
	FreshnessHeld              *bool
	WithinBudget               *bool
	ReportHTML, ReportMarkdown string
}

// passing is a cycle counted by the consecutive-passing criterion.
func (c CycleRow) passing() bool { return c.Status == "pass" && !c.NoData && c.Breaches == 0 }

// Variance is the reconciliation evidence across the migration's cycles.
type Variance struct {
	// Series: per output, measure and metric (sum, row_count), the totals' relative
	// difference per cycle.
	Series []VarianceSeries
	// Breaches per cycle, summed over the outputs (etl2elt.reconcile_runs.breaches).
	Breaches []CycleCount
	// LatestCycle is the cycle of Worst and Rollup (0: none compared).
	LatestCycle int
	// Worst are the worst segments of the latest cycle (each segment's worst check).
	Worst []WorstSegment
	// SegmentsCompared and SegmentsBreaching count the latest cycle's segments.
	SegmentsCompared, SegmentsBreaching int
	// Rollup: per output, measure and day, the breaching segments' day totals.
	Rollup []DayRollup
	Source string
	// ExplainSource says where explanations come from.
	ExplainSource string
}

// CycleCount is a count for one cycle.
type CycleCount struct {
	Cycle, Count, Of int
}

// VarianceSeries is one total across cycles.
type VarianceSeries struct {
	Output, Measure, Metric              string
	ToleranceAbsolute, ToleranceRelative *float64
	Points                               []VariancePoint
}

// Name is the series' label.
func (s VarianceSeries) Name() string {
	if s.Metric == reconcile.MetricRowCount {
		return s.Output + " · rows"
	}
	return s.Output + " · " + s.Measure + " " + s.Metric
}

// VariancePoint is one cycle's total.
type VariancePoint struct {
	Cycle              int
	RunID              string
	Legacy, ELT        string
	Difference         string
	RelativeDifference *float64
	Status             string
}

// WorstSegment is a segment of the latest cycle with its worst check.
type WorstSegment struct {
	Output, RunID, Segment, Measure, Metric string
	Legacy, ELT, Difference                 string
	RelativeDifference                      *float64
	Status                                  string
	// Resolution is open (breaching, unexplained), explained (an explain decision
	// names it) or within tolerance.
	Resolution               string
	ExplainedBy, Explanation string
	ExplanationID            int64
}

// DayRollup sums one day's segments of a measure: offsets cancel when segments breach
// but the day total is within the measure's tolerance.
type DayRollup struct {
	Output, Measure string
	// Day is "" when the segments carry no date: the roll-up is the whole window.
	Day                 string
	Segments, Breaching int
	Legacy, ELT         string
	Difference          string
	RelativeDifference  *float64
	Cancels             bool
}

// QualityTrend is freshness SLA attainment and the quality checks across cycles.
type QualityTrend struct {
	Cycles []QualityCycle
	SLAs   []SLAAttainment
	// FailingLatest are the checks that failed or errored in the latest measured cycle.
	FailingLatest []QualityFailure
	// FreshnessCycles counts cycles whose freshness was measured, FreshnessHeld those
	// where every SLA held (etl2elt.migration_cycles.freshness_held).
	FreshnessCycles, FreshnessHeld int
	Source                         string
}

// Measured is true when any cycle ran a check.
func (q QualityTrend) Measured() bool {
	for _, c := range q.Cycles {
		if c.Checks > 0 {
			return true
		}
	}
	return false
}

// QualityCycle counts one cycle's check results; Checks 0 is not measured.
type QualityCycle struct {
	Cycle                       int
	Checks                      int
	Pass, Warn, Fail, Error     int
	FreshnessMet, FreshnessRuns int
}

// Worst is the cycle's worst status, or "not-measured".
func (c QualityCycle) Worst() string {
	switch {
	case c.Checks == 0:
		return "not-measured"
	case c.Error > 0:
		return "error"
	case c.Fail > 0:
		return "fail"
	case c.Warn > 0:
		return "warn"
	}
	return "pass"
}

// SLAAttainment is one freshness SLA across the cycles.
type SLAAttainment struct {
	Check, Relation     string
	Met, Missed, Errors int
}

// Attainment is met / (met + missed) as text, "not yet measured" without either.
func (s SLAAttainment) Attainment() string {
	if s.Met+s.Missed == 0 {
		return "not yet measured"
	}
	return pct(float64(s.Met) / float64(s.Met+s.Missed))
}

// QualityFailure is a failing check of the latest measured cycle.
type QualityFailure struct {
	Check, Kind, Relation, Status, Detail string
}

// Budget names.
const (
	BudgetBackfill       = "backfill"
	BudgetParallelRun    = "parallel_run"
	BudgetReconciliation = "reconciliation"
)

// CostReport is the domain's cost to date against its budgets.
type CostReport struct {
	Currency string
	Budgets  []BudgetLine
	ByKind   []KindCost
	// Since is when the latest migration started (migration_cycles.migration_started_at):
	// the ledger is read from then on; zero (rows written before the column) reads all
	// of it.
	Since time.Time
	// Total is every ledger row of the domain since Since (all phases); Outside is what
	// no budget covers (scheduled and manual runs, the migration's own bookkeeping);
	// Before is the ledger before Since (earlier migrations, runs before this one).
	Total, Outside, Before float64
	// StatusCycle is the cycle whose recorded cost status (migration_cycles.cost_status)
	// gives the budgets' spend, limits and projection (0: computed from the ledger);
	// Pending is budgeted spend recorded since that cycle's books closed (counted by the
	// next cycle).
	StatusCycle int
	Pending     float64
	// Exceeded names the budget holding the migration, OverDuringWatch one crossed
	// during the watch (from the cost status).
	Exceeded, OverDuringWatch string
	Entries                   int64
	Projection                Projection
	Source                    string
}

// SpentLead introduces the spend to date: since the migration started, or all of it.
func (c CostReport) SpentLead() string {
	if c.Since.IsZero() {
		return "Spent to date:"
	}
	return "Spent since the migration started (" + exDate(c.Since) + " UTC):"
}

// SpentDetail follows the total: what is outside the budgets, recorded since the
// latest cycle's books, and before the migration.
func (c CostReport) SpentDetail() string {
	s := fmt.Sprintf("across every phase (%s outside the budgets: scheduled and manual runs, the migration's own bookkeeping)", moneyC(c.Currency, c.Outside))
	if c.Pending > 0 {
		s += fmt.Sprintf("; %s of it recorded after cycle %d's books closed, counted against the budgets by the next cycle", moneyC(c.Currency, c.Pending), c.StatusCycle)
	}
	if c.Before > 0 {
		s += fmt.Sprintf("; %s was spent before the migration started (earlier migrations, scheduled and manual runs), in no budget of this one", moneyC(c.Currency, c.Before))
	}
	s += "."
	switch {
	case c.Exceeded != "":
		s += fmt.Sprintf(" Budget %s holds the migration: a raise-budget or an abort is awaited.", c.Exceeded)
	case c.OverDuringWatch != "":
		s += fmt.Sprintf(" Budget %s was crossed during the watch (the watch goes on: its cycles run the rollback triggers).", c.OverDuringWatch)
	}
	return s
}

// ProjectionText explains the projection with its figures.
func (c CostReport) ProjectionText() string {
	pr := c.Projection
	if !pr.Known {
		return "Not projected: " + pr.Note + "."
	}
	var s string
	if pr.FromStatus {
		s = fmt.Sprintf("Spend rate per cycle %s (reconciliation %s) = parallel-run and watch spend since the migration started (%s) ÷ %d cycle(s). "+
			"Remaining cycles %d: the migration's estimate after cycle %d (the passing cycles its switching criteria still need plus the watch cycles left). "+
			"Projected = spent + rate × remaining. These are the figures the workflow judges its budgets on (etl2elt.migration_cycles.cost_status of cycle %d).",
			moneyC(c.Currency, pr.Rate), money(pr.ReconciliationRate), money(pr.Spend), pr.Cycles, pr.Remaining, pr.StatusCycle, pr.StatusCycle)
	} else {
		s = fmt.Sprintf("Spend rate per cycle %s (reconciliation %s) = parallel-run and watch spend since the first cycle (%s) ÷ %d cycle(s). "+
			"Remaining cycles %d = parallel-run cycles left %d (max(0, consecutive passing cycles needed %d − current streak %d, min cycles %d − cycles counted %d)) + watch cycles left %d (watch cycles %d − done %d). Projected = spent + rate × remaining.",
			moneyC(c.Currency, pr.Rate), money(pr.ReconciliationRate), money(pr.Spend), pr.Cycles, pr.Remaining, pr.ParallelLeft, pr.Needed, pr.Streak, pr.MinCycles, pr.Counted, pr.WatchLeft, pr.WatchCycles, pr.WatchDone)
	}
	if pr.Note != "" {
		s += " Note: " + pr.Note + "."
	}
	return s
}

// SpendRule says how the spend per budget is summed.
func (c CostReport) SpendRule() string {
	r := "spend per budget as cost.SpendOf sums it (backfill = phase backfill; parallel_run = phases parallel-run and watch, legacy runs and reconciliation included, the migration's own bookkeeping (kind control) not; reconciliation = kind reconciliation of those phases)"
	if c.StatusCycle > 0 {
		r += ", as the workflow read it after cycle " + strconv.Itoa(c.StatusCycle)
	}
	return r
}

// BudgetLine is one budget: planned, raised by decisions, spent, projected.
type BudgetLine struct {
	Name                    string
	Planned, Raised, Budget float64
	HasBudget               bool
	Spent                   float64
	// Projected is spent + rate per cycle × remaining cycles (nil: no projection).
	Projected *float64
	Raises    int
}

// Over is spent beyond the budget.
func (b BudgetLine) Over() bool { return b.HasBudget && b.Spent > b.Budget }

// ProjectedOver is a projection beyond the budget.
func (b BudgetLine) ProjectedOver() bool {
	return b.HasBudget && b.Projected != nil && *b.Projected > b.Budget
}

// KindCost is the spend of one kind of work.
type KindCost struct {
	Kind    string
	Cost    float64
	Entries int64
}

// Projection is the spend to completion: rate per cycle × remaining cycles.
type Projection struct {
	Known bool
	// FromStatus: the rate, the remaining cycles and the projection are the workflow's
	// (migration_cycles.cost_status of StatusCycle); the breakdown below is then not set.
	FromStatus  bool
	StatusCycle int
	// Cycles is the migration's cycle count; Spend the parallel-run and watch spend
	// since its first cycle started, ReconciliationSpend the reconciliation part.
	Cycles                             int
	Spend, ReconciliationSpend         float64
	Rate, ReconciliationRate           float64
	Streak, Needed, MinCycles, Counted int
	WatchCycles, WatchDone             int
	// ParallelLeft = max(0, Needed − Streak, MinCycles − Counted); WatchLeft the watch
	// cycles still to run; Remaining their sum.
	ParallelLeft, WatchLeft, Remaining int
	Note                               string
}

// DecisionLog is who decided what, when, why and on which evidence.
type DecisionLog struct {
	Entries []DecisionEntry
	// Total counts the domain's decisions; Refused the refused operator inputs left
	// out of the log.
	Total, Refused int
	Source         string
}

// DecisionEntry is one row of etl2elt.decisions.
type DecisionEntry struct {
	ID                          int64
	Kind, By, Reason            string
	Target, Subject, WorkflowID string
	At                          time.Time
	Evidence                    string
}

// KPIRegistry is the domain's metrics, the dashboards on its outputs, and the
// definition changes during the migration.
type KPIRegistry struct {
	Metrics []KPIMetric
	Outputs []OutputDashboards
	Changes []DefinitionChange
	Source  string
}

// KPIMetric is one metric of the domain.
type KPIMetric struct {
	Name, Owner, Description string
	Version                  int
	Relation                 string
	Dashboards               []string
	// Recorded lists the registry's versions (etl2elt.metric_versions).
	Recorded []int
}

// OutputDashboards lists what depends on an output pair.
type OutputDashboards struct {
	Output, Consumption, ELT, Legacy string
	Dashboards                       []DashboardRef
	Metrics                          []string
}

// DashboardRef is a dashboard and who owns it.
type DashboardRef struct{ Name, Owner, Tool string }

// DefinitionChange is a metric version recorded during the migration window: the old
// version was in force from OldFrom to Changed, the new one from Changed to NewTo.
type DefinitionChange struct {
	Metric                    string
	Old, New                  MetricVersion
	OldFrom, Changed, NewTo   time.Time
	CyclesBefore, CyclesAfter int
}

// MetricVersion is one registry row.
type MetricVersion struct {
	Version                        int
	Hash, Owner, ChangedBy, Reason string
	Definition                     plan.MetricDefinition
	RecordedAt                     time.Time
}

// verdictOf judges the latest cycle's criteria. Without cycles there is no evidence;
// with only no-data cycles, no data; go needs the criteria met and a latest cycle
// that passed and compared rows.
func verdictOf(cycles []CycleRow, total, noData int, latest *criteria.Result) Verdict {
	if total == 0 || len(cycles) == 0 {
		return Verdict{State: "no-evidence", Summary: "No parallel-run cycle has been recorded: there is no evidence yet, so it is not safe to switch."}
	}
	last := cycles[len(cycles)-1]
	v := Verdict{State: "no-go", Cycle: last.Cycle, At: last.FinishedAt}
	if latest != nil {
		v.Criteria = latest.Criteria
	}
	switch {
	case noData == total:
		v.State = "no-data"
		v.Summary = fmt.Sprintf("None of the %d cycle(s) compared a row on either side: no data is not a pass.", total)
	case latest == nil:
		v.Summary = fmt.Sprintf("Cycle %d recorded no criteria evaluation: not safe to switch.", last.Cycle)
	case !latest.Met:
		b := latest.Blockers()
		v.Summary = fmt.Sprintf("Not met after cycle %d: %s.", last.Cycle, strings.Join(b, "; "))
		if len(b) == 0 {
			v.Summary = fmt.Sprintf("The criteria are not met after cycle %d.", last.Cycle)
		}
	case last.NoData || last.Status == "no-data":
		v.Summary = fmt.Sprintf("The criteria read as met, but cycle %d compared no row: not safe to switch.", last.Cycle)
	case last.Status != "pass":
		v.Summary = fmt.Sprintf("The criteria read as met, but cycle %d ended %s: not safe to switch.", last.Cycle, last.Status)
	default:
		v.State, v.Go = "go", true
		v.Summary = fmt.Sprintf("Every switching criterion holds after cycle %d.", last.Cycle)
	}
	return v
}

// afterDecisions corrects a verdict for what happened after the latest cycle: the
// cycles' criteria held when they ran, but a rollback or an abort after the latest
// one means they no longer speak for the domain.
func afterDecisions(v Verdict, phase string) Verdict {
	if (phase != "rolled-back" && phase != "aborted") || v.State == "no-evidence" {
		return v
	}
	note := fmt.Sprintf("The migration was %s after cycle %d: the evidence before it no longer counts (a rollback restarts the parallel run on fresh cycles).", phase, v.Cycle)
	if v.Go {
		v.State, v.Go = "no-go", false
		v.Summary = note + " Not safe to switch."
	} else {
		v.Summary += " " + note
	}
	return v
}

// criterionInt reads an integer criterion value ("12", "3 (1 not checked)").
func criterionInt(r *criteria.Result, name string) (int, bool) {
	if r == nil {
		return 0, false
	}
	for _, c := range r.Criteria {
		if c.Name == name {
			f := strings.Fields(c.Value)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.Atoi(f[0])
			return n, err == nil
		}
	}
	return 0, false
}

// streakOf counts the trailing passing cycles since the last watch cycle (a rollback
// starts the evidence afresh; the criteria's value wins when recorded).
func streakOf(cycles []CycleRow) int {
	n := 0
	for i := len(cycles) - 1; i >= 0 && cycles[i].Phase != "watch" && cycles[i].passing(); i-- {
		n++
	}
	return n
}

// trailingWatch counts the trailing watch cycles.
func trailingWatch(cycles []CycleRow) int {
	n := 0
	for i := len(cycles) - 1; i >= 0 && cycles[i].Phase == "watch"; i-- {
		n++
	}
	return n
}

// projectionOf is the spend to completion. Remaining cycles:
//
//	parallel left = max(0, consecutive_passing_cycles − streak, min_cycles − cycles counted)
//	watch left    = watch_cycles − watch cycles done (all of them before the cutover)
//	remaining     = parallel left + watch left   (0 once completed or aborted)
//
// projected = spent + rate × remaining, rate = parallel-run and watch spend since the
// first cycle ÷ cycles.
func projectionOf(d plan.Domain, phase string, cycles []CycleRow, total int, latest *criteria.Result, spend, recon float64) Projection {
	p := Projection{Cycles: total, Spend: spend, ReconciliationSpend: recon, WatchCycles: 24}
	if d.ParallelRun != nil && d.ParallelRun.WatchCycles > 0 {
		p.WatchCycles = d.ParallelRun.WatchCycles
	}
	sc := plan.SwitchingCriteria{MinCycles: 1}
	if d.SwitchingCriteria != nil {
		sc = *d.SwitchingCriteria
		if sc.MinCycles == 0 {
			sc.MinCycles = 1
		}
	}
	p.Needed, p.MinCycles = sc.ConsecutivePassingCycles, sc.MinCycles
	var ok bool
	if p.Streak, ok = criterionInt(latest, "consecutive passing cycles"); !ok {
		p.Streak = streakOf(cycles)
	}
	if p.Counted, ok = criterionInt(latest, "cycles"); !ok {
		p.Counted = total
	}
	switch phase {
	case "completed", "aborted":
		p.Note = "the migration has ended: nothing remains"
	case "watch", "cutover":
		p.WatchDone = trailingWatch(cycles)
		p.WatchLeft = max(0, p.WatchCycles-p.WatchDone)
	default:
		p.ParallelLeft = max(0, p.Needed-p.Streak, p.MinCycles-p.Counted)
		p.WatchLeft = p.WatchCycles
	}
	p.Remaining = p.ParallelLeft + p.WatchLeft
	if total == 0 {
		p.Note = "no cycle yet: no spend rate to project from"
		return p
	}
	p.Known = true
	p.Rate, p.ReconciliationRate = spend/float64(total), recon/float64(total)
	return p
}

// budgetRaise is one raise-budget decision.
type budgetRaise struct {
	Budget string
	Amount float64
	// Before and After are the limits a migration's raise found and made (evidence
	// limit_before, limit_after; nil when not recorded).
	Before, After *float64
	// At is when it was decided; Migration is true for the migration's own raise.
	At        time.Time
	Migration bool
}

// raiseOf reads a raise-budget decision's evidence: {"budget": name, "amount": n};
// without "budget", a decision on a backfill target raises the backfill budget and any
// other the parallel-run budget.
func raiseOf(target string, evidence []byte) (budgetRaise, bool) {
	var ev map[string]any
	if json.Unmarshal(evidence, &ev) != nil {
		return budgetRaise{}, false
	}
	amount, ok := number(ev["amount"])
	if !ok || amount <= 0 {
		return budgetRaise{}, false
	}
	r := budgetRaise{Amount: amount, Budget: BudgetParallelRun}
	if target != "" {
		r.Budget = BudgetBackfill
	}
	if v, ok := number(ev["limit_before"]); ok {
		r.Before = &v
	}
	if v, ok := number(ev["limit_after"]); ok {
		r.After = &v
	}
	if b, ok := ev["budget"].(string); ok {
		switch strings.ReplaceAll(strings.TrimSpace(b), "-", "_") {
		case BudgetBackfill:
			r.Budget = BudgetBackfill
		case BudgetParallelRun:
			r.Budget = BudgetParallelRun
		case BudgetReconciliation:
			r.Budget = BudgetReconciliation
		}
	}
	return r, true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// evidenceSummary shortens a decision's evidence for the log: the criteria as met or
// their blockers, the phase and cycle, amounts, the report, then other scalar keys.
func evidenceSummary(raw []byte) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return excerpt(string(raw), 200)
	}
	var parts []string
	add := func(s string) { parts = append(parts, s) }
	if c, ok := ev["criteria"].(map[string]any); ok {
		var res criteria.Result
		b, _ := json.Marshal(c)
		if json.Unmarshal(b, &res) == nil {
			if res.Met {
				add(fmt.Sprintf("criteria met (%d)", len(res.Criteria)))
			} else if bl := res.Blockers(); len(bl) > 0 {
				add("criteria not met: " + strings.Join(firstN(bl, 2), "; "))
			} else {
				add("criteria not met")
			}
		}
	}
	known := []string{"phase", "last_cycle", "cycles_since_start", "budget", "amount", "new_budget", "limit_before", "limit_after", "spent", "remaining_cycles", "trusted_until", "segment", "cycle"}
	for _, k := range known {
		if v, ok := ev[k]; ok {
			add(k + " " + scalar(v))
		}
	}
	if a, ok := ev["approvals"].([]any); ok {
		add(fmt.Sprintf("%d approval(s)", len(a)))
	}
	if r, ok := ev["report"].(string); ok && r != "" {
		add("report " + r)
	}
	rest := make([]string, 0, len(ev))
	for k := range ev {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		switch k {
		case "criteria", "approvals", "report":
			continue
		}
		if slices.Contains(known, k) {
			continue
		}
		switch v := ev[k].(type) {
		case []any:
			add(fmt.Sprintf("%s: %d item(s)", k, len(v)))
		case map[string]any:
			// A small map of scalars (a projection per budget) is shown whole.
			names := make([]string, 0, len(v))
			scalars := true
			for n, x := range v {
				names = append(names, n)
				switch x.(type) {
				case map[string]any, []any:
					scalars = false
				}
			}
			if !scalars || len(v) > 4 {
				add(k + ": {…}")
				continue
			}
			sort.Strings(names)
			kv := make([]string, len(names))
			for i, n := range names {
				kv[i] = n + " " + scalar(v[n])
			}
			add(k + " {" + strings.Join(kv, ", ") + "}")
		default:
			add(k + " " + scalar(v))
		}
	}
	return excerpt(strings.Join(parts, " · "), 300)
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		switch {
		case x == math.Trunc(x) && math.Abs(x) < 1e15:
			return strconv.FormatFloat(x, 'f', 0, 64)
		case math.Abs(x) >= 0.01:
			return strconv.FormatFloat(x, 'f', 2, 64)
		case x < 0:
			return "-" + smallAmount(-x)
		}
		return smallAmount(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return fmt.Sprintf("%d item(s)", len(x))
	}
	return "{…}"
}

func excerpt(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// rollupOf compares a day's summed segments against the measure's tolerance.
func rollupOf(output, measure, day string, segments, breaching int, legacy, elt string, tolAbs, tolRel *float64) DayRollup {
	r := DayRollup{Output: output, Measure: measure, Day: day, Segments: segments, Breaching: breaching, Legacy: legacy, ELT: elt}
	l, okL := new(big.Rat).SetString(legacy)
	e, okE := new(big.Rat).SetString(elt)
	if !okL || !okE {
		return r
	}
	diff := new(big.Rat).Sub(e, l)
	r.Difference = ratText(diff)
	abs := new(big.Rat).Abs(diff)
	var rel *float64
	switch {
	case abs.Sign() == 0:
		zero := 0.0
		rel = &zero
	case l.Sign() != 0:
		f, _ := new(big.Rat).Quo(abs, new(big.Rat).Abs(l)).Float64()
		rel = &f
	}
	r.RelativeDifference = rel
	r.Cancels = breaching > 0 && reconcile.WithinTolerance(abs, rel, plan.Tolerance{Absolute: tolAbs, Relative: tolRel})
	return r
}

// ratText shows r exactly (up to 12 decimals).
func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.RatString()
	}
	s := r.FloatString(12)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// money formats an amount with thousands separators and two decimals; a non-zero
// amount below 0.01 with two significant digits (0.0018), never as 0.00.
func money(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	if v > 0 && v < 0.01 {
		if neg {
			return "−" + smallAmount(v)
		}
		return smallAmount(v)
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + frac
	if neg {
		return "−" + out
	}
	return out
}

// smallAmount shows 0 < v < 0.01 with two significant digits and no exponent:
// 0.0018, 0.002, 0.0000001.
func smallAmount(v float64) string {
	if v < 1e-12 {
		return "< 0.000000000001"
	}
	decimals := 1 - int(math.Floor(math.Log10(v)))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// moneyC is money with the currency.
func moneyC(currency string, v float64) string {
	if currency == "" {
		return money(v)
	}
	return currency + " " + money(v)
}

// rowsText is "1 row" / "1,234 rows".
func rowsText(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if n == 1 {
		return "1 row"
	}
	return b.String() + " rows"
}

// totalBudget sums the budgets set and the spend they cover, and the spend no budget
// covers. Reconciliation is a part of the parallel-run spend: it counts against its
// own budget only when parallel_run has none.
func (c CostReport) totalBudget() (spent, budget, unbudgeted float64, has bool) {
	var parallel *BudgetLine
	for i, b := range c.Budgets {
		if b.Name == BudgetParallelRun {
			parallel = &c.Budgets[i]
		}
	}
	for _, b := range c.Budgets {
		s := b.Spent
		if b.Name == BudgetReconciliation {
			if parallel == nil || parallel.HasBudget || !b.HasBudget {
				continue // counted in (or with) parallel_run
			}
			unbudgeted -= s // taken out of the unbudgeted parallel-run spend below
		}
		if !b.HasBudget {
			unbudgeted += s
			continue
		}
		spent += s
		budget += b.Budget
		has = true
	}
	return spent, budget, nonNegative(unbudgeted), has
}

// SpendVsBudget is "USD 12.00 of 650.00 (2 %)" for the summary: the spend of the
// budgets set against their sum, then the spend no budget covers.
func (c CostReport) SpendVsBudget() string {
	spent, budget, unbudgeted, has := c.totalBudget()
	if !has {
		return moneyC(c.Currency, unbudgeted) + " (no budget)"
	}
	s := fmt.Sprintf("%s of %s", moneyC(c.Currency, spent), money(budget))
	if budget > 0 {
		s += " (" + pct(spent/budget) + ")"
	}
	if unbudgeted > 0 {
		s += fmt.Sprintf(" · %s with no budget", moneyC(c.Currency, unbudgeted))
	}
	return s
}

// ProjectedVsBudget is the projected spend of the budgets, or "".
func (c CostReport) ProjectedVsBudget() string {
	if !c.Projection.Known {
		return "no projection yet"
	}
	total := 0.0
	for _, b := range c.Budgets {
		switch {
		case b.Name == BudgetReconciliation:
		case b.Projected != nil:
			total += *b.Projected
		default:
			total += b.Spent
		}
	}
	return moneyC(c.Currency, total)
}
