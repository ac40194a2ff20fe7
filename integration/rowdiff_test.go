package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// rowDiffPairs are output pairs added to the demo plan's finance domain, each on
// tables of its own in the legacy database and the warehouse.
const rowDiffPairs = `
      - name: orders_rows
        legacy: { connection: legacy, relation: rd.orders }
        elt: { connection: warehouse, relation: rd.orders }
        keys: [order_id]
        segments: [region]
        time_column: ordered_at
        measures:
          - name: amount
            tolerance: { absolute: 1000 }
      - name: daily_rows
        legacy: { connection: legacy, relation: rd.daily }
        elt: { connection: warehouse, relation: rd.daily }
        keys: [day, region]
        time_column: day
        measures:
          - name: revenue
            tolerance: { absolute: 1000 }
      - name: same_rows
        legacy: { connection: legacy, relation: rd.same }
        elt: { connection: warehouse, relation: rd.same }
        keys: [order_id]
        time_column: ordered_at
        measures:
          - name: amount
            tolerance: { absolute: 0 }
      - name: orders_normalised
        legacy: { connection: legacy, relation: rd.orders }
        elt: { connection: warehouse, relation: rd.orders }
        keys: [order_id]
        time_column: ordered_at
        normalize: { null_equals_empty: true }
        measures:
          - name: amount
            tolerance: { relative: 0.0001 }
      - name: orders_without_notes
        legacy: { connection: legacy, relation: rd.orders }
        elt: { connection: warehouse, relation: rd.orders }
        keys: [order_id]
        time_column: ordered_at
        ignore: [note]
        measures:
          - name: amount
            tolerance: { absolute: 1000 }
      - name: many_rows
        legacy: { connection: legacy, relation: rd.many }
        elt: { connection: warehouse, relation: rd.many }
        keys: [order_id]
        time_column: ordered_at
        measures:
          - name: amount
            tolerance: { absolute: 100000 }
      - name: bad_rows
        legacy: { connection: legacy, relation: rd.same }
        elt: { connection: warehouse, relation: rd.same }
        keys: [no_such_column]
        time_column: ordered_at
        measures:
          - name: amount
            tolerance: { absolute: 0 }
`

// seedRowDiff creates the pairs' tables. Legacy keeps ordered_at as timestamp without
// time zone (UTC wall time), the warehouse as timestamptz: equal instants once
// normalised (timestamps_utc).
func seedRowDiff(t *testing.T, legacy, warehouse *pgxpool.Pool) {
	ctx := context.Background()
	for i, p := range []*pgxpool.Pool{legacy, warehouse} {
		ts := "timestamptz"
		if i == 0 {
			ts = "timestamp"
		}
		_, err := p.Exec(ctx, `CREATE SCHEMA rd;
CREATE TABLE rd.orders (order_id bigint PRIMARY KEY, region text, amount numeric(12,2), ordered_at `+ts+` NOT NULL, note text);
INSERT INTO rd.orders SELECT g, (ARRAY['amer','emea','apac'])[1 + g % 3], 100.00 + g, timestamp '2026-01-01 00:00' + g * interval '15 minutes', 'ok'
FROM generate_series(1, 500) AS g;
CREATE TABLE rd.same AS SELECT * FROM rd.orders;
CREATE TABLE rd.daily (day date, region text, revenue numeric(12,2), PRIMARY KEY (day, region));
INSERT INTO rd.daily SELECT date '2026-01-01' + d, r, d * 10 + length(r) FROM generate_series(0, 6) AS d, unnest(ARRAY['amer','emea','apac','north america']) AS r;
ANALYZE rd.orders; ANALYZE rd.daily`)
		require.NoError(t, err)
	}
	for _, s := range []struct {
		p   *pgxpool.Pool
		sql string
	}{
		{warehouse, `DELETE FROM rd.orders WHERE order_id = 10`},                                            // missing in ELT
		{legacy, `DELETE FROM rd.orders WHERE order_id = 20`},                                               // missing in legacy
		{warehouse, `UPDATE rd.orders SET amount = amount + 0.01 WHERE order_id = 30`},                      // just inside 0.01
		{warehouse, `UPDATE rd.orders SET amount = amount + 0.02 WHERE order_id = 31`},                      // just outside
		{legacy, `UPDATE rd.orders SET region = NULL WHERE order_id = 40`},                                  // NULL vs ''
		{warehouse, `UPDATE rd.orders SET region = '' WHERE order_id = 40`},                                 //
		{warehouse, `UPDATE rd.orders SET ordered_at = ordered_at + interval '1 hour' WHERE order_id = 50`}, // zone shift
		{legacy, `UPDATE rd.orders SET note = '' WHERE order_id BETWEEN 60 AND 64`},                         // a column no measure names:
		{warehouse, `UPDATE rd.orders SET note = NULL WHERE order_id BETWEEN 60 AND 64`},                    // '' became NULL
		{warehouse, `DELETE FROM rd.daily WHERE day = '2026-01-02' AND region = 'north america'`},
		{legacy, `UPDATE rd.daily SET revenue = revenue + 5 WHERE day = '2026-01-05' AND region = 'emea'`},
	} {
		_, err := s.p.Exec(ctx, s.sql)
		require.NoError(t, err, s.sql)
	}
}

func TestReconcileRowDiff(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	planFile := filepath.Join(h.planDir, "demo", "plan.yaml")
	b, err := os.ReadFile(planFile)
	require.NoError(t, err)
	marker := "            tolerance: { absolute: 0 }\n    backfill:"
	require.Contains(t, string(b), marker)
	b = []byte(strings.Replace(string(b), marker, "            tolerance: { absolute: 0 }"+rowDiffPairs+"    backfill:", 1))
	require.NoError(t, os.WriteFile(planFile, b, 0o600))
	seedRowDiff(t, h.legacy, h.warehouse)

	reconcileOutputs := func(outputs ...string) (*workflows.ReconcileResult, error) {
		id := "it-rowdiff-" + testenv.Suffix()
		// For a replay history (docs/DEVELOPMENT.md): .tools/bin/temporal workflow show --workflow-id <id> --output json
		t.Logf("ReconcileWorkflow %s (outputs %v)", id, outputs)
		run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue},
			workflows.ReconcileWorkflowName, workflows.ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08",
				Outputs: outputs,
				RowDiff: &workflows.RowDiffOptions{MaxRowsFetched: 10000, MaxSeconds: 120, SampleSize: 50, TimestampsUTC: true,
					NumericTolerance: map[string]float64{"amount": 0.01}}})
		require.NoError(t, err)
		var res workflows.ReconcileResult
		return &res, run.Get(ctx, &res)
	}

	res, err := reconcileOutputs("orders_rows", "daily_rows", "same_rows")
	require.NoError(t, err)
	require.Equal(t, workflows.StatusFail, res.Status)
	require.EqualValues(t, 2+8+1, res.RowDifferences)
	byOutput := map[string]*reconcile.RowDiffResult{}
	status := map[string]string{}
	for _, p := range res.Pairs {
		require.NotNil(t, p.RowDiff, p.Output)
		byOutput[p.Output], status[p.Output] = p.RowDiff, p.Status
	}

	orders := byOutput["orders_rows"]
	require.Equal(t, [4]int64{1, 1, 3 + 5, 1}, [4]int64{orders.MissingInLegacy, orders.MissingInELT, orders.Mismatched, orders.WithinTolerance},
		"missing in legacy, missing in ELT, mismatched (every shared column is compared: the 5 notes too), within tolerance")
	require.False(t, orders.Bounded)
	require.Positive(t, orders.KeyRanges, "indexed bigint key: the key-range level ran")
	require.Equal(t, reconcile.Fail, status["orders_rows"])
	kinds := map[string]reconcile.KeyDiff{}
	for _, k := range orders.Sample {
		kinds[k.Key["order_id"]] = k
	}
	require.Equal(t, reconcile.KindMissingInELT, kinds["10"].Kind)
	require.Equal(t, reconcile.KindMissingInLegacy, kinds["20"].Kind)
	require.NotContains(t, kinds, "30", "a difference within tolerance is not a sampled difference")
	require.Equal(t, []reconcile.ColumnDiff{{Column: "amount", Legacy: "131.00", ELT: "131.02"}}, kinds["31"].Columns)
	require.Equal(t, []reconcile.ColumnDiff{{Column: "region", Legacy: "<null>", ELT: "", LegacyNull: true}}, kinds["40"].Columns)
	require.Equal(t, []reconcile.ColumnDiff{{Column: "ordered_at", Legacy: "2026-01-01T12:30:00.000000Z", ELT: "2026-01-01T13:30:00.000000Z"}}, kinds["50"].Columns)
	require.Equal(t, []reconcile.ColumnDiff{{Column: "note", Legacy: "", ELT: "<null>", ELTNull: true}}, kinds["60"].Columns, "'' became NULL in a column no measure names")

	daily := byOutput["daily_rows"]
	// revenue 49.00 vs 44.00 is within the plan's absolute tolerance of 1000 for
	// revenue: within tolerance at row level as it is in the aggregates.
	require.Equal(t, [4]int64{0, 1, 0, 1}, [4]int64{daily.MissingInLegacy, daily.MissingInELT, daily.Mismatched, daily.WithinTolerance})
	require.ElementsMatch(t, []reconcile.KeyDiff{
		{Key: map[string]string{"day": "2026-01-02", "region": "north america"}, Kind: reconcile.KindMissingInELT},
	}, daily.Sample)

	same := byOutput["same_rows"]
	require.Zero(t, same.Differences()+same.WithinTolerance, "identical data: no false positive")
	require.Zero(t, same.RowsFetched)
	require.True(t, same.Passed())
	require.Equal(t, reconcile.Pass, status["same_rows"])

	// Stored beside the pair's aggregate checks in the control schema.
	var stored [4]int64
	var sample string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT d.missing_in_legacy, d.missing_in_elt, d.mismatched, d.within_tolerance, d.sample::text
FROM etl2elt.row_diffs d JOIN etl2elt.reconcile_runs r USING (run_id) WHERE r.run_id = $1 AND r.output = 'orders_rows'`,
		runIDOf(res, "orders_rows")).Scan(&stored[0], &stored[1], &stored[2], &stored[3], &sample))
	require.Equal(t, [4]int64{1, 1, 3 + 5, 1}, stored)
	require.Contains(t, sample, `"column": "amount"`)

	// The report has a row diff section per pair.
	bucket, key, err := objectstore.ParseURI(res.Report.Markdown)
	require.NoError(t, err)
	md, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(md), "### Row-level diff\n\nmissing in legacy 1 · missing in ELT 1 · mismatched 8 · within tolerance 1")
	require.Contains(t, string(md), "| order_id=31 | mismatched | amount | 131.00 | 131.02 |")

	// The plan's normalisation and tolerance: NULL and '' compare equal (the notes and
	// order 40's region), +0.01 on 130.00 is within 0.01 %, +0.02 on 131.00 is not.
	// Ignoring the notes column leaves the plan's other columns compared.
	res, err = reconcileOutputs("orders_normalised", "orders_without_notes")
	require.NoError(t, err)
	for _, p := range res.Pairs {
		byOutput[p.Output] = p.RowDiff
	}
	n := byOutput["orders_normalised"]
	require.Equal(t, [4]int64{1, 1, 2, 1}, [4]int64{n.MissingInLegacy, n.MissingInELT, n.Mismatched, n.WithinTolerance}, "%+v", n.Sample)
	w := byOutput["orders_without_notes"]
	require.Equal(t, [4]int64{1, 1, 3, 1}, [4]int64{w.MissingInLegacy, w.MissingInELT, w.Mismatched, w.WithinTolerance}, "%+v", w.Sample)

	// 10,000 differing keys with 5,000-character values and a sample of 2,000: the
	// workflow's result stays small (20 keys, values cut), the control schema and the
	// report keep the whole sample.
	_, err = h.legacy.Exec(ctx, `CREATE TABLE rd.many AS SELECT g AS order_id, g * 1.00 AS amount, timestamp '2026-01-02' AS ordered_at, repeat('x', 5000) AS note FROM generate_series(1, 10000) AS g`)
	require.NoError(t, err)
	_, err = h.warehouse.Exec(ctx, `CREATE TABLE rd.many AS SELECT g AS order_id, g * 1.00 + 1 AS amount, timestamptz '2026-01-02' AS ordered_at, repeat('y', 5000) AS note FROM generate_series(1, 10000) AS g`)
	require.NoError(t, err)
	id := "it-rowdiff-many-" + testenv.Suffix()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue},
		workflows.ReconcileWorkflowName, workflows.ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08",
			Outputs: []string{"many_rows"}, RowDiff: &workflows.RowDiffOptions{SampleSize: 2000, MaxSeconds: 120, TimestampsUTC: true}})
	require.NoError(t, err)
	var many workflows.ReconcileResult
	require.NoError(t, run.Get(ctx, &many))
	payload, err := json.Marshal(many)
	require.NoError(t, err)
	require.Less(t, len(payload), 64<<10, "the workflow result is bounded")
	rd := many.Pairs[0].RowDiff
	require.EqualValues(t, 10000, rd.Mismatched)
	require.Len(t, rd.Sample, reconcile.ResultSampleKeys)
	require.Equal(t, 2000, rd.SampleStored)
	require.Contains(t, rd.Sample[0].Columns[len(rd.Sample[0].Columns)-1].ELT, "… (5000 characters)")
	var storedKeys int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT jsonb_array_length(sample) FROM etl2elt.row_diffs WHERE run_id = $1`, many.Pairs[0].RunID).Scan(&storedKeys))
	require.Equal(t, 2000, storedKeys)
	bucket, key, err = objectstore.ParseURI(many.Report.Markdown)
	require.NoError(t, err)
	manyMD, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Equal(t, 2000*2, strings.Count(string(manyMD), "| mismatched |"), "the report lists the stored sample (two columns a key)")

	// A key column the relation lacks is bad input: the workflow fails without retrying.
	_, err = reconcileOutputs("bad_rows")
	require.ErrorContains(t, err, `has no column "no_such_column"`)
	require.ErrorContains(t, err, "BadInput")
}

func runIDOf(res *workflows.ReconcileResult, output string) string {
	for _, p := range res.Pairs {
		if p.Output == output {
			return p.RunID
		}
	}
	return ""
}

// starter reconcile --report-dir saves the run's reports locally and says that a
// --tolerance overrides the plan's absolute bound.
func TestStarterReconcileSavesReports(t *testing.T) {
	h := newHarness(t)
	h.seed(0)
	_, _, err := h.run(demoInput)
	require.NoError(t, err)
	dir := t.TempDir()
	cmd := exec.Command(buildStarter(t), "reconcile", "--plan", "demo/plan.yaml", "--domain", "finance", "--from", "2026-01-02", "--to", "2026-01-07",
		"--report-dir", dir, "--row-diff", "--tolerance", "revenue=0.5")
	cmd.Env = append(os.Environ(), "ETL2ELT_TASK_QUEUE="+h.taskQueue, "ETL2ELT_PLAN_DIR="+h.planDir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "--tolerance overrides the absolute bound of the plan's measure tolerance for revenue=0.5")
	require.Contains(t, string(out), "reports saved in "+dir)
	md, err := os.ReadFile(filepath.Join(dir, "reconciliation.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "# Reconciliation · finance · [2026-01-02, 2026-01-07)")
	html, err := os.ReadFile(filepath.Join(dir, "reconciliation.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "<!doctype html>")

	// starter report get fetches a run's reports by the run id the report prints.
	var run string
	require.NoError(t, h.warehouse.QueryRow(context.Background(), `SELECT split_part(run_id, '/', 1) FROM etl2elt.reconcile_runs ORDER BY started_at DESC LIMIT 1`).Scan(&run))
	require.Contains(t, string(md), "run `"+run+"`")
	got := t.TempDir()
	get := exec.Command(buildStarter(t), "report", "get", run, "--dir", got)
	get.Env = append(os.Environ(), "ETL2ELT_CONN_WAREHOUSE="+h.warehouseDSN, "ETL2ELT_CONTROL_CONNECTION=warehouse", "ETL2ELT_S3_BUCKET="+h.bucket)
	out, err = get.CombinedOutput()
	require.NoError(t, err, string(out))
	fetched, err := os.ReadFile(filepath.Join(got, "reconciliation.md"))
	require.NoError(t, err)
	require.Equal(t, md, fetched)
	bad := exec.Command(buildStarter(t), "report", "get", "no-such-run")
	bad.Env = get.Env
	out, err = bad.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `run "no-such-run": no reconciliation with that run id`)
}
