package model

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

// The Redshift materialisations are checked on the statements they issue
// (warehouse.Recorder): there is no Redshift here, so these tests never show that
// Redshift accepts the SQL. The run records go to the real PostgreSQL control database.

var eventCols = [][]any{{"id"}, {"day"}, {"amount"}}

func TestRunRedshiftIncremental(t *testing.T) {
	ctx := context.Background()
	control := setup(t)
	rec := &warehouse.Recorder{
		Rows:     map[string][][]any{"information_schema.columns": eventCols},
		Affected: map[string]int64{"DELETE FROM": 4, "MERGE INTO": 9},
	}
	w := window.Window{From: day("2026-01-03"), To: day("2026-01-05")}
	res, err := RunRedshift(ctx, rec, control, Request{Model: incr, RunID: "r1", WorkflowID: "wf", Window: w})
	require.NoError(t, err)
	require.EqualValues(t, 9, res.Rows, "rows merged (inserted or updated)")
	require.EqualValues(t, 4, res.RowsDeleted, "the window's rows deleted")
	require.Equal(t, window.Window{From: day("2026-01-02"), To: w.To}, *res.Window, "widened by the 1d lookback")
	model := "(\nselect id, day, amount from raw.events\n) AS \"model\""
	require.Equal(t, []string{
		`CREATE SCHEMA IF NOT EXISTS "marts"`,
		`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
		// Staging on its own: the write transaction starts with its LOCK.
		`DROP TABLE IF EXISTS "_etl2elt_batch"`,
		`CREATE TEMP TABLE "_etl2elt_batch" (LIKE "marts"."fct_events")`,
		`INSERT INTO "_etl2elt_batch" ("id", "day", "amount") SELECT "id", "day", "amount" FROM ` + model + ` WHERE "model"."day" >= $1 AND "model"."day" < $2`,
		`SELECT COALESCE(CAST("id" AS VARCHAR(65535)), 'NULL') FROM "_etl2elt_batch" GROUP BY "id" HAVING COUNT(*) > 1 LIMIT 1`,
		`BEGIN`,
		`LOCK "marts"."fct_events"`,
		`DELETE FROM "marts"."fct_events" WHERE "day" >= $1 AND "day" < $2`,
		`MERGE INTO "marts"."fct_events" USING "_etl2elt_batch" AS "src" ON "fct_events"."id" = "src"."id" WHEN MATCHED THEN UPDATE SET "id" = "src"."id", "day" = "src"."day", "amount" = "src"."amount" WHEN NOT MATCHED THEN INSERT ("id", "day", "amount") VALUES ("src"."id", "src"."day", "src"."amount")`,
		`COMMIT`,
		`DROP TABLE IF EXISTS "_etl2elt_batch"`,
	}, rec.SQL())
	require.Equal(t, []any{res.Window.From, res.Window.To}, rec.Statements[4].Args)
	require.Equal(t, []any{res.Window.From, res.Window.To}, rec.Statements[8].Args)
	require.Empty(t, warehouse.RedshiftViolations(rec.SQL()))

	var status, relation string
	require.NoError(t, control.QueryRow(ctx, `SELECT status, relation FROM etl2elt.model_runs WHERE run_id = 'r1'`).Scan(&status, &relation))
	require.Equal(t, "succeeded", status)
	require.Equal(t, "marts.fct_events", relation)
}

func TestRunRedshiftIncrementalCreatesTheTable(t *testing.T) {
	ctx := context.Background()
	control := setup(t)
	rec := &warehouse.Recorder{}
	// No columns the first time: the table is created, then its columns read again
	// (the recorder keeps answering none, so the run stops there).
	_, err := RunRedshift(ctx, rec, control, Request{Model: incr, RunID: "r1", Window: window.Window{From: day("2026-01-03"), To: day("2026-01-04")}})
	require.EqualError(t, err, "model fct_events: table marts.fct_events has no columns after CREATE TABLE AS")
	require.Equal(t, `CREATE TABLE "marts"."fct_events" SORTKEY ("day") AS SELECT * FROM (`+"\nselect id, day, amount from raw.events\n"+`) AS "model" WHERE 1 = 0`, rec.SQL()[2])
}

func TestRunRedshiftIncrementalRefusesDuplicateKeys(t *testing.T) {
	ctx := context.Background()
	control := setup(t)
	rec := &warehouse.Recorder{Rows: map[string][][]any{"information_schema.columns": eventCols, "HAVING COUNT(*) > 1": {{"7"}}}}
	_, err := RunRedshift(ctx, rec, control, Request{Model: incr, RunID: "r1", Window: window.Window{From: day("2026-01-03"), To: day("2026-01-04")}})
	var dup *DuplicateKeyError
	require.ErrorAs(t, err, &dup)
	require.EqualError(t, err, "model fct_events: unique key (id) is not unique in the window, e.g. (7)")
	sql := rec.SQL()
	require.Equal(t, `DROP TABLE IF EXISTS "_etl2elt_batch"`, sql[len(sql)-1])
	require.NotContains(t, strings.Join(sql, "\n"), "LOCK", "the target was not touched")
	var status string
	require.NoError(t, control.QueryRow(ctx, `SELECT status FROM etl2elt.model_runs WHERE run_id = 'r1'`).Scan(&status))
	require.Equal(t, "failed", status)
}

func TestRunRedshiftTableAndView(t *testing.T) {
	ctx := context.Background()
	control := setup(t)
	table := plan.Model{Name: "daily", Schema: "marts", Materialized: plan.MaterializedTable, SQLText: "select day, sum(amount) as amount from raw.events group by day;"}
	model := "(\nselect day, sum(amount) as amount from raw.events group by day\n) AS \"model\""

	rec := &warehouse.Recorder{Rows: map[string][][]any{"information_schema.columns": {{"day"}, {"amount"}}}, Affected: map[string]int64{"INSERT INTO": 5}}
	res, err := RunRedshift(ctx, rec, control, Request{Model: table, RunID: "r1"})
	require.NoError(t, err)
	require.EqualValues(t, 5, res.Rows)
	require.Equal(t, []string{
		`CREATE SCHEMA IF NOT EXISTS "marts"`,
		`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
		`BEGIN`,
		`LOCK "marts"."daily"`,
		`DELETE FROM "marts"."daily"`,
		`INSERT INTO "marts"."daily" ("day", "amount") SELECT "day", "amount" FROM ` + model,
		`COMMIT`,
	}, rec.SQL())
	require.Empty(t, warehouse.RedshiftViolations(rec.SQL()))

	rec = &warehouse.Recorder{}
	_, err = RunRedshift(ctx, rec, control, Request{Model: table, RunID: "r2"})
	require.NoError(t, err)
	require.Equal(t, []string{rec.SQL()[0], rec.SQL()[1], `BEGIN`, `CREATE TABLE "marts"."daily" AS SELECT * FROM ` + model, `COMMIT`}, rec.SQL())
	require.Empty(t, warehouse.RedshiftViolations(rec.SQL()))

	view := table
	view.Materialized = plan.MaterializedView
	rec = &warehouse.Recorder{}
	_, err = RunRedshift(ctx, rec, control, Request{Model: view, RunID: "r3"})
	require.NoError(t, err)
	require.Equal(t, []string{`CREATE SCHEMA IF NOT EXISTS "marts"`, `CREATE OR REPLACE VIEW "marts"."daily" AS SELECT * FROM ` + model}, rec.SQL())
}
