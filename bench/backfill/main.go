// Command backfill measures BackfillWorkflow's orchestration overhead: the same 365
// daily chunks of an incremental model run (1) directly, by 4 goroutines calling the
// chunk engine, and (2) as a BackfillWorkflow at concurrency 4 on a real Temporal
// server with an in-process worker. It prints both wall times and their ratio, then
// the same for empty chunks (chunks/s). Run it with `make bench` (services up).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"etl2elt/bench/benchenv"
	"etl2elt/internal/backfill"
	"etl2elt/internal/config"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
	"etl2elt/internal/workerapp"
	"etl2elt/workflows"
)

func main() {
	days := flag.Int("days", 365, "daily chunks")
	rowsPerDay := flag.Int("rows-per-day", 2000, "rows per day")
	concurrency := flag.Int("concurrency", 4, "chunks in flight")
	flag.Parse()
	if err := run(*days, *rowsPerDay, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(days, rowsPerDay, concurrency int) error {
	ctx := context.Background()
	admin := os.Getenv("ETL2ELT_TEST_PG_ADMIN_DSN")
	if admin == "" {
		return fmt.Errorf("ETL2ELT_TEST_PG_ADMIN_DSN is not set: run through `make bench`")
	}
	dsn, pool, cleanup, err := benchenv.Warehouse(ctx, admin, "bench_backfill")
	if err != nil {
		return err
	}
	defer cleanup()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := window.Window{From: from, To: from.AddDate(0, 0, days)}
	if _, err := pool.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA raw; CREATE TABLE raw.events AS
SELECT g AS id, timestamptz '2025-01-01' + (g %% %d) * interval '1 day' + (g %% 86400) * interval '1 second' AS at, (g * 7 %% 100000)::numeric / 100 AS amount
FROM generate_series(1, %d) g; CREATE INDEX ON raw.events (at); ANALYZE raw.events`, days, days*rowsPerDay)); err != nil {
		return err
	}
	m := plan.Model{Name: "fct_events", Schema: "marts", Materialized: plan.MaterializedIncremental, UniqueKey: []string{"id"},
		EventTime: "at", SQLText: "select id, at, amount from raw.events"}
	chunks, err := backfill.Split(m.Name, rng, backfill.Day)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s; %d daily chunks × %d rows, concurrency %d\n", benchenv.Machine(), len(chunks), rowsPerDay, concurrency)

	// Warm up (first CREATE TABLE, caches), then reset.
	if err := direct(ctx, pool, m, chunks, concurrency); err != nil {
		return err
	}
	reset := func() error {
		_, err := pool.Exec(ctx, `TRUNCATE marts.fct_events; DELETE FROM etl2elt.backfill_chunks; DELETE FROM etl2elt.backfill_watermarks`)
		return err
	}
	if err := reset(); err != nil {
		return err
	}
	start := time.Now()
	if err := direct(ctx, pool, m, chunks, concurrency); err != nil {
		return err
	}
	baseline := time.Since(start)

	c, stop, err := startWorker(ctx, dsn, m)
	if err != nil {
		return err
	}
	defer stop()
	if err := reset(); err != nil {
		return err
	}
	orchestrated, err := backfillWorkflow(ctx, c, rng, concurrency)
	if err != nil {
		return err
	}
	fmt.Printf("full chunks:  direct %v, BackfillWorkflow %v, ratio %.3f (goal < 1.10)\n",
		baseline.Round(time.Millisecond), orchestrated.Round(time.Millisecond), orchestrated.Seconds()/baseline.Seconds())

	// Empty chunks: a range with no rows isolates the orchestration cost.
	empty := window.Window{From: from.AddDate(5, 0, 0), To: from.AddDate(5, 0, days)}
	emptyChunks, _ := backfill.Split(m.Name, empty, backfill.Day)
	start = time.Now()
	if err := direct(ctx, pool, m, emptyChunks, concurrency); err != nil {
		return err
	}
	emptyBaseline := time.Since(start)
	if _, err := pool.Exec(ctx, `DELETE FROM etl2elt.backfill_chunks`); err != nil {
		return err
	}
	emptyOrchestrated, err := backfillWorkflow(ctx, c, empty, concurrency)
	if err != nil {
		return err
	}
	fmt.Printf("empty chunks: direct %.0f chunks/s, BackfillWorkflow %.0f chunks/s, ratio %.3f\n",
		float64(len(emptyChunks))/emptyBaseline.Seconds(), float64(len(emptyChunks))/emptyOrchestrated.Seconds(), emptyOrchestrated.Seconds()/emptyBaseline.Seconds())
	return nil
}

func direct(ctx context.Context, pool *pgxpool.Pool, m plan.Model, chunks []backfill.Chunk, concurrency int) error {
	work := make(chan backfill.Chunk)
	errc := make(chan error, concurrency)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if _, err := backfill.RunModelChunk(ctx, pool, backfill.ChunkRequest{Chunk: c, Model: m, WorkflowID: "direct"}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for _, c := range chunks {
		work <- c
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func startWorker(ctx context.Context, dsn string, m plan.Model) (client.Client, func(), error) {
	planDir, err := os.MkdirTemp("", "bench-plan")
	if err != nil {
		return nil, nil, err
	}
	planYAML := `version: 1
name: bench
connections: {warehouse: {role: warehouse}}
warehouse: {connection: warehouse}
landing: {bucket: unused}
sources: []
models:
  - {name: fct_events, schema: marts, sql: fct_events.sql, materialized: incremental, unique_key: [id], event_time: at}
domains:
  - name: bench
    sources: []
    models: [fct_events]
    outputs:
      - name: events
        legacy: {connection: warehouse, relation: raw.events}
        elt: {connection: warehouse, relation: marts.fct_events}
        time_column: at
        measures: [{name: amount, tolerance: {absolute: 0}}]
`
	if err := os.WriteFile(planDir+"/plan.yaml", []byte(planYAML), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(planDir+"/fct_events.sql", []byte(m.SQLText), 0o600); err != nil {
		return nil, nil, err
	}
	env := map[string]string{"ETL2ELT_CONN_WAREHOUSE": dsn, "ETL2ELT_PLAN_DIR": planDir, "ETL2ELT_TASK_QUEUE": "bench-backfill", "ETL2ELT_S3_PATH_STYLE": "true"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, nil, err
	}
	deps, err := workerapp.NewDeps(ctx, cfg, zap.NewNop())
	if err != nil {
		return nil, nil, err
	}
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, nil, err
	}
	opts.Logger = quiet{}
	c, err := client.Dial(opts)
	if err != nil {
		return nil, nil, err
	}
	w := worker.New(c, cfg.TaskQueue, workerapp.Options(deps, worker.Options{}))
	workerapp.Register(w, deps)
	if err := w.Start(); err != nil {
		return nil, nil, err
	}
	return c, func() { w.Stop(); c.Close(); deps.Close(); _ = os.RemoveAll(planDir) }, nil
}

func backfillWorkflow(ctx context.Context, c client.Client, rng window.Window, concurrency int) (time.Duration, error) {
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-backfill-%d", time.Now().UnixNano()), TaskQueue: "bench-backfill"},
		workflows.BackfillWorkflowName, workflows.BackfillInput{Plan: "plan.yaml", Target: "fct_events",
			From: rng.From.Format(window.DateLayout), To: rng.To.Format(window.DateLayout), Concurrency: concurrency, Reprocess: "all"})
	if err != nil {
		return 0, err
	}
	var res workflows.BackfillResult
	if err := run.Get(ctx, &res); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
