package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parquet-go/parquet-go"
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
SELECT count(*), coalesce(md5(string_agg(concat_ws('|', order_id, region, amount, ordered_at, l.object_key, _etl_line), ',' ORDER BY l.object_key, _etl_line)), '')
FROM raw.orders AS r JOIN etl2elt.object_loads AS l ON l.id = r._etl_load`).Scan(&n, &sum)
	require.NoError(t, err)
	return n, sum
}

// quarantined is the one quarantined row of an object.
func quarantined(t *testing.T, pool *pgxpool.Pool, objectKey string) (line int64, raw, msg string) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT line, raw_record, error FROM etl2elt.quarantine WHERE object_key = $1`, objectKey).Scan(&line, &raw, &msg))
	return line, raw, msg
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

	loaded, err := AlreadyLoaded(ctx, pool, "orders", req.Table, req.Object)
	require.NoError(t, err)
	require.True(t, loaded)
	req.Object.ETag = "e2"
	loaded, err = AlreadyLoaded(ctx, pool, "orders", req.Table, req.Object)
	require.NoError(t, err)
	require.False(t, loaded, "a changed object is loaded again")
}

func TestLoadObjectQuarantinesWithinLimit(t *testing.T) {
	tests := []struct {
		format, key, body string
		line              int64
		raw, msg          string
	}{
		{"csv", "a.csv", goodObject + "4,emea,\"12,50\",2026-01-01T13:00:00Z\n",
			5, `4,emea,"12,50",2026-01-01T13:00:00Z`, `column amount: "12,50" is not a number`},
		{"jsonl", "a.jsonl", `{"order_id":1,"region":"emea","amount":1,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":2,"region":"emea",` + "\n" +
			`{"order_id":3,"region":"emea","amount":1,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":4,"region":"emea","amount":1,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n",
			2, `{"order_id":2,"region":"emea",`, "invalid JSON: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			ctx := context.Background()
			pool, table := setup(t)
			src := ordersSource
			src.Format, src.MaxBadFraction = tt.format, 0.5
			res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: tt.key, ETag: "e"}, LoadID: "l"}, strings.NewReader(tt.body), nil)
			require.NoError(t, err)
			require.EqualValues(t, 3, res.Rows)
			require.EqualValues(t, 1, res.Quarantined)

			line, raw, msg := quarantined(t, pool, tt.key)
			require.EqualValues(t, tt.line, line)
			require.Equal(t, tt.raw, raw)
			require.Equal(t, Redact(tt.msg), msg, "the reason without the value")
		})
	}
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
	require.EqualError(t, err, `object bad.csv: 1 of 4 rows (25.00%) are bad, over max_bad_fraction 0; they are in etl2elt.quarantine; first: line 5: column order_id: "…" is not a bigint`)

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

// parquetOrder is goodObject's rows as Parquet.
type parquetOrder struct {
	OrderID   int64     `parquet:"order_id"`
	Region    string    `parquet:"Region"`
	Amount    int64     `parquet:"amount,decimal(2:10)"`
	OrderedAt time.Time `parquet:"ordered_at,timestamp(microsecond)"`
	Channel   string    `parquet:"channel"`
}

func TestLoadJSONLAndParquetTwiceAreIdempotent(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, format, key string
		body              []byte
		extra             []string
	}{
		{"jsonl gzipped", "jsonl", "orders/dt=2026-01-01/a.jsonl.gz", gzipped(t,
			`{"order_id":1,"region":"emea","amount":12.50,"ordered_at":"2026-01-01T10:00:00Z","channel":"web"}`+"\n"+
				`{"order_id":2,"region":"amer","amount":7,"ordered_at":"2026-01-01T11:00:00Z"}`+"\n\n"+
				`{"order_id":3,"region":"apac","amount":"1.25","ordered_at":"2026-01-01 12:00:00"}`+"\n"),
			[]string{"channel"}},
		{"parquet", "parquet", "orders/dt=2026-01-01/a.parquet", writeParquet(t, []parquetOrder{
			{1, "emea", 1250, at(10), "web"}, {2, "amer", 700, at(11), "web"}, {3, "apac", 125, at(12), "web"},
		}, parquet.MaxRowsPerRowGroup(2)), []string{"channel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			pool, table := setup(t)
			src := ordersSource
			src.Format = tt.format
			req := Request{Source: src, Table: table, Object: objectstore.Object{Key: tt.key, ETag: "e1", Size: int64(len(tt.body))}, LoadID: "l1"}

			res, err := LoadObject(ctx, pool, req, bytes.NewReader(tt.body), nil)
			require.NoError(t, err)
			require.EqualValues(t, 3, res.Rows)
			require.Zero(t, res.Quarantined)
			require.EqualValues(t, len(tt.body), res.Bytes)
			require.Equal(t, tt.extra, res.ExtraColumns)
			n1, sum1 := checksum(t, pool)

			req.LoadID = "l2"
			_, err = LoadObject(ctx, pool, req, bytes.NewReader(tt.body), nil)
			require.NoError(t, err)
			n2, sum2 := checksum(t, pool)
			require.EqualValues(t, 3, n2)
			require.Equal(t, n1, n2)
			require.Equal(t, sum1, sum2)

			// The same business values as the CSV object.
			var ids, regions, total string
			require.NoError(t, pool.QueryRow(ctx, `
SELECT string_agg(order_id::text || '@' || to_char(ordered_at AT TIME ZONE 'UTC', 'HH24'), ',' ORDER BY order_id),
       string_agg(region, ',' ORDER BY order_id), sum(amount)::text FROM raw.orders`).Scan(&ids, &regions, &total))
			require.Equal(t, "1@10,2@11,3@12", ids)
			require.Equal(t, "emea,amer,apac", regions)
			require.Equal(t, "20.75", total)
			loaded, err := AlreadyLoaded(ctx, pool, "orders", req.Table, req.Object)
			require.NoError(t, err)
			require.True(t, loaded)
		})
	}
}

func TestLoadParquetOverBadLimitNamesTheRow(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	src := ordersSource
	src.Format = formatParquet
	src.Columns = append(append([]plan.Column{}, src.Columns[:3]...), plan.Column{Name: "ordered_at", Type: "date"})
	body := writeParquet(t, []parquetOrder{{1, "emea", 100, time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), "web"}})
	_, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: "a.parquet", ETag: "e"}, LoadID: "l"}, bytes.NewReader(body), nil)
	var bad *BadDataError
	require.ErrorAs(t, err, &bad)
	require.EqualError(t, err, `object a.parquet: 1 of 1 rows (100.00%) are bad, over max_bad_fraction 0; they are in etl2elt.quarantine; first: row 1: column ordered_at: "…" is not a date (YYYY-MM-DD)`)
	_, raw, _ := quarantined(t, pool, "a.parquet")
	require.JSONEq(t, `{"order_id":1,"Region":"emea","amount":"1.00","ordered_at":"2026-01-01T10:00:00Z","channel":"web"}`, raw)
}

func TestLoadObjectStopsOnBrokenFramingWithoutPanicking(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	// A bad quote in the first field: encoding/csv's FieldPos would panic here.
	body := "order_id,region,amount,ordered_at\n1,emea,1,2026-01-01T00:00:00Z\n\"2\"x,emea,1,2026-01-01T00:00:00Z\n"
	_, err := LoadObject(ctx, pool, Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "broken.csv", ETag: "e"}, LoadID: "l"}, strings.NewReader(body), nil)
	var perr *ParseError
	require.ErrorAs(t, err, &perr, "the parse error survives the COPY")
	require.True(t, perr.BadInput())
	require.ErrorContains(t, err, "object broken.csv: malformed CSV")
	n, _ := checksum(t, pool)
	require.Zero(t, n)
}

func TestLoadObjectTooManyBadRowsIsBadData(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	var b strings.Builder
	b.WriteString("order_id,region,amount,ordered_at\n")
	for i := 0; i < maxBadRowsKept+3; i++ {
		b.WriteString("x,jane.doe@example.com,1,2026-01-01T00:00:00Z\n")
	}
	_, err := LoadObject(ctx, pool, Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "bad.csv", ETag: "e"}, LoadID: "l"}, strings.NewReader(b.String()), nil)
	var bad *BadDataError
	require.ErrorAs(t, err, &bad)
	require.Contains(t, err.Error(), `line 2: column order_id: "…" is not a bigint`, "values are redacted from the error")
	require.NotContains(t, err.Error(), `"x"`)
	var kept int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine WHERE object_key = 'bad.csv'`).Scan(&kept))
	require.Equal(t, maxBadRowsKept, kept, "the kept bad rows are in quarantine")
	var reason string
	require.NoError(t, pool.QueryRow(ctx, `SELECT error FROM etl2elt.quarantine WHERE object_key = 'bad.csv' LIMIT 1`).Scan(&reason))
	require.Equal(t, `column order_id: "…" is not a bigint`, reason, "the reason without the value: raw_bytes holds it")
}

func TestRemoveVanished(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	load := func(key string) {
		_, err := LoadObject(ctx, pool, Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: key, ETag: "e"}, LoadID: "l"}, strings.NewReader(goodObject), nil)
		require.NoError(t, err)
	}
	load("orders/dt=2026-01-01/part-0000.csv")
	load("orders/dt=2026-01-02/part-0000.csv")
	// Jan 1 re-delivered as part-0001: the old part's rows must go.
	load("orders/dt=2026-01-01/part-0001.csv")
	removed, err := RemoveVanished(ctx, pool, "orders", table, "orders/dt=2026-01-01/", []string{"orders/dt=2026-01-01/part-0001.csv"})
	require.NoError(t, err)
	require.EqualValues(t, 3, removed)
	n, _ := checksum(t, pool)
	require.EqualValues(t, 6, n, "Jan 1 once, Jan 2 untouched")
	var ledger int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.loads`).Scan(&ledger))
	require.Equal(t, 2, ledger)
	// LIKE wildcards in the prefix are literal.
	removed, err = RemoveVanished(ctx, pool, "orders", table, "orders/dt=2026-01-0_/", nil)
	require.NoError(t, err)
	require.Zero(t, removed)
}

func TestRedact(t *testing.T) {
	require.Equal(t, `column email: "…" is not a number`, Redact(`column email: "a@b.c" is not a number`))
	require.Equal(t, `column x: "…" and "…"`, Redact(`column x: "a\"b" and "c"`))
	require.Equal(t, "expected 4 fields, got 3", Redact("expected 4 fields, got 3"))
}

func TestPIIPolicies(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "pii"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	src := plan.Source{Name: "people", Columns: []plan.Column{
		{Name: "id", Type: "bigint"},
		{Name: "email", Type: "text", PII: "hash"},
		{Name: "phone", Type: "text", PII: "mask"},
		{Name: "ssn", Type: "text", PII: "drop"},
	}}
	table := ident.MustRelation("raw.people")
	require.NoError(t, EnsureTable(ctx, pool, table, src))
	body := "id,email,phone,ssn\n1,jane@example.com,+44 20 7946 0958,078-05-1120\n2,,,\n"
	req := Request{Source: src, Table: table, Object: objectstore.Object{Key: "p.csv", ETag: "e"}, LoadID: "l"}

	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	var keyErr *PIIKeyError
	require.ErrorAs(t, err, &keyErr, "hashing without a key is refused, never loaded in clear")
	require.EqualError(t, err, "source people column email: pii hash needs a key: set ETL2ELT_PII_HASH_KEY on the worker")

	req.PIIKey = []byte("test-key")
	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	var email, phone string
	require.NoError(t, pool.QueryRow(ctx, `SELECT email, phone FROM raw.people WHERE id = 1`).Scan(&email, &phone))
	require.Len(t, email, 64)
	require.NotContains(t, email, "jane")
	require.Equal(t, "************0958", phone, "16 characters, the last four kept")
	var again string
	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, `SELECT email FROM raw.people WHERE id = 1`).Scan(&again))
	require.Equal(t, email, again, "the keyed hash is stable: joins and distinct counts still work")
	var cols int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = 'people' AND column_name = 'ssn'`).Scan(&cols))
	require.Zero(t, cols, "a dropped column never reaches the warehouse")
	var emptyEmail string
	require.NoError(t, pool.QueryRow(ctx, `SELECT email FROM raw.people WHERE id = 2`).Scan(&emptyEmail))
	require.Len(t, emptyEmail, 64, "an empty string is hashed too (it is a value)")
}

// TestBinaryValuesMatchTextInput loads values through the binary COPY encoder and
// checks each against what PostgreSQL makes of the same text: the same numeric with
// the same display scale, the same timestamp (sub-microsecond fractions rounded).
func TestBinaryValuesMatchTextInput(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	amounts := []string{"0", "-0", "0.00", "12.50", "-12.5", "+7", ".5", "5.", "0000.0001", "1e3", "1.5E-3", "-2.25e+2",
		"123456789012345678901234567890.123456789", "99999999", "100000000", "0.000000000001", "1e-20", "3.14159e4", "42e0"}
	times := []string{"2026-01-01T10:00:00Z", "1999-12-31T23:59:59.999999Z", "1969-07-20T20:17:40.5+02:00",
		"2026-03-29 01:30:00", "2026-01-01T00:00:00.0000004Z", "2026-01-01T00:00:00.0000006Z", "0001-01-01T00:00:00Z",
		// ties and beyond nanoseconds: PostgreSQL rounds the fraction as a double
		"2026-01-01T00:00:00.0001255Z", "2026-01-01T00:00:00.0002485Z", "2026-01-01T00:00:00.0000005000001Z",
		"2026-01-01T00:00:00.0000005Z", "2026-01-01T00:00:00.0000015Z", "1960-01-01T00:00:00.0001255Z",
		"2026-01-01T23:59:59.9999996Z", "2026-01-01T1:00:00.0009975Z"}
	var body strings.Builder
	body.WriteString("order_id,region,amount,ordered_at\n")
	n := max(len(amounts), len(times))
	for i := range n {
		fmt.Fprintf(&body, "%d,r,%s,%s\n", i, amounts[i%len(amounts)], times[i%len(times)])
	}
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "orders/dt=2026-01-01/values.csv", ETag: "e", Size: 1}, LoadID: "l"}
	res, err := LoadObject(ctx, pool, req, strings.NewReader(body.String()), nil)
	require.NoError(t, err)
	require.Equal(t, int64(n), res.Rows)
	require.Zero(t, res.Quarantined)
	for i := range n {
		a, ts := amounts[i%len(amounts)], times[i%len(times)]
		var got, want string
		var sameTime bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT amount::text, $2::numeric::text, ordered_at = $3::timestamptz FROM raw.orders WHERE order_id = $1`,
			i, a, strings.Replace(ts, " ", "T", 1)+map[bool]string{true: "", false: "Z"}[strings.ContainsAny(ts[10:], "Z+")]).Scan(&got, &want, &sameTime))
		require.Equal(t, want, got, "amount %s", a)
		require.True(t, sameTime, "timestamp %s", ts)
	}
}

// TestEnsureTableUpgradesTextLineage: a raw table made by an earlier version (object
// key and load id as text on every row) gets _etl_load from new object_loads rows,
// keeps its old columns for views that read them, and reloads replace its rows.
func TestEnsureTableUpgradesTextLineage(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "ingest"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE SCHEMA raw;
CREATE TABLE raw.orders (order_id bigint, region text, amount numeric, ordered_at timestamptz,
  _etl_object_key text NOT NULL DEFAULT current_setting('etl2elt.object_key'), _etl_load_id text NOT NULL DEFAULT current_setting('etl2elt.load_id'),
  _etl_loaded_at timestamptz NOT NULL DEFAULT now(), _etl_line bigint NOT NULL);
CREATE INDEX orders_etl_object_key ON raw.orders USING brin (_etl_object_key);
INSERT INTO raw.orders VALUES
  (1, 'emea', 1, '2026-01-01', 'orders/dt=2026-01-01/a.csv', 'old-1', '2026-01-02', 2),
  (2, 'emea', 2, '2026-01-01', 'orders/dt=2026-01-01/a.csv', 'old-1', '2026-01-02', 3),
  (3, 'amer', 3, '2026-01-02', 'orders/dt=2026-01-02/a.csv', 'old-2', '2026-01-03', 2);
INSERT INTO etl2elt.loads (source, object_key, etag, size_bytes, target, load_id, status, started_at, finished_at)
  VALUES ('orders', 'orders/dt=2026-01-01/a.csv', 'etag-a', 10, 'raw.orders', 'old-1', 'loaded', now(), now()),
         ('orders', 'orders/dt=2026-01-02/a.csv', 'etag-newer', 10, 'raw.orders', 'old-3', 'loaded', now(), now());
CREATE VIEW raw.old_reader AS SELECT order_id, _etl_object_key FROM raw.orders`)
	require.NoError(t, err)
	table := ident.MustRelation("raw.orders")
	// Several workers at once (backfill chunks do this): one upgrades, the others
	// find it done.
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- EnsureTable(ctx, pool, table, ordersSource) }()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
	require.NoError(t, EnsureTable(ctx, pool, table, ordersSource), "a second call finds nothing to do")

	rows, err := pool.Query(ctx, `SELECT r.order_id, l.object_key, l.etag, l.load_id FROM raw.orders r JOIN etl2elt.object_loads l ON l.id = r._etl_load ORDER BY 1`)
	require.NoError(t, err)
	type lineage struct {
		ID               int64
		Key, ETag, Label string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lineage])
	require.NoError(t, err)
	require.Equal(t, []lineage{
		{1, "orders/dt=2026-01-01/a.csv", "etag-a", "old-1"},
		{2, "orders/dt=2026-01-01/a.csv", "etag-a", "old-1"},
		{3, "orders/dt=2026-01-02/a.csv", "", "old-2"}, // the ledger knows only a later load of it (old-3)
	}, got)

	// A reload of the first object replaces its two old rows.
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "orders/dt=2026-01-01/a.csv", ETag: "etag-b", Size: 10}, LoadID: "new"}
	_, err = LoadObject(ctx, pool, req, strings.NewReader(goodObject), nil)
	require.NoError(t, err)
	var n, oldKeys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(_etl_object_key) FROM raw.orders`).Scan(&n, &oldKeys))
	require.Equal(t, 4, n, "3 new rows + the other object's row")
	require.Equal(t, 1, oldKeys, "new rows leave the old text column NULL")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM raw.old_reader`).Scan(&n), "views on the old columns still work")
	require.Equal(t, 4, n)
}

// Every sub-microsecond tie .dddddd5 of one second, through the encoder and through
// PostgreSQL's text input: the same microseconds.
func TestTimestampRoundingMatchesPostgres(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	var body strings.Builder
	body.WriteString("order_id,region,amount,ordered_at\n")
	var texts []string
	for i := 0; i < 1_000_000; i += 997 {
		ts := fmt.Sprintf("2026-01-01T00:00:00.%06d5Z", i)
		texts = append(texts, ts)
		fmt.Fprintf(&body, "%d,r,1,%s\n", len(texts), ts)
	}
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "ties.csv", ETag: "e", Size: 1}, LoadID: "l"}
	_, err := LoadObject(ctx, pool, req, strings.NewReader(body.String()), nil)
	require.NoError(t, err)
	var differ int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM raw.orders AS r JOIN unnest($1::text[]) WITH ORDINALITY AS x(ts, n) ON r.order_id = x.n
WHERE r.ordered_at <> x.ts::timestamptz`, texts).Scan(&differ))
	require.Zero(t, differ, "of %d ties", len(texts))
}

// Values PostgreSQL's text input refuses are quarantined, not stored as something else.
func TestOutOfRangeValuesAreQuarantined(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	huge := strings.Repeat("9", 140_000)
	tiny := "0." + strings.Repeat("0", 20_000) + "1"
	body := "order_id,region,amount,ordered_at\n" +
		"1,r," + huge + ",2026-01-01T00:00:00Z\n" +
		"2,r," + tiny + ",2026-01-01T00:00:00Z\n" +
		"3,r,1,0000-06-01T00:00:00Z\n" +
		"4,r,1,2026-01-01T00:00:00Z\n"
	src := ordersSource
	src.MaxBadFraction = 1
	req := Request{Source: src, Table: table, Object: objectstore.Object{Key: "range.csv", ETag: "e", Size: 1}, LoadID: "l"}
	res, err := LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Rows)
	require.Equal(t, int64(3), res.Quarantined)
	rows, err := pool.Query(ctx, `SELECT line, error FROM etl2elt.quarantine WHERE object_key = 'range.csv' ORDER BY line`)
	require.NoError(t, err)
	type bad struct {
		Line int64
		Err  string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[bad])
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Contains(t, got[0].Err, "out of the numeric range")
	require.Contains(t, got[1].Err, "out of the numeric range")
	require.Contains(t, got[2].Err, "is not a timestamp")
}

// A raw table column whose type is not the plan's is refused before any row is
// sent (binary COPY would have the server read the values as the other type).
func TestEnsureTableRefusesAnotherColumnType(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	src := ordersSource
	src.Columns = append([]plan.Column{}, src.Columns...)
	src.Columns[0].Type = "text" // the table has order_id bigint
	err := EnsureTable(ctx, pool, table, src)
	var typeErr *ColumnTypeError
	require.ErrorAs(t, err, &typeErr)
	require.True(t, typeErr.BadInput())
	require.EqualError(t, err, `table raw.orders column order_id is bigint but the plan declares text: change the plan, or the column (ALTER TABLE raw.orders ALTER COLUMN "order_id" TYPE text USING "order_id"::text)`)

	// A length or precision limit is another type too: the server would refuse the
	// whole COPY for one value past it (the row could not be quarantined); so is an
	// array.
	for _, alter := range []string{
		`ALTER TABLE raw.orders ALTER COLUMN region TYPE varchar(20)`,
		`ALTER TABLE raw.orders ALTER COLUMN region TYPE text, ALTER COLUMN amount TYPE numeric(12,2)`,
		`ALTER TABLE raw.orders ALTER COLUMN amount TYPE numeric, ALTER COLUMN region TYPE text[] USING ARRAY[region]`,
	} {
		_, err = pool.Exec(ctx, alter)
		require.NoError(t, err)
		require.ErrorAs(t, EnsureTable(ctx, pool, table, ordersSource), &typeErr, alter)
	}
	_, err = pool.Exec(ctx, `ALTER TABLE raw.orders ALTER COLUMN region TYPE text USING region[1]`)
	require.NoError(t, err)
	require.NoError(t, EnsureTable(ctx, pool, table, ordersSource))
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "a.csv", ETag: "e", Size: 1}, LoadID: "l"}
	_, err = LoadObject(ctx, pool, req, strings.NewReader(goodObject), nil)
	require.NoError(t, err)
}

// stallBody is an object body that stalls once after limit bytes, then fails like a
// body its owner closed; it records when it was last read.
type stallBody struct {
	buf      []byte
	off      int
	limit    int
	stalled  atomic.Bool
	lastRead atomic.Int64
}

func (s *stallBody) Read(p []byte) (int, error) {
	s.lastRead.Store(time.Now().UnixNano())
	if s.off >= s.limit {
		if !s.stalled.Swap(true) {
			time.Sleep(time.Second)
		}
		return 0, errors.New("read on closed body")
	}
	n := copy(p[:min(len(p), 4096)], s.buf[s.off:])
	s.off += n
	return n, nil
}

// A load cancelled while COPY's goroutine is decoding returns only once nothing reads
// the object any more (go test -race: no read of the source after the return).
func TestCancelledLoadStopsReadingBeforeReturning(t *testing.T) {
	pool, table := setup(t)
	body := &stallBody{buf: []byte("order_id,region,amount,ordered_at\n"), limit: 1 << 20}
	for i := 1; i <= 100_000; i++ {
		body.buf = fmt.Appendf(body.buf, "%d,emea,12.50,2026-01-01T10:00:00Z\n", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !body.stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "stall.csv", ETag: "e", Size: 1}, LoadID: "l"}
	_, err := LoadObject(ctx, pool, req, body, nil)
	returned := time.Now().UnixNano()
	require.Error(t, err)
	time.Sleep(300 * time.Millisecond)
	require.LessOrEqual(t, body.lastRead.Load(), returned, "the body was read after LoadObject returned")
}

func TestLoadObjectQuarantineKeepsBytesAndReferences(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	long := "9,\"" + strings.Repeat("L", 3000) + "\",1,2026-01-01T00:00:00Z"
	bad := "x,\"em\xffea \"\"q\"\"\",1,2026-01-01T00:00:00Z"
	body := "order_id,region,amount,ordered_at\n" + goodObject[strings.IndexByte(goodObject, '\n')+1:] + long + "\n" + bad + "\n"
	src := ordersSource
	src.MaxBadFraction, src.MaxLineBytes = 0.5, 2048
	req := Request{Source: src, Table: table, Object: objectstore.Object{Key: "q.csv", ETag: "e"}, LoadID: "l"}
	res, err := LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, res.Rows)
	require.EqualValues(t, 2, res.Quarantined)

	rows, err := pool.Query(ctx, `SELECT line, raw_record, error, raw_bytes, byte_offset, byte_length, by_reference FROM etl2elt.quarantine WHERE object_key = 'q.csv' ORDER BY line`)
	require.NoError(t, err)
	type qrow struct {
		line         int64
		preview, why string
		raw          []byte
		offset, size *int64
		byRef        bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (qrow, error) {
		var q qrow
		return q, r.Scan(&q.line, &q.preview, &q.why, &q.raw, &q.offset, &q.size, &q.byRef)
	})
	require.NoError(t, err)
	require.Len(t, got, 2)

	l := got[0]
	require.EqualValues(t, 5, l.line)
	require.True(t, l.byRef)
	require.Nil(t, l.raw, "a long record is not copied")
	require.Equal(t, long, body[*l.offset:*l.offset+*l.size], "offset and length point at the record in the object")
	require.Equal(t, long[:previewBytes-len("…")]+"…", l.preview)
	require.Contains(t, l.why, "longer than max_line_bytes 2048")

	b := got[1]
	require.EqualValues(t, 6, b.line)
	require.False(t, b.byRef)
	require.Equal(t, []byte(bad), b.raw, "the original bytes")
	require.Equal(t, bad, body[*b.offset:*b.offset+*b.size])
	require.Equal(t, "x,\"em\ufffdea \"\"q\"\"\",1,2026-01-01T00:00:00Z", b.preview)
	require.Equal(t, `column order_id: "…" is not a bigint`, b.why)
}

func TestLoadObjectExtraColumns(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	body := "order_id,region,amount,ordered_at,note,Coupon\n1,emea,1,2026-01-01T00:00:00Z,hi,C1\n"
	extra := func(key string) (status string, cols []string) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT status, COALESCE(extra_columns, '{}') FROM etl2elt.loads WHERE object_key = $1`, key).Scan(&status, &cols))
		return status, cols
	}

	// ignore (the default): loaded without them, named on the ledger row.
	res, err := LoadObject(ctx, pool, Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "drift.csv", ETag: "e"}, LoadID: "l"}, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Rows)
	require.Equal(t, []string{"note", "Coupon"}, res.ExtraColumns)
	status, cols := extra("drift.csv")
	require.Equal(t, "loaded", status)
	var ordered bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT finished_at >= started_at FROM etl2elt.loads WHERE object_key = 'drift.csv'`).Scan(&ordered))
	require.True(t, ordered, "finished_at is when the load finished, not its transaction's start")
	require.Equal(t, []string{"note", "Coupon"}, cols)

	// fail: refused whole, before any row (CSV) or after reading them (JSON lines).
	for _, tt := range []struct{ format, key, body string }{
		{formatCSV, "drift-fail.csv", body},
		{formatJSONL, "drift-fail.jsonl", `{"order_id":1,"region":"emea","amount":1,"ordered_at":"2026-01-01T00:00:00Z"}` + "\n" + `{"order_id":2,"note":"hi","Coupon":"C1"}` + "\n"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			src := ordersSource
			src.Format, src.ExtraColumns = tt.format, plan.ExtraColumnsFail
			req := Request{Source: src, Table: table, Object: objectstore.Object{Key: tt.key, ETag: "e"}, LoadID: "l"}
			_, err := LoadObject(ctx, pool, req, strings.NewReader(tt.body), nil)
			var drift *SchemaDriftError
			require.ErrorAs(t, err, &drift)
			require.ErrorContains(t, err, "object "+tt.key+": schema drift: undeclared column(s) ")
			require.ElementsMatch(t, []string{"note", "Coupon"}, drift.Extra)
			require.True(t, drift.BadInput())
			require.NoError(t, RecordObjectFailure(ctx, pool, req, err))
			status, cols := extra(tt.key)
			require.Equal(t, "failed", status)
			require.ElementsMatch(t, []string{"note", "Coupon"}, cols)
			var n int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM raw.orders AS r JOIN etl2elt.object_loads AS l ON l.id = r._etl_load WHERE l.object_key = $1`, tt.key).Scan(&n))
			require.Zero(t, n, "no row of a refused object")
		})
	}
}
