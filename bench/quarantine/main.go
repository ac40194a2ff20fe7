// Command quarantine measures the loader's memory on objects full of bad rows: a gzip
// CSV object in the local S3 server with 10,000 bad rows of 1 MiB + 1 KiB each (over
// the default max_line_bytes: quarantined by reference) and one with 10,000 bad rows
// of 64 KiB each (kept whole in etl2elt.quarantine.raw_bytes, spilled to a temporary
// file on the way), each beside 10,000 good rows; the baseline is the same loader on
// an object of the good rows only, in the same run. Each load runs in a child process
// that does nothing else and prints its peak RSS (VmHWM). Run it with `make bench`
// (services up); the goal (issue #17) is a peak under 64 MB whatever the bad rows.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzip"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

var source = plan.Source{Name: "orders", Format: "csv", MaxBadFraction: 0.6, Columns: []plan.Column{
	{Name: "order_id", Type: "bigint"}, {Name: "note", Type: "text"}, {Name: "amount", Type: "numeric"},
}}

func main() {
	bad := flag.Int("bad", 10_000, "bad rows per object")
	good := flag.Int("good", 10_000, "good rows per object")
	storedKB := flag.Int("stored-kb", 64, "size of a bad row kept whole, KiB")
	child := flag.String("child-load", "", "internal: load this key (DSN, bucket from the environment) and print peak RSS")
	flag.Parse()
	var err error
	if *child != "" {
		err = childLoad(*child)
	} else {
		err = run(*bad, *good, *storedKB)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type object struct {
	name     string
	key      string
	badBytes int // each bad row's note
	bad      int
}

func run(bad, good, storedKB int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	bucket := os.Getenv("ETL2ELT_S3_BUCKET")
	if admin == "" || bucket == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN and ETL2ELT_S3_BUCKET must be set (scripts/lib.sh export_env)")
	}
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: true})
	if err != nil {
		return err
	}
	dsn, pool, cleanup, err := benchenv.Warehouse(ctx, admin, "bench_quarantine")
	if err != nil {
		return err
	}
	defer cleanup()
	if err := ingest.EnsureTable(ctx, pool, ident.MustRelation("raw.orders"), source); err != nil {
		return err
	}
	fmt.Printf("machine: %s\n", benchenv.Machine())
	objects := []object{
		{name: "good rows only (baseline)", key: "bench/quarantine/clean.csv.gz"},
		{name: fmt.Sprintf("%d bad rows of 1 MiB + 1 KiB (by reference)", bad), key: "bench/quarantine/long.csv.gz", badBytes: plan.DefaultMaxLineBytes + 1024, bad: bad},
		{name: fmt.Sprintf("%d bad rows of %d KiB (kept whole)", bad, storedKB), key: "bench/quarantine/stored.csv.gz", badBytes: storedKB << 10, bad: bad},
	}
	var baseRSS int64
	for i, o := range objects {
		size, err := put(ctx, store, bucket, o, good)
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-child-load", o.key)
		cmd.Env = append(os.Environ(), "BENCH_DSN="+dsn)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", o.name, err, out)
		}
		wall := time.Since(start)
		var rows, quarantined, rss int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "rows=%d quarantined=%d rss_kb=%d", &rows, &quarantined, &rss); err != nil {
			return fmt.Errorf("%s: child printed %q: %w", o.name, out, err)
		}
		var stored, byRef int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(sum(octet_length(raw_bytes)), 0), count(*) FILTER (WHERE by_reference) FROM etl2elt.quarantine WHERE object_key = $1`, o.key).Scan(&stored, &byRef); err != nil {
			return err
		}
		line := fmt.Sprintf("%-40s object %6.0f MB decompressed | %d rows, %d quarantined (%d by reference, %.0f MB kept) | %5.1f s | peak RSS %d MB",
			o.name, float64(size)/1e6, rows, quarantined, byRef, float64(stored)/1e6, wall.Seconds(), rss/1024)
		if i == 0 {
			baseRSS = rss
		} else {
			line += fmt.Sprintf(" | ratio to the baseline's RSS %.2f", float64(rss)/float64(baseRSS))
		}
		fmt.Println(line)
	}
	return nil
}

// put writes o as a gzip CSV object: good rows, with o.bad bad rows (an order id that
// is not a number and a note of o.badBytes) spread among them. It returns the
// decompressed size.
func put(ctx context.Context, store *objectstore.Store, bucket string, o object, good int) (int64, error) {
	f, err := os.CreateTemp("", "bench-quarantine-*.csv.gz")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(zw, 1<<20)
	var size int64
	write := func(s string) {
		n, _ := w.WriteString(s)
		size += int64(n)
	}
	write("order_id,note,amount\n")
	note := strings.Repeat("n", o.badBytes)
	every := max(1, good/max(1, o.bad))
	bad := 0
	for i := range good {
		write(strconv.Itoa(i+1) + ",fine," + strconv.Itoa(i%1000) + ".25\n")
		if bad < o.bad && i%every == every-1 {
			write("bad-" + strconv.Itoa(i) + "," + note + ",1\n")
			bad++
		}
	}
	for ; bad < o.bad; bad++ {
		write("bad-tail," + note + ",1\n")
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return 0, err
	}
	if err := store.PutFile(ctx, bucket, o.key, f, "application/gzip"); err != nil {
		return 0, err
	}
	return size, nil
}

// childLoad streams one object from S3 into raw.orders and prints rows and peak RSS.
func childLoad(key string) error {
	ctx := context.Background()
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: true})
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, os.Getenv("BENCH_DSN"))
	if err != nil {
		return err
	}
	defer pool.Close()
	body, obj, err := store.Open(ctx, os.Getenv("ETL2ELT_S3_BUCKET"), key)
	if err != nil {
		return err
	}
	defer body.Close()
	res, err := ingest.LoadObject(ctx, pool, ingest.Request{Source: source, Table: ident.MustRelation("raw.orders"), Object: obj, LoadID: "bench"}, body, nil)
	if err != nil {
		return err
	}
	fmt.Printf("rows=%d quarantined=%d rss_kb=%d\n", res.Rows, res.Quarantined, benchenv.PeakRSSKB())
	return nil
}
