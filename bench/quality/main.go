// Command quality measures the cost of a domain's quality checks on a raw table of N
// rows (default 10M: 30 days × N/30 orders, 30 loads) against one bare scan of it
// (count(*) over the window), in the same program. It prints, each as a ratio to the
// bare scan: the four scan kinds on the relation (not_null, null_fraction,
// accepted_values, range) run together by RunAll, the nine kinds RunAll folds into one
// shared pass (all but unique), then each of the other kinds alone, then all of them
// (what a pipeline run pays; goal ≤ 1.5). Run it with `make bench`; -keep keeps the
// seeded database for the next run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows in the raw table")
	keep := flag.Bool("keep", false, "keep the seeded database (bench_quality_keep_<rows>) and reuse it on the next run")
	explain := flag.Bool("explain", false, "print EXPLAIN ANALYZE of every statement of a pipeline run's checks, and stop")
	days := flag.Int("window-days", 30, "check the last N of the 30 days (1: a daily run's window)")
	flag.Parse()
	if err := run(*rows, *days, *keep, *explain); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func f(v float64) *float64 { return &v }

func run(rows, days int, keep, explain bool) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	if admin == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN is not set: run through `make bench`")
	}
	pool, seeded, drop, err := database(ctx, admin, rows, keep)
	if err != nil {
		return err
	}
	defer drop()
	// 30 days, one load per day landed at the end of its day; amounts, regions,
	// customers; a few NULLs so that examples are fetched like in real runs. The key
	// index is the one the loader keeps on a source with a primary key
	// (internal/ingest/keys.go: the key columns and _etl_load); VACUUM sets the
	// visibility map as autovacuum would after the loads.
	seed := fmt.Sprintf(`CREATE SCHEMA raw; CREATE TABLE raw.orders AS
SELECT g AS order_id, 'c' || (g %% 50000) AS customer_id, (ARRAY['amer','emea','apac'])[1 + g %% 3] AS region,
       CASE WHEN g %% 1000000 = 7 THEN NULL ELSE (g %% 10000)::numeric / 100 END AS amount,
       timestamptz '2026-01-01' + (g %% 30) * interval '1 day' + (g %% 86400) * interval '1 second' AS ordered_at,
       (g %% 30 + 1)::bigint AS _etl_load, timestamptz '2026-01-02' + (g %% 30) * interval '1 day' AS _etl_loaded_at, g AS _etl_line
FROM generate_series(1, %d) g;
CREATE TABLE raw.customers AS SELECT 'c' || g AS customer_id FROM generate_series(0, 49999) g;
CREATE INDEX orders_etl_key_0 ON raw.orders (order_id, _etl_load)`, rows)
	began := time.Now()
	if !seeded {
		if _, err := pool.Exec(ctx, seed); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE raw.orders`); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE raw.customers`); err != nil {
			return err
		}
	}
	fmt.Printf("machine: %s; raw.orders %d rows (seeded in %v)\n", benchenv.Machine(), rows, time.Since(began).Round(time.Second))
	w := window.Window{From: time.Date(2026, 1, 31-min(max(days, 1), 30), 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}
	fmt.Printf("window %s\n", w)
	spec := func(q plan.QualityCheck) quality.Spec {
		q.Relation, q.TimeColumn, q.Key = "raw.orders", "ordered_at", []string{"order_id"}
		if q.Fail == nil {
			q.Fail = f(0)
		}
		return quality.Spec{QualityCheck: q}
	}
	scan := []quality.Spec{
		spec(plan.QualityCheck{Name: "not_null", Kind: "not_null", Columns: []string{"order_id", "ordered_at"}}),
		spec(plan.QualityCheck{Name: "null_fraction", Kind: "null_fraction", Columns: []string{"amount"}, Fail: f(0.01)}),
		spec(plan.QualityCheck{Name: "accepted_values", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer", "emea", "apac"}}),
		spec(plan.QualityCheck{Name: "range", Kind: "range", Columns: []string{"amount"}, Min: f(0), Max: f(1000)}),
	}
	others := []quality.Spec{
		spec(plan.QualityCheck{Name: "unique", Kind: "unique", Columns: []string{"order_id"}}),
		spec(plan.QualityCheck{Name: "missing_days", Kind: "missing_days"}),
		spec(plan.QualityCheck{Name: "row_count_change", Kind: "row_count_change", Fail: f(0.5)}),
		spec(plan.QualityCheck{Name: "late_arrival", Kind: "late_arrival", AllowedLateness: "2d", Fail: f(0.5)}),
		spec(plan.QualityCheck{Name: "out_of_order", Kind: "out_of_order", Fail: f(0.5)}),
		spec(plan.QualityCheck{Name: "referential", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"customer_id"}}}),
	}
	env := quality.Env{Loads: func(_ context.Context, ids []int64) (map[int64]quality.LoadOrigin, error) {
		out := map[int64]quality.LoadOrigin{}
		for _, id := range ids {
			key := fmt.Sprintf("landing/orders/dt=2026-01-%02d/orders.csv", id)
			out[id] = quality.LoadOrigin{ObjectKey: key, Partition: quality.PartitionOf(key)}
		}
		return out, nil
	}}
	bare := func() error {
		var n int64
		return pool.QueryRow(ctx, `SELECT count(*) FROM raw.orders WHERE ordered_at >= $1 AND ordered_at < $2`, w.From, w.To).Scan(&n)
	}
	checks := func(specs []quality.Spec) func() error {
		return func() error {
			res, err := quality.RunAll(ctx, pool, "postgres", specs, w, env)
			if err != nil {
				return err
			}
			for _, r := range res {
				if r.Status == quality.Error {
					return fmt.Errorf("%s: %s", r.Check, r.Error)
				}
			}
			return nil
		}
	}
	if err := bare(); err != nil { // warm the cache
		return err
	}
	if explain {
		return explainAll(ctx, pool, append(append([]quality.Spec{}, scan...), others...), w, env)
	}
	tb, err := best(pool, bare)
	if err != nil {
		return err
	}
	fmt.Printf("bare scan (count(*) over the window): %v\n", tb.Round(time.Millisecond))
	tc, err := best(pool, func() error {
		var n [7]int64
		return pool.QueryRow(ctx, `SELECT count(order_id), count(customer_id), count(region), count(amount), count(ordered_at), count(_etl_load), count(_etl_loaded_at)
FROM raw.orders WHERE ordered_at >= $1 AND ordered_at < $2`, w.From, w.To).Scan(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6])
	})
	if err != nil {
		return err
	}
	fmt.Printf("scan reading every column (count(col) of each): %v (ratio %.2f to the bare scan)\n", tc.Round(time.Millisecond), tc.Seconds()/tb.Seconds())
	report := func(name string, fn func() error) (time.Duration, error) {
		d, err := best(pool, fn)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-55s %8v  ratio %.2f\n", name, d.Round(time.Millisecond), d.Seconds()/tb.Seconds())
		return d, nil
	}
	if _, err := report("scan kinds together (not_null, null_fraction, accepted_values, range)", checks(scan)); err != nil {
		return err
	}
	var shared []quality.Spec
	for _, s := range others {
		if s.Kind != "unique" {
			shared = append(shared, s)
		}
	}
	if _, err := report(fmt.Sprintf("the %d kinds of the shared pass together (all but unique)", len(scan)+len(shared)), checks(append(append([]quality.Spec{}, scan...), shared...))); err != nil {
		return err
	}
	for _, s := range others {
		if _, err := report(s.Kind+" alone", checks([]quality.Spec{s})); err != nil {
			return err
		}
	}
	_, err = report(fmt.Sprintf("all %d checks (a pipeline run) (goal ≤ 1.5)", len(scan)+len(others)), checks(append(append([]quality.Spec{}, scan...), others...)))
	return err
}

// database opens the benchmark's database: a throwaway one, or with keep the one kept
// by an earlier run (seeded reports that raw.orders is there with its rows).
func database(ctx context.Context, admin string, rows int, keep bool) (*pgxpool.Pool, bool, func(), error) {
	if !keep {
		_, pool, drop, err := benchenv.Warehouse(ctx, admin, "bench_quality")
		return pool, false, drop, err
	}
	name := fmt.Sprintf("bench_quality_keep_%d", rows)
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return nil, false, nil, err
	}
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	if pool, err := pgxpool.New(ctx, dsn); err == nil {
		var n int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM raw.orders`).Scan(&n); err == nil && n == int64(rows) {
			return pool, true, pool.Close, nil
		}
		pool.Close()
	}
	dsn, drop, err := benchenv.CreateDatabase(ctx, admin, name)
	if err != nil {
		return nil, false, nil, fmt.Errorf("%w (a half-seeded %s from an interrupted run? drop it)", err, name)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		drop()
		return nil, false, nil, err
	}
	if _, err := warehouse.Migrate(ctx, pool); err != nil {
		pool.Close()
		drop()
		return nil, false, nil, err
	}
	return pool, false, pool.Close, nil
}

// recorder keeps the statements the checks send (and sends them).
type recorder struct {
	pool *pgxpool.Pool
	sql  []string
	args [][]any
}

func (r *recorder) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.sql, r.args = append(r.sql, sql), append(r.args, args)
	return r.pool.Query(ctx, sql, args...)
}

func (r *recorder) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r.sql, r.args = append(r.sql, sql), append(r.args, args)
	return r.pool.QueryRow(ctx, sql, args...)
}

// explainAll runs the checks once, then prints EXPLAIN ANALYZE of each of their
// statements.
func explainAll(ctx context.Context, pool *pgxpool.Pool, specs []quality.Spec, w window.Window, env quality.Env) error {
	rec := &recorder{pool: pool}
	if _, err := quality.RunAll(ctx, rec, "postgres", specs, w, env); err != nil {
		return err
	}
	for i, sql := range rec.sql {
		rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, rec.args[i]...)
		if err != nil {
			return err
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fmt.Printf("-- %s\n%s\n\n", sql, strings.Join(plan, "\n"))
	}
	return nil
}

// best runs fn three times and keeps the fastest.
func best(_ *pgxpool.Pool, fn func() error) (time.Duration, error) {
	var min time.Duration
	for range 3 {
		start := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		if d := time.Since(start); min == 0 || d < min {
			min = d
		}
	}
	return min, nil
}
