package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/cost"
	"etl2elt/internal/criteria"
	"etl2elt/internal/plan"
)

// Bounds of what the executive report reads: it aggregates in SQL, so a migration of
// many cycles and segments costs about what a short one does.
const (
	// MaxExecutiveCycles is how many of the latest cycles the trends show.
	MaxExecutiveCycles = 500
	// MaxWorstSegments is how many segments of the latest cycle are listed.
	MaxWorstSegments = 20
	// MaxRollupDays is how many day roll-ups of the latest cycle are listed.
	MaxRollupDays = 30
	// MaxDecisions is how many of the latest decisions the log lists.
	MaxDecisions = 200
)

// cycleSlack is how far a reconciliation or check run may start outside its cycle's
// [started_at, finished_at] and still belong to it (clocks of the worker and the
// database): cycle workflow ids repeat across migrations of a domain, times do not.
const cycleSlack = "interval '5 minutes'"

// LoadExecutive reads the evidence of one domain of p ("" for every domain) from the
// control schema. now is the report's time (the end of the migration window).
func LoadExecutive(ctx context.Context, pool *pgxpool.Pool, p *plan.Plan, planHash, domain string, now time.Time) (*Executive, error) {
	if p == nil {
		return nil, fmt.Errorf("executive report: no plan")
	}
	e := &Executive{Plan: p.Name, PlanHash: planHash, Domain: domain, GeneratedAt: now.UTC(), Currency: p.CostRates.Currency}
	domains := p.Domains
	if domain != "" {
		d, ok := p.Domain(domain)
		if !ok {
			return nil, fmt.Errorf("executive report: plan %s has no domain %q", p.Name, domain)
		}
		domains = []plan.Domain{d}
	}
	for _, d := range domains {
		de, err := loadDomain(ctx, pool, p, d, now.UTC())
		if err != nil {
			return nil, fmt.Errorf("executive report of %s: %w", d.Name, err)
		}
		e.Domains = append(e.Domains, *de)
	}
	return e, nil
}

// loader reads one domain.
type loader struct {
	q       *pgxpool.Pool
	p       *plan.Plan
	d       plan.Domain
	now     time.Time
	de      *DomainEvidence
	latest  *criteria.Result
	minimum int // the first cycle loaded
	// status is the latest cycle's recorded cost status (nil: a row written before
	// the column), statusCycle and statusStarted that cycle; startedAt is when the
	// migration started (zero: not recorded).
	status        *costStatus
	statusCycle   int
	statusStarted time.Time
	startedAt     time.Time
}

// costStatus is the migration's cost status as the MigrationWorkflow records it in
// etl2elt.migration_cycles.cost_status (workflows.CostStatus): the single source of
// the budgets' spend, limits, rate and projection.
type costStatus struct {
	Currency               string        `json:"currency"`
	Spent                  cost.Spend    `json:"spent"`
	Limits                 budgetAmounts `json:"limits"`
	Raised                 budgetAmounts `json:"raised"`
	PerCycle               float64       `json:"per_cycle"`
	ReconciliationPerCycle float64       `json:"reconciliation_per_cycle"`
	RemainingCycles        int           `json:"remaining_cycles"`
	Projection             budgetAmounts `json:"projection"`
	Exceeded               string        `json:"exceeded"`
	OverDuringWatch        string        `json:"over_during_watch"`
	Cycles                 int           `json:"cycles"`
}

// budgetAmounts are money per migration budget (workflows.BudgetAmounts).
type budgetAmounts struct {
	ParallelRun    float64 `json:"parallel_run"`
	Reconciliation float64 `json:"reconciliation"`
}

// of is the amount of a budget.
func (b *budgetAmounts) of(name string) *float64 {
	if name == BudgetReconciliation {
		return &b.Reconciliation
	}
	return &b.ParallelRun
}

// migrationID is the id of a domain's migration (workflows.MigrationWorkflowID: one
// per plan and domain, the same for every migration of the domain).
func migrationID(planName, domain string) string { return "migration/" + planName + "/" + domain }

func loadDomain(ctx context.Context, q *pgxpool.Pool, p *plan.Plan, d plan.Domain, now time.Time) (*DomainEvidence, error) {
	l := &loader{q: q, p: p, d: d, now: now, de: &DomainEvidence{Name: d.Name, Description: d.Description, Owners: d.Owners, Approvers: d.Approvers, Phase: "no cycles yet", WindowTo: now}}
	steps := []func(context.Context) error{l.cycles, l.decisions, l.variance, l.quality, l.cost, l.kpis}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	l.phase()
	l.de.Verdict = verdictOf(l.de.Cycles, l.de.CycleCount, l.de.CyclesNoData, l.latest)
	l.de.Verdict = afterDecisions(l.de.Verdict, l.de.Phase)
	l.de.Verdict.Source = l.de.CycleSource
	if l.de.Verdict.State != "no-evidence" {
		l.de.Verdict.Source = fmt.Sprintf("etl2elt.migration_cycles migration_id=%s migration_run=%s cycle=%d: criteria (jsonb), status", l.de.MigrationID, l.de.MigrationRun, l.de.Verdict.Cycle)
	}
	// The projection needs the phase (moved by decisions) and the cost.
	if l.status != nil {
		l.projectFromStatus()
		return l.de, nil
	}
	proj := projectionOf(d, l.de.Phase, l.de.Cycles, l.de.CycleCount, l.latest, l.de.Cost.Projection.Spend, l.de.Cost.Projection.ReconciliationSpend)
	l.de.Cost.Projection = proj
	for i := range l.de.Cost.Budgets {
		b := &l.de.Cost.Budgets[i]
		if !proj.Known {
			continue
		}
		switch b.Name {
		case BudgetParallelRun:
			v := b.Spent + proj.Rate*float64(proj.Remaining)
			b.Projected = &v
		case BudgetReconciliation:
			v := b.Spent + proj.ReconciliationRate*float64(proj.Remaining)
			b.Projected = &v
		}
	}
	return l.de, nil
}

// projectFromStatus takes the rate, the remaining cycles and the projection from the
// workflow's cost status; a migration that has ended since (completed, aborted) has
// nothing left to spend.
func (l *loader) projectFromStatus() {
	cs, c := l.status, &l.de.Cost
	c.Projection = Projection{Known: true, FromStatus: true, StatusCycle: l.statusCycle, Cycles: cs.Cycles,
		Spend: cs.Spent.ParallelRun, ReconciliationSpend: cs.Spent.Reconciliation,
		Rate: cs.PerCycle, ReconciliationRate: cs.ReconciliationPerCycle, Remaining: cs.RemainingCycles}
	ended := l.de.Phase == "completed" || l.de.Phase == "aborted"
	if ended {
		c.Projection.Note = fmt.Sprintf("the migration has %s since: nothing remains (its estimate after cycle %d was %d cycle(s))", l.de.Phase, l.statusCycle, cs.RemainingCycles)
		c.Projection.Remaining = 0
	}
	for i := range c.Budgets {
		b := &c.Budgets[i]
		if b.Name == BudgetBackfill {
			continue
		}
		v := *cs.Projection.of(b.Name)
		if ended {
			v = b.Spent
		}
		b.Projected = &v
	}
}

// cycles finds the latest migration (the migration run with the newest cycle) and
// reads its cycles and the latest criteria.
func (l *loader) cycles(ctx context.Context) error {
	de := l.de
	err := l.q.QueryRow(ctx, `
SELECT migration_id, migration_run FROM etl2elt.migration_cycles
WHERE plan_name = $1 AND domain = $2 ORDER BY finished_at DESC, cycle DESC LIMIT 1`, l.p.Name, l.d.Name).Scan(&de.MigrationID, &de.MigrationRun)
	if err == pgx.ErrNoRows {
		de.CycleSource = fmt.Sprintf("etl2elt.migration_cycles plan_name=%s domain=%s: no rows", l.p.Name, l.d.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("latest migration: %w", err)
	}
	var first time.Time
	err = l.q.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE no_data OR status = 'no-data'), min(started_at)
FROM etl2elt.migration_cycles WHERE migration_id = $1 AND migration_run = $2`, de.MigrationID, de.MigrationRun).Scan(&de.CycleCount, &de.CyclesNoData, &first)
	if err != nil {
		return fmt.Errorf("cycles of %s: %w", de.MigrationID, err)
	}
	de.WindowFrom = first
	// The latest cycle's criteria and cost status, and the migration's start.
	var crit, status []byte
	var startedAt *time.Time
	err = l.q.QueryRow(ctx, `
SELECT cycle, started_at, criteria, cost_status, migration_started_at FROM etl2elt.migration_cycles
WHERE migration_id = $1 AND migration_run = $2 ORDER BY cycle DESC LIMIT 1`, de.MigrationID, de.MigrationRun).Scan(&l.statusCycle, &l.statusStarted, &crit, &status, &startedAt)
	if err != nil {
		return fmt.Errorf("latest cycle of %s: %w", de.MigrationID, err)
	}
	if len(crit) > 0 && string(crit) != "null" {
		var r criteria.Result
		if err := json.Unmarshal(crit, &r); err != nil {
			return fmt.Errorf("criteria of %s: %w", de.MigrationID, err)
		}
		l.latest = &r
	}
	if startedAt != nil {
		l.startedAt = startedAt.UTC()
	}
	if len(status) > 0 && string(status) != "null" {
		var cs costStatus
		if err := json.Unmarshal(status, &cs); err != nil {
			return fmt.Errorf("cost status of %s cycle %d: %w", de.MigrationID, l.statusCycle, err)
		}
		l.status = &cs
	}
	rows, err := l.q.Query(ctx, `
SELECT cycle, phase, cycle_workflow_id, started_at, finished_at, coalesce(window_text, ''), status, breaches, no_data,
  quality_failures, freshness_held, within_budget, coalesce(report_html, ''), coalesce(report_markdown, '')
FROM etl2elt.migration_cycles WHERE migration_id = $1 AND migration_run = $2 ORDER BY cycle DESC LIMIT $3`, de.MigrationID, de.MigrationRun, MaxExecutiveCycles)
	if err != nil {
		return fmt.Errorf("cycles of %s: %w", de.MigrationID, err)
	}
	de.Cycles, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (CycleRow, error) {
		var c CycleRow
		err := r.Scan(&c.Cycle, &c.Phase, &c.WorkflowID, &c.StartedAt, &c.FinishedAt, &c.Window, &c.Status, &c.Breaches, &c.NoData,
			&c.QualityFailures, &c.FreshnessHeld, &c.WithinBudget, &c.ReportHTML, &c.ReportMarkdown)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("cycles of %s: %w", de.MigrationID, err)
	}
	slices.Reverse(de.Cycles)
	if len(de.Cycles) > 0 {
		l.minimum = de.Cycles[0].Cycle
	}
	de.CycleSource = fmt.Sprintf("etl2elt.migration_cycles migration_id=%s migration_run=%s, %s", de.MigrationID, de.MigrationRun, rowsText(int64(de.CycleCount)))
	return nil
}

// phase moves the latest cycle's phase on by the migration's decisions after it.
func (l *loader) phase() {
	de := l.de
	if len(de.Cycles) == 0 {
		return
	}
	last := de.Cycles[len(de.Cycles)-1]
	de.Phase = last.Phase
	for _, d := range de.Decisions.Entries {
		if d.WorkflowID != de.MigrationID || !d.At.After(last.FinishedAt) {
			continue
		}
		switch d.Kind {
		case "cutover":
			de.Phase = "watch"
		case "rollback", "rollback-automatic":
			de.Phase = "rolled-back"
		case "abort":
			de.Phase = "aborted"
		case "migration-completed":
			de.Phase = "completed"
		case "pause":
			de.Phase = "paused"
		case "resume":
			de.Phase = last.Phase
		}
	}
}

// cycleJoin joins ("INNER" or "LEFT") a table with a workflow_id column (alias x) to
// the loaded cycles of the migration (alias mc).
const cycleJoin = `etl2elt.migration_cycles mc
%s JOIN %s x ON x.workflow_id = mc.cycle_workflow_id AND x.plan_name = mc.plan_name AND x.domain = mc.domain
  AND x.started_at BETWEEN mc.started_at - ` + cycleSlack + ` AND mc.finished_at + ` + cycleSlack

// variance reads the totals per cycle, the worst segments of the latest cycle and the
// day roll-up where offsets cancel.
func (l *loader) variance(ctx context.Context) error {
	de, v := l.de, &l.de.Variance
	v.ExplainSource = fmt.Sprintf("etl2elt.decisions kind=explain domain=%s (target = output, subject = segment)", l.d.Name)
	if de.MigrationID == "" {
		v.Source = "etl2elt.reconcile_runs / reconcile_results: no cycle yet"
		return nil
	}
	var points int
	index := map[string]int{}
	rows, err := l.q.Query(ctx, `
SELECT mc.cycle, x.run_id, x.output, res.measure, res.metric, coalesce(res.legacy_value::text, ''), coalesce(res.elt_value::text, ''),
  coalesce(res.difference::text, ''), res.relative_difference, res.tolerance_absolute, res.tolerance_relative, res.status
FROM `+fmt.Sprintf(cycleJoin, "INNER", "etl2elt.reconcile_runs")+`
JOIN etl2elt.reconcile_results res ON res.run_id = x.run_id AND res.segment = '' AND res.metric IN ('sum', 'row_count')
WHERE mc.migration_id = $1 AND mc.migration_run = $2 AND mc.cycle >= $3
ORDER BY x.output, res.metric DESC, res.measure, mc.cycle, x.started_at`, de.MigrationID, de.MigrationRun, l.minimum)
	if err != nil {
		return fmt.Errorf("variance trend: %w", err)
	}
	for rows.Next() {
		var pt VariancePoint
		var output, measure, metric string
		var tolAbs, tolRel *float64
		if err := rows.Scan(&pt.Cycle, &pt.RunID, &output, &measure, &metric, &pt.Legacy, &pt.ELT, &pt.Difference, &pt.RelativeDifference, &tolAbs, &tolRel, &pt.Status); err != nil {
			rows.Close()
			return fmt.Errorf("variance trend: %w", err)
		}
		key := output + "\x00" + measure + "\x00" + metric
		i, ok := index[key]
		if !ok {
			i = len(v.Series)
			index[key] = i
			v.Series = append(v.Series, VarianceSeries{Output: output, Measure: measure, Metric: metric})
		}
		s := &v.Series[i]
		s.ToleranceAbsolute, s.ToleranceRelative = tolAbs, tolRel
		if n := len(s.Points); n > 0 && s.Points[n-1].Cycle == pt.Cycle {
			s.Points[n-1] = pt // a cycle reconciled twice: its last run counts
		} else {
			s.Points = append(s.Points, pt)
		}
		points++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("variance trend: %w", err)
	}

	// Breaches and checks per cycle, from the runs (no result row is read).
	rows, err = l.q.Query(ctx, `
SELECT mc.cycle, coalesce(sum(x.breaches), 0)::int, coalesce(sum(x.checks), 0)::int, count(x.run_id)::int
FROM `+fmt.Sprintf(cycleJoin, "LEFT", "etl2elt.reconcile_runs")+`
WHERE mc.migration_id = $1 AND mc.migration_run = $2 AND mc.cycle >= $3
GROUP BY mc.cycle ORDER BY mc.cycle`, de.MigrationID, de.MigrationRun, l.minimum)
	if err != nil {
		return fmt.Errorf("breaches per cycle: %w", err)
	}
	var runCount, latestWithRuns int
	for rows.Next() {
		var c CycleCount
		var runs int
		if err := rows.Scan(&c.Cycle, &c.Count, &c.Of, &runs); err != nil {
			rows.Close()
			return fmt.Errorf("breaches per cycle: %w", err)
		}
		v.Breaches = append(v.Breaches, c)
		runCount += runs
		if runs > 0 {
			latestWithRuns = c.Cycle
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("breaches per cycle: %w", err)
	}
	v.Source = fmt.Sprintf("etl2elt.reconcile_runs workflow_id = migration_cycles.cycle_workflow_id, %s; etl2elt.reconcile_results segment='' (totals), %s", rowsText(int64(runCount)), rowsText(int64(points)))
	if latestWithRuns == 0 {
		return nil
	}
	v.LatestCycle = latestWithRuns
	var wf string
	var started, finished time.Time
	for _, c := range de.Cycles {
		if c.Cycle == latestWithRuns {
			wf, started, finished = c.WorkflowID, c.StartedAt, c.FinishedAt
		}
	}
	runs := `runs AS (SELECT run_id, output FROM etl2elt.reconcile_runs
  WHERE workflow_id = $1 AND plan_name = $2 AND domain = $3 AND started_at BETWEEN $4::timestamptz - ` + cycleSlack + ` AND $5::timestamptz + ` + cycleSlack + `)`
	args := []any{wf, l.p.Name, l.d.Name, started, finished}

	// The worst check of each segment, worst segments first; counts over all segments.
	rows, err = l.q.Query(ctx, `WITH `+runs+`,
worst AS (
  SELECT DISTINCT ON (res.run_id, res.segment) runs.output, res.run_id, res.segment, res.measure, res.metric,
    coalesce(res.legacy_value::text, '') AS legacy, coalesce(res.elt_value::text, '') AS elt, coalesce(res.difference::text, '') AS diff,
    res.relative_difference AS rel, res.status, (res.relative_difference IS NULL AND coalesce(res.difference, 0) <> 0) AS undefined
  FROM etl2elt.reconcile_results res JOIN runs USING (run_id)
  WHERE res.segment <> ''
  ORDER BY res.run_id, res.segment, (res.status <> 'pass') DESC,
    (res.relative_difference IS NULL AND coalesce(res.difference, 0) <> 0) DESC, res.relative_difference DESC NULLS LAST)
SELECT output, run_id, segment, measure, metric, legacy, elt, diff, rel, status,
  count(*) OVER ()::int, (count(*) FILTER (WHERE status <> 'pass') OVER ())::int
FROM worst ORDER BY (status <> 'pass') DESC, undefined DESC, rel DESC NULLS LAST, output, segment LIMIT $6`, append(args, MaxWorstSegments)...)
	if err != nil {
		return fmt.Errorf("worst segments: %w", err)
	}
	for rows.Next() {
		var w WorstSegment
		if err := rows.Scan(&w.Output, &w.RunID, &w.Segment, &w.Measure, &w.Metric, &w.Legacy, &w.ELT, &w.Difference, &w.RelativeDifference, &w.Status,
			&v.SegmentsCompared, &v.SegmentsBreaching); err != nil {
			rows.Close()
			return fmt.Errorf("worst segments: %w", err)
		}
		w.Resolution = "within tolerance"
		if w.Status != "pass" {
			w.Resolution = "open"
		}
		v.Worst = append(v.Worst, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("worst segments: %w", err)
	}
	if err := l.explanations(ctx); err != nil {
		return err
	}

	// Day roll-up: the sum checks of the breaching days (the first date in the
	// segment key; segments without one roll up to the whole window).
	rows, err = l.q.Query(ctx, `WITH `+runs+`
SELECT runs.output, res.measure, coalesce(substring(res.segment from '(?:^|\|)[^=|]*=(\d{4}-\d{2}-\d{2})'), '') AS day,
  count(*)::int, (count(*) FILTER (WHERE res.status <> 'pass'))::int,
  coalesce(sum(res.legacy_value), 0)::text, coalesce(sum(res.elt_value), 0)::text, max(res.tolerance_absolute), max(res.tolerance_relative)
FROM etl2elt.reconcile_results res JOIN runs USING (run_id)
WHERE res.segment <> '' AND res.metric = 'sum'
GROUP BY 1, 2, 3 HAVING count(*) FILTER (WHERE res.status <> 'pass') > 0
ORDER BY 5 DESC, 1, 2, 3 LIMIT $6`, append(args, MaxRollupDays)...)
	if err != nil {
		return fmt.Errorf("day roll-up: %w", err)
	}
	for rows.Next() {
		var output, measure, day, legacy, elt string
		var n, breaching int
		var tolAbs, tolRel *float64
		if err := rows.Scan(&output, &measure, &day, &n, &breaching, &legacy, &elt, &tolAbs, &tolRel); err != nil {
			rows.Close()
			return fmt.Errorf("day roll-up: %w", err)
		}
		v.Rollup = append(v.Rollup, rollupOf(output, measure, day, n, breaching, legacy, elt, tolAbs, tolRel))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("day roll-up: %w", err)
	}
	sort.SliceStable(v.Rollup, func(i, j int) bool { return v.Rollup[i].Cancels && !v.Rollup[j].Cancels })
	return nil
}

// explanations marks the worst segments that an explain decision names (target: the
// output, or none for any output; subject: the segment).
func (l *loader) explanations(ctx context.Context) error {
	v := &l.de.Variance
	var segs []string
	for _, w := range v.Worst {
		if w.Status != "pass" {
			segs = append(segs, w.Segment)
		}
	}
	if len(segs) == 0 {
		return nil
	}
	rows, err := l.q.Query(ctx, `
SELECT DISTINCT ON (coalesce(target, ''), subject) id, coalesce(target, ''), subject, decided_by, reason
FROM etl2elt.decisions WHERE kind = 'explain' AND domain = $1 AND subject = ANY($2)
ORDER BY coalesce(target, ''), subject, decided_at DESC, id DESC`, l.d.Name, segs)
	if err != nil {
		return fmt.Errorf("explanations: %w", err)
	}
	type expl struct {
		id         int64
		by, reason string
	}
	found := map[[2]string]expl{}
	for rows.Next() {
		var e expl
		var target, subject string
		if err := rows.Scan(&e.id, &target, &subject, &e.by, &e.reason); err != nil {
			rows.Close()
			return fmt.Errorf("explanations: %w", err)
		}
		found[[2]string{target, subject}] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("explanations: %w", err)
	}
	for i := range v.Worst {
		w := &v.Worst[i]
		if w.Status == "pass" {
			continue
		}
		e, ok := found[[2]string{w.Output, w.Segment}]
		if !ok {
			e, ok = found[[2]string{"", w.Segment}]
		}
		if ok {
			w.Resolution, w.ExplainedBy, w.Explanation, w.ExplanationID = "explained", e.by, e.reason, e.id
		}
	}
	return nil
}

// quality reads the check results of each cycle, freshness SLA attainment and the
// latest measured cycle's failures.
func (l *loader) quality(ctx context.Context) error {
	de, qt := l.de, &l.de.Quality
	for _, c := range de.Cycles {
		if c.FreshnessHeld != nil {
			qt.FreshnessCycles++
			if *c.FreshnessHeld {
				qt.FreshnessHeld++
			}
		}
	}
	if de.MigrationID == "" {
		qt.Source = "etl2elt.check_results: no cycle yet"
		return nil
	}
	rows, err := l.q.Query(ctx, `
SELECT mc.cycle, count(x.id)::int,
  (count(*) FILTER (WHERE x.status = 'pass'))::int, (count(*) FILTER (WHERE x.status = 'warn'))::int,
  (count(*) FILTER (WHERE x.status = 'fail'))::int, (count(*) FILTER (WHERE x.status = 'error'))::int,
  (count(*) FILTER (WHERE x.kind = 'freshness' AND x.status IN ('pass', 'warn')))::int,
  (count(*) FILTER (WHERE x.kind = 'freshness' AND x.status IN ('pass', 'warn', 'fail')))::int
FROM `+fmt.Sprintf(cycleJoin, "LEFT", "etl2elt.check_results")+`
WHERE mc.migration_id = $1 AND mc.migration_run = $2 AND mc.cycle >= $3
GROUP BY mc.cycle ORDER BY mc.cycle`, de.MigrationID, de.MigrationRun, l.minimum)
	if err != nil {
		return fmt.Errorf("quality trend: %w", err)
	}
	var total, latestMeasured int
	for rows.Next() {
		var c QualityCycle
		if err := rows.Scan(&c.Cycle, &c.Checks, &c.Pass, &c.Warn, &c.Fail, &c.Error, &c.FreshnessMet, &c.FreshnessRuns); err != nil {
			rows.Close()
			return fmt.Errorf("quality trend: %w", err)
		}
		total += c.Checks
		if c.Checks > 0 {
			latestMeasured = c.Cycle
		}
		qt.Cycles = append(qt.Cycles, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quality trend: %w", err)
	}
	qt.Source = fmt.Sprintf("etl2elt.check_results workflow_id = migration_cycles.cycle_workflow_id, %s; etl2elt.migration_cycles.freshness_held", rowsText(int64(total)))
	if total == 0 {
		return nil
	}
	rows, err = l.q.Query(ctx, `
SELECT x.check_name, x.relation,
  (count(*) FILTER (WHERE x.status IN ('pass', 'warn')))::int, (count(*) FILTER (WHERE x.status = 'fail'))::int,
  (count(*) FILTER (WHERE x.status = 'error'))::int
FROM `+fmt.Sprintf(cycleJoin, "INNER", "etl2elt.check_results")+`
WHERE mc.migration_id = $1 AND mc.migration_run = $2 AND mc.cycle >= $3 AND x.kind = 'freshness'
GROUP BY 1, 2 ORDER BY 1, 2`, de.MigrationID, de.MigrationRun, l.minimum)
	if err != nil {
		return fmt.Errorf("freshness attainment: %w", err)
	}
	qt.SLAs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SLAAttainment, error) {
		var s SLAAttainment
		err := r.Scan(&s.Check, &s.Relation, &s.Met, &s.Missed, &s.Errors)
		return s, err
	})
	if err != nil {
		return fmt.Errorf("freshness attainment: %w", err)
	}
	rows, err = l.q.Query(ctx, `
SELECT x.check_name, x.kind, x.relation, x.status, coalesce(x.error, x.detail, '')
FROM `+fmt.Sprintf(cycleJoin, "INNER", "etl2elt.check_results")+`
WHERE mc.migration_id = $1 AND mc.migration_run = $2 AND mc.cycle = $3 AND x.status IN ('fail', 'error')
ORDER BY x.status DESC, x.check_name LIMIT 20`, de.MigrationID, de.MigrationRun, latestMeasured)
	if err != nil {
		return fmt.Errorf("failing checks: %w", err)
	}
	qt.FailingLatest, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (QualityFailure, error) {
		var f QualityFailure
		err := r.Scan(&f.Check, &f.Kind, &f.Relation, &f.Status, &f.Detail)
		f.Detail = excerpt(f.Detail, 200)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("failing checks: %w", err)
	}
	return nil
}

// cost reads the ledger and the budgets. With the latest cycle's cost status (rows
// of the decision-reports workflow version on), the spend per budget, the limits with
// their raises and the projection are the workflow's, and the ledger is read from the
// migration's start; without it (older rows), spend per budget is cost.SpendOf over
// the whole ledger and the limits are the plan's budgets plus this migration's raises.
func (l *loader) cost(ctx context.Context) error {
	c := &l.de.Cost
	c.Currency = l.p.CostRates.Currency
	c.Since = l.startedAt
	ledger, err := cost.SpendOf(ctx, l.q, l.p.Name, l.d.Name, l.startedAt)
	if err != nil {
		return err
	}
	c.Entries = ledger.Entries
	rows, err := l.q.Query(ctx, `
SELECT kind, sum(cost)::float8, count(*) FROM etl2elt.cost_usage WHERE plan_name = $1 AND domain = $2 AND recorded_at >= $3
GROUP BY kind ORDER BY 2 DESC, 1`, l.p.Name, l.d.Name, l.startedAt)
	if err != nil {
		return fmt.Errorf("cost by kind: %w", err)
	}
	c.ByKind, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (KindCost, error) {
		var k KindCost
		err := r.Scan(&k.Kind, &k.Cost, &k.Entries)
		return k, err
	})
	if err != nil {
		return fmt.Errorf("cost by kind: %w", err)
	}
	for _, k := range c.ByKind {
		c.Total += k.Cost
	}
	c.Outside = nonNegative(c.Total - ledger.Backfill - ledger.ParallelRun)
	if !l.startedAt.IsZero() {
		err := l.q.QueryRow(ctx, `SELECT coalesce(sum(cost), 0)::float8 FROM etl2elt.cost_usage WHERE plan_name = $1 AND domain = $2 AND recorded_at < $3`,
			l.p.Name, l.d.Name, l.startedAt).Scan(&c.Before)
		if err != nil {
			return fmt.Errorf("spend before the migration: %w", err)
		}
	}
	var planned plan.Budget
	if l.d.Budget != nil {
		planned = *l.d.Budget
	}
	c.Budgets = []BudgetLine{
		{Name: BudgetBackfill, Planned: planned.Backfill, Spent: ledger.Backfill},
		{Name: BudgetParallelRun, Planned: planned.ParallelRun, Spent: ledger.ParallelRun},
		{Name: BudgetReconciliation, Planned: planned.Reconciliation, Spent: ledger.Reconciliation},
	}
	raises, bound, err := l.raises(ctx)
	if err != nil {
		return err
	}
	for _, r := range raises {
		for i := range c.Budgets {
			if c.Budgets[i].Name == r.Budget {
				c.Budgets[i].Raised += r.Amount
				c.Budgets[i].Raises++
			}
		}
	}
	for i := range c.Budgets {
		b := &c.Budgets[i]
		b.HasBudget = b.Planned > 0 || b.Raised > 0
		b.Budget = b.Planned + b.Raised
	}
	mig := l.de.MigrationID
	if mig == "" {
		mig = migrationID(l.p.Name, l.d.Name)
	}
	raiseSource := fmt.Sprintf("etl2elt.decisions kind=raise-budget workflow_id=%s", mig)
	if !bound.IsZero() {
		raiseSource += " decided_at >= " + bound.UTC().Format(time.RFC3339)
	}
	raiseSource += ", and of its backfill targets"
	if l.status == nil {
		c.Source = fmt.Sprintf("etl2elt.cost_usage plan_name=%s domain=%s, %s; budgets: the plan's domains[%s].budget plus %s", l.p.Name, l.d.Name, rowsText(c.Entries), l.d.Name, raiseSource)
		if !l.de.WindowFrom.IsZero() {
			err := l.q.QueryRow(ctx, `
SELECT coalesce(sum(cost) FILTER (WHERE kind <> 'control'), 0)::float8, coalesce(sum(cost) FILTER (WHERE kind = 'reconciliation'), 0)::float8
FROM etl2elt.cost_usage WHERE plan_name = $1 AND domain = $2 AND phase IN ('parallel-run', 'watch') AND recorded_at >= $3`,
				l.p.Name, l.d.Name, l.de.WindowFrom).Scan(&c.Projection.Spend, &c.Projection.ReconciliationSpend)
			if err != nil {
				return fmt.Errorf("spend since the first cycle: %w", err)
			}
		}
		return nil
	}
	// The workflow's figures: spend as it read it after the latest cycle, limits with
	// the raises it applied, and any raise recorded since (each raise records the
	// limit it found and the one it made).
	cs := l.status
	c.StatusCycle = l.statusCycle
	c.Exceeded, c.OverDuringWatch = cs.Exceeded, cs.OverDuringWatch
	if cs.Currency != "" {
		c.Currency = cs.Currency
	}
	c.Pending = nonNegative(ledger.Backfill + ledger.ParallelRun - cs.Spent.Backfill - cs.Spent.ParallelRun)
	limits, raised := cs.Limits, cs.Raised
	for _, r := range raises {
		if r.Migration && r.At.After(l.statusStarted) && r.Before != nil && r.After != nil {
			if limit := limits.of(r.Budget); math.Abs(*r.Before-*limit) < 1e-6 && *r.After > *limit {
				*limit = *r.After
				*raised.of(r.Budget) += r.Amount
			}
		}
	}
	for i := range c.Budgets {
		b := &c.Budgets[i]
		switch b.Name {
		case BudgetBackfill:
			b.Spent = cs.Spent.Backfill
			continue
		case BudgetParallelRun:
			b.Spent = cs.Spent.ParallelRun
		case BudgetReconciliation:
			b.Spent = cs.Spent.Reconciliation
		}
		b.Budget, b.Raised = *limits.of(b.Name), *raised.of(b.Name)
		b.HasBudget = b.Budget > 0
		b.Planned = 0
		if b.HasBudget {
			b.Planned = nonNegative(b.Budget - b.Raised)
		}
	}
	c.Source = fmt.Sprintf("etl2elt.migration_cycles migration_id=%s migration_run=%s cycle=%d: cost_status (the workflow's spend since the migration started, limits with raises, rate, remaining cycles, projection); "+
		"etl2elt.cost_usage plan_name=%s domain=%s recorded_at >= %s, %s; backfill budget: the plan's domains[%s].budget.backfill plus raises; raises counted: %s",
		l.de.MigrationID, l.de.MigrationRun, l.statusCycle, l.p.Name, l.d.Name, l.startedAt.Format(time.RFC3339), rowsText(c.Entries), l.d.Name, raiseSource)
	return nil
}

func nonNegative(v float64) float64 {
	if v < 1e-9 {
		return 0
	}
	return v
}

// raises reads the raise-budget decisions of the latest migration: those the
// migration recorded (workflow_id = its id) since it started, and those of backfills
// of the domain's targets (its child backfills, or backfills started alone; never
// another plan's migration). The start is migration_started_at; for rows written
// before it, the end of the previous migration of the domain (its last cycle, or its
// abort or completion), so that an earlier migration's raises do not count. Backfill
// raises count from the start when it is known, else all of them (as the backfill
// spend does). bound is the start used for the migration's raises.
func (l *loader) raises(ctx context.Context) (out []budgetRaise, bound time.Time, err error) {
	mig := l.de.MigrationID
	if mig == "" {
		mig = migrationID(l.p.Name, l.d.Name)
	}
	bound = l.startedAt
	if bound.IsZero() {
		before := l.de.WindowFrom
		if before.IsZero() {
			before = l.now
		}
		var prev *time.Time
		err := l.q.QueryRow(ctx, `
SELECT greatest(
  (SELECT max(finished_at) FROM etl2elt.migration_cycles WHERE migration_id = $1 AND migration_run <> $2 AND finished_at < $3),
  (SELECT max(decided_at) FROM etl2elt.decisions WHERE workflow_id = $1 AND kind IN ('abort', 'migration-completed') AND decided_at < $3))`,
			mig, l.de.MigrationRun, before).Scan(&prev)
		if err != nil {
			return nil, bound, fmt.Errorf("end of the previous migration: %w", err)
		}
		if prev != nil {
			bound = *prev
		}
	}
	rows, err := l.q.Query(ctx, `
SELECT coalesce(target, ''), coalesce(evidence, 'null'::jsonb), decided_at, coalesce(workflow_id, '') = $1
FROM etl2elt.decisions
WHERE kind = 'raise-budget' AND (
  (workflow_id = $1 AND decided_at >= $2)
  OR (target = ANY($3) AND decided_at >= $4
      AND (workflow_id IS NULL OR NOT starts_with(workflow_id, 'migration/') OR starts_with(workflow_id, $1 || '/'))))
ORDER BY decided_at, id`, mig, bound, l.targets(), l.startedAt)
	if err != nil {
		return nil, bound, fmt.Errorf("budget raises: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target string
		var ev []byte
		var at time.Time
		var own bool
		if err := rows.Scan(&target, &ev, &at, &own); err != nil {
			return nil, bound, fmt.Errorf("budget raises: %w", err)
		}
		if own {
			target = "" // the migration's own raise: parallel_run unless its evidence names another
		}
		if r, ok := raiseOf(target, ev); ok {
			r.At, r.Migration = at, own
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, bound, fmt.Errorf("budget raises: %w", err)
	}
	return out, bound, nil
}

// targets are the backfill targets of the domain (its decisions may name only these).
func (l *loader) targets() []string {
	out := append([]string(nil), l.d.Models...)
	for _, s := range l.d.Sources {
		out = append(out, l.p.RawSchema()+"."+s)
	}
	return out
}

// decisions reads the latest decisions of the domain: those recorded for it, on its
// backfill targets, by its migration (not another plan's migration of the same name).
func (l *loader) decisions(ctx context.Context) error {
	dl := &l.de.Decisions
	where := `(domain = $1 OR target = ANY($2)) AND (workflow_id IS NULL OR NOT starts_with(workflow_id, 'migration/') OR starts_with(workflow_id, $3))`
	args := []any{l.d.Name, l.targets(), "migration/" + l.p.Name + "/"}
	err := l.q.QueryRow(ctx, `SELECT (count(*) FILTER (WHERE kind <> 'input-refused'))::int, (count(*) FILTER (WHERE kind = 'input-refused'))::int
FROM etl2elt.decisions WHERE `+where, args...).Scan(&dl.Total, &dl.Refused)
	if err != nil {
		return fmt.Errorf("decisions: %w", err)
	}
	rows, err := l.q.Query(ctx, `
SELECT id, kind, decided_by, reason, coalesce(target, ''), coalesce(subject, ''), coalesce(workflow_id, ''), decided_at, evidence
FROM etl2elt.decisions WHERE `+where+` AND kind <> 'input-refused' ORDER BY decided_at DESC, id DESC LIMIT $4`, append(args, MaxDecisions)...)
	if err != nil {
		return fmt.Errorf("decisions: %w", err)
	}
	dl.Entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DecisionEntry, error) {
		var d DecisionEntry
		var ev []byte
		err := r.Scan(&d.ID, &d.Kind, &d.By, &d.Reason, &d.Target, &d.Subject, &d.WorkflowID, &d.At, &ev)
		d.Evidence = evidenceSummary(ev)
		return d, err
	})
	if err != nil {
		return fmt.Errorf("decisions: %w", err)
	}
	slices.Reverse(dl.Entries)
	dl.Source = fmt.Sprintf("etl2elt.decisions domain=%s or target in its sources and models, %s (refused operator inputs left out: %d)", l.d.Name, rowsText(int64(dl.Total)), dl.Refused)
	return nil
}

// kpis reads the registry versions of the domain's metrics and finds the definition
// changes during the migration window.
func (l *loader) kpis(ctx context.Context) error {
	k, de := &l.de.KPI, l.de
	byMetric := map[string][]MetricVersion{}
	var n int
	if len(l.d.Metrics) > 0 {
		rows, err := l.q.Query(ctx, `
SELECT metric, version, definition_hash, definition, owner, coalesce(changed_by, ''), coalesce(change_reason, ''), recorded_at
FROM etl2elt.metric_versions WHERE metric = ANY($1) ORDER BY metric, version`, l.d.Metrics)
		if err != nil {
			return fmt.Errorf("metric versions: %w", err)
		}
		for rows.Next() {
			var name string
			var mv MetricVersion
			var def []byte
			if err := rows.Scan(&name, &mv.Version, &mv.Hash, &def, &mv.Owner, &mv.ChangedBy, &mv.Reason, &mv.RecordedAt); err != nil {
				rows.Close()
				return fmt.Errorf("metric versions: %w", err)
			}
			_ = json.Unmarshal(def, &mv.Definition) // a definition that does not decode shows empty
			byMetric[name] = append(byMetric[name], mv)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("metric versions: %w", err)
		}
	}
	for _, name := range l.d.Metrics {
		m, _ := l.p.Metric(name)
		km := KPIMetric{Name: name, Owner: m.Owner, Description: m.Description, Version: m.Version, Relation: m.Definition.Relation, Dashboards: m.Dashboards}
		versions := byMetric[name]
		for i, mv := range versions {
			km.Recorded = append(km.Recorded, mv.Version)
			if i == 0 || de.WindowFrom.IsZero() || mv.RecordedAt.Before(de.WindowFrom) || mv.RecordedAt.After(l.now) {
				continue
			}
			ch := DefinitionChange{Metric: name, Old: versions[i-1], New: mv, OldFrom: de.WindowFrom, Changed: mv.RecordedAt, NewTo: l.now}
			if i+1 < len(versions) {
				ch.NewTo = versions[i+1].RecordedAt
			}
			if i > 1 && versions[i-1].RecordedAt.After(ch.OldFrom) {
				ch.OldFrom = versions[i-1].RecordedAt
			}
			for _, c := range de.Cycles {
				switch {
				case c.FinishedAt.Before(ch.Changed) && !c.StartedAt.Before(ch.OldFrom):
					ch.CyclesBefore++
				case !c.StartedAt.Before(ch.Changed) && !c.StartedAt.After(ch.NewTo):
					ch.CyclesAfter++
				}
			}
			k.Changes = append(k.Changes, ch)
		}
		k.Metrics = append(k.Metrics, km)
	}
	for _, o := range l.d.Outputs {
		od := OutputDashboards{Output: o.Name, Consumption: o.Consumption, ELT: o.ELT.Relation, Legacy: o.Legacy.Relation}
		seen := map[string]bool{}
		metrics := map[string]bool{}
		for _, rel := range []string{o.Consumption, o.ELT.Relation, o.Legacy.Relation, o.Legacy.WarehouseRelation} {
			if rel == "" {
				continue
			}
			imp, err := plan.ImpactOf(l.p, rel)
			if err != nil {
				continue // a relation the plan's lineage does not know
			}
			for _, d := range imp.Dashboards {
				if !seen[d.Name] {
					seen[d.Name] = true
					od.Dashboards = append(od.Dashboards, DashboardRef{Name: d.Name, Owner: d.Owner, Tool: d.Tool})
				}
			}
			for _, m := range imp.Metrics {
				metrics[m.Name] = true
			}
		}
		for m := range metrics {
			od.Metrics = append(od.Metrics, m)
		}
		sort.Strings(od.Metrics)
		sort.Slice(od.Dashboards, func(i, j int) bool { return od.Dashboards[i].Name < od.Dashboards[j].Name })
		k.Outputs = append(k.Outputs, od)
	}
	k.Source = fmt.Sprintf("etl2elt.metric_versions metric in (%d metric(s) of the domain), %s; owners, dashboards and lineage from the plan", len(l.d.Metrics), rowsText(int64(n)))
	return nil
}
