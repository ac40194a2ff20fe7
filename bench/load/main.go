// Command load measures the S3 → warehouse load: a gzip CSV object in the local S3
// server is streamed into a raw table by the loader (internal/ingest, the code the
// LoadSource activity runs), and the same decompressed data is loaded by plain
// `psql \copy` into a table of the same shape, in the same run. It prints rows/s and
// MB/s of both, their ratio, and the loader's peak RSS (VmHWM), measured in a child
// process that does nothing but the load. Run it with `make bench` (services up).
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

var source = plan.Source{Name: "orders", Format: "csv", Columns: []plan.Column{
	{Name: "order_id", Type: "bigint"}, {Name: "customer_id", Type: "text"}, {Name: "region", Type: "text"},
	{Name: "amount", Type: "numeric"}, {Name: "ordered_at", Type: "timestamptz"},
}}

func main() {
	sizes := flag.String("sizes", "100,1000", "uncompressed object sizes in MB")
	reps := flag.Int("reps", 3, "rounds of every step (the median is reported)")
	child := flag.String("child-load", "", "internal: load this key (DSN, bucket from the environment) and print peak RSS")
	flag.Parse()
	var err error
	if *child != "" {
		err = childLoad(*child)
	} else {
		err = run(*sizes, *reps)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(sizes string, reps int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	bucket := os.Getenv("ETL2ELT_S3_BUCKET")
	if admin == "" || bucket == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN and ETL2ELT_S3_BUCKET must be set: run through `make bench`")
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		return fmt.Errorf("psql is needed for the baseline: %w", err)
	}
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: true})
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s\n", benchenv.Machine())
	for _, s := range strings.Split(sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("size %q: %w", s, err)
		}
		if err := one(ctx, admin, psql, store, bucket, mb, max(reps, 1)); err != nil {
			return err
		}
	}
	return nil
}

func one(ctx context.Context, admin, psql string, store *objectstore.Store, bucket string, mb, reps int) error {
	dir, err := os.MkdirTemp("", "bench-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	plain, gz := filepath.Join(dir, "orders.csv"), filepath.Join(dir, "orders.csv.gz")
	rows, bytes, err := generate(plain, gz, int64(mb)<<20)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("bench/orders-%dmb-%d.csv.gz", mb, time.Now().Unix())
	f, err := os.Open(gz)
	if err != nil {
		return err
	}
	err = store.PutFile(ctx, bucket, key, f, "application/gzip")
	f.Close()
	if err != nil {
		return err
	}

	dsn, pool, cleanup, err := benchenv.Warehouse(ctx, admin, "bench_load")
	if err != nil {
		return err
	}
	defer cleanup()
	for _, t := range []string{"raw.orders", "raw.orders_1stream"} {
		if err := ingest.EnsureTable(ctx, pool, ident.MustRelation(t), source); err != nil {
			return err
		}
	}
	// The baseline table has the same shape (lineage columns nullable: psql has no values for them).
	if _, err := pool.Exec(ctx, `CREATE TABLE raw.orders_psql (LIKE raw.orders INCLUDING INDEXES);
ALTER TABLE raw.orders_psql ALTER _etl_load DROP NOT NULL, ALTER _etl_loaded_at DROP NOT NULL, ALTER _etl_line DROP NOT NULL`); err != nil {
		return err
	}
	// A second baseline writes what the loader writes: the lineage columns filled
	// (the load number by a constant default, the load time by now()); only the line
	// number stays NULL.
	if _, err := pool.Exec(ctx, `CREATE TABLE raw.orders_psql_lineage (LIKE raw.orders INCLUDING INDEXES INCLUDING DEFAULTS);
ALTER TABLE raw.orders_psql_lineage ALTER _etl_load SET DEFAULT 1, ALTER _etl_line DROP NOT NULL`); err != nil {
		return err
	}
	// Each step starts alone: its table emptied, the server's dirty pages written
	// (CHECKPOINT) and no autovacuum on the bench tables, so that one step's
	// background writes and vacuum do not land in the next step's time.
	tables := []string{"raw.orders_psql", "raw.orders_psql_lineage", "raw.orders_1stream", "raw.orders"}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, `ALTER TABLE `+t+` SET (autovacuum_enabled = false)`); err != nil {
			return err
		}
	}
	reset := func(table string) error {
		if _, err := pool.Exec(ctx, `TRUNCATE `+table+`; CHECKPOINT`); err != nil {
			return err
		}
		// The local cluster runs with fsync=off: CHECKPOINT leaves the pages dirty in
		// the kernel, which would write them back during the next step. Flush them.
		syscall.Sync()
		return nil
	}

	// psql \copy of the decompressed file.
	psqlCopy := func(table string) (measure, error) {
		script := filepath.Join(dir, table+".sql")
		body := fmt.Sprintf("\\copy %s (order_id, customer_id, region, amount, ordered_at) FROM '%s' WITH (FORMAT csv, HEADER true)\n", table, plain)
		if err := os.WriteFile(script, []byte(body), 0o600); err != nil {
			return measure{}, err
		}
		start := time.Now()
		cmd := exec.Command(psql, dsn, "-v", "ON_ERROR_STOP=1", "-q", "-f", script)
		if out, err := cmd.CombinedOutput(); err != nil {
			return measure{}, fmt.Errorf("psql: %v: %s", err, out)
		}
		return measure{wall: time.Since(start), client: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
	}
	// The loader, in a child process that only loads (its peak RSS is the loader's):
	// with one COPY stream (the default, ETL2ELT_LOAD_STREAMS=1) and with 2
	// (ETL2ELT_LOAD_STREAMS=2: objects of at least ingest.ParallelMinBytes).
	self, err := os.Executable()
	if err != nil {
		return err
	}
	loader := func(table string, streams int) (measure, error) {
		start := time.Now()
		child := exec.Command(self, "-child-load", key)
		child.Env = append(os.Environ(), "BENCH_DSN="+dsn, "BENCH_TABLE="+table, fmt.Sprintf("BENCH_STREAMS=%d", streams))
		out, err := child.CombinedOutput()
		if err != nil {
			return measure{}, fmt.Errorf("loader: %v: %s", err, out)
		}
		m := measure{wall: time.Since(start), client: child.ProcessState.UserTime() + child.ProcessState.SystemTime()}
		var loadedRows int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "rows=%d rss_kb=%d", &loadedRows, &m.rssKB); err != nil {
			return measure{}, fmt.Errorf("loader output %q: %w", out, err)
		}
		if loadedRows != rows {
			return measure{}, fmt.Errorf("loader landed %d rows, want %d", loadedRows, rows)
		}
		return m, nil
	}
	steps := []struct {
		name  string
		table string
		run   func() (measure, error)
		runs  []measure
	}{
		{name: "psql \\copy, lineage NULL", table: tables[0], run: func() (measure, error) { return psqlCopy(tables[0]) }},
		{name: "psql \\copy, lineage filled", table: tables[1], run: func() (measure, error) { return psqlCopy(tables[1]) }},
		{name: "loader, 1 COPY stream", table: tables[2], run: func() (measure, error) { return loader(tables[2], 1) }},
		{name: "loader, 2 COPY streams", table: tables[3], run: func() (measure, error) { return loader(tables[3], 2) }},
	}
	// reps rounds; round r starts at step r (mod 4), so no step always runs first or
	// right after another.
	for r := range reps {
		for k := range steps {
			st := &steps[(r+k)%len(steps)]
			if err := reset(st.table); err != nil {
				return err
			}
			server, s3 := procCPU("postgres"), procCPU("versitygw")
			m, err := st.run()
			if err != nil {
				return err
			}
			// A backend's CPU moves to the postmaster's children time when it is
			// reaped, a moment after its client left: wait for that (not timed).
			time.Sleep(500 * time.Millisecond)
			m.server, m.s3 = procCPU("postgres")-server, procCPU("versitygw")-s3
			st.runs = append(st.runs, m)
		}
	}
	pool.Close()

	mbf := float64(bytes) / (1 << 20)
	fmt.Printf("%5d MB: %d rows, %.1f MB gzip; median of %d rounds (each step alone: table emptied, CHECKPOINT, no autovacuum)\n",
		mb, rows, float64(gzSize(gz))/(1<<20), reps)
	med := make([]time.Duration, len(steps))
	for i, st := range steps {
		pick := func(f func(measure) time.Duration) []time.Duration {
			out := make([]time.Duration, len(st.runs))
			for j, m := range st.runs {
				out[j] = f(m)
			}
			return out
		}
		times := pick(func(m measure) time.Duration { return m.wall })
		med[i] = median(times)
		line := fmt.Sprintf("%5d MB %-30s %6.2fs %9.0f rows/s %6.1f MB/s  (runs %s)", mb, st.name, med[i].Seconds(),
			float64(rows)/med[i].Seconds(), mbf/med[i].Seconds(), secs(times))
		if i >= 2 {
			var rss int64
			for _, m := range st.runs {
				rss = max(rss, m.rssKB)
			}
			line += fmt.Sprintf(" | ratio to psql %.2f (to psql writing the lineage %.2f) | peak RSS %d MB",
				med[0].Seconds()/med[i].Seconds(), med[1].Seconds()/med[i].Seconds(), rss/1024)
		}
		fmt.Println(line)
		// Where the time went (medians, CPU seconds): the server (every PostgreSQL
		// process: backends, WAL and background writers), the client (psql or the
		// loader) and the S3 server.
		fmt.Printf("%5d MB %-30s cpu: server %.2fs, client %.2fs, s3 %.2fs\n", mb, "", median(pick(func(m measure) time.Duration { return m.server })).Seconds(),
			median(pick(func(m measure) time.Duration { return m.client })).Seconds(), median(pick(func(m measure) time.Duration { return m.s3 })).Seconds())
	}
	return nil
}

// measure is one timed step.
type measure struct {
	wall, client, server, s3 time.Duration
	rssKB                    int64
}

// procCPU is the CPU time (user + system, with that of reaped children, so that
// backends which exited still count through the postmaster) of every process whose
// command name is name. Linux /proc, clock ticks of 10 ms.
func procCPU(name string) time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		open, closing := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || closing < open || string(b[open+1:closing]) != name {
			continue
		}
		f := strings.Fields(string(b[closing+1:]))
		// after the command: state is field 0; utime, stime, cutime, cstime are 11-14.
		if len(f) < 15 {
			continue
		}
		for _, k := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(f[k], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(parts, " ")
}

func gzSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// generate writes about size bytes of orders CSV, plain and gzipped.
func generate(plain, gz string, size int64) (rows, bytes int64, err error) {
	pf, err := os.Create(plain)
	if err != nil {
		return 0, 0, err
	}
	defer pf.Close()
	gf, err := os.Create(gz)
	if err != nil {
		return 0, 0, err
	}
	defer gf.Close()
	zw, _ := gzip.NewWriterLevel(gf, gzip.BestSpeed)
	w := bufio.NewWriterSize(pf, 1<<20)
	zb := bufio.NewWriterSize(zw, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"amer", "apac", "emea"}
	header := "order_id,customer_id,region,amount,ordered_at\n"
	w.WriteString(header)
	zb.WriteString(header)
	bytes = int64(len(header))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for bytes < size {
		rows++
		line := fmt.Sprintf("%d,c-%06d,%s,%d.%02d,%s\n", rows, rng.IntN(1000000), regions[rng.IntN(3)], rng.IntN(100000), rng.IntN(100),
			base.Add(time.Duration(rng.Int64N(365*24*3600))*time.Second).Format(time.RFC3339))
		w.WriteString(line)
		zb.WriteString(line)
		bytes += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	if err := zb.Flush(); err != nil {
		return 0, 0, err
	}
	return rows, bytes, zw.Close()
}

// childLoad streams one object from S3 into raw.orders and prints rows and peak RSS.
func childLoad(key string) error {
	ctx := context.Background()
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: true})
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, os.Getenv("BENCH_DSN"))
	if err != nil {
		return err
	}
	defer pool.Close()
	bucket := os.Getenv("ETL2ELT_S3_BUCKET")
	body, obj, err := store.Open(ctx, bucket, key)
	if err != nil {
		return err
	}
	defer body.Close()
	if v := os.Getenv("BENCH_STREAMS"); v != "" {
		if ingest.ParallelStreams, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("BENCH_STREAMS=%q: %w", v, err)
		}
	}
	table := ident.MustRelation(or(os.Getenv("BENCH_TABLE"), "raw.orders"))
	res, err := ingest.LoadObject(ctx, pool, ingest.Request{Source: source, Table: table, Object: obj, LoadID: "bench"}, body, nil)
	if err != nil {
		return err
	}
	fmt.Printf("rows=%d rss_kb=%d\n", res.Rows, benchenv.PeakRSSKB())
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
