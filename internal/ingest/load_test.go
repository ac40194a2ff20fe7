package ingest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
)

func setup(t *testing.T) (*pgxpool.Pool, ident.Relation) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "ingest"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	table := ident.MustRelation("raw.orders")
	require.NoError(t, EnsureTable(ctx, pool, table, ordersSource))
	return pool, table
}

// checksum fingerprints the table's business and lineage columns in a stable order
// (load id and load time excluded: they differ between runs by design).
func checksum(t *testing.T, pool *pgxpool.Pool) (int64, string) {
	t.Helper()
	var n int64
	var sum string
	err := pool.QueryRow(context.Background(), `
SELECT count(*), coalesce(md5(string_agg(concat_ws('|', order_id, region, amount, ordered_at, _etl_object_key, _etl_line), ',' ORDER BY _etl_object_key, _etl_line)), '')
FROM raw.orders`).Scan(&n, &sum)
	require.NoError(t, err)
	return n, sum
}

const goodObject = "order_id,region,amount,ordered_at\n1,emea,12.50,2026-01-01T10:00:00Z\n2,amer,7,2026-01-01T11:00:00Z\n3,apac,1.25,2026-01-01T12:00:00Z\n"

func TestLoadObjectTwiceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "orders/dt=2026-01-01/a.csv", ETag: "e1", Size: 10}, LoadID: "l1"}

	res, err := LoadObject(ctx, pool, req, strings.NewReader(goodObject), nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, res.Rows)
	require.EqualValues(t, len(goodObject), res.Bytes)
	n1, sum1 := checksum(t, pool)

	req.LoadID = "l2"
	_, err = LoadObject(ctx, pool, req, strings.NewReader(goodObject), nil)
	require.NoError(t, err)
	n2, sum2 := checksum(t, pool)
	require.Equal(t, n1, n2)
	require.Equal(t, sum1, sum2)
	require.EqualValues(t, 3, n2)

	loaded, err := AlreadyLoaded(ctx, pool, "orders", req.Object)
	require.NoError(t, err)
	require.True(t, loaded)
	req.Object.ETag = "e2"
	loaded, err = AlreadyLoaded(ctx, pool, "orders", req.Object)
	require.NoError(t, err)
	require.False(t, loaded, "a changed object is loaded again")
}

func TestLoadObjectQuarantinesWithinLimit(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	src := ordersSource
	src.MaxBadFraction = 0.5
	body := goodObject + "4,emea,\"12,50\",2026-01-01T13:00:00Z\n"
	res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: "a.csv", ETag: "e"}, LoadID: "l"}, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, res.Rows)
	require.EqualValues(t, 1, res.Quarantined)

	var line int64
	var raw, msg string
	require.NoError(t, pool.QueryRow(ctx, `SELECT line, raw_record, error FROM etl2elt.quarantine WHERE object_key = 'a.csv'`).Scan(&line, &raw, &msg))
	require.EqualValues(t, 5, line)
	require.Equal(t, `4,emea,"12,50",2026-01-01T13:00:00Z`, raw)
	require.Equal(t, `column amount: "12,50" is not a number`, msg)
}

func TestLoadObjectOverBadLimitFailsAndKeepsEvidence(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "bad.csv", ETag: "e"}, LoadID: "l"}
	// First a good version of the object...
	_, err := LoadObject(ctx, pool, req, strings.NewReader(goodObject), nil)
	require.NoError(t, err)
	// ...then a bad one: the load fails, the previous rows stay, the bad row is kept.
	body := goodObject + "x,emea,1,2026-01-01T13:00:00Z\n"
	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	var bad *BadDataError
	require.ErrorAs(t, err, &bad)
	require.EqualError(t, err, `object bad.csv: 1 of 4 rows (25.00%) are bad, over max_bad_fraction 0; they are in etl2elt.quarantine; first: line 5: column order_id: "x" is not a bigint`)

	n, _ := checksum(t, pool)
	require.EqualValues(t, 3, n, "the failed load left the previous rows untouched")
	var status, errText string
	var q int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT status, error, rows_quarantined FROM etl2elt.loads WHERE object_key = 'bad.csv'`).Scan(&status, &errText, &q))
	require.Equal(t, "failed", status)
	require.Contains(t, errText, "1 of 4 rows")
	require.EqualValues(t, 1, q)
	var kept int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine WHERE object_key = 'bad.csv'`).Scan(&kept))
	require.Equal(t, 1, kept)
}

func TestEnsureTableAddsDeclaredColumns(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	src := ordersSource
	src.Columns = append(append([]plan.Column{}, src.Columns...), plan.Column{Name: "channel", Type: "text"})
	require.NoError(t, EnsureTable(ctx, pool, table, src))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = 'orders' AND column_name = 'channel'`).Scan(&n))
	require.Equal(t, 1, n)
}
