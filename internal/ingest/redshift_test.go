package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
)

// These tests record the statements the Redshift load issues (warehouse.Recorder):
// there is no Redshift here, so they check the generated SQL sequence, never that
// Redshift accepts it. The control-database side runs on the real local PostgreSQL.

const testRole = "arn:aws:iam::123456789012:role/etl2elt-load"

var redshiftOpts = RedshiftOptions{IAMRole: testRole, ManifestURI: "s3://landing/_etl2elt/manifests/abc.manifest",
	Header: []string{"order_id", "region", "amount", "ordered_at"}}

var loadedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func redshiftReq(src plan.Source, key string) Request {
	return Request{Source: src, Table: ident.MustRelation("raw.orders"), Object: objectstore.Object{Key: key, ETag: "e1", Size: 1234}, LoadID: "run-1/orders", WorkflowID: "wf"}
}

func TestCopyObjectRedshiftCSV(t *testing.T) {
	rec := &warehouse.Recorder{
		Rows:     map[string][][]any{"pg_last_copy_id": {{int64(4242), int64(3)}}},
		Affected: map[string]int64{"INSERT INTO": 3},
	}
	src := ordersSource
	src.MaxBadFraction = 0.5
	res, bad, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "orders/dt=2026-01-01/a.csv.gz"), redshiftOpts, loadedAt, 7)
	require.NoError(t, err)
	require.Empty(t, bad)
	require.Equal(t, Result{ObjectKey: "orders/dt=2026-01-01/a.csv.gz", Rows: 3, Bytes: 1234}, res)
	amount, at := plan.Column{Name: "amount", Type: "numeric"}, plan.Column{Name: "ordered_at", Type: "timestamptz"}
	refused := `COALESCE(` + invalidReason(amount) + `, ` + invalidReason(at) + `)`
	require.Equal(t, []string{
		// Staging, each statement on its own: the write transaction below starts
		// with its LOCK, so its snapshot is not older than the lock. Numbers and
		// times are staged as text and judged by the streaming loader's rules.
		`DROP TABLE IF EXISTS "_etl2elt_stage"`,
		`CREATE TEMP TABLE "_etl2elt_stage" ("order_id" BIGINT, "region" VARCHAR(65535), "amount" VARCHAR(65535), "ordered_at" VARCHAR(65535))`,
		`COPY "_etl2elt_stage" ("order_id", "region", "amount", "ordered_at") FROM 's3://landing/_etl2elt/manifests/abc.manifest' IAM_ROLE '` + testRole + `'` +
			` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' GZIP MAXERROR 100000 MANIFEST`,
		`SELECT pg_last_copy_id(), pg_last_copy_count()`,
		`SELECT line_number, TRIM(colname), TRIM(raw_line), TRIM(err_reason) FROM stl_load_errors WHERE query = $1 ORDER BY line_number`,
		`SELECT ` + refused + `, CAST("order_id" AS VARCHAR(65535)), CAST("region" AS VARCHAR(65535)), CAST("amount" AS VARCHAR(65535)), CAST("ordered_at" AS VARCHAR(65535)) FROM "_etl2elt_stage" WHERE ` + refused + ` IS NOT NULL LIMIT 10000`,
		`DELETE FROM "_etl2elt_stage" WHERE ` + refused + ` IS NOT NULL`,
		`BEGIN`,
		`LOCK "raw"."orders"`,
		`DELETE FROM "raw"."orders" WHERE "_etl_object_key" = $1`,
		`INSERT INTO "raw"."orders" ("order_id", "region", "amount", "ordered_at", "_etl_object_key", "_etl_load_id", "_etl_loaded_at", "_etl_load") SELECT "order_id", "region", ` +
			castStaged(amount) + `, ` + castStaged(at) + `, CAST($1 AS VARCHAR(1024)), CAST($2 AS VARCHAR(512)), CAST($3 AS TIMESTAMPTZ), CAST($4 AS BIGINT) FROM "_etl2elt_stage"`,
		`COMMIT`,
		`DROP TABLE IF EXISTS "_etl2elt_stage"`,
	}, rec.SQL())
	require.Equal(t, []any{int64(4242)}, rec.Statements[4].Args, "load errors of this COPY only")
	require.Equal(t, []any{"orders/dt=2026-01-01/a.csv.gz"}, rec.Statements[9].Args)
	require.Equal(t, []any{"orders/dt=2026-01-01/a.csv.gz", "run-1/orders", loadedAt, int64(7)}, rec.Statements[10].Args)
	require.Empty(t, warehouse.RedshiftViolations(rec.SQL()))
}

func TestCopyObjectRedshiftFormatsAndPII(t *testing.T) {
	people := plan.Source{Name: "people", Columns: []plan.Column{
		{Name: "id", Type: "bigint"},
		{Name: "phone", Type: "text", PII: "mask"},
		{Name: "ssn", Type: "text", PII: "drop"},
	}}
	tests := []struct {
		format, key, copySQL, insert string
		opts                         RedshiftOptions
	}{
		{"jsonl", "p/a.jsonl", `COPY "_etl2elt_stage" ("id", "phone", "ssn") FROM 's3://landing/_etl2elt/manifests/abc.manifest' IAM_ROLE '` + testRole + `'` +
			` FORMAT AS JSON 'auto ignorecase' DATEFORMAT 'auto' TIMEFORMAT 'auto' MAXERROR 100000 REGION 'eu-west-1' MANIFEST`, "", RedshiftOptions{Region: "eu-west-1"}},
		// Parquet: no column list (by position), no MAXERROR, no REGION, no GZIP.
		{"parquet", "p/a.parquet", `COPY "_etl2elt_stage" FROM 's3://landing/_etl2elt/manifests/abc.manifest' IAM_ROLE '` + testRole + `' FORMAT AS PARQUET MANIFEST`, "", RedshiftOptions{Region: "eu-west-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			rec := &warehouse.Recorder{Rows: map[string][][]any{"pg_last_copy_id": {{int64(1), int64(2)}}}}
			src := people
			src.Format = tt.format
			opts := redshiftOpts
			opts.Region = tt.opts.Region
			opts.ParquetStage = []string{`"id" BIGINT`, `"phone" VARCHAR(65535)`, `"ssn" VARCHAR(65535)`} // the file's columns (RedshiftParquetStage)
			req := redshiftReq(src, tt.key)
			req.Table = ident.MustRelation("raw.people")
			_, _, err := CopyObjectRedshift(context.Background(), rec, req, opts, loadedAt, 7)
			require.NoError(t, err)
			sql := rec.SQL()
			require.Equal(t, `CREATE TEMP TABLE "_etl2elt_stage" ("id" BIGINT, "phone" VARCHAR(65535), "ssn" VARCHAR(65535))`, sql[1], "the stage has every column of the file")
			require.Equal(t, tt.copySQL, sql[2])
			require.Equal(t, `INSERT INTO "raw"."people" ("id", "phone", "_etl_object_key", "_etl_load_id", "_etl_loaded_at", "_etl_load") SELECT "id", `+
				`CASE WHEN LEN("phone") > 4 THEN REPEAT('*', LEN("phone") - 4) || RIGHT("phone", 4) ELSE "phone" END, CAST($1 AS VARCHAR(1024)), CAST($2 AS VARCHAR(512)), CAST($3 AS TIMESTAMPTZ), CAST($4 AS BIGINT) FROM "_etl2elt_stage"`, sql[8],
				"masked in SQL, dropped column not inserted")
			require.Empty(t, warehouse.RedshiftViolations(sql))
		})
	}
}

func TestCopyObjectRedshiftOverBadLimitRollsBack(t *testing.T) {
	for _, view := range []string{LoadErrorsSTL, LoadErrorsSYS} {
		t.Run(view, func(t *testing.T) {
			raw := "x,emea,1,2026-01-01T13:00:00Z" // what TRIM(raw_line) returns
			if view == LoadErrorsSYS {
				raw = "" // SYS_LOAD_ERROR_DETAIL has no raw line
			}
			rec := &warehouse.Recorder{Rows: map[string][][]any{
				"pg_last_copy_id":  {{int64(77), int64(3)}},
				"sys_load_history": {{int64(9077), int64(1)}}, // SYS numbers the COPY apart
				"load_error":       {{int64(5), "order_id      ", raw, "Invalid digit, Value 'x', Pos 0, Type: Long   "}},
			}}
			opts := redshiftOpts
			opts.LoadErrors = view
			res, bad, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(ordersSource, "bad.csv"), opts, loadedAt, 7)
			var badData *BadDataError
			require.ErrorAs(t, err, &badData)
			require.EqualError(t, err, `object bad.csv: 1 of 4 rows (25.00%) are bad, over max_bad_fraction 0; they are in etl2elt.quarantine; first: line 5: column order_id: Invalid digit, Value '…', Pos 0, Type: Long`)
			require.Zero(t, res.Rows)
			require.EqualValues(t, 1, res.Quarantined)
			require.Equal(t, []BadRow{{line: 5, raw: []byte(raw), err: "column order_id: Invalid digit, Value '…', Pos 0, Type: Long", offset: -1, length: -1}}, bad)
			sql := rec.SQL()
			errorsAt, errorsID := 4, int64(77)
			if view == LoadErrorsSYS {
				require.Equal(t, sysCopyQuery, sql[4], "the session's COPY, by session and time")
				errorsAt, errorsID = 5, 9077
			}
			require.Contains(t, sql[errorsAt], map[string]string{LoadErrorsSTL: "FROM stl_load_errors WHERE query = $1", LoadErrorsSYS: "FROM sys_load_error_detail WHERE query_id = $1"}[view])
			require.Equal(t, []any{errorsID}, rec.Statements[errorsAt].Args)
			require.Equal(t, `DROP TABLE IF EXISTS "_etl2elt_stage"`, sql[len(sql)-1])
			require.NotContains(t, strings.Join(sql, "\n"), "LOCK", "nothing touched the raw table")
			require.NotContains(t, strings.Join(sql, "\n"), "BEGIN", "no write transaction")
			require.Empty(t, warehouse.RedshiftViolations(sql))
		})
	}
}

func TestCopyObjectRedshiftCopyFailures(t *testing.T) {
	dataErr := errors.New(`ERROR: Load into table '_etl2elt_stage' failed.  Check 'stl_load_errors' system table for details. (SQLSTATE XX000)`)
	rec := &warehouse.Recorder{Fail: map[string]error{"COPY ": dataErr}}
	src := ordersSource
	src.Format = formatParquet
	parquetOpts := redshiftOpts
	parquetOpts.ParquetStage = []string{`"order_id" BIGINT`, `"region" VARCHAR(65535)`, `"amount" NUMERIC(38,10)`, `"ordered_at" TIMESTAMPTZ`}
	_, _, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "a.parquet"), parquetOpts, loadedAt, 7)
	var le *RedshiftLoadError
	require.ErrorAs(t, err, &le)
	require.True(t, le.BadInput(), "bad data is not retried")
	require.Equal(t, []string{`DROP TABLE IF EXISTS "_etl2elt_stage"`, rec.SQL()[1], rec.SQL()[2], `DROP TABLE IF EXISTS "_etl2elt_stage"`}, rec.SQL())

	transient := errors.New("connection reset by peer")
	rec = &warehouse.Recorder{Fail: map[string]error{"COPY ": transient}}
	_, _, err = CopyObjectRedshift(context.Background(), rec, redshiftReq(ordersSource, "a.csv"), redshiftOpts, loadedAt, 7)
	require.ErrorIs(t, err, transient)
	require.False(t, errors.As(err, &le), "a lost connection is retried")
}

func TestCheckRedshiftSource(t *testing.T) {
	require.NoError(t, CheckRedshiftSource(ordersSource))
	src := ordersSource
	src.Columns = append(append([]plan.Column{}, src.Columns...), plan.Column{Name: "email", Type: "text", PII: "hash"})
	err := CheckRedshiftSource(src)
	var unsupported *RedshiftUnsupportedError
	require.ErrorAs(t, err, &unsupported)
	require.True(t, unsupported.BadInput())
	require.ErrorContains(t, err, "source orders: not supported on warehouse dialect redshift: column email has pii: hash")
	src = ordersSource
	src.Format = "xml"
	require.ErrorContains(t, CheckRedshiftSource(src), `format "xml"`)
	// Refused before any statement.
	rec := &warehouse.Recorder{}
	src = ordersSource
	src.Columns = []plan.Column{{Name: "email", Type: "text", PII: "hash"}}
	_, _, err = CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "a.csv"), redshiftOpts, loadedAt, 7)
	require.ErrorAs(t, err, &unsupported)
	require.Empty(t, rec.Statements)
}

func TestEnsureTableRedshift(t *testing.T) {
	ctx := context.Background()
	src := ordersSource
	src.Columns = append(append([]plan.Column{}, src.Columns...), plan.Column{Name: "ssn", Type: "text", PII: "drop"})
	rec := &warehouse.Recorder{}
	require.NoError(t, EnsureTableRedshift(ctx, rec, ident.MustRelation("raw.orders"), src))
	require.Equal(t, []string{
		`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
		`CREATE SCHEMA IF NOT EXISTS "raw"`,
		`CREATE TABLE IF NOT EXISTS "raw"."orders" ("order_id" BIGINT, "region" VARCHAR(65535), "amount" NUMERIC(38,10), "ordered_at" TIMESTAMPTZ, ` +
			`"_etl_object_key" VARCHAR(1024) NOT NULL, "_etl_load_id" VARCHAR(512) NOT NULL, "_etl_load" BIGINT NOT NULL, "_etl_loaded_at" TIMESTAMPTZ NOT NULL, "_etl_line" BIGINT) SORTKEY ("_etl_object_key")`,
	}, rec.SQL())

	// An existing table gains the declared columns it lacks, one statement each.
	rec = &warehouse.Recorder{Rows: map[string][][]any{"information_schema": {{"order_id"}, {"region"}, {"_etl_object_key"}}}}
	require.NoError(t, EnsureTableRedshift(ctx, rec, ident.MustRelation("raw.orders"), src))
	require.Equal(t, []string{
		rec.SQL()[0],
		`ALTER TABLE "raw"."orders" ADD COLUMN "amount" NUMERIC(38,10)`,
		`ALTER TABLE "raw"."orders" ADD COLUMN "ordered_at" TIMESTAMPTZ`,
		`ALTER TABLE "raw"."orders" ADD COLUMN "_etl_load" BIGINT`,
	}, rec.SQL())

	// Nothing missing: no DDL.
	rec = &warehouse.Recorder{Rows: map[string][][]any{"information_schema": {{"order_id"}, {"region"}, {"amount"}, {"ordered_at"}, {"_etl_load"}}}}
	require.NoError(t, EnsureTableRedshift(ctx, rec, ident.MustRelation("raw.orders"), src))
	require.Len(t, rec.Statements, 1)
}

func TestRedshiftManifest(t *testing.T) {
	key, body, err := RedshiftManifest("landing", objectstore.Object{Key: "orders/dt=2026-01-01/a.parquet", ETag: "e1", Size: 1234})
	require.NoError(t, err)
	require.JSONEq(t, `{"entries":[{"url":"s3://landing/orders/dt=2026-01-01/a.parquet","mandatory":true,"meta":{"content_length":1234}}]}`, string(body))
	require.True(t, strings.HasPrefix(key, "_etl2elt/manifests/") && strings.HasSuffix(key, ".manifest"), key)
	again, _, _ := RedshiftManifest("landing", objectstore.Object{Key: "orders/dt=2026-01-01/a.parquet", ETag: "e1", Size: 1234})
	require.Equal(t, key, again, "stable across retries")
	other, _, _ := RedshiftManifest("landing", objectstore.Object{Key: "orders/dt=2026-01-01/a.parquet", ETag: "e2", Size: 1234})
	require.NotEqual(t, key, other, "a new version of the object gets its own manifest")
}

// The control side of a Redshift load on the real PostgreSQL control database:
// rejected rows land in etl2elt.quarantine and the ledger says loaded; over the limit,
// quarantine and a failed ledger row, as the streaming loader does.
func TestLoadObjectRedshiftRecordsInControl(t *testing.T) {
	ctx := context.Background()
	control := testenv.Pool(t, testenv.Database(t, "rscontrol"))
	_, err := warehouse.Migrate(ctx, control)
	require.NoError(t, err)
	badRow := []any{int64(3), "order_id", `x,emea,1,2026-01-01T00:00:00Z`, "Invalid digit, Value 'x', Pos 0, Type: Long"}
	rec := &warehouse.Recorder{
		Rows:     map[string][][]any{"pg_last_copy_id": {{int64(9), int64(3)}}, "stl_load_errors": {badRow}},
		Affected: map[string]int64{"INSERT INTO": 3},
	}
	src := ordersSource
	src.MaxBadFraction = 0.5
	req := redshiftReq(src, "orders/dt=2026-01-01/a.csv")
	res, err := LoadObjectRedshift(ctx, rec, control, req, redshiftOpts)
	require.NoError(t, err)
	require.EqualValues(t, 3, res.Rows)
	require.EqualValues(t, 1, res.Quarantined)
	// The rows carry the number of the load's object_loads row.
	var load int64
	require.NoError(t, control.QueryRow(ctx, `SELECT id FROM etl2elt.object_loads WHERE object_key = $1 AND target = 'raw.orders'`, req.Object.Key).Scan(&load))
	insert := rec.Statements[len(rec.Statements)-3]
	require.True(t, strings.HasPrefix(insert.SQL, `INSERT INTO "raw"."orders"`), insert.SQL)
	require.Equal(t, load, insert.Args[3])
	line, raw, msg := quarantined(t, control, req.Object.Key)
	require.EqualValues(t, 3, line)
	require.Equal(t, `x,emea,1,2026-01-01T00:00:00Z`, raw)
	require.Equal(t, "column order_id: Invalid digit, Value '…', Pos 0, Type: Long", msg)
	loaded, err := AlreadyLoaded(ctx, control, "orders", req.Table, req.Object)
	require.NoError(t, err)
	require.True(t, loaded)

	// The same object, now over the limit: ledger failed, quarantine replaced.
	req.Source.MaxBadFraction = 0
	_, err = LoadObjectRedshift(ctx, rec, control, req, redshiftOpts)
	var badData *BadDataError
	require.ErrorAs(t, err, &badData)
	var status string
	require.NoError(t, control.QueryRow(ctx, `SELECT status FROM etl2elt.loads WHERE object_key = $1`, req.Object.Key).Scan(&status))
	require.Equal(t, "failed", status)
	var kept int
	require.NoError(t, control.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine WHERE object_key = $1`, req.Object.Key).Scan(&kept))
	require.Equal(t, 1, kept)
	require.NoError(t, control.QueryRow(ctx, `SELECT count(*) FROM etl2elt.object_loads WHERE object_key = $1`, req.Object.Key).Scan(&kept))
	require.Equal(t, 1, kept, "the refused load's number is removed")
}

func TestRemoveVanishedRedshift(t *testing.T) {
	ctx := context.Background()
	control := testenv.Pool(t, testenv.Database(t, "rsvanish"))
	_, err := warehouse.Migrate(ctx, control)
	require.NoError(t, err)
	rec := &warehouse.Recorder{Affected: map[string]int64{"DELETE FROM": 7}}
	removed, err := RemoveVanishedRedshift(ctx, rec, control, "orders", ident.MustRelation("raw.orders"), "orders/dt=2026-01_01!/", []string{"orders/dt=2026-01_01!/b.csv", "orders/dt=2026-01_01!/c.csv"})
	require.NoError(t, err)
	require.EqualValues(t, 7, removed)
	require.Equal(t, []string{
		`BEGIN`,
		`LOCK "raw"."orders"`,
		`DELETE FROM "raw"."orders" WHERE "_etl_object_key" LIKE $1 ESCAPE '!' AND "_etl_object_key" NOT IN ($2, $3)`,
		`COMMIT`,
	}, rec.SQL())
	require.Equal(t, []any{"orders/dt=2026-01!_01!!/%", "orders/dt=2026-01_01!/b.csv", "orders/dt=2026-01_01!/c.csv"}, rec.Statements[2].Args)
}

// TestCopyObjectRedshiftPrimaryKey: with a primary key, the staged rows with an empty
// key are read back, deleted from the stage and counted as bad rows, and the keys the
// object holds more than once are counted; other policies than report are refused.
func TestCopyObjectRedshiftPrimaryKey(t *testing.T) {
	str := func(s string) *string { return &s }
	rec := &warehouse.Recorder{
		Rows: map[string][][]any{
			"pg_last_copy_id": {{int64(4242), int64(6)}},
			`WHERE "order_id" IS NULL`: {
				{(*string)(nil), str("emea"), str("1.0000000000"), str("2026-01-01 10:00:00+00")},
				{str("7"), str("  "), str("2.0000000000"), (*string)(nil)},
			},
			"HAVING COUNT(*) > 1": {{int64(1), int64(2)}},
		},
		Affected: map[string]int64{`DELETE FROM "_etl2elt_stage" WHERE "order_id" IS NULL`: 2, "INSERT INTO": 4},
	}
	src := ordersSource
	src.PrimaryKey = []string{"order_id", "region"}
	src.MaxBadFraction = 0.5
	res, bad, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "orders/dt=2026-01-01/a.csv"), redshiftOpts, loadedAt, 7)
	require.NoError(t, err)
	require.Equal(t, Result{ObjectKey: "orders/dt=2026-01-01/a.csv", Rows: 4, Quarantined: 2, Bytes: 1234, DuplicateKeys: 1, DuplicateRows: 2}, res)
	require.Equal(t, []BadRow{
		{raw: []byte(`{"order_id":null,"region":"emea","amount":"1.0000000000","ordered_at":"2026-01-01 10:00:00+00"}`), err: "primary key column order_id is empty (NULL)", offset: -1, length: -1},
		{raw: []byte(`{"order_id":"7","region":"  ","amount":"2.0000000000","ordered_at":null}`), err: "primary key column region is empty", offset: -1, length: -1},
	}, bad)
	sql := rec.SQL()
	require.Equal(t, []string{
		`SELECT CAST("order_id" AS VARCHAR(65535)), CAST("region" AS VARCHAR(65535)), CAST("amount" AS VARCHAR(65535)), CAST("ordered_at" AS VARCHAR(65535)) FROM "_etl2elt_stage" WHERE "order_id" IS NULL OR "region" IS NULL OR TRIM("region") = '' LIMIT 10000`,
		`DELETE FROM "_etl2elt_stage" WHERE "order_id" IS NULL OR "region" IS NULL OR TRIM("region") = ''`,
		`SELECT COUNT(*), CAST(COALESCE(SUM(n - 1), 0) AS BIGINT) FROM (SELECT COUNT(*) AS n FROM "_etl2elt_stage" GROUP BY "order_id", "region" HAVING COUNT(*) > 1) AS d`,
		`BEGIN`,
		`LOCK "raw"."orders"`,
	}, sql[7:12], "after the load errors and the conversion checks, before the raw table is touched")
	require.Empty(t, warehouse.RedshiftViolations(sql))

	// Over the limit, the empty keys fail the load like other bad rows.
	src.MaxBadFraction = 0.2
	rec.Statements = nil
	_, bad, err = CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "orders/dt=2026-01-01/a.csv"), redshiftOpts, loadedAt, 7)
	var badData *BadDataError
	require.ErrorAs(t, err, &badData)
	require.Contains(t, err.Error(), "2 of 6 rows (33.33%) are bad")
	require.Len(t, bad, 2)
	require.Equal(t, `DROP TABLE IF EXISTS "_etl2elt_stage"`, rec.SQL()[len(rec.SQL())-1])
	require.NotContains(t, strings.Join(rec.SQL(), "\n"), "LOCK", "nothing touched the raw table")

	for _, policy := range []string{plan.DuplicatesKeepLast, plan.DuplicatesQuarantine, plan.DuplicatesFail} {
		src.Duplicates = policy
		err := CheckRedshiftSource(src)
		var unsupported *RedshiftUnsupportedError
		require.ErrorAs(t, err, &unsupported, policy)
		require.ErrorContains(t, err, "duplicates: "+policy+" is not built on Redshift")
	}
	src.Duplicates = plan.DuplicatesReport
	require.NoError(t, CheckRedshiftSource(src))

	src.ExtraColumns = plan.ExtraColumnsIgnore
	require.NoError(t, CheckRedshiftSource(src), "ignore is what Redshift's COPY does")
	src.ExtraColumns = plan.ExtraColumnsFail
	require.ErrorContains(t, CheckRedshiftSource(src), "extra_columns: fail is not built on Redshift")
	src.ExtraColumns, src.MaxLineBytes = "", 4096
	require.ErrorContains(t, CheckRedshiftSource(src), "max_line_bytes applies to the worker's reader")
}

// TestCopyObjectRedshiftSYSFailsClosed: rejected rows that SYS_LOAD_ERROR_DETAIL does
// not (yet) show, or a COPY that SYS_LOAD_HISTORY does not hold, never pass as "no
// bad rows": the load errs (retried) before any write.
func TestCopyObjectRedshiftSYSFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		history [][]any
		want    string
	}{
		{"fewer rows than the COPY counted", [][]any{{int64(9077), int64(3)}}, "SYS_LOAD_HISTORY counts 3 rejected row(s) for query 9077, SYS_LOAD_ERROR_DETAIL shows 1"},
		{"the COPY not found", nil, "this session's COPY is not in sys_load_history yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := map[string][][]any{
				"pg_last_copy_id": {{int64(77), int64(3)}},
				"load_error":      {{int64(5), "order_id", "", "Invalid digit"}},
			}
			if tt.history != nil {
				rows["sys_load_history"] = tt.history
			}
			rec := &warehouse.Recorder{Rows: rows}
			opts := redshiftOpts
			opts.LoadErrors = LoadErrorsSYS
			src := ordersSource
			src.MaxBadFraction = 1
			_, _, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "a.csv"), opts, loadedAt, 7)
			require.ErrorIs(t, err, ErrLoadErrorsUnseen)
			require.ErrorContains(t, err, tt.want)
			var bad interface{ BadInput() bool }
			require.False(t, errors.As(err, &bad), "retried, not bad input")
			require.NotContains(t, strings.Join(rec.SQL(), "\n"), "LOCK", "nothing written")
		})
	}
}

// TestCopyObjectRedshiftMapsCSVByHeader: COPY maps CSV fields by position, so the
// column list follows the object's header: a reordered export loads each value into
// its column, an undeclared column is staged and never inserted, a missing one is
// refused before any statement.
func TestCopyObjectRedshiftMapsCSVByHeader(t *testing.T) {
	rec := &warehouse.Recorder{Rows: map[string][][]any{"pg_last_copy_id": {{int64(1), int64(2)}}}}
	opts := redshiftOpts
	opts.Header = []string{"Amount", " ordered_at ", "note", "ORDER_ID", "region"}
	res, _, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(ordersSource, "a.csv"), opts, loadedAt, 7)
	require.NoError(t, err)
	require.Equal(t, []string{"note"}, res.ExtraColumns)
	sql := rec.SQL()
	require.Equal(t, `CREATE TEMP TABLE "_etl2elt_stage" ("amount" VARCHAR(65535), "ordered_at" VARCHAR(65535), "_etl2elt_extra_3" VARCHAR(65535), "order_id" BIGINT, "region" VARCHAR(65535))`, sql[1])
	require.True(t, strings.HasPrefix(sql[2], `COPY "_etl2elt_stage" ("amount", "ordered_at", "_etl2elt_extra_3", "order_id", "region") FROM `), sql[2])
	require.Contains(t, sql[10], `INSERT INTO "raw"."orders" ("order_id", "region", "amount", "ordered_at", `, "inserted by name")
	require.Empty(t, warehouse.RedshiftViolations(sql))

	for _, tt := range []struct {
		header []string
		want   string
	}{
		{[]string{"order_id", "region", "ordered_at"}, "object a.csv: header lacks declared column(s) amount"},
		{[]string{"order_id", "region", "amount", "ordered_at", "Region"}, "object a.csv: header names declared column(s) region more than once"},
	} {
		rec := &warehouse.Recorder{}
		opts.Header = tt.header
		_, _, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(ordersSource, "a.csv"), opts, loadedAt, 7)
		var hdr *HeaderError
		require.ErrorAs(t, err, &hdr)
		require.EqualError(t, err, tt.want)
		require.Empty(t, rec.Statements, "refused before any statement")
	}
	opts.Header = nil
	_, _, err = CopyObjectRedshift(context.Background(), &warehouse.Recorder{}, redshiftReq(ordersSource, "a.csv"), opts, loadedAt, 7)
	require.ErrorContains(t, err, "the CSV header is needed")
}

func TestRedshiftCSVHeader(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	long := strings.Repeat("c,", 40_000)
	tests := []struct {
		name, key string
		prefix    []byte
		want      []string
		err       string
	}{
		{"plain", "a.csv", []byte("order_id,\"re,gion\",amount\n1,2,3\n"), []string{"order_id", "re,gion", "amount"}, ""},
		{"byte order mark, CRLF", "a.csv", []byte("\ufeffA,B\r\n1,2\r\n"), []string{"A", "B"}, ""},
		{"header only, no end of line", "a.csv", []byte("a,b"), []string{"a", "b"}, ""},
		{"gzipped, cut after the header", "a.csv.gz", gz("x,y\n" + strings.Repeat("1,2\n", 50_000))[:200], []string{"x", "y"}, ""},
		{"empty", "a.csv", nil, nil, "object a.csv is empty"},
		{"not gzip", "a.csv.gz", []byte("plain text\n"), nil, "object a.csv.gz: malformed CSV: gzip: invalid header"},
		{"a header past the bytes read", "a.csv", []byte(long)[:maxRedshiftHeaderBytes], nil, "header: no end of line within its first 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RedshiftCSVHeader(tt.prefix, tt.key)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestRedshiftTextStagedKeyEmpty: a key column staged as text (a date) is empty when
// blank, as the streaming loader reads an empty field (NULL), not only when NULL.
func TestRedshiftTextStagedKeyEmpty(t *testing.T) {
	rec := &warehouse.Recorder{Rows: map[string][][]any{"pg_last_copy_id": {{int64(1), int64(1)}}}}
	src := plan.Source{Name: "days", PrimaryKey: []string{"day"}, MaxBadFraction: 1, Columns: []plan.Column{{Name: "day", Type: "date"}, {Name: "n", Type: "bigint"}}}
	opts := redshiftOpts
	opts.Header = []string{"day", "n"}
	_, _, err := CopyObjectRedshift(context.Background(), rec, redshiftReq(src, "d.csv"), opts, loadedAt, 7)
	require.NoError(t, err)
	require.Contains(t, strings.Join(rec.SQL(), "\n"), `DELETE FROM "_etl2elt_stage" WHERE "day" IS NULL OR TRIM("day") = ''`)
	require.Empty(t, warehouse.RedshiftViolations(rec.SQL()))
}
