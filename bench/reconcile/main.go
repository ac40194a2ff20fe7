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
	"strings"
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
       (ARRAY['web','store','partner'])[1 + g %% 3] AS channel, 'shop-' || (g %% 10000) AS shop,
       (g %% 10000)::numeric / 100 AS revenue, 1::bigint AS orders
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
	w := window.Window{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fmt.Printf("machine: %s; 2 databases × %d rows, 2 measures\n", benchenv.Machine(), rows)
	for _, layout := range []struct {
		name     string
		segments []string
	}{
		{"12 segments (region × channel)", []string{"region", "channel"}},
		{"10,000 segments (shop)", []string{"shop"}},
	} {
		if err := measure(ctx, legacy, elt, w, layout.name, layout.segments); err != nil {
			return err
		}
	}
	return nil
}

// measure times the segmented reconciliation of s.sales by segments against the bare
// GROUP BY scans of both tables by the same columns.
func measure(ctx context.Context, legacy, elt *pgxpool.Pool, w window.Window, name string, segments []string) error {
	pair := plan.OutputPair{Name: "sales", TimeColumn: "day", Segments: segments,
		Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{}}, {Name: "orders", Tolerance: &plan.Tolerance{}}}}
	cols := strings.Join(segments, ", ")
	bare := func() error { // the bare GROUP BY scans of both sides, concurrently
		return both(func(p *pgxpool.Pool) error {
			r, err := p.Query(ctx, `SELECT `+cols+`, count(*), sum(revenue), count(revenue), sum(orders), count(orders) FROM s.sales WHERE day >= $1 AND day < $2 GROUP BY `+cols, w.From, w.To)
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
	tb, te := time.Duration(0), time.Duration(0)
	for range 3 {
		for _, m := range []struct {
			f    func() error
			best *time.Duration
		}{{bare, &tb}, {engine, &te}} {
			start := time.Now()
			if err := m.f(); err != nil {
				return err
			}
			if d := time.Since(start); *m.best == 0 || d < *m.best {
				*m.best = d
			}
		}
	}
	fmt.Printf("%s: bare GROUP BY scans %v, segmented reconciliation %v, ratio %.3f (goal ≤ 1.2)\n", name, tb.Round(time.Millisecond), te.Round(time.Millisecond), te.Seconds()/tb.Seconds())
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
