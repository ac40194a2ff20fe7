package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"etl2elt/activities"
	"etl2elt/internal/config"
	"etl2elt/internal/demo"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/testenv"
	"etl2elt/internal/window"
	"etl2elt/internal/workerapp"
	"etl2elt/workflows"
)

type harness struct {
	t         *testing.T
	client    client.Client
	taskQueue string
	store     *objectstore.Store
	bucket    string
	warehouse *pgxpool.Pool
	legacy    *pgxpool.Pool
	window    window.Window
	planDir   string
	// DSNs of the two databases, for worker processes started by tests.
	warehouseDSN, legacyDSN string
	// logs holds the in-process worker's log lines as JSON, as production writes them.
	logs *logBuffer
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newHarness prepares two fresh databases, a bucket, the demo plan pointed at the
// bucket, and an in-process worker on its own task queue.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOn(t, testenv.Temporal(t), "it-"+testenv.Suffix())
}

// newHarnessOn is newHarness with a given Temporal client (namespace) and task queue.
func newHarnessOn(t *testing.T, c client.Client, tq string) *harness {
	t.Helper()
	ctx := context.Background()
	whDSN := testenv.Database(t, "wh")
	legacyDSN := testenv.Database(t, "legacy")
	store, bucket := testenv.Bucket(t)

	planDir := t.TempDir()
	copyDemoPlan(t, planDir, bucket)
	env := map[string]string{
		"ETL2ELT_CONN_WAREHOUSE": whDSN,
		"ETL2ELT_CONN_LEGACY":    legacyDSN,
		"ETL2ELT_PLAN_DIR":       planDir,
		"ETL2ELT_S3_PATH_STYLE":  "true",
		"ETL2ELT_TASK_QUEUE":     tq,
		"ETL2ELT_PII_HASH_KEY":   "integration-test-key",
		"ETL2ELT_S3_BUCKET":      bucket,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	require.NoError(t, err)
	logs := &logBuffer{}
	jsonLog := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(logs), zap.DebugLevel)
	deps, err := workerapp.NewDeps(ctx, cfg, zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), jsonLog)))
	require.NoError(t, err)
	t.Cleanup(deps.Close)
	deps.Activities.Workflows = c

	w := worker.New(c, tq, workerapp.Options(deps, worker.Options{}))
	workerapp.Register(w, deps)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	win, err := window.ParseDates("2026-01-01", "2026-01-08")
	require.NoError(t, err)
	return &harness{t: t, client: c, taskQueue: tq, store: store, bucket: bucket,
		warehouse: testenv.Pool(t, whDSN), legacy: testenv.Pool(t, legacyDSN), window: win, planDir: planDir, warehouseDSN: whDSN, legacyDSN: legacyDSN, logs: logs}
}

var demoPlanFiles = []string{"plan.yaml", "models/stg_orders.sql", "models/fct_daily_revenue.sql", "models/fct_orders.sql"}

func copyDemoPlan(t *testing.T, dir, bucket string) {
	t.Helper()
	src := "../examples/demo"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "demo", "models"), 0o755))
	for _, f := range demoPlanFiles {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		if f == "plan.yaml" {
			b = []byte(strings.Replace(string(b), "bucket: etl2elt-landing", "bucket: "+bucket, 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "demo", f), b, 0o600))
	}
}

func (h *harness) seed(driftCents int64) demo.Summary {
	h.t.Helper()
	sum, err := demo.Seed(context.Background(), h.store, h.legacy, demo.Options{
		Bucket: h.bucket, Prefix: "landing/", Window: h.window, OrdersPerDay: 200, Seed: 7, LegacyRevenueDriftCents: driftCents,
	})
	require.NoError(h.t, err)
	return sum
}

func (h *harness) run(in workflows.PipelineRunInput) (client.WorkflowRun, *workflows.PipelineRunResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "it-pipeline-" + testenv.Suffix(),
		TaskQueue: h.taskQueue,
	}, workflows.PipelineRunWorkflowName, in)
	require.NoError(h.t, err)
	var res workflows.PipelineRunResult
	err = run.Get(ctx, &res)
	return run, &res, err
}

func (h *harness) rawChecksum() (int64, string) {
	h.t.Helper()
	var n int64
	var sum string
	require.NoError(h.t, h.warehouse.QueryRow(context.Background(), `
SELECT count(*), md5(string_agg(concat_ws('|', order_id, customer_id, region, amount, ordered_at, l.object_key, _etl_line), ',' ORDER BY l.object_key, _etl_line))
FROM raw.orders AS r JOIN etl2elt.object_loads AS l ON l.id = r._etl_load`).Scan(&n, &sum))
	return n, sum
}

var demoInput = workflows.PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08"}

func TestPipelineEndToEnd(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	seeded := h.seed(0)
	require.Equal(t, 1400, seeded.Orders)

	// First run: everything lands, models run, legacy and ELT agree.
	run, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)
	require.Len(t, res.Loads, 1)
	require.EqualValues(t, 1400, res.Loads[0].Rows)
	require.EqualValues(t, 1, res.Loads[0].Quarantined)
	require.Len(t, res.Loads[0].Objects, 7)
	require.Len(t, res.Models.Models, 3)
	require.Equal(t, "marts.fct_daily_revenue", res.Models.Models[1].Relation)
	require.EqualValues(t, 21, res.Models.Models[1].Rows)
	require.Equal(t, "marts.fct_orders", res.Models.Models[2].Relation)
	require.EqualValues(t, 1400, res.Models.Models[2].Rows, "incremental over the window widened by its 2d lookback")
	require.Len(t, res.Reconciliations, 1)
	require.Equal(t, "pass", res.Reconciliations[0].Status)
	require.Len(t, res.Reconciliations[0].Checks, 20, "5 totals + 5 per region (3 regions)")

	// The evidence is in the control schema.
	var status string
	var checks, breaches int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT status, checks, breaches FROM etl2elt.reconcile_runs WHERE run_id = $1`,
		res.Reconciliations[0].RunID).Scan(&status, &checks, &breaches))
	require.Equal(t, "pass", status)
	require.Equal(t, 20, checks)
	require.Equal(t, 0, breaches)
	var legacyRevenue, eltRevenue string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT legacy_value::text, elt_value::text FROM etl2elt.reconcile_results
WHERE run_id = $1 AND measure = 'revenue' AND metric = 'sum' AND segment = ''`, res.Reconciliations[0].RunID).Scan(&legacyRevenue, &eltRevenue))
	require.Equal(t, legacyRevenue, eltRevenue)
	require.Equal(t, centsString(seeded.RevenueCent), strings.TrimRight(strings.TrimRight(legacyRevenue, "0"), "."))

	// The run's report is in S3, and the status says where.
	require.NotNil(t, res.Report)
	bucket, key, err := objectstore.ParseURI(res.Report.HTML)
	require.NoError(t, err)
	page, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(page), "Variance by segment, worst first")
	require.Contains(t, string(page), "region=amer")
	require.NotContains(t, string(page), "<script")
	require.Contains(t, string(page), "reconcile_results WHERE run_id = '"+res.Reconciliations[0].RunID+"'", "the report names the rows its numbers are in")

	// The malformed row was quarantined with its line and reason, not dropped.
	var line int64
	var reason string
	var raw []byte
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT line, error, raw_bytes FROM etl2elt.quarantine WHERE object_key LIKE '%dt=2026-01-01%'`).Scan(&line, &reason, &raw))
	require.EqualValues(t, 13, line)
	require.Equal(t, `column amount: "…" is not a number`, reason, "the reason without the value")
	require.Contains(t, string(raw), `"12,50"`, "the record's own bytes hold it")

	// The plan version the run used is recorded.
	var planHash string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT plan_hash FROM etl2elt.plan_versions WHERE plan_name = 'acme'`).Scan(&planHash))
	require.Equal(t, res.PlanHash, planHash)

	// Operators see the phase in the UI's search attributes.
	desc, err := h.client.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	phase, ok := desc.TypedSearchAttributes.GetKeyword(searchattr.Phase)
	require.True(t, ok)
	require.Equal(t, workflows.PhaseCompleted, phase)
	domain, _ := desc.TypedSearchAttributes.GetKeyword(searchattr.Domain)
	require.Equal(t, "finance", domain)

	// What the run used is in the cost ledger, per kind of work: the load read
	// the 7 objects from S3 and wrote 1,400 rows; models and reconciliation ran
	// statements; each row is priced with the plan's rates.
	usage := map[string][4]float64{}
	rows, err := h.warehouse.Query(ctx, `SELECT kind, sum(statement_seconds), sum(rows_written), sum(s3_bytes_read), sum(cost)::float8
FROM etl2elt.cost_usage WHERE workflow_id = $1 AND plan_name = 'acme' AND domain = 'finance' AND phase = 'manual' GROUP BY kind`, run.GetID())
	require.NoError(t, err)
	for rows.Next() {
		var kind string
		var u [4]float64
		require.NoError(t, rows.Scan(&kind, &u[0], &u[1], &u[2], &u[3]))
		usage[kind] = u
	}
	require.NoError(t, rows.Err())
	for _, kind := range []string{"load", "models", "reconciliation"} {
		require.Greater(t, usage[kind][0], 0.0, "%s: statement seconds", kind)
		require.Greater(t, usage[kind][3], 0.0, "%s: priced", kind)
	}
	require.GreaterOrEqual(t, usage["load"][1], 1400.0, "the load wrote every row")
	require.Greater(t, usage["load"][2], 0.0, "the load read its objects from S3")

	n1, sum1 := h.rawChecksum()
	require.EqualValues(t, 1400, n1)

	// Second run: unchanged objects are skipped, nothing is double counted.
	_, res2, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, 7, res2.Loads[0].Skipped)
	require.EqualValues(t, 0, res2.Loads[0].Rows)
	require.Equal(t, workflows.StatusPass, res2.Status)
	n2, sum2 := h.rawChecksum()
	require.Equal(t, n1, n2)
	require.Equal(t, sum1, sum2)

	// Forced reload: every object lands again, the table is identical.
	reload := demoInput
	reload.Reload = true
	_, res3, err := h.run(reload)
	require.NoError(t, err)
	require.EqualValues(t, 1400, res3.Loads[0].Rows)
	n3, sum3 := h.rawChecksum()
	require.Equal(t, n1, n3)
	require.Equal(t, sum1, sum3)
	require.Equal(t, workflows.StatusPass, res3.Status)
}

func TestPipelineDetectsLegacyDrift(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// Legacy revenue off by 50.00 on one day and region: over both the absolute
	// (0.01) and the relative (0.0001) tolerance of the window's total.
	h.seed(5000)
	_, res, err := h.run(demoInput)
	require.NoError(t, err, "a breach is a result, not a workflow failure")
	require.Equal(t, workflows.StatusFail, res.Status)
	require.Equal(t, 2, res.Breaches, "the total and the segment it sits in")
	var failed []string
	for _, c := range res.Reconciliations[0].Checks {
		if c.Status == "fail" {
			failed = append(failed, c.Segment+" "+c.Measure+"/"+c.Metric+" diff "+c.Difference)
		}
	}
	require.Equal(t, []string{" revenue/sum diff -50", "region=amer revenue/sum diff -50"}, failed)

	var status string
	var breaches int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT status, breaches FROM etl2elt.reconcile_runs WHERE run_id = $1`,
		res.Reconciliations[0].RunID).Scan(&status, &breaches))
	require.Equal(t, "fail", status)
	require.Equal(t, 2, breaches)
}

func TestPipelineBadInputFailsWithoutRetry(t *testing.T) {
	h := newHarness(t)
	h.seed(0)
	tests := []struct {
		name string
		in   workflows.PipelineRunInput
		want string
	}{
		{"unknown domain", workflows.PipelineRunInput{Plan: "demo/plan.yaml", Domain: "marketing", From: "2026-01-01", To: "2026-01-02"}, `plan acme has no domain "marketing"`},
		{"missing plan", workflows.PipelineRunInput{Plan: "demo/nope.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-02"}, "read plan demo/nope.yaml"},
		{"plan outside the plan directory", workflows.PipelineRunInput{Plan: "../../etc/passwd", Domain: "finance", From: "2026-01-01", To: "2026-01-02"}, "path escapes from parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.run(tt.in)
			require.ErrorContains(t, err, tt.want)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr))
			require.Equal(t, activities.ErrTypeBadInput, appErr.Type())
		})
	}
}

func TestPipelineEmptyDaysAreReported(t *testing.T) {
	h := newHarness(t)
	h.seed(0)
	// Days after the seeded week have no objects: reported, not an error.
	_, res, err := h.run(workflows.PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-06", To: "2026-01-10"})
	require.NoError(t, err)
	require.Equal(t, []string{"2026-01-08", "2026-01-09"}, res.Loads[0].EmptyDays)
	require.Len(t, res.Loads[0].Objects, 2)
	require.Equal(t, workflows.StatusPass, res.Status, "two days with rows compared")

	// A window with no row on either side compared nothing: no-data, never pass.
	_, res, err = h.run(workflows.PipelineRunInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2025-09-01", To: "2025-09-03"})
	require.NoError(t, err)
	require.Equal(t, workflows.StatusNoData, res.Status)
	require.Equal(t, "no-data", res.Reconciliations[0].Status)
	var stored string
	require.NoError(t, h.warehouse.QueryRow(context.Background(), `SELECT status FROM etl2elt.reconcile_runs WHERE run_id = $1`, res.Reconciliations[0].RunID).Scan(&stored))
	require.Equal(t, "no-data", stored)
	md, err := h.store.ReadAll(context.Background(), h.bucket, strings.TrimPrefix(res.Report.Markdown, "s3://"+h.bucket+"/"))
	require.NoError(t, err)
	require.Contains(t, string(md), "**NO-DATA**")
}

// centsString renders cents as PostgreSQL prints a numeric without trailing zeros.
func centsString(c int64) string {
	s := fmt.Sprintf("%d.%02d", c/100, c%100)
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}

// editPlan rewrites the harness's copy of the demo plan.
func (h *harness) editPlan(old, new string) {
	h.t.Helper()
	f := filepath.Join(h.planDir, "demo", "plan.yaml")
	b, err := os.ReadFile(f)
	require.NoError(h.t, err)
	changed := strings.Replace(string(b), old, new, 1)
	require.NotEqual(h.t, string(b), changed, "the edit must change the plan")
	require.NoError(h.t, os.WriteFile(f, []byte(changed), 0o600))
}

func TestMetricDefinitionChangeWithoutBumpIsRefused(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.seed(0)
	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)

	// Someone edits the KPI's definition and forgets the version bump.
	const oldDef = "      expression: sum(revenue)\n      relation: reporting.daily_revenue\n      time_column: day\n      dimensions: [region]\n    tolerance: { absolute: 0.01, relative: 0.0001 }"
	h.editPlan(oldDef, strings.Replace(oldDef, "sum(revenue)", "sum(revenue) filter (where region <> 'apac')", 1))
	_, _, err = h.run(demoInput)
	require.ErrorContains(t, err, "plan acme conflicts with the KPI registry")
	require.ErrorContains(t, err, "metric daily_revenue: version 1: definition changed without a version bump")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, activities.ErrTypeBadInput, appErr.Type())

	// With a bump, who and why, the run goes ahead and the bump is on record.
	h.editPlan("    version: 1\n    definition:\n      expression: sum(revenue) filter",
		"    version: 2\n    changed_by: cfo-office\n    change_reason: APAC is reported by the regional ledger from 2026\n    definition:\n      expression: sum(revenue) filter")
	_, res, err = h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)
	var versions int
	var prev, why string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) OVER (), coalesce(previous_hash, ''), coalesce(change_reason, '')
FROM etl2elt.metric_versions WHERE metric = 'daily_revenue' ORDER BY version DESC LIMIT 1`).Scan(&versions, &prev, &why))
	require.Equal(t, 2, versions)
	require.NotEmpty(t, prev)
	require.Equal(t, "APAC is reported by the regional ledger from 2026", why)
}

func TestPlanByS3Reference(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.seed(0)
	// Publish the plan and its model SQL to S3, as a release pipeline would.
	for _, f := range demoPlanFiles {
		b, err := os.ReadFile(filepath.Join(h.planDir, "demo", f))
		require.NoError(t, err)
		require.NoError(t, h.store.Put(ctx, h.bucket, "plans/acme/"+f, b, ""))
	}
	in := demoInput
	in.Plan = "s3://" + h.bucket + "/plans/acme/plan.yaml"
	_, res, err := h.run(in)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status)
	var ref string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT plan_ref FROM etl2elt.plan_versions WHERE plan_hash = $1`, res.PlanHash).Scan(&ref))
	require.Equal(t, in.Plan, ref)

	in.Plan = "s3://" + h.bucket + "/plans/missing.yaml"
	_, _, err = h.run(in)
	require.ErrorContains(t, err, "read plan s3://"+h.bucket+"/plans/missing.yaml")
	require.ErrorContains(t, err, "not found")
}

func TestReconcileWorkflowOnDemand(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.seed(0)
	_, _, err := h.run(demoInput)
	require.NoError(t, err)
	// Legacy moves 30.00 from emea to amer on one day: the totals still agree.
	_, err = h.legacy.Exec(ctx, `UPDATE legacy.daily_revenue SET revenue = revenue + 30 WHERE day = '2026-01-03' AND region = 'amer';
UPDATE legacy.daily_revenue SET revenue = revenue - 30 WHERE day = '2026-01-03' AND region = 'emea'`)
	require.NoError(t, err)
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-reconcile-" + testenv.Suffix(), TaskQueue: h.taskQueue},
		workflows.ReconcileWorkflowName, workflows.ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08"})
	require.NoError(t, err)
	var res workflows.ReconcileResult
	require.NoError(t, run.Get(ctx, &res))
	require.Equal(t, workflows.StatusFail, res.Status)
	var failing []string
	for _, c := range res.Pairs[0].Checks {
		if c.Status == "fail" {
			failing = append(failing, c.Segment+" "+c.Measure+" "+c.Difference)
		}
	}
	require.Equal(t, []string{"region=amer revenue -30", "region=emea revenue 30"}, failing, "offsets that cancel in the totals are caught by segment")
	bucket, key, err := objectstore.ParseURI(res.Report.Markdown)
	require.NoError(t, err)
	md, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(md), "| region=amer | revenue |")
	require.Contains(t, string(md), "**Offsets that cancel.** revenue: the total is within tolerance (difference 0) while 2 segment(s) breach: region=amer -30, region=emea +30. Their offsets cancel in the total.")
	require.Contains(t, string(md), "## Trend of breaches across cycles")
}

// TestReconcileManySegmentsStaysBounded: 2,000 segments on each side, 290 of them
// off: the workflow result carries the totals and the worst 100 checks (every check is
// in the control schema), the report still shows the worst segments first, and the
// result stays far below Temporal's payload limits.
func TestReconcileManySegmentsStaysBounded(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i, db := range []*pgxpool.Pool{h.legacy, h.warehouse} {
		off := ""
		if i == 1 {
			off = " + CASE WHEN g % 10 = 0 OR g <= 100 THEN g ELSE 0 END" // ELT differs on 290 segments
		}
		_, err := db.Exec(ctx, `CREATE SCHEMA s; CREATE TABLE s.seg AS
SELECT date '2026-01-01' AS day, 'k' || lpad(g::text, 4, '0') AS account, (100 + g)::numeric`+off+` AS amount FROM generate_series(1, 2000) g`)
		require.NoError(t, err)
	}
	h.editPlan("    backfill:\n      from:", `      - name: segs
        legacy: { connection: legacy, relation: s.seg }
        elt: { connection: warehouse, relation: s.seg }
        keys: [day, account]
        segments: [account]
        time_column: day
        measures:
          - { name: amount, tolerance: { absolute: 0 } }
    backfill:
      from:`)
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-segments-" + testenv.Suffix(), TaskQueue: h.taskQueue},
		workflows.ReconcileWorkflowName, workflows.ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-02", Outputs: []string{"segs"}})
	require.NoError(t, err)
	var res workflows.ReconcileResult
	require.NoError(t, run.Get(ctx, &res))
	p := res.Pairs[0]
	require.Equal(t, workflows.StatusFail, p.Status)
	require.Equal(t, 291, p.Breaches, "one sum per differing segment, and the total")
	require.Equal(t, 3+2000*3, p.CheckCount, "totals (row count, sum, nulls) and per segment")
	require.Len(t, p.Checks, 100)
	require.Equal(t, "account=k2000", p.Checks[3].Segment, "after the totals, the largest relative difference first (2000 on 2100)")
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.Less(t, len(b), 64<<10, "the result is bounded")
	var stored int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.reconcile_results WHERE run_id = $1`, p.RunID).Scan(&stored))
	require.Equal(t, p.CheckCount, stored, "every check is in the control schema")
	bucket, key, err := objectstore.ParseURI(res.Report.Markdown)
	require.NoError(t, err)
	md, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(md), "6003 check(s), 291 over tolerance")
	t.Logf("2,000 segments: workflow result %d bytes, %d checks carried of %d", len(b), len(p.Checks), p.CheckCount)
}

// A day with a corrupt object and an empty one among good ones: every good object
// lands, the two are failed rows of etl2elt.loads with their reasons, and the run fails
// after trying them all (on_bad_object: fail, the default); with continue, the run
// goes on; a fixed object lands on the next run.
func TestPipelineLandsEveryObjectItCan(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.seed(0)
	corrupt := "landing/orders/dt=2026-01-03/zz-corrupt.csv.gz"
	empty := "landing/orders/dt=2026-01-04/zz-empty.csv"
	require.NoError(t, h.store.Put(ctx, h.bucket, corrupt, []byte("\x1f\x8b\x08\x00this is not gzip data at all"), ""))
	require.NoError(t, h.store.Put(ctx, h.bucket, empty, nil, ""))
	// Every other class of refusal, each a failed ledger row with its reason.
	hdr := "order_id,customer_id,region,amount,ordered_at\n"
	row := func(id int) string { return fmt.Sprintf("%d,c%d,emea,1.50,2026-01-05T10:00:00Z\n", id, id) }
	var full bytes.Buffer
	zw := gzip.NewWriter(&full)
	_, err := zw.Write([]byte(hdr + strings.Repeat(row(900001), 1) + row(900002) + row(900003)))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	refused := map[string]struct {
		body []byte
		want string
	}{
		"landing/orders/dt=2026-01-05/truncated.csv.gz": {full.Bytes()[:full.Len()-12], "gzip: truncated"},
		"landing/orders/dt=2026-01-05/no-amount.csv":    {[]byte("order_id,customer_id,region,ordered_at\n1,c1,emea,2026-01-05T10:00:00Z\n"), "header lacks declared column(s) amount"},
		"landing/orders/dt=2026-01-05/unclosed.csv":     {[]byte(hdr + row(900010) + "900011,\"c,emea,1,2026-01-05T10:00:00Z\n"), "malformed CSV"},
		"landing/orders/dt=2026-01-05/mostly-bad.csv":   {[]byte(hdr + row(900020) + strings.Repeat("x,c,emea,1,2026-01-05T10:00:00Z\n", 5)), "5 of 6 rows (83.33%) are bad, over max_bad_fraction 0.01"},
	}
	for key, o := range refused {
		require.NoError(t, h.store.Put(ctx, h.bucket, key, o.body, ""))
	}

	run, _, err := h.run(demoInput)
	require.ErrorContains(t, err, "6 object(s) could not be landed; every other object was (on_bad_object: fail)")
	require.ErrorContains(t, err, corrupt)
	require.ErrorContains(t, err, empty)
	var loaded, failed int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'loaded'), count(*) FILTER (WHERE status = 'failed') FROM etl2elt.loads WHERE source = 'orders'`).Scan(&loaded, &failed))
	require.Equal(t, 7, loaded, "every good object landed")
	require.Equal(t, 6, failed)
	reasons := h.keyValues(`SELECT object_key, error FROM etl2elt.loads WHERE status = 'failed'`)
	require.Contains(t, reasons[corrupt], "gzip")
	require.Contains(t, reasons[empty], "empty")
	for key, o := range refused {
		require.Contains(t, reasons[key], o.want, key)
		require.Less(t, len(reasons[key]), 600, "one clear line: %s", reasons[key])
	}
	var kept int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine WHERE object_key = 'landing/orders/dt=2026-01-05/mostly-bad.csv' AND raw_bytes IS NOT NULL`).Scan(&kept))
	require.Equal(t, 5, kept, "the bad rows of a refused object are kept with their bytes")
	n, _ := h.rawChecksum()
	require.EqualValues(t, 1400, n)
	// Bad input is not retried: every LoadSource attempt is the first.
	it := h.client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var loadAttempts []int32
	scheduled := map[int64]string{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] == "LoadSource" {
			loadAttempts = append(loadAttempts, a.GetAttempt())
		}
	}
	require.NotEmpty(t, loadAttempts)
	for _, a := range loadAttempts {
		require.EqualValues(t, 1, a, "a corrupt or truncated object is not retried")
	}
	for key := range refused {
		require.NoError(t, h.store.Delete(ctx, h.bucket, key))
	}

	// continue: the run goes on and says how many objects it could not land.
	h.editPlan("    layout: orders/dt={date}/\n", "    layout: orders/dt={date}/\n    on_bad_object: continue\n")
	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, 2, res.FailedObjects)
	require.Len(t, res.Loads[0].Failed, 2)
	require.Equal(t, workflows.StatusPass, res.Status, "the good objects reconcile")
	// The run's report names the objects it could not land.
	require.NotNil(t, res.Report)
	bucket, key, err := objectstore.ParseURI(res.Report.Markdown)
	require.NoError(t, err)
	md, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(md), "## Landing\n\nThis run landed 0 object(s) (0 rows, 0 quarantined); 2 could not be landed, 0 skipped by decision.")
	require.Contains(t, string(md), "| FAILED | orders | "+corrupt+" | 0 | 0 |  | ")

	// The corrupt object is fixed: the next run lands it.
	good, err := h.store.ReadAll(ctx, h.bucket, "landing/orders/dt=2026-01-02/part-0000.csv")
	if err != nil {
		keys, lerr := h.store.List(ctx, h.bucket, "landing/orders/dt=2026-01-02/")
		require.NoError(t, lerr)
		require.NotEmpty(t, keys)
		good, err = h.store.ReadAll(ctx, h.bucket, keys[0].Key)
		require.NoError(t, err)
		if strings.HasSuffix(keys[0].Key, ".gz") {
			zr, zerr := gzip.NewReader(bytes.NewReader(good))
			require.NoError(t, zerr)
			good, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
	}
	var gz bytes.Buffer
	zw = gzip.NewWriter(&gz)
	_, err = zw.Write(good)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, h.store.Put(ctx, h.bucket, corrupt, gz.Bytes(), ""))
	_, res, err = h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, 1, res.FailedObjects, "only the empty object is left")
	var status string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT status FROM etl2elt.loads WHERE object_key = $1`, corrupt).Scan(&status))
	require.Equal(t, "loaded", status)
}

// skip keeps a failed object's evidence and lets the next run pass; retry brings it
// back; both are decisions; a refused person or a short reason changes nothing.
func TestObjectsSkipAndRetry(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.seed(0)
	corrupt := "landing/orders/dt=2026-01-03/zz-corrupt.csv.gz"
	require.NoError(t, h.store.Put(ctx, h.bucket, corrupt, []byte("\x1f\x8b\x08\x00not gzip"), ""))
	_, _, err := h.run(demoInput)
	require.ErrorContains(t, err, "1 object(s) could not be landed")

	starter := buildStarter(t)
	objects := func(args ...string) (string, error) {
		cmd := exec.Command(starter, append([]string{"objects"}, args...)...)
		cmd.Env = append(os.Environ(), "ETL2ELT_CONN_WAREHOUSE="+h.warehouseDSN, "ETL2ELT_CONTROL_CONNECTION=warehouse", "ETL2ELT_PLAN_DIR="+h.planDir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := objects("list", "--plan", "demo/plan.yaml", "--source", "orders")
	require.NoError(t, err, out)
	require.Contains(t, out, "failed  "+corrupt)

	out, err = objects("skip", "--plan", "demo/plan.yaml", "--source", "orders", "--key", corrupt, "--by", "mallory", "--reason", "the vendor resends it tomorrow")
	require.Error(t, err)
	require.Contains(t, out, `--by "mallory" is not a person of plan acme`)
	out, err = objects("skip", "--plan", "demo/plan.yaml", "--source", "orders", "--key", corrupt, "--by", "dana", "--reason", "short")
	require.Error(t, err)
	require.Contains(t, out, "--reason")
	out, err = objects("skip", "--plan", "demo/plan.yaml", "--source", "orders", "--key", corrupt, "--by", "dana", "--reason", "the vendor resends it tomorrow")
	require.NoError(t, err, out)

	// The next run passes; the evidence is kept.
	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Zero(t, res.FailedObjects)
	var status, reason string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT status, error FROM etl2elt.loads WHERE object_key = $1`, corrupt).Scan(&status, &reason))
	require.Equal(t, "skipped", status)
	require.Contains(t, reason, "gzip")

	out, err = objects("retry", "--plan", "demo/plan.yaml", "--source", "orders", "--key", corrupt, "--by", "lee", "--reason", "the vendor resent it, try again")
	require.NoError(t, err, out)
	_, _, err = h.run(demoInput)
	require.ErrorContains(t, err, "1 object(s) could not be landed", "retried: tried again, still corrupt")
	require.Equal(t, map[string]string{"skip-object": "dana", "retry-object": "lee"},
		h.keyValues(`SELECT kind, decided_by FROM etl2elt.decisions WHERE kind LIKE '%-object' AND subject = '`+corrupt+`'`))
}

// starter land puts local files under the day's prefix of the source; a file that does
// not suit the source's format is refused.
func TestStarterLandRoundTrip(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	starter := buildStarter(t)
	land := func(args ...string) (string, error) {
		cmd := exec.Command(starter, append([]string{"land", "--plan", "demo/plan.yaml", "--source", "orders"}, args...)...)
		cmd.Env = append(os.Environ(), "ETL2ELT_PLAN_DIR="+h.planDir, "AWS_ENDPOINT_URL_S3="+os.Getenv("AWS_ENDPOINT_URL_S3"), "ETL2ELT_S3_PATH_STYLE=true")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "replay-0001.csv")
	body := []byte("order_id,ordered_at,region,channel,amount\n9000001,2026-01-05T10:00:00Z,emea,web,12.50\n")
	require.NoError(t, os.WriteFile(file, body, 0o600))

	out, err := land("--date", "2026-01-05", file)
	require.NoError(t, err, out)
	key := "landing/orders/dt=2026-01-05/replay-0001.csv"
	require.Contains(t, out, "s3://"+h.bucket+"/"+key)
	got, err := h.store.ReadAll(ctx, h.bucket, key)
	require.NoError(t, err)
	require.Equal(t, body, got)

	bad := filepath.Join(dir, "replay.parquet")
	require.NoError(t, os.WriteFile(bad, body, 0o600))
	out, err = land("--date", "2026-01-05", bad)
	require.Error(t, err)
	require.Contains(t, out, "the source's format is csv: want a file ending in .csv (optionally .gz)")
	out, err = land("--date", "05/01/2026", file)
	require.Error(t, err)
	require.Contains(t, out, `--date "05/01/2026": want a day as YYYY-MM-DD`)
}

// TestModelsStatusFindsStalePeriods: after a pipeline run, a whitespace-only edit of a
// model marks nothing; a SQL change of the upstream view marks the incremental model's
// periods stale, named with their rows (exit code 3); the next run rebuilds them.
func TestModelsStatusFindsStalePeriods(t *testing.T) {
	h := newHarness(t)
	h.seed(0)
	_, _, err := h.run(demoInput)
	require.NoError(t, err)
	starter := buildStarter(t)
	status := func() (string, int) {
		cmd := exec.Command(starter, "models", "status", "--plan", "demo/plan.yaml", "--domain", "finance")
		cmd.Env = append(os.Environ(), "ETL2ELT_CONN_WAREHOUSE="+h.warehouseDSN, "ETL2ELT_CONTROL_CONNECTION=warehouse", "ETL2ELT_PLAN_DIR="+h.planDir)
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		return string(out), code
	}
	out, code := status()
	require.Zero(t, code, out)
	require.Regexp(t, `fct_orders\s+incremental\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+-\s+none`, out)

	stg := filepath.Join(h.planDir, "demo", "models", "stg_orders.sql")
	body, err := os.ReadFile(stg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stg, append([]byte("-- a comment only\n"), body...), 0o600))
	out, code = status()
	require.Zero(t, code, "a comment changes nothing: %s", out)

	require.NoError(t, os.WriteFile(stg, []byte(strings.Replace(string(body), "    amount,\n", "    amount + 0 as amount,\n", 1)), 0o600))
	out, code = status()
	require.Equal(t, 3, code, out)
	require.Regexp(t, `stg_orders\s+view\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+SQL\s+1 range`, out)
	require.Regexp(t, `stale: fct_orders 2025-12-30 \.\. 2026-01-08 \(end excluded\), 1400 rows: upstream stg_orders: SQL`, out)
	require.Contains(t, out, "stale period(s) holding rows: rebuild them")

	_, _, err = h.run(demoInput)
	require.NoError(t, err)
	out, code = status()
	require.Zero(t, code, "the run rebuilt them: %s", out)
}

// TestBackfillReprocessChanged: a change of fct_orders' own SQL marks its periods
// stale; a backfill with reprocess changed runs exactly the chunks holding them (a
// dry run lists them first), after which none is stale and a second one runs nothing.
func TestBackfillReprocessChanged(t *testing.T) {
	h := newHarness(t)
	h.seed(0)
	_, _, err := h.run(demoInput)
	require.NoError(t, err)
	in := workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "fct_orders", From: "2026-01-01", To: "2026-01-08", Reprocess: "changed"}
	res, err := h.backfill(in)
	require.NoError(t, err)
	require.Zero(t, res.Counters.Done, "nothing changed: nothing runs")
	require.Equal(t, 7, res.Counters.Settled)

	fct := filepath.Join(h.planDir, "demo", "models", "fct_orders.sql")
	body, err := os.ReadFile(fct)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fct, []byte(strings.Replace(string(body), "    amount,\n", "    amount + 0 as amount,\n", 1)), 0o600))
	dry := in
	dry.DryRun = true
	res, err = h.backfill(dry)
	require.NoError(t, err)
	require.Len(t, res.ToRun, 7, "every day of the range was built by the old SQL: %v", res.ToRun)

	res, err = h.backfill(in)
	require.NoError(t, err)
	require.Equal(t, 7, res.Counters.Done)
	var stale int
	require.NoError(t, h.warehouse.QueryRow(context.Background(), `SELECT count(*) FROM etl2elt.backfill_chunks WHERE target = 'fct_orders' AND definition_hash IS NULL`).Scan(&stale))
	require.Zero(t, stale, "every chunk records its definition")
	res, err = h.backfill(in)
	require.NoError(t, err)
	require.Zero(t, res.Counters.Done, "none stale any more")
}
