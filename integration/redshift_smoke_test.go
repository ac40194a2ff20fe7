//go:build redshift

package integration

// The Redshift smoke test (`make redshift-smoke`): a bounded run of the Redshift path
// against a real cluster or Serverless workgroup, for those who have one. Nothing here
// runs in `make test` (no Redshift on the development machine). It needs:
//
//	ETL2ELT_REDSHIFT_DSN        postgres://user:password@workgroup.account.region.redshift-serverless.amazonaws.com:5439/dev
//	ETL2ELT_REDSHIFT_IAM_ROLE   the role Redshift assumes to read the bucket
//	ETL2ELT_REDSHIFT_BUCKET     a bucket in the workgroup's region the role can read, and the
//	                            worker's AWS credentials can write (AWS_* or a profile)
//	ETL2ELT_REDSHIFT_LOAD_ERRORS stl (provisioned) or sys (Serverless; default sys here)
//
// and the local PostgreSQL as the control database (make dev-up). It creates schemas
// named etl2elt_smoke_<suffix> and drops them at the end; objects go under
// etl2elt-smoke/<suffix>/ in the bucket and are deleted.

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/model"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func TestRedshiftSmoke(t *testing.T) {
	dsn, role, bucket := os.Getenv("ETL2ELT_REDSHIFT_DSN"), os.Getenv("ETL2ELT_REDSHIFT_IAM_ROLE"), os.Getenv("ETL2ELT_REDSHIFT_BUCKET")
	if dsn == "" || role == "" || bucket == "" {
		t.Skip("the Redshift smoke test needs ETL2ELT_REDSHIFT_DSN, ETL2ELT_REDSHIFT_IAM_ROLE and ETL2ELT_REDSHIFT_BUCKET (docs/DIALECTS.md, 'The Redshift smoke test')")
	}
	loadErrors := os.Getenv("ETL2ELT_REDSHIFT_LOAD_ERRORS")
	if loadErrors == "" {
		loadErrors = ingest.LoadErrorsSYS
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	suffix := testenv.Suffix()
	schema := "etl2elt_smoke_" + suffix

	control := testenv.Pool(t, testenv.Database(t, "redshift_smoke"))
	_, err := warehouse.Migrate(ctx, control)
	require.NoError(t, err)
	rs, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer rs.Close()
	conn, err := rs.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	s := warehouse.NewSession(conn)
	var version string
	require.NoError(t, s.Query(ctx, `SELECT version()`, nil, func(scan func(...any) error) error { return scan(&version) }))
	require.Contains(t, version, "Redshift", "ETL2ELT_REDSHIFT_DSN must name a Redshift database")
	defer func() {
		_, _ = s.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+ident.Quote(schema)+` CASCADE`)
	}()

	store, err := objectstore.New(ctx, objectstore.Options{})
	require.NoError(t, err)
	prefix := "etl2elt-smoke/" + suffix + "/"
	put := func(name, body string) objectstore.Object {
		t.Helper()
		require.NoError(t, store.Put(ctx, bucket, prefix+name, []byte(body), "text/csv"))
		objs, err := store.List(ctx, bucket, prefix+name)
		require.NoError(t, err)
		require.Len(t, objs, 1)
		t.Cleanup(func() { _ = store.Delete(context.Background(), bucket, prefix+name) })
		return objs[0]
	}

	// A CSV whose header is not in the plan's order, with an undeclared column, a row
	// with a number NUMERIC(38,10) would round, a date in a form only DATEFORMAT 'auto'
	// accepts, and an empty key.
	src := plan.Source{Name: "orders", Format: "csv", PrimaryKey: []string{"order_id"}, MaxBadFraction: 0.5, Columns: []plan.Column{
		{Name: "order_id", Type: "bigint"}, {Name: "region", Type: "text"}, {Name: "amount", Type: "numeric"}, {Name: "ordered_at", Type: "timestamptz"},
	}}
	body := "amount,note,ordered_at,region,order_id\n" +
		"12.50,a,2026-01-01T10:00:00Z,emea,1\n" +
		"7,b,2026-01-01 11:00:00,amer,2\n" +
		"1.123456789012,c,2026-01-01T12:00:00Z,apac,3\n" + // would round: quarantined
		"3,d,01/02/2026 10:00,emea,4\n" + // MM/DD/YYYY: quarantined
		"5,e,2026-01-02T09:00:00+02:00,amer,\n" // empty key: quarantined
	obj := put("orders.csv", body)
	table := ident.Relation{Schema: schema, Name: "orders"}
	require.NoError(t, ingest.EnsureTableRedshift(ctx, s, table, src))

	manifestKey, manifest, err := ingest.RedshiftManifest(bucket, obj)
	require.NoError(t, err)
	require.NoError(t, store.Put(ctx, bucket, manifestKey, manifest, "application/json"))
	t.Cleanup(func() { _ = store.Delete(context.Background(), bucket, manifestKey) })
	header, err := store.ReadPrefix(ctx, bucket, obj.Key, ingest.RedshiftHeaderBytes())
	require.NoError(t, err)
	opts := ingest.RedshiftOptions{IAMRole: role, LoadErrors: loadErrors, ManifestURI: objectstore.URI(bucket, manifestKey), Region: os.Getenv("ETL2ELT_REDSHIFT_S3_REGION")}
	opts.Header, err = ingest.RedshiftCSVHeader(header, obj.Key)
	require.NoError(t, err)
	req := ingest.Request{Source: src, Table: table, Object: obj, LoadID: "smoke-" + suffix, WorkflowID: "smoke"}
	res, err := ingest.LoadObjectRedshift(ctx, s, control, req, opts)
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Rows)
	require.EqualValues(t, 3, res.Quarantined)
	require.Equal(t, []string{"note"}, res.ExtraColumns)
	var amount, region string
	require.NoError(t, s.Query(ctx, `SELECT CAST(amount AS VARCHAR(64)), region FROM `+table.Quoted()+` WHERE order_id = 1`, nil,
		func(scan func(...any) error) error { return scan(&amount, &region) }))
	require.Equal(t, "12.5000000000", amount, "columns by header name")
	require.Equal(t, "emea", region)
	var reasons []string
	rows, err := control.Query(ctx, `SELECT error FROM etl2elt.quarantine WHERE object_key = $1 ORDER BY error`, obj.Key)
	require.NoError(t, err)
	for rows.Next() {
		var r string
		require.NoError(t, rows.Scan(&r))
		reasons = append(reasons, r)
	}
	require.NoError(t, rows.Err())
	require.Len(t, reasons, 3, "%v", reasons)

	// The same object again: its rows replaced, not doubled.
	_, err = ingest.LoadObjectRedshift(ctx, s, control, req, opts)
	require.NoError(t, err)
	var n int64
	require.NoError(t, s.Query(ctx, `SELECT COUNT(*) FROM `+table.Quoted(), nil, func(scan func(...any) error) error { return scan(&n) }))
	require.EqualValues(t, 2, n)

	// An incremental model over it, twice over one window: one row per key.
	m := plan.Model{Name: "fct_orders", Schema: schema, Materialized: plan.MaterializedIncremental, UniqueKey: []string{"order_id"}, EventTime: "ordered_at",
		SQLText: fmt.Sprintf(`select order_id, region, amount, ordered_at from %s`, table.Quoted())}
	w := window.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
	for run := range 2 {
		mr, err := model.RunRedshift(ctx, s, control, model.Request{Model: m, RunID: fmt.Sprintf("smoke-%s-%d", suffix, run), WorkflowID: "smoke", Window: w})
		require.NoError(t, err)
		require.EqualValues(t, 2, mr.Rows)
	}
	require.NoError(t, s.Query(ctx, `SELECT COUNT(*) FROM `+ident.Quote(schema)+`."fct_orders"`, nil, func(scan func(...any) error) error { return scan(&n) }))
	require.EqualValues(t, 2, n)
}
