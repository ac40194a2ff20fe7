// Command reconcile measures segmented reconciliation: two tables of N rows on two
// PostgreSQL databases (legacy and ELT) reconciled by segment (ComputeSegments on both
// sides + CompareSegments), against the bare GROUP BY scans of both tables run the same
// way, in the same program. It prints both times and the ratio (goal ≤ 1.2). Run it
// with `make bench` (services up).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/plan"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/window"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows per table")
	flag.Parse()
	if err := run(*rows); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(rows int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	if admin == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN is not set: run through `make bench`")
	}
	_, legacy, dropL, err := benchenv.Warehouse(ctx, admin, "bench_rec_legacy")
	if err != nil {
		return err
	}
	defer dropL()
	_, elt, dropE, err := benchenv.Warehouse(ctx, admin, "bench_rec_elt")
	if err != nil {
		return err
	}
	defer dropE()
	seed := fmt.Sprintf(`CREATE SCHEMA s; CREATE TABLE s.sales AS
SELECT date '2025-01-01' + (g %% 365) AS day, (ARRAY['amer','emea','apac','latam'])[1 + g %% 4] AS region,
       (ARRAY['web','store','partner'])[1 + g %% 3] AS channel, (g %% 10000)::numeric / 100 AS revenue, 1::bigint AS orders
FROM generate_series(1, %d) g; ANALYZE s.sales`, rows)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*pgxpool.Pool{legacy, elt} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = p.Exec(ctx, seed) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	pair := plan.OutputPair{Name: "sales", TimeColumn: "day", Segments: []string{"region", "channel"},
		Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{}}, {Name: "orders", Tolerance: &plan.Tolerance{}}}}
	w := window.Window{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fmt.Printf("machine: %s; 2 databases × %d rows, segments region × channel (12), 2 measures\n", benchenv.Machine(), rows)

	bare := func() error { // the bare GROUP BY scans of both sides, concurrently
		return both(func(p *pgxpool.Pool) error {
			r, err := p.Query(ctx, `SELECT region, channel, count(*), sum(revenue), count(revenue), sum(orders), count(orders) FROM s.sales WHERE day >= $1 AND day < $2 GROUP BY 1, 2`, w.From, w.To)
			if err != nil {
				return err
			}
			defer r.Close()
			for r.Next() {
			}
			return r.Err()
		}, legacy, elt)
	}
	engine := func() error {
		res := make([]map[string]reconcile.Totals, 2)
		var mu sync.Mutex
		err := both(func(p *pgxpool.Pool) error {
			t, err := reconcile.ComputeSegments(ctx, p, "s.sales", "day", pair.Segments, pair.Measures, w)
			mu.Lock()
			defer mu.Unlock()
			if p == legacy {
				res[0] = t
			} else {
				res[1] = t
			}
			return err
		}, legacy, elt)
		if err != nil {
			return err
		}
		if cmp := reconcile.CompareSegments(pair, res[0], res[1]); reconcile.Breaches(cmp.Checks) != 0 {
			return fmt.Errorf("identical tables reported %d breaches", reconcile.Breaches(cmp.Checks))
		}
		return nil
	}
	// Warm both (caches), then alternate three times each and keep the best.
	if err := bare(); err != nil {
		return err
	}
	best := func(f func() error) (time.Duration, error) {
		var min time.Duration
		for range 3 {
			start := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			if d := time.Since(start); min == 0 || d < min {
				min = d
			}
		}
		return min, nil
	}
	tb, err := best(bare)
	if err != nil {
		return err
	}
	te, err := best(engine)
	if err != nil {
		return err
	}
	fmt.Printf("bare GROUP BY scans %v, segmented reconciliation %v, ratio %.3f (goal ≤ 1.2)\n", tb.Round(time.Millisecond), te.Round(time.Millisecond), te.Seconds()/tb.Seconds())
	return nil
}

func both(f func(*pgxpool.Pool) error, pools ...*pgxpool.Pool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pools))
	for i, p := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(p) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
