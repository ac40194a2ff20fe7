// Command rowdiff measures the row-level diff (reconcile.RowDiff): two tables of N rows
// on two PostgreSQL databases (legacy and ELT) with 100 seeded differences of mixed
// kinds, diffed by key, against two baselines run the same way in the same program:
//
//	checksum:  one full checksum scan of both sides, concurrently (the same normalised
//	           row hash aggregate the engine uses, one query per side:
//	           reconcile.RowChecksums);
//	streaming: both tables read ordered by key and compared in Go (merge join).
//
// It prints the three wall times, the diff's ratio to each baseline (goal ≤ 1.5 to the
// checksum scan), rows and bytes fetched, and bytes as a percentage of the tables'
// bytes (pg_table_size of both; goal < 1%). Scenarios: a bigint primary key, and a
// composite (day, region, id) key led by a date (with -composite). With -hash-only
// the diff also runs once without its key-range level, for comparison (first
// scenario). Run it with
// `make bench` or scripts/bench.sh (services up).
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/reconcile"
)

func main() {
	rows := flag.Int("rows", 10_000_000, "rows per table")
	composite := flag.Bool("composite", true, "also diff by the composite (day, region, id) key")
	hashOnly := flag.Bool("hash-only", true, "also run the diff without its key-range level")
	repeat := flag.Int("repeat", 2, "runs of each measurement (the best is kept)")
	flag.BoolVar(&trace, "trace", false, "print every row diff query with its duration")
	flag.Parse()
	if err := run(*rows, *composite, *hashOnly, *repeat); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The seeded differences: 100 rows, ids spread over the table.
const (
	missingInELT    = 20 // deleted on the ELT side
	missingInLegacy = 20 // deleted on the legacy side
	beyondTolerance = 20 // amount + 0.05 on ELT
	withinTolerance = 20 // amount + 0.01 on ELT (tolerance 0.01)
	nullVsEmpty     = 10 // note NULL on legacy, '' on ELT
	zoneShift       = 10 // at + 1 hour on ELT
	differences     = missingInELT + missingInLegacy + beyondTolerance + withinTolerance + nullVsEmpty + zoneShift
)

func run(rows int, composite, hashOnly bool, repeat int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	if admin == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN is not set: run through `make bench`")
	}
	_, legacy, dropL, err := benchenv.Warehouse(ctx, admin, "bench_rowdiff_legacy")
	if err != nil {
		return err
	}
	defer dropL()
	_, elt, dropE, err := benchenv.Warehouse(ctx, admin, "bench_rowdiff_elt")
	if err != nil {
		return err
	}
	defer dropE()
	fmt.Printf("machine: %s; 2 databases × %d rows, %d differences (%d missing in ELT, %d missing in legacy, %d beyond and %d within a 0.01 tolerance, %d NULL vs '', %d timestamps shifted 1 h)\n",
		benchenv.Machine(), rows, differences, missingInELT, missingInLegacy, beyondTolerance, withinTolerance, nullVsEmpty, zoneShift)
	start := time.Now()
	if err := seed(ctx, legacy, elt, rows, composite); err != nil {
		return err
	}
	fmt.Printf("seeded in %v\n", time.Since(start).Round(time.Second))
	var tableBytes int64
	for _, p := range []*pgxpool.Pool{legacy, elt} {
		var n int64
		if err := p.QueryRow(ctx, `SELECT pg_table_size('s.events')`).Scan(&n); err != nil {
			return err
		}
		tableBytes += n
	}
	fmt.Printf("table bytes (pg_table_size, both sides): %d MB\n", tableBytes>>20)

	scenarios := []scenario{{
		name: "bigint key (id)", keys: []string{"id"}, columns: []string{"day", "region", "amount", "qty", "note", "at"},
		scanKey: func() []any { return []any{new(int64)} },
		cmpKey:  func(a, b []any) int { return cmp.Compare(*a[0].(*int64), *b[0].(*int64)) },
	}}
	if composite {
		scenarios = append(scenarios, scenario{
			name: "composite key (day, region, id)", keys: []string{"day", "region", "id"}, columns: []string{"amount", "qty", "note", "at"},
			scanKey: func() []any { return []any{new(time.Time), new(string), new(int64)} },
			cmpKey: func(a, b []any) int {
				if c := a[0].(*time.Time).Compare(*b[0].(*time.Time)); c != 0 {
					return c
				}
				if c := cmp.Compare(*a[1].(*string), *b[1].(*string)); c != 0 {
					return c
				}
				return cmp.Compare(*a[2].(*int64), *b[2].(*int64))
			},
		})
	}
	for i, sc := range scenarios {
		if err := sc.measure(ctx, legacy, elt, tableBytes, hashOnly && i == 0, repeat); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return nil
}

// seed creates s.events on both sides (identical), then plants the differences.
func seed(ctx context.Context, legacy, elt *pgxpool.Pool, rows int, composite bool) error {
	create := fmt.Sprintf(`CREATE SCHEMA s;
CREATE TABLE s.events (id bigint NOT NULL, day date NOT NULL, region text NOT NULL, amount numeric(12,2), qty integer, note text, at timestamptz NOT NULL);
INSERT INTO s.events
SELECT g, date '2025-01-01' + (g %% 365), (ARRAY['amer','emea','apac','latam'])[1 + g %% 4], round((g %% 100003) * 0.37, 2), g %% 1000,
       CASE WHEN g %% 11 = 0 THEN NULL ELSE 'note ' || (g %% 5000) END,
       timestamptz '2025-01-01 00:00:00+00' + (g %% 365) * interval '1 day' + (g %% 86400) * interval '1 second'
FROM generate_series(1, %d) AS g;
ALTER TABLE s.events ADD PRIMARY KEY (id);`, rows)
	if composite {
		create += `CREATE UNIQUE INDEX events_day_region_id ON s.events (day, region, id);`
	}
	if err := both(func(p *pgxpool.Pool) error {
		if _, err := p.Exec(ctx, create); err != nil {
			return err
		}
		_, err := p.Exec(ctx, `VACUUM ANALYZE s.events`)
		return err
	}, legacy, elt); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// ids spread over the table, one kind after another; none is a multiple of 11 (note
	// is then not NULL before the change).
	var ids []int64
	seen := map[int64]bool{}
	for i := int64(0); len(ids) < differences; i++ {
		id := 1 + (i*int64(rows)/differences+i*7919)%int64(rows)
		if id%11 != 0 && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	next := func(n int) []int64 { out := ids[:n]; ids = ids[n:]; return out }
	nve := next(nullVsEmpty) // the same ids on both sides
	stmts := []plant{
		{elt, `DELETE FROM s.events WHERE id = ANY($1)`, next(missingInELT)},
		{legacy, `DELETE FROM s.events WHERE id = ANY($1)`, next(missingInLegacy)},
		{elt, `UPDATE s.events SET amount = amount + 0.05 WHERE id = ANY($1)`, next(beyondTolerance)},
		{elt, `UPDATE s.events SET amount = amount + 0.01 WHERE id = ANY($1)`, next(withinTolerance)},
		{legacy, `UPDATE s.events SET note = NULL WHERE id = ANY($1)`, nve},
		{elt, `UPDATE s.events SET note = '' WHERE id = ANY($1)`, nve},
		{elt, `UPDATE s.events SET at = at + interval '1 hour' WHERE id = ANY($1)`, next(zoneShift)},
	}
	for _, s := range stmts {
		if _, err := s.p.Exec(ctx, s.sql, s.ids); err != nil {
			return fmt.Errorf("plant differences: %w", err)
		}
	}
	return both(func(p *pgxpool.Pool) error { _, err := p.Exec(ctx, `VACUUM ANALYZE s.events`); return err }, legacy, elt)
}

// plant is one statement planting differences on one side.
type plant struct {
	p   *pgxpool.Pool
	sql string
	ids []int64
}

type scenario struct {
	name          string
	keys, columns []string
	scanKey       func() []any         // fresh destinations for the key columns
	cmpKey        func(a, b []any) int // order of two scanned keys, as ORDER BY sorts them
}

func (sc scenario) spec() reconcile.RowDiffSpec {
	return reconcile.RowDiffSpec{LegacyRelation: "s.events", ELTRelation: "s.events", Keys: sc.keys, Columns: sc.columns,
		NumericTolerance: map[string]float64{"amount": 0.01}}
}

func (sc scenario) measure(ctx context.Context, legacy, elt *pgxpool.Pool, tableBytes int64, hashOnly bool, repeat int) error {
	fmt.Printf("\n== %s: compared columns %v\n", sc.name, sc.columns)
	spec := sc.spec()
	checksum := func() error {
		c, err := reconcile.RowChecksums(ctx, legacy, elt, spec)
		if err == nil && c[0] == c[1] {
			return fmt.Errorf("checksums equal despite the differences")
		}
		return err
	}
	// data-diff's checksum (one MD5 of the concatenated columns per row, 60 bits of
	// it summed): the best-known open-source tool's scan, as a second baseline.
	cols := make([]string, 0, len(sc.keys)+len(sc.columns))
	for _, c := range append(append([]string{}, sc.keys...), sc.columns...) {
		cols = append(cols, "COALESCE(CAST("+c+" AS text), '')")
	}
	dataDiffSQL := "SELECT count(*), sum(CAST(CAST(CAST('x' || substring(md5(concat(" + strings.Join(cols, ", ") + ")), 18) AS bit(60)) AS bigint) AS numeric)) FROM s.events"
	datadiff := func() error {
		return both(func(p *pgxpool.Pool) error {
			var n int64
			var sum pgtype.Numeric
			return p.QueryRow(ctx, dataDiffSQL).Scan(&n, &sum)
		}, legacy, elt)
	}
	var stream streamResult
	streaming := func() (err error) { stream, err = sc.stream(ctx, legacy, elt); return err }
	var res reconcile.RowDiffResult
	diff := func(lim reconcile.RowDiffLimits) func() error {
		return func() error {
			var lq, eq reconcile.Queryer = legacy, elt
			if trace {
				lq, eq = tracer{legacy, "legacy"}, tracer{elt, "ELT"}
			}
			var err error
			if res, err = reconcile.RowDiff(ctx, lq, eq, spec, lim); err != nil {
				return err
			}
			want := [4]int64{missingInLegacy, missingInELT, beyondTolerance + nullVsEmpty + zoneShift, withinTolerance}
			got := [4]int64{res.MissingInLegacy, res.MissingInELT, res.Mismatched, res.WithinTolerance}
			if got != want || res.Bounded {
				return fmt.Errorf("row diff found %v (missing in legacy, missing in ELT, mismatched, within tolerance; bounded %v), want %v", got, res.Bounded, want)
			}
			return nil
		}
	}
	// Warm the caches (both tables are read once), then run the three in turn,
	// repeat times, and keep each one's best: the machine's load varies, alternating
	// spreads it over all three.
	if err := checksum(); err != nil {
		return err
	}
	var tc, ts, td, tdd time.Duration
	for range max(repeat, 1) {
		for _, m := range []struct {
			f    func() error
			best *time.Duration
		}{{checksum, &tc}, {datadiff, &tdd}, {streaming, &ts}, {diff(reconcile.RowDiffLimits{}), &td}} {
			start := time.Now()
			if err := m.f(); err != nil {
				return err
			}
			if d := time.Since(start); *m.best == 0 || d < *m.best {
				*m.best = d
			}
		}
	}
	fmt.Printf("checksum scan of both sides: %v\n", tc.Round(time.Millisecond))
	fmt.Printf("data-diff's checksum scan of both sides (md5 of the concatenated columns per row): %v\n", tdd.Round(time.Millisecond))
	fmt.Printf("streaming both sides ordered by key, compared in Go: %v (%d rows, %d MB fetched; found %d missing in legacy, %d missing in ELT, %d mismatched, %d within tolerance)\n",
		ts.Round(time.Millisecond), stream.rows, stream.bytes>>20, stream.missingInLegacy, stream.missingInELT, stream.mismatched, stream.within)
	fmt.Printf("row diff: %v (key ranges %d, %d queries, %d buckets compared; all %d differences found and classified)\n",
		td.Round(time.Millisecond), res.KeyRanges, res.Queries, res.BucketsCompared, differences)
	fmt.Printf("  ratio to the checksum scan %.3f, to data-diff's checksum %.3f (goal ≤ 1.5), to streaming %.3f\n", td.Seconds()/tc.Seconds(), td.Seconds()/tdd.Seconds(), td.Seconds()/ts.Seconds())
	fmt.Printf("  fetched %d rows, %d bytes = %.5f%% of the tables' %d bytes (goal < 1%%); streaming fetched %.1f%%\n",
		res.RowsFetched, res.BytesFetched, 100*float64(res.BytesFetched)/float64(tableBytes), tableBytes, 100*float64(stream.bytes)/float64(tableBytes))
	if hashOnly { // once: it is the slow one
		start := time.Now()
		if err := diff(reconcile.RowDiffLimits{HashOnly: true})(); err != nil {
			return err
		}
		th := time.Since(start)
		fmt.Printf("row diff without the key-range level (hash bisection only): %v, ratio to the checksum scan %.3f (%d queries, %d rows, %d bytes fetched)\n",
			th.Round(time.Millisecond), th.Seconds()/tc.Seconds(), res.Queries, res.RowsFetched, res.BytesFetched)
	}
	return nil
}

var trace bool

// tracer prints the row diff's queries with their durations (-trace).
type tracer struct {
	reconcile.Queryer
	side string
}

func (t tracer) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	start := time.Now()
	rows, err := t.Queryer.Query(ctx, sql, args...)
	if err != nil {
		return rows, err
	}
	return &tracedRows{Rows: rows, start: start, label: fmt.Sprintf("%s %.160s (%d args)", t.side, sql, len(args))}, nil
}

// Begin keeps the row diff's session (its own transaction and planner settings,
// reconcile.RowDiff) while tracing: the transaction's queries are traced too.
func (t tracer) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := t.Queryer.(interface {
		Begin(context.Context) (pgx.Tx, error)
	}).Begin(ctx)
	if err != nil {
		return nil, err
	}
	return tracedTx{Tx: tx, t: tracer{Queryer: tx, side: t.side}}, nil
}

type tracedTx struct {
	pgx.Tx
	t tracer
}

func (t tracedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.t.Query(ctx, sql, args...)
}

type tracedRows struct {
	pgx.Rows
	start time.Time
	label string
	done  bool
}

func (r *tracedRows) Next() bool {
	ok := r.Rows.Next()
	if !ok && !r.done {
		r.done = true
		fmt.Printf("  [trace] %v %s\n", time.Since(r.start).Round(time.Millisecond), r.label)
	}
	return ok
}

type streamResult struct {
	rows, bytes                                       int64
	missingInLegacy, missingInELT, mismatched, within int64
}

// stream reads both sides ordered by key (the compared columns as text) and merges
// them in Go: a key on one side only is missing on the other; equal keys compare
// their columns, amount within 0.01 being "within tolerance".
func (sc scenario) stream(ctx context.Context, legacy, elt *pgxpool.Pool) (streamResult, error) {
	var res streamResult
	sel := ""
	for _, k := range sc.keys {
		sel += k + ", "
	}
	for i, c := range sc.columns {
		if i > 0 {
			sel += ", "
		}
		sel += "CAST(" + c + " AS text)"
	}
	order := ""
	for i, k := range sc.keys {
		if i > 0 {
			order += ", "
		}
		order += k
	}
	sql := "SELECT " + sel + " FROM s.events ORDER BY " + order
	var cursors [2]pgx.Rows
	for i, p := range []*pgxpool.Pool{legacy, elt} {
		r, err := p.Query(ctx, sql)
		if err != nil {
			return res, err
		}
		defer r.Close()
		cursors[i] = r
	}
	amount := -1
	for i, c := range sc.columns {
		if c == "amount" {
			amount = i
		}
	}
	tol := big.NewRat(1, 100)
	type row struct {
		key  []any
		cols []*string
	}
	read := func(i int) (*row, error) {
		r := cursors[i]
		if !r.Next() {
			return nil, r.Err()
		}
		for _, v := range r.RawValues() {
			res.bytes += int64(len(v))
		}
		res.rows++
		out := &row{key: sc.scanKey(), cols: make([]*string, len(sc.columns))}
		dest := append([]any{}, out.key...)
		for j := range out.cols {
			dest = append(dest, &out.cols[j])
		}
		return out, r.Scan(dest...)
	}
	l, err := read(0)
	if err != nil {
		return res, err
	}
	e, err := read(1)
	if err != nil {
		return res, err
	}
	for l != nil || e != nil {
		var c int
		switch {
		case l == nil:
			c = 1
		case e == nil:
			c = -1
		default:
			c = sc.cmpKey(l.key, e.key)
		}
		switch {
		case c < 0:
			res.missingInELT++
			l, err = read(0)
		case c > 0:
			res.missingInLegacy++
			e, err = read(1)
		default:
			mismatched, within := false, false
			for j := range sc.columns {
				a, b := l.cols[j], e.cols[j]
				if (a == nil && b == nil) || (a != nil && b != nil && *a == *b) {
					continue
				}
				if j == amount && a != nil && b != nil {
					x, ok1 := new(big.Rat).SetString(*a)
					y, ok2 := new(big.Rat).SetString(*b)
					if ok1 && ok2 && x.Sub(x, y).Abs(x).Cmp(tol) <= 0 {
						within = true
						continue
					}
				}
				mismatched = true
			}
			if mismatched {
				res.mismatched++
			} else if within {
				res.within++
			}
			if l, err = read(0); err == nil {
				e, err = read(1)
			}
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
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
