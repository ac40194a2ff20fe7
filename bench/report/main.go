// Command report measures the executive report (report.LoadExecutive, then the HTML
// page and the Markdown) of a migration of 100 cycles × 1,000 segments against one of
// 10 cycles × 1,000 segments, each in its own throwaway database, and prints the
// ratio (goal: under 2). Every cycle has its reconciliation (totals, and 1,000
// segments × 2 metrics, every tenth segment of every third cycle off by ±5 %), 4
// quality checks and 5 cost ledger rows; the domain has 20 decisions and 2 metric
// versions. Best and median of -reps rounds after a warm-up, the two migrations
// measured in alternating rounds. Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/criteria"
	"etl2elt/internal/plan"
	"etl2elt/internal/report"
)

func main() {
	segments := flag.Int("segments", 1000, "segments per cycle")
	small := flag.Int("small", 10, "cycles of the small migration")
	large := flag.Int("large", 100, "cycles of the large migration")
	reps := flag.Int("reps", 21, "measured rounds of each, alternating (best and median printed)")
	flag.Parse()
	if err := run(*segments, *small, *large, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func f(v float64) *float64 { return &v }

// benchPlan is a one-domain plan like the demo's.
func benchPlan() *plan.Plan {
	return &plan.Plan{Name: "bench", CostRates: plan.CostRates{Currency: "USD", WarehouseHour: 3.26},
		Metrics: []plan.Metric{{Name: "daily_revenue", Owner: "cfo-office", Version: 2, Dashboards: []string{"board_pack"},
			Definition: plan.MetricDefinition{Expression: "sum(revenue)", Relation: "reporting.daily_revenue", TimeColumn: "day"}}},
		Dashboards: []plan.Dashboard{{Name: "board_pack", Owner: "cfo-office", Relations: []string{"reporting.daily_revenue"}}},
		Domains: []plan.Domain{{Name: "finance", Owners: []string{"cfo-office"}, Approvers: []string{"dana", "lee"}, Sources: []string{"orders"},
			Metrics: []string{"daily_revenue"},
			Outputs: []plan.OutputPair{{Name: "daily_revenue", Consumption: "reporting.daily_revenue", Segments: []string{"day", "region"}, TimeColumn: "day",
				Legacy: plan.Side{Connection: "legacy", Relation: "legacy.daily_revenue"}, ELT: plan.Side{Connection: "warehouse", Relation: "marts.fct_daily_revenue"},
				Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Relative: f(0.001)}}}}},
			ParallelRun:       &plan.ParallelRun{Cadence: "1h", WatchCycles: 24},
			SwitchingCriteria: &plan.SwitchingCriteria{MinCycles: 24, ConsecutivePassingCycles: 12},
			Budget:            &plan.Budget{Backfill: 250, ParallelRun: 400, Reconciliation: 100}}},
	}
}

// seed writes a migration of n cycles × segments into the control schema with
// set-based SQL (the same rows the workflows write one by one).
func seed(ctx context.Context, pool *pgxpool.Pool, cycles, segments int) error {
	cj, err := json.Marshal(criteria.Evaluate(benchPlan().Domains[0].SwitchingCriteria, make([]criteria.Cycle, cycles)))
	if err != nil {
		return err
	}
	const days = 28
	type stmt struct {
		sql  string
		args []any
	}
	stmts := []stmt{{
		`INSERT INTO etl2elt.migration_cycles (plan_name, domain, migration_id, migration_run, cycle, phase, cycle_workflow_id, started_at, finished_at,
  window_text, status, breaches, no_data, quality_failures, freshness_held, within_budget, report_html, report_markdown, criteria)
SELECT 'bench', 'finance', 'migration/bench/finance', 'run-1', c, 'parallel-run', 'migration/bench/finance/cycle-' || c,
  timestamptz '2026-01-01' + c * interval '1 hour', timestamptz '2026-01-01' + c * interval '1 hour' + interval '10 minutes',
  '[2025-12-25, 2026-01-01)', CASE WHEN c % 3 = 0 THEN 'fail' ELSE 'pass' END, CASE WHEN c % 3 = 0 THEN $2::int / 10 ELSE 0 END, false, 0, c % 11 <> 0, true,
  's3://reports/bench/finance/cycle-' || c || '/reconciliation.html', 's3://reports/bench/finance/cycle-' || c || '/reconciliation.md', $3::jsonb
FROM generate_series(1, $1::int) c`, []any{cycles, segments, string(cj)}}, {
		`INSERT INTO etl2elt.reconcile_runs (run_id, plan_name, plan_hash, domain, output, legacy_relation, elt_relation, window_from, window_to,
  status, checks, breaches, workflow_id, started_at, finished_at)
SELECT 'cycle-' || c || '/daily_revenue', 'bench', 'h', 'finance', 'daily_revenue', 'legacy.daily_revenue', 'marts.fct_daily_revenue', '2025-12-25', '2026-01-01',
  CASE WHEN c % 3 = 0 THEN 'fail' ELSE 'pass' END, 2 + 2 * $2::int, CASE WHEN c % 3 = 0 THEN $2::int / 10 ELSE 0 END, 'migration/bench/finance/cycle-' || c,
  timestamptz '2026-01-01' + c * interval '1 hour' + interval '2 minutes', timestamptz '2026-01-01' + c * interval '1 hour' + interval '5 minutes'
FROM generate_series(1, $1::int) c`, []any{cycles, segments}}, {
		// Totals: rows and revenue.
		`INSERT INTO etl2elt.reconcile_results (run_id, segment, measure, metric, legacy_value, elt_value, difference, relative_difference, tolerance_relative, status)
SELECT 'cycle-' || c || '/daily_revenue', '', m.measure, m.metric, 1000 * $2::int, 1000 * $2::int + (c % 5), c % 5, (c % 5) / (1000.0 * $2::int), 0.001, 'pass'
FROM generate_series(1, $1::int) c, (VALUES ('*', 'row_count'), ('revenue', 'sum')) AS m(measure, metric)`, []any{cycles, segments}}, {
		// Segments: in every third cycle, every tenth segment off by +5 % or -5 %.
		`INSERT INTO etl2elt.reconcile_results (run_id, segment, measure, metric, legacy_value, elt_value, difference, relative_difference, tolerance_relative, status)
SELECT 'cycle-' || c || '/daily_revenue', format('day=2025-12-%s|region=r%s', lpad((1 + g % $2::int)::text, 2, '0'), g), m.measure, m.metric,
  1000, 1000 + o.off, o.off, abs(o.off) / 1000.0, 0.001, CASE WHEN o.off = 0 THEN 'pass' ELSE 'fail' END
FROM generate_series(1, $1::int) c, generate_series(1, $3::int) g,
  (VALUES ('*', 'row_count'), ('revenue', 'sum')) AS m(measure, metric),
  LATERAL (SELECT CASE WHEN m.metric = 'sum' AND c % 3 = 0 AND g % 20 = 0 THEN 50 WHEN m.metric = 'sum' AND c % 3 = 0 AND g % 20 = 10 THEN -50 ELSE 0 END AS off) o`, []any{cycles, days, segments}}, {
		`INSERT INTO etl2elt.check_results (run_id, plan_name, domain, check_name, kind, relation, status, detail, workflow_id, started_at, finished_at)
SELECT 'checks-' || c, 'bench', 'finance', k.name, k.kind, 'raw.orders', CASE WHEN k.kind = 'freshness' AND c % 11 = 0 THEN 'fail' ELSE 'pass' END,
  k.name, 'migration/bench/finance/cycle-' || c, timestamptz '2026-01-01' + c * interval '1 hour' + interval '3 minutes',
  timestamptz '2026-01-01' + c * interval '1 hour' + interval '4 minutes'
FROM generate_series(1, $1::int) c,
  (VALUES ('freshness:orders', 'freshness'), ('orders_key_unique', 'unique'), ('orders_amount_present', 'null_fraction'), ('orders_days', 'missing_days')) AS k(name, kind)`, []any{cycles}}, {
		`INSERT INTO etl2elt.cost_usage (recorded_at, plan_name, domain, phase, kind, workflow_id, run_id, activity, activity_id, attempt, statement_seconds, cost, currency)
SELECT timestamptz '2026-01-01' + c * interval '1 hour' + interval '6 minutes', 'bench', 'finance', 'parallel-run', k.kind, 'migration/bench/finance/cycle-' || c, 'r', 'A', k.kind, 1, 1.5, k.cost, 'USD'
FROM generate_series(1, $1::int) c, (VALUES ('load', 1.25), ('models', 0.75), ('reconciliation', 0.40), ('quality', 0.10), ('legacy-run', 2.00)) AS k(kind, cost)`, []any{cycles}}, {
		`INSERT INTO etl2elt.decisions (kind, domain, subject, decided_by, reason, evidence, workflow_id, decided_at)
SELECT (ARRAY['pause', 'resume', 'raise-budget', 'explain'])[1 + g % 4], 'finance',
  CASE WHEN g % 4 = 3 THEN 'day=2025-12-11|region=r10' ELSE 'migration' END, (ARRAY['dana', 'lee'])[1 + g % 2], 'reason number ' || g,
  CASE WHEN g % 4 = 2 THEN '{"budget": "parallel_run", "amount": 10}'::jsonb ELSE '{"phase": "parallel-run", "last_cycle": 3}'::jsonb END,
  'migration/bench/finance', timestamptz '2026-01-01' + g * interval '30 minutes'
FROM generate_series(1, 20) g`, nil}, {
		`INSERT INTO etl2elt.metric_versions (metric, version, definition_hash, definition, owner, previous_hash, changed_by, change_reason, plan_name, plan_hash, recorded_by, recorded_at)
VALUES ('daily_revenue', 1, 'h1', '{"expression": "sum(revenue)", "relation": "reporting.daily_revenue", "time_column": "day"}', 'cfo-office', NULL, NULL, NULL, 'bench', 'p', 'w', '2025-12-01'),
       ('daily_revenue', 2, 'h2', '{"expression": "sum(revenue) - sum(refunds)", "relation": "reporting.daily_revenue", "time_column": "day"}', 'cfo-office', 'h1', 'cfo-office', 'net of refunds', 'bench', 'p', 'w', '2026-01-01 05:00')`, nil}, {
		`ANALYZE`, nil,
	}}
	for i, s := range stmts {
		if _, err := pool.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("seed statement %d: %w", i+1, err)
		}
	}
	return nil
}

// once is one load and render: LoadExecutive, then the HTML page and the Markdown.
func once(ctx context.Context, pool *pgxpool.Pool, p *plan.Plan) (int, error) {
	e, err := report.LoadExecutive(ctx, pool, p, "h", "finance", time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return 0, err
	}
	var h, m bytes.Buffer
	if err := report.RenderExecutiveHTML(&h, e); err != nil {
		return 0, err
	}
	if err := report.RenderExecutiveMarkdown(&m, e); err != nil {
		return 0, err
	}
	return h.Len() + m.Len(), nil
}

type measured struct {
	times []time.Duration
	bytes int
}

func (m *measured) best() time.Duration   { return m.times[0] }
func (m *measured) median() time.Duration { return m.times[len(m.times)/2] }

// run seeds both migrations, each in its own database, then measures them in
// alternating rounds (drift of a shared machine hits both alike).
func run(segments, small, large, reps int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	if admin == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN is not set: run through `make bench`")
	}
	fmt.Printf("machine: %s, %s\n", benchenv.Machine(), runtime.Version())
	sizes := []int{small, large}
	pools := make([]*pgxpool.Pool, len(sizes))
	rows := make([]int64, len(sizes))
	for i, cycles := range sizes {
		_, pool, drop, err := benchenv.Warehouse(ctx, admin, fmt.Sprintf("bench_report_%d", cycles))
		if err != nil {
			return err
		}
		defer drop()
		began := time.Now()
		if err := seed(ctx, pool, cycles, segments); err != nil {
			return err
		}
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.reconcile_results`).Scan(&rows[i]); err != nil {
			return err
		}
		fmt.Printf("seeded %d cycles × %d segments: %d reconcile_results rows in %v\n", cycles, segments, rows[i], time.Since(began).Round(time.Millisecond))
		pools[i] = pool
	}
	p := benchPlan()
	results := make([]measured, len(sizes))
	for i := range sizes {
		n, err := once(ctx, pools[i], p) // warm-up
		if err != nil {
			return err
		}
		results[i].bytes = n
	}
	for r := 0; r < reps; r++ {
		for i := range sizes {
			runtime.GC()
			began := time.Now()
			if _, err := once(ctx, pools[i], p); err != nil {
				return err
			}
			results[i].times = append(results[i].times, time.Since(began))
		}
	}
	for i, cycles := range sizes {
		m := &results[i]
		sort.Slice(m.times, func(a, b int) bool { return m.times[a] < m.times[b] })
		fmt.Printf("%3d cycles × %d segments: load + render best %v, median %v (%d KB of HTML and Markdown)\n",
			cycles, segments, m.best().Round(100*time.Microsecond), m.median().Round(100*time.Microsecond), m.bytes/1024)
	}
	fmt.Printf("ratio %d / %d cycles: best %.2f, median %.2f (goal < 2)\n", large, small,
		results[1].best().Seconds()/results[0].best().Seconds(), results[1].median().Seconds()/results[0].median().Seconds())
	return nil
}
