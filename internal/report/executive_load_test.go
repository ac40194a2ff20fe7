package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/criteria"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
)

func fp(v float64) *float64 { return &v }

// execPlan is a one-domain plan with budgets, a segmented output, a metric on it and
// a dashboard.
func execPlan() *plan.Plan {
	return &plan.Plan{Name: "acme", CostRates: plan.CostRates{Currency: "USD", WarehouseHour: 3.26},
		Metrics: []plan.Metric{{Name: "daily_revenue", Owner: "cfo-office", Version: 2, Dashboards: []string{"board_pack"},
			Definition: plan.MetricDefinition{Expression: "sum(revenue) - sum(refunds)", Relation: "reporting.daily_revenue", TimeColumn: "day"}}},
		Dashboards: []plan.Dashboard{{Name: "board_pack", Owner: "cfo-office", Tool: "looker", Relations: []string{"reporting.daily_revenue"}}},
		Domains: []plan.Domain{{Name: "finance", Owners: []string{"cfo-office"}, Approvers: []string{"dana", "lee"}, Sources: []string{"orders"}, Models: []string{"fct_orders"},
			Metrics: []string{"daily_revenue"},
			Outputs: []plan.OutputPair{{Name: "daily_revenue", Consumption: "reporting.daily_revenue", Segments: []string{"day", "region"}, TimeColumn: "day",
				Legacy: plan.Side{Connection: "legacy", Relation: "legacy.daily_revenue"}, ELT: plan.Side{Connection: "warehouse", Relation: "marts.fct_daily_revenue"},
				Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Relative: fp(0.001)}}}}},
			ParallelRun:       &plan.ParallelRun{Cadence: "1h", WatchCycles: 3},
			SwitchingCriteria: &plan.SwitchingCriteria{MinCycles: 2, ConsecutivePassingCycles: 2},
			Budget:            &plan.Budget{Backfill: 100, ParallelRun: 50, Reconciliation: 10}}},
	}
}

// seeder writes control-schema rows the way the workflows do.
type seeder struct {
	t    *testing.T
	pool *pgxpool.Pool
}

func (s seeder) exec(sql string, args ...any) {
	s.t.Helper()
	_, err := s.pool.Exec(context.Background(), sql, args...)
	require.NoError(s.t, err, sql)
}

func (s seeder) cycle(migrationRun string, n int, phase, status string, started time.Time, breaches int, noData bool, crit *criteria.Result) string {
	wf := fmt.Sprintf("migration/acme/finance/cycle-%d", n)
	var cj any
	if crit != nil {
		b, _ := json.Marshal(crit)
		cj = b
	}
	s.exec(`INSERT INTO etl2elt.migration_cycles (plan_name, domain, migration_id, migration_run, cycle, phase, cycle_workflow_id, started_at, finished_at,
  status, breaches, no_data, freshness_held, criteria) VALUES ('acme', 'finance', 'migration/acme/finance', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		migrationRun, n, phase, wf, started, started.Add(10*time.Minute), status, breaches, noData, n > 1, cj)
	return wf
}

// reconcile writes one reconciliation of daily_revenue: totals and, per segment,
// legacy and ELT revenue.
func (s seeder) reconcile(runID, wf string, started time.Time, total [2]string, segments map[string][2]string) {
	breaches := 0
	status := func(l, e string) string {
		var lf, ef float64
		fmt.Sscan(l, &lf)
		fmt.Sscan(e, &ef)
		if lf == ef || (lf != 0 && abs(ef-lf)/abs(lf) <= 0.001) {
			return "pass"
		}
		breaches++
		return "fail"
	}
	type row struct{ seg, metric, l, e, st string }
	rows := []row{{"", "sum", total[0], total[1], status(total[0], total[1])}, {"", "row_count", "10", "10", "pass"}}
	for seg, v := range segments {
		rows = append(rows, row{seg, "sum", v[0], v[1], status(v[0], v[1])})
	}
	runStatus := "pass"
	if breaches > 0 {
		runStatus = "fail"
	}
	s.exec(`INSERT INTO etl2elt.reconcile_runs (run_id, plan_name, plan_hash, domain, output, legacy_relation, elt_relation, window_from, window_to,
  status, checks, breaches, workflow_id, started_at, finished_at)
VALUES ($1, 'acme', 'h', 'finance', 'daily_revenue', 'legacy.daily_revenue', 'marts.fct_daily_revenue', '2026-01-01', '2026-01-08', $2, $3, $4, $5, $6, $6)`,
		runID, runStatus, len(rows), breaches, wf, started.Add(time.Minute))
	for _, r := range rows {
		measure := "revenue"
		if r.metric == "row_count" {
			measure = "*"
		}
		s.exec(`INSERT INTO etl2elt.reconcile_results (run_id, segment, measure, metric, legacy_value, elt_value, difference, relative_difference, tolerance_relative, status)
VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $6::numeric - $5::numeric, abs($6::numeric - $5::numeric) / nullif(abs($5::numeric), 0), 0.001, $7)`,
			runID, r.seg, measure, r.metric, r.l, r.e, r.st)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func (s seeder) check(wf, runID, name, kind, status string, started time.Time) {
	s.exec(`INSERT INTO etl2elt.check_results (run_id, plan_name, domain, check_name, kind, relation, status, detail, workflow_id, started_at, finished_at)
VALUES ($1, 'acme', 'finance', $2, $3, 'raw.orders', $4, 'detail of ' || $2, $5, $6, $6)`, runID, name, kind, status, wf, started.Add(2*time.Minute))
}

func (s seeder) costRow(phase, kind string, n int, money float64, at time.Time) {
	s.exec(`INSERT INTO etl2elt.cost_usage (recorded_at, plan_name, domain, phase, kind, workflow_id, run_id, activity, activity_id, attempt, cost, currency)
VALUES ($1, 'acme', 'finance', $2, $3, 'wf', 'r', 'A', $4, 1, $5, 'USD')`, at, phase, kind, fmt.Sprintf("%s-%s-%d", phase, kind, n), money)
}

func (s seeder) decision(kind, domain, target, subject, by, reason, evidence, workflowID string, at time.Time) {
	var ev any
	if evidence != "" {
		ev = evidence
	}
	s.exec(`INSERT INTO etl2elt.decisions (kind, domain, target, subject, decided_by, reason, evidence, workflow_id, decided_at)
VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7::jsonb, NULLIF($8, ''), $9)`, kind, domain, target, subject, by, reason, ev, workflowID, at)
}

func controlPool(t *testing.T) *pgxpool.Pool {
	pool := testenv.Pool(t, testenv.Database(t, "executive"))
	_, err := warehouse.Migrate(context.Background(), pool)
	require.NoError(t, err)
	return pool
}

// TestLoadExecutive seeds an earlier migration of the domain and the latest one (four
// cycles, a breach, two cancelling segments, checks, costs, decisions, a KPI change)
// and checks every figure the report shows against the seeded rows.
func TestLoadExecutive(t *testing.T) {
	ctx := context.Background()
	pool := controlPool(t)
	s := seeder{t, pool}
	t0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	now := t0.Add(6 * time.Hour)

	// An earlier migration: same cycle workflow id, ten days before. Its run must not
	// count for the new cycle 1.
	old := t0.Add(-240 * time.Hour)
	wf := s.cycle("old-run", 1, "parallel-run", "pass", old, 0, false, nil)
	s.reconcile("old/daily_revenue", wf, old, [2]string{"1", "999"}, nil)

	notMet := criteria.Evaluate(execPlan().Domains[0].SwitchingCriteria, []criteria.Cycle{{Breaches: 1}, {}, {}, {Breaches: 2}})
	segs := map[string][2]string{
		"day=2026-01-02|region=amer": {"400", "450"}, "day=2026-01-02|region=emea": {"600", "550"}, "day=2026-01-02|region=apac": {"100", "100"},
		"day=2026-01-03|region=amer": {"500", "500"},
	}
	for n := 1; n <= 4; n++ {
		started := t0.Add(time.Duration(n-1) * time.Hour)
		var crit *criteria.Result
		status, breaches := "pass", 0
		switch n {
		case 1:
			status, breaches = "fail", 1
		case 4:
			status, breaches, crit = "fail", 2, &notMet
		}
		wf := s.cycle("r2", n, "parallel-run", status, started, breaches, false, crit)
		total := [2]string{"1600", "1600"}
		if n == 1 {
			total = [2]string{"1600", "1700"}
		}
		var sg map[string][2]string
		if n == 4 {
			sg = segs
		}
		s.reconcile(fmt.Sprintf("run-%d/daily_revenue", n), wf, started, total, sg)
		if n > 1 {
			s.check(wf, fmt.Sprintf("checks-%d", n), "freshness:orders", "freshness", map[bool]string{true: "fail", false: "pass"}[n == 3], started)
			s.check(wf, fmt.Sprintf("checks-%d", n), "orders_key_unique", "unique", map[bool]string{true: "fail", false: "pass"}[n == 4], started)
		}
	}
	// Cost: backfill 60 before the cycles, 4 cycles × (load 2 + reconciliation 0.5 +
	// legacy run 1), a scheduled run 5 outside the budgets.
	s.costRow("backfill", "backfill", 1, 40, t0.Add(-48*time.Hour))
	s.costRow("backfill", "backfill", 2, 20, t0.Add(-47*time.Hour))
	for n := 1; n <= 4; n++ {
		at := t0.Add(time.Duration(n-1)*time.Hour + 5*time.Minute)
		s.costRow("parallel-run", "load", n, 2, at)
		s.costRow("parallel-run", "reconciliation", n, 0.5, at)
		s.costRow("parallel-run", "legacy-run", n, 1, at)
	}
	s.costRow("scheduled", "load", 1, 5, t0.Add(-72*time.Hour))
	// Decisions.
	s.decision("raise-budget", "finance", "", "migration", "dana", "the dual run needs two more cycles", `{"budget": "parallel_run", "amount": 25}`, "migration/acme/finance", t0.Add(30*time.Minute))
	s.decision("raise-budget", "", "fct_orders", "", "lee", "backfill of 2025 ran longer", `{"amount": 15, "new_budget": 115}`, "backfill/fct_orders/2025-01-01..2026-01-01", t0.Add(-47*time.Hour))
	s.decision("explain", "finance", "daily_revenue", "day=2026-01-02|region=emea", "lee", "refunds booked on the order day in legacy", "", "", t0.Add(4*time.Hour))
	s.decision("rollback", "finance", "", "migration", "lee", "board pack numbers off", `{"phase": "watch", "last_cycle": 4}`, "migration/acme/finance", t0.Add(5*time.Hour))
	s.decision("input-refused", "finance", "", "rollback", "unknown", "by is missing", "", "migration/acme/finance", t0.Add(5*time.Hour))
	s.decision("abort", "finance", "", "migration", "zed", "another plan's migration", "", "migration/other/finance", t0.Add(5*time.Hour))
	// The KPI registry: v1 before the window, v2 during it.
	s.exec(`INSERT INTO etl2elt.metric_versions (metric, version, definition_hash, definition, owner, previous_hash, changed_by, change_reason, plan_name, plan_hash, recorded_by, recorded_at)
VALUES ('daily_revenue', 1, 'h1', '{"expression": "sum(revenue)", "relation": "reporting.daily_revenue", "time_column": "day"}', 'cfo-office', NULL, NULL, NULL, 'acme', 'p1', 'w', $1),
       ('daily_revenue', 2, 'h2', '{"expression": "sum(revenue) - sum(refunds)", "relation": "reporting.daily_revenue", "time_column": "day"}', 'cfo-office', 'h1', 'cfo-office', 'net of refunds', 'acme', 'p2', 'w', $2)`,
		t0.Add(-100*time.Hour), t0.Add(150*time.Minute))

	e, err := LoadExecutive(ctx, pool, execPlan(), "planhash", "finance", now)
	require.NoError(t, err)
	require.Len(t, e.Domains, 1)
	d := e.Domains[0]
	require.Equal(t, "r2", d.MigrationRun)
	require.Equal(t, 4, d.CycleCount)
	require.Equal(t, "rolled-back", d.Phase, "the rollback after the latest cycle moves the phase on")

	// 1. Verdict.
	require.Equal(t, "no-go", d.Verdict.State)
	require.Contains(t, d.Verdict.Summary, "consecutive passing cycles is 0 (needs ≥ 2)")
	require.Contains(t, d.Verdict.Source, "cycle=4")

	// 2. Variance: the new cycle 1's run only (the old migration's is ten days before).
	require.Len(t, d.Variance.Series, 2)
	var sum VarianceSeries
	for _, se := range d.Variance.Series {
		if se.Metric == "sum" {
			sum = se
		}
	}
	require.Len(t, sum.Points, 4)
	require.Equal(t, "run-1/daily_revenue", sum.Points[0].RunID)
	require.Equal(t, "fail", sum.Points[0].Status)
	require.Equal(t, "100", sum.Points[0].Difference)
	require.Equal(t, []CycleCount{{1, 1, 2}, {2, 0, 2}, {3, 0, 2}, {4, 2, 6}}, d.Variance.Breaches)
	require.Equal(t, 4, d.Variance.LatestCycle)
	require.Equal(t, 4, d.Variance.SegmentsCompared)
	require.Equal(t, 2, d.Variance.SegmentsBreaching)
	require.Equal(t, "day=2026-01-02|region=amer", d.Variance.Worst[0].Segment, "12.5 % is worse than 8.3 %")
	require.Equal(t, "open", d.Variance.Worst[0].Resolution)
	require.Equal(t, "explained", d.Variance.Worst[1].Resolution)
	require.Equal(t, "lee", d.Variance.Worst[1].ExplainedBy)
	require.Equal(t, "within tolerance", d.Variance.Worst[2].Resolution)
	require.Len(t, d.Variance.Rollup, 1)
	r := d.Variance.Rollup[0]
	require.Equal(t, DayRollup{Output: "daily_revenue", Measure: "revenue", Day: "2026-01-02", Segments: 3, Breaching: 2, Legacy: "1100", ELT: "1100", Difference: "0", RelativeDifference: fp(0), Cancels: true}, r)

	// 3. Quality: cycle 1 not measured; freshness missed in cycle 3; unique failed in 4.
	q := d.Quality
	require.Equal(t, 0, q.Cycles[0].Checks)
	require.Equal(t, "not-measured", q.Cycles[0].Worst())
	require.Equal(t, "fail", q.Cycles[2].Worst())
	require.Equal(t, []SLAAttainment{{Check: "freshness:orders", Relation: "raw.orders", Met: 2, Missed: 1}}, q.SLAs)
	require.Equal(t, "66.7 %", q.SLAs[0].Attainment())
	require.Equal(t, []QualityFailure{{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: "fail", Detail: "detail of orders_key_unique"}}, q.FailingLatest)
	require.Equal(t, 4, q.FreshnessCycles)
	require.Equal(t, 3, q.FreshnessHeld)

	// 4. Cost, by hand: backfill 60 of 100 + 15 raised; parallel run 4 × 3.5 = 14 of
	// 50 + 25 raised; reconciliation 2 of 10; scheduled 5 outside; total 79.
	c := d.Cost
	require.Equal(t, int64(15), c.Entries)
	require.InDelta(t, 79, c.Total, 1e-9)
	require.InDelta(t, 5, c.Outside, 1e-9)
	byName := map[string]BudgetLine{}
	for _, b := range c.Budgets {
		byName[b.Name] = b
	}
	require.InDelta(t, 60, byName[BudgetBackfill].Spent, 1e-9)
	require.InDelta(t, 115, byName[BudgetBackfill].Budget, 1e-9)
	require.InDelta(t, 14, byName[BudgetParallelRun].Spent, 1e-9)
	require.InDelta(t, 75, byName[BudgetParallelRun].Budget, 1e-9)
	require.InDelta(t, 2, byName[BudgetReconciliation].Spent, 1e-9)
	// Rate 14 / 4 = 3.5 per cycle; rolled back: max(0, 2 − 0, 2 − 4) + 3 watch = 5
	// cycles; projected 14 + 17.5 = 31.5; reconciliation 2 + 0.5 × 5 = 4.5.
	require.Equal(t, 5, c.Projection.Remaining)
	require.InDelta(t, 31.5, *byName[BudgetParallelRun].Projected, 1e-9)
	require.InDelta(t, 4.5, *byName[BudgetReconciliation].Projected, 1e-9)
	require.Nil(t, byName[BudgetBackfill].Projected)
	require.Equal(t, []KindCost{{"backfill", 60, 2}, {"load", 13, 5}, {"legacy-run", 4, 4}, {"reconciliation", 2, 4}}, c.ByKind)

	// 5. Decisions: the other plan's migration and the refused input left out.
	var kinds []string
	for _, de := range d.Decisions.Entries {
		kinds = append(kinds, de.Kind+":"+de.By)
	}
	require.Equal(t, []string{"raise-budget:lee", "raise-budget:dana", "explain:lee", "rollback:lee"}, kinds)
	require.Equal(t, 1, d.Decisions.Refused)
	require.Equal(t, "phase watch · last_cycle 4", d.Decisions.Entries[3].Evidence)

	// 6. KPI registry.
	require.Equal(t, []int{1, 2}, d.KPI.Metrics[0].Recorded)
	require.Len(t, d.KPI.Changes, 1)
	ch := d.KPI.Changes[0]
	require.Equal(t, "sum(revenue)", ch.Old.Definition.Expression)
	require.Equal(t, "sum(revenue) - sum(refunds)", ch.New.Definition.Expression)
	require.Equal(t, t0, ch.OldFrom.UTC())
	require.Equal(t, 3, ch.CyclesBefore, "cycles 1-3 ended before 02:30")
	require.Equal(t, 1, ch.CyclesAfter)
	require.Equal(t, []DashboardRef{{Name: "board_pack", Owner: "cfo-office", Tool: "looker"}}, d.KPI.Outputs[0].Dashboards)

	// Both renderings hold the figures.
	var h, m bytes.Buffer
	require.NoError(t, RenderExecutiveHTML(&h, e))
	require.NoError(t, RenderExecutiveMarkdown(&m, e))
	require.Contains(t, h.String(), "USD 14.00")
	require.Contains(t, m.String(), "| parallel_run | 50.00 | 25.00 (1×) | 75.00 | USD 14.00 | 18.7 % | 31.50 |")

	// Whole plan and unknown domain.
	all, err := LoadExecutive(ctx, pool, execPlan(), "planhash", "", now)
	require.NoError(t, err)
	require.Len(t, all.Domains, 1)
	_, err = LoadExecutive(ctx, pool, execPlan(), "planhash", "nope", now)
	require.ErrorContains(t, err, `plan acme has no domain "nope"`)
}

// TestLoadExecutiveNoData: a domain whose cycles compared no row is no data, never go,
// even when its recorded criteria read as met; a domain without cycles has no evidence.
func TestLoadExecutiveNoData(t *testing.T) {
	ctx := context.Background()
	pool := controlPool(t)
	s := seeder{t, pool}
	t0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	met := &criteria.Result{Met: true, Criteria: []criteria.Criterion{{Name: "cycles", Value: "3", Threshold: "≥ 2", Pass: true}}}

	e, err := LoadExecutive(ctx, pool, execPlan(), "h", "finance", t0)
	require.NoError(t, err)
	require.Equal(t, "no-evidence", e.Domains[0].Verdict.State)
	require.False(t, e.Domains[0].Verdict.Go)

	for n := 1; n <= 3; n++ {
		started := t0.Add(time.Duration(n) * time.Hour)
		wf := s.cycle("r1", n, "parallel-run", "no-data", started, 0, true, met)
		s.reconcile(fmt.Sprintf("run-%d/daily_revenue", n), wf, started, [2]string{"0", "0"}, nil)
	}
	e, err = LoadExecutive(ctx, pool, execPlan(), "h", "finance", t0.Add(5*time.Hour))
	require.NoError(t, err)
	d := e.Domains[0]
	require.Equal(t, "no-data", d.Verdict.State)
	require.False(t, d.Verdict.Go)
	require.Equal(t, "NO DATA", d.Verdict.Label())
	require.Equal(t, "not-measured", d.Quality.Cycles[0].Worst())
	var b bytes.Buffer
	require.NoError(t, RenderExecutiveMarkdown(&b, e))
	require.Contains(t, b.String(), "**NO DATA** None of the 3 cycle(s) compared a row on either side: no data is not a pass.")
	require.Contains(t, b.String(), "Quality checks: **not yet measured**.")
	require.NotContains(t, b.String(), "**GO**")
}

// TestLoadExecutiveBounded: the worst segments and the roll-up are bounded however many
// segments breach.
func TestLoadExecutiveBounded(t *testing.T) {
	ctx := context.Background()
	pool := controlPool(t)
	s := seeder{t, pool}
	t0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	wf := s.cycle("r1", 1, "parallel-run", "fail", t0, 400, false, nil)
	s.reconcile("run-1/daily_revenue", wf, t0, [2]string{"1", "1"}, nil)
	s.exec(`INSERT INTO etl2elt.reconcile_results (run_id, segment, measure, metric, legacy_value, elt_value, difference, relative_difference, status)
SELECT 'run-1/daily_revenue', format('day=2026-01-%s|region=r%s', lpad((1 + g % 28)::text, 2, '0'), g), 'revenue', 'sum', 100, 100 + g % 7, g % 7, (g % 7) / 100.0,
  CASE WHEN g % 7 = 0 THEN 'pass' ELSE 'fail' END
FROM generate_series(1, 1000) g`)
	e, err := LoadExecutive(ctx, pool, execPlan(), "h", "finance", t0.Add(time.Hour))
	require.NoError(t, err)
	v := e.Domains[0].Variance
	require.Len(t, v.Worst, MaxWorstSegments)
	require.Equal(t, 1000, v.SegmentsCompared)
	require.Equal(t, 1000-142, v.SegmentsBreaching)
	require.InDelta(t, 0.06, *v.Worst[0].RelativeDifference, 1e-9)
	require.Len(t, v.Rollup, 24, "one row per breaching day (days 8, 15, 22 have none)")
}

// statusOf records a cycle's cost status and the migration's start, as the workflow
// does from the decision-reports version on.
func (s seeder) statusOf(migrationRun string, n int, started time.Time, status string) {
	s.exec(`UPDATE etl2elt.migration_cycles SET cost_status = $1::jsonb, migration_started_at = $2 WHERE migration_run = $3 AND cycle = $4`,
		status, started, migrationRun, n)
}

// TestLoadExecutiveCostStatus: the budgets are the workflow's (the latest cycle's
// cost_status), spend is counted from the migration's start, and only the raises of
// this migration count: not an earlier, aborted migration's of the same domain, nor
// another plan's domain of the same name. Rows without the cost status fall back to
// the ledger, with the same raises.
func TestLoadExecutiveCostStatus(t *testing.T) {
	ctx := context.Background()
	pool := controlPool(t)
	s := seeder{t, pool}
	t0 := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	start := t0.Add(-2 * time.Hour)
	mig := "migration/acme/finance"

	// An earlier migration of the domain, aborted after a raise of 30 and spending 7;
	// a backfill of 60 before this migration.
	old := t0.Add(-240 * time.Hour)
	s.cycle("old-run", 1, "parallel-run", "pass", old, 0, false, nil)
	s.costRow("parallel-run", "load", 100, 7, old.Add(5*time.Minute))
	s.decision("raise-budget", "finance", "", "migration", "dana", "an earlier migration's raise", `{"budget": "parallel_run", "amount": 30, "limit_before": 50, "limit_after": 80}`, mig, old.Add(time.Hour))
	s.decision("abort", "finance", "", "migration", "dana", "started over", "", mig, old.Add(2*time.Hour))
	s.costRow("backfill", "backfill", 100, 60, t0.Add(-48*time.Hour))

	// This migration: a backfill of 20, three cycles of 3.5 (reconciliation 0.5) and
	// 0.25 of bookkeeping each, a raise of 25 before cycle 3, and 2 spent after cycle
	// 3's books closed.
	s.costRow("backfill", "backfill", 1, 20, start.Add(30*time.Minute))
	for n := 1; n <= 3; n++ {
		started := t0.Add(time.Duration(n-1) * time.Hour)
		s.cycle("r2", n, "parallel-run", "pass", started, 0, false, nil)
		at := started.Add(5 * time.Minute)
		s.costRow("parallel-run", "load", n, 2, at)
		s.costRow("parallel-run", "reconciliation", n, 0.5, at)
		s.costRow("parallel-run", "legacy-run", n, 1, at)
		s.costRow("parallel-run", "control", n, 0.25, at)
	}
	s.costRow("parallel-run", "load", 4, 2, t0.Add(2*time.Hour+50*time.Minute))
	s.decision("raise-budget", "finance", "", "migration", "dana", "two more cycles agreed with finance", `{"budget": "parallel_run", "amount": 25, "limit_before": 50, "limit_after": 75}`, mig, t0.Add(90*time.Minute))
	s.decision("raise-budget", "finance", "", "migration", "zed", "another plan's migration", `{"budget": "parallel_run", "amount": 40}`, "migration/other/finance", t0.Add(90*time.Minute))
	// A raise after cycle 3's row: the workflow applied it after recording the cycle.
	s.decision("raise-budget", "finance", "", "migration", "lee", "reconciliation of the new segments", `{"budget": "reconciliation", "amount": 5, "limit_before": 10, "limit_after": 15}`, mig, t0.Add(2*time.Hour+30*time.Minute))
	for n := 1; n <= 2; n++ {
		s.statusOf("r2", n, start, `{"currency": "USD"}`) // earlier cycles: not read
	}
	s.statusOf("r2", 3, start, `{"currency": "USD", "spent": {"backfill": 20, "parallel_run": 10.5, "reconciliation": 1.5},
  "limits": {"parallel_run": 75, "reconciliation": 10}, "raised": {"parallel_run": 25, "reconciliation": 0},
  "per_cycle": 3.5, "reconciliation_per_cycle": 0.5, "remaining_cycles": 4,
  "projection": {"parallel_run": 24.5, "reconciliation": 3.5}, "cycles": 3}`)

	type line struct {
		planned, raised, budget, spent float64
		raises                         int
		projected                      *float64
	}
	lines := func(c CostReport) map[string]line {
		out := map[string]line{}
		for _, b := range c.Budgets {
			out[b.Name] = line{b.Planned, b.Raised, b.Budget, b.Spent, b.Raises, b.Projected}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		status bool
		want   map[string]line
		// total, outside, before, pending
		total, outside, before, pending float64
		rate                            float64
		remaining                       int
	}{
		{name: "the workflow's cost status", status: true,
			want: map[string]line{
				BudgetBackfill:       {planned: 100, budget: 100, spent: 20},
				BudgetParallelRun:    {planned: 50, raised: 25, budget: 75, spent: 10.5, raises: 1, projected: fp(24.5)},
				BudgetReconciliation: {planned: 10, raised: 5, budget: 15, spent: 1.5, raises: 1, projected: fp(3.5)},
			},
			// Since the start: 20 + 3 × 3.75 + 2; control 0.75 outside; 60 + 7 before.
			total: 33.25, outside: 0.75, before: 67, pending: 2, rate: 3.5, remaining: 4},
		{name: "older rows: the ledger, the same raises",
			want: map[string]line{
				// All of the ledger: backfill 60 + 20; parallel run 7 + 10.5 + 2.
				BudgetBackfill:       {planned: 100, budget: 100, spent: 80},
				BudgetParallelRun:    {planned: 50, raised: 25, budget: 75, spent: 19.5, raises: 1, projected: fp(19.5 + 12.5)},
				BudgetReconciliation: {planned: 10, raised: 5, budget: 15, spent: 1.5, raises: 1, projected: fp(1.5 + 0.5*3)},
			},
			// Rate: (3 × 3.5 + 2) ÷ 3 since the first cycle; remaining: the streak of 3
			// meets the criteria, 3 watch cycles are left.
			total: 100.25, outside: 0.75, rate: 12.5 / 3, remaining: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.status {
				s.exec(`UPDATE etl2elt.migration_cycles SET cost_status = NULL, migration_started_at = NULL`)
			}
			e, err := LoadExecutive(ctx, pool, execPlan(), "h", "finance", t0.Add(3*time.Hour))
			require.NoError(t, err)
			c := e.Domains[0].Cost
			got := lines(c)
			for name, w := range tc.want {
				g := got[name]
				require.InDelta(t, w.planned, g.planned, 1e-9, name+" planned")
				require.InDelta(t, w.raised, g.raised, 1e-9, name+" raised")
				require.InDelta(t, w.budget, g.budget, 1e-9, name+" budget")
				require.InDelta(t, w.spent, g.spent, 1e-9, name+" spent")
				require.Equal(t, w.raises, g.raises, name+" raises")
				if w.projected == nil {
					require.Nil(t, g.projected, name)
				} else {
					require.NotNil(t, g.projected, name)
					require.InDelta(t, *w.projected, *g.projected, 1e-9, name+" projected")
				}
			}
			require.InDelta(t, tc.total, c.Total, 1e-9)
			require.InDelta(t, tc.outside, c.Outside, 1e-9)
			require.InDelta(t, tc.before, c.Before, 1e-9)
			require.InDelta(t, tc.pending, c.Pending, 1e-9)
			require.InDelta(t, tc.rate, c.Projection.Rate, 1e-9)
			require.Equal(t, tc.remaining, c.Projection.Remaining)
			require.Equal(t, tc.status, c.Projection.FromStatus)
			var m, h bytes.Buffer
			require.NoError(t, RenderExecutiveMarkdown(&m, e))
			require.NoError(t, RenderExecutiveHTML(&h, e))
			if tc.status {
				require.Contains(t, h.String(), "Remaining cycles 4: the migration&#39;s estimate after cycle 3")
				require.Equal(t, 3, c.StatusCycle)
				require.Equal(t, start, c.Since)
				require.Contains(t, m.String(), "Spent since the migration started (2026-01-09 22:00 UTC): **USD 33.25** across every phase (USD 0.75 outside the budgets")
				require.Contains(t, m.String(), "USD 2.00 of it recorded after cycle 3's books closed")
				require.Contains(t, m.String(), "USD 67.00 was spent before the migration started")
				require.Contains(t, m.String(), "Remaining cycles 4: the migration's estimate after cycle 3")
				require.Contains(t, m.String(), "| parallel_run | 50.00 | 25.00 (1×) | 75.00 | USD 10.50 | 14.0 % | 24.50 |")
				require.Contains(t, m.String(), "raises counted: etl2elt.decisions kind=raise-budget workflow_id=migration/acme/finance decided_at &gt;= 2026-01-09T22:00:00Z")
			} else {
				require.Zero(t, c.StatusCycle)
				require.Contains(t, m.String(), "Spent to date: **USD 100.25** across every phase")
			}
		})
	}
}
