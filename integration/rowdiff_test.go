package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"etl2elt/activities"
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
      - name: orders_by_region_normalised
        legacy: { connection: legacy, relation: rd.orders }
        elt: { connection: warehouse, relation: rd.orders }
        keys: [order_id]
        segments: [region]
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

// rowDiffHarness is a harness whose plan has the row diff pairs, seeded.
func rowDiffHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.editPlan("            tolerance: { absolute: 0 }\n    backfill:", "            tolerance: { absolute: 0 }"+rowDiffPairs+"    backfill:")
	seedRowDiff(t, h.legacy, h.warehouse)
	return h
}

func TestReconcileRowDiff(t *testing.T) {
	h := rowDiffHarness(t)
	ctx := context.Background()

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
	require.Equal(t, reconcile.KindWithinTolerance, kinds["30"].Kind, "a difference within tolerance is sampled as such")
	require.Equal(t, "region=amer", kinds["30"].Segment, "the sample is stratified by the pair's segments")
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
		{Key: map[string]string{"day": "2026-01-05", "region": "emea"}, Kind: reconcile.KindWithinTolerance,
			Columns: []reconcile.ColumnDiff{{Column: "revenue", Legacy: "49.00", ELT: "44.00", WithinTolerance: true}}},
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
	require.Contains(t, string(md), "| order_id=31 | mismatched | region=emea | amount | 131.00 | 131.02 |")

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
	require.EqualValues(t, 5+1, n.NormalisationOnly, "the notes and order 40's region: equal only once normalised")
	var normOnly int64
	for _, p := range res.Pairs {
		if p.Output == "orders_normalised" {
			require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT normalisation_only FROM etl2elt.row_diffs WHERE run_id = $1`, p.RunID).Scan(&normOnly))
		}
	}
	require.EqualValues(t, 6, normOnly, "stored with the run")
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

// TestReconcileByCause: the seeded differences on the two databases, each found and
// classified by cause; a text column whose ” became NULL (the notes of orders
// 60-64: 2 in amer, 2 in emea, 1 in apac) found by the segment checks' NULL counts
// without a row diff, and accepted as normalisation-only when the plan normalises
// null_equals_empty; the row sample stratified over every cause present; the
// report's sections.
func TestReconcileByCause(t *testing.T) {
	h := rowDiffHarness(t)
	ctx := context.Background()
	reconcileOutputs := func(rowDiff *workflows.RowDiffOptions, outputs ...string) *workflows.ReconcileResult {
		id := "it-causes-" + testenv.Suffix()
		t.Logf("ReconcileWorkflow %s (outputs %v)", id, outputs)
		run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue},
			workflows.ReconcileWorkflowName, workflows.ReconcileInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08",
				Outputs: outputs, RowDiff: rowDiff})
		require.NoError(t, err)
		var res workflows.ReconcileResult
		require.NoError(t, run.Get(ctx, &res))
		return &res
	}
	noteChecks := func(runID string) []string {
		rows, err := h.warehouse.Query(ctx, `SELECT segment || ' ' || metric || ' ' || coalesce(difference::text, '') || ' ' || status
FROM etl2elt.reconcile_results WHERE run_id = $1 AND measure = 'note' AND segment NOT IN ('region=', 'region=<null>') ORDER BY segment, metric`, runID)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}

	// Aggregates only.
	res := reconcileOutputs(nil, "orders_rows", "orders_by_region_normalised")
	plain, norm := pairOf(t, res, "orders_rows"), pairOf(t, res, "orders_by_region_normalised")
	require.Equal(t, []string{" null_count 5 fail", "region=amer null_count 2 fail", "region=apac null_count 1 fail", "region=emea null_count 2 fail"},
		noteChecks(plain.RunID), "'' that became NULL: found by the NULL counts, per segment")
	require.Equal(t, []string{" null_count_unnormalised 5 pass", " null_or_empty_count 0 pass",
		"region=amer null_count_unnormalised 2 pass", "region=amer null_or_empty_count 0 pass",
		"region=apac null_count_unnormalised 1 pass", "region=apac null_or_empty_count 0 pass",
		"region=emea null_count_unnormalised 2 pass", "region=emea null_or_empty_count 0 pass"},
		noteChecks(norm.RunID), "accepted under null_equals_empty, and recorded as such")
	t.Logf("aggregate causes: orders_rows %v, orders_by_region_normalised %v", plain.Causes, norm.Causes)
	for _, p := range []activities.ReconcileResult{plain, norm} {
		require.Equal(t, 1, p.Causes[reconcile.CauseSegmentMissingInELT], "region=<null>: order 40's region is NULL in legacy")
		require.Equal(t, 1, p.Causes[reconcile.CauseSegmentMissingInLegacy], "region=: and '' in ELT")
		require.Positive(t, p.Causes[reconcile.CauseOutsideTolerance])
		require.Positive(t, p.Causes[reconcile.CauseWithinTolerance], "the total amount: +10.03 within 1000 / 0.01 %")
	}
	require.Zero(t, plain.Causes[reconcile.CauseNormalisationOnly])
	require.Equal(t, 4, norm.Causes[reconcile.CauseNormalisationOnly], "the notes' NULLs: the total and 3 regions")

	// With a row diff and a 5-key sample: one key of each of the five causes present.
	res = reconcileOutputs(&workflows.RowDiffOptions{MaxSeconds: 120, SampleSize: 5, TimestampsUTC: true}, "orders_by_region_normalised")
	p := pairOf(t, res, "orders_by_region_normalised")
	d := p.RowDiff
	require.NotNil(t, d)
	require.Equal(t, [5]int64{1, 1, 2, 1, 6}, [5]int64{d.MissingInLegacy, d.MissingInELT, d.Mismatched, d.WithinTolerance, d.NormalisationOnly},
		"missing in legacy (20), in ELT (10), mismatched (31, 50), within tolerance (30), normalisation-only (60-64, 40's region)")
	kinds := map[string]string{}
	for _, k := range d.Sample {
		kinds[k.Kind] = k.Key["order_id"]
		require.True(t, strings.HasPrefix(k.Segment, "region="), "%+v", k)
	}
	require.Len(t, d.Sample, 5)
	require.Equal(t, "10", kinds[reconcile.KindMissingInELT])
	require.Equal(t, "20", kinds[reconcile.KindMissingInLegacy])
	require.Contains(t, []string{"31", "50"}, kinds[reconcile.KindMismatched])
	require.Equal(t, "30", kinds[reconcile.KindWithinTolerance])
	require.Contains(t, []string{"40", "60", "61", "62", "63", "64"}, kinds[reconcile.KindNormalisationOnly])
	require.Equal(t, reconcile.Fail, p.Status, "keys missing and values outside tolerance fail the pair")

	bucket, key, err := objectstore.ParseURI(res.Report.Markdown)
	require.NoError(t, err)
	md, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	t.Logf("report:\n%s", md)
	for _, want := range []string{
		"### Differences by cause\n\n| cause | count | fails the pair | worst examples |",
		"| Keys missing in ELT (legacy only) | 1 row(s) | yes | order_id=10 [region=emea] |",
		"| Keys missing in legacy (ELT only) | 1 row(s) | yes | order_id=20 [region=apac] |",
		"| Segments missing in ELT (legacy only) | 1 segment(s) | yes | region=&lt;null&gt; (1 row(s) in legacy) |",
		"| Segments missing in legacy (ELT only) | 1 segment(s) | yes | region= (1 row(s) in ELT) |",
		"| Values outside tolerance | ",
		"| Values within tolerance | ",
		"| Normalisation-only differences | 4 check(s) · 6 row(s) | no | total · note NULLs: 0 → 5 (+5; NULL-or-empty counts equal under null_equals_empty);",
		"#### Row sample: 5 key(s), stratified across causes and segments",
		"normalisation-only 6 · rows fetched",
	} {
		require.Contains(t, string(md), want)
	}
	bucket, key, err = objectstore.ParseURI(res.Report.HTML)
	require.NoError(t, err)
	page, err := h.store.ReadAll(ctx, bucket, key)
	require.NoError(t, err)
	require.Contains(t, string(page), "<h3>Differences by cause</h3>")
	require.Contains(t, string(page), "<td>Normalisation-only differences</td><td>4 check(s) · 6 row(s)</td>")
}

func pairOf(t *testing.T, res *workflows.ReconcileResult, output string) activities.ReconcileResult {
	t.Helper()
	for _, p := range res.Pairs {
		if p.Output == output {
			return p
		}
	}
	require.Failf(t, "no such pair", "%s in %+v", output, res.Pairs)
	return activities.ReconcileResult{}
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
