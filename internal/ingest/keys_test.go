package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

// keyedOrders is ordersSource with a primary key and a duplicates policy.
func keyedOrders(policy string, key ...string) plan.Source {
	src := ordersSource
	src.PrimaryKey, src.Duplicates = key, policy
	return src
}

// setupKeyed is setup with the keyed source's table (its key index included).
func setupKeyed(t *testing.T, src plan.Source) (*pgxpool.Pool, ident.Relation) {
	t.Helper()
	pool, table := setup(t)
	require.NoError(t, EnsureTable(context.Background(), pool, table, src))
	return pool, table
}

// quarantineRow is one etl2elt.quarantine row.
type quarantineRow struct {
	Object string
	Line   int64
	Record string
	Reason string
}

func quarantineRows(t *testing.T, pool *pgxpool.Pool) []quarantineRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT object_key, line, raw_record, error FROM etl2elt.quarantine ORDER BY object_key, line`)
	require.NoError(t, err)
	defer rows.Close()
	var out []quarantineRow
	for rows.Next() {
		var q quarantineRow
		require.NoError(t, rows.Scan(&q.Object, &q.Line, &q.Record, &q.Reason))
		out = append(out, q)
	}
	require.NoError(t, rows.Err())
	return out
}

// liveRows lists raw.orders as "id region object:line", by id then object.
func liveRows(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT order_id::text || ' ' || coalesce(region, '<null>') || ' ' || l.object_key || ':' || r._etl_line
FROM raw.orders AS r JOIN etl2elt.object_loads AS l ON l.id = r._etl_load ORDER BY order_id, l.object_key, r._etl_line`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// optionalOrder is an orders row whose key columns may be null (Parquet).
type optionalOrder struct {
	OrderID   *int64    `parquet:"order_id,optional"`
	Region    *string   `parquet:"region,optional"`
	Amount    int64     `parquet:"amount,decimal(2:10)"`
	OrderedAt time.Time `parquet:"ordered_at,timestamp(microsecond)"`
}

func TestEmptyPrimaryKeysAreQuarantined(t *testing.T) {
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		format, key string
		body        []byte
		live        [2]int64        // the lines (rows) of orders 1 and 5
		want        []quarantineRow // the object key is filled in
	}{
		{"csv", "a.csv", []byte("order_id,region,amount,ordered_at\n" +
			"1,emea,1,2026-01-01T10:00:00Z\n" +
			",emea,2,2026-01-01T10:00:00Z\n" +
			"3,,3,2026-01-01T10:00:00Z\n" +
			"4,\"  \",4,2026-01-01T10:00:00Z\n" +
			"5,amer,5,2026-01-01T10:00:00Z\n"), [2]int64{2, 6}, []quarantineRow{
			{Line: 3, Record: ",emea,2,2026-01-01T10:00:00Z", Reason: "primary key column order_id is empty (NULL)"},
			{Line: 4, Record: "3,,3,2026-01-01T10:00:00Z", Reason: "primary key column region is empty"},
			{Line: 5, Record: `4,"  ",4,2026-01-01T10:00:00Z`, Reason: "primary key column region is empty"},
		}},
		{"jsonl", "a.jsonl", []byte(`{"order_id":1,"region":"emea","amount":1,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":null,"region":"emea","amount":2,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":3,"amount":3,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":4,"region":"","amount":4,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n" +
			`{"order_id":5,"region":"amer","amount":5,"ordered_at":"2026-01-01T10:00:00Z"}` + "\n"), [2]int64{1, 5}, []quarantineRow{
			{Line: 2, Record: `{"order_id":null,"region":"emea","amount":2,"ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column order_id is empty (NULL)"},
			{Line: 3, Record: `{"order_id":3,"amount":3,"ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column region is empty (NULL)"},
			{Line: 4, Record: `{"order_id":4,"region":"","amount":4,"ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column region is empty"},
		}},
		{"parquet", "a.parquet", writeParquet(t, []optionalOrder{
			{ptr[int64](1), ptr("emea"), 100, at},
			{nil, ptr("emea"), 200, at},
			{ptr[int64](3), nil, 300, at},
			{ptr[int64](4), ptr(""), 400, at},
			{ptr[int64](5), ptr("amer"), 500, at},
		}), [2]int64{1, 5}, []quarantineRow{
			{Line: 2, Record: `{"order_id":null,"region":"emea","amount":"2.00","ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column order_id is empty (NULL)"},
			{Line: 3, Record: `{"order_id":3,"region":null,"amount":"3.00","ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column region is empty (NULL)"},
			{Line: 4, Record: `{"order_id":4,"region":"","amount":"4.00","ordered_at":"2026-01-01T10:00:00Z"}`, Reason: "primary key column region is empty"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			ctx := context.Background()
			src := keyedOrders("", "order_id", "region")
			src.Format = tt.format
			pool, table := setupKeyed(t, src)
			req := Request{Source: src, Table: table, Object: objectstore.Object{Key: tt.key, ETag: "e"}, LoadID: "l"}

			// Within the limit: the rows with a key load, the others are quarantined.
			req.Source.MaxBadFraction = 0.6
			res, err := LoadObject(ctx, pool, req, bytes.NewReader(tt.body), nil)
			require.NoError(t, err)
			require.EqualValues(t, 2, res.Rows)
			require.EqualValues(t, 3, res.Quarantined)
			require.Equal(t, []string{fmt.Sprintf("1 emea %s:%d", tt.key, tt.live[0]), fmt.Sprintf("5 amer %s:%d", tt.key, tt.live[1])}, liveRows(t, pool))
			got := quarantineRows(t, pool)
			for i := range tt.want {
				tt.want[i].Object = tt.key
			}
			require.Len(t, got, len(tt.want))
			for i, w := range tt.want {
				require.Equal(t, w.Line, got[i].Line)
				require.Equal(t, w.Reason, got[i].Reason)
				if tt.format == "csv" {
					require.Equal(t, w.Record, got[i].Record)
				} else {
					require.JSONEq(t, w.Record, got[i].Record, "the record as landed")
				}
			}

			// They count against max_bad_fraction like any bad row.
			req.Source.MaxBadFraction = 0.5
			_, err = LoadObject(ctx, pool, req, bytes.NewReader(tt.body), nil)
			var bad *BadDataError
			require.ErrorAs(t, err, &bad)
			require.Contains(t, err.Error(), "3 of 5 rows (60.00%) are bad, over max_bad_fraction 0.5")
			require.Contains(t, err.Error(), "primary key column order_id is empty (NULL)")
			require.Len(t, quarantineRows(t, pool), 3, "the evidence is kept")
		})
	}
}

const (
	// objectA holds order 2 twice (lines 3 and 4) and order 3, which objectB holds too.
	keyA    = "orders/dt=2026-01-01/a.csv"
	objectA = "order_id,region,amount,ordered_at\n" +
		"1,emea,1,2026-01-01T10:00:00Z\n" +
		"2,amer,2,2026-01-01T11:00:00Z\n" +
		"2,apac,3,2026-01-01T12:00:00Z\n" +
		"3,emea,4,2026-01-01T13:00:00Z\n"
	keyB    = "orders/dt=2026-01-02/b.csv"
	objectB = "order_id,region,amount,ordered_at\n" +
		"3,amer,10,2026-01-02T10:00:00Z\n" +
		"4,apac,11,2026-01-02T11:00:00Z\n"
)

func TestDuplicateKeyPolicies(t *testing.T) {
	counts := func(r Result) [5]int64 {
		return [5]int64{r.DuplicateKeys, r.DuplicateRows, r.KeysInOtherObjects, r.Superseded, r.Replaced}
	}
	tests := []struct {
		policy string
		// results of loading A then B: rows, quarantined, and the counts
		// (keys, rows, keys in other objects, superseded, replaced)
		rowsA, quarA, rowsB, quarB int64
		countsA, countsB           [5]int64
		// the counts (keys, rows, in other objects) of B loaded again
		againB     [3]int64
		live       []string
		quarantine []quarantineRow
	}{
		{plan.DuplicatesReport, 4, 0, 2, 0, [5]int64{1, 1, 0, 0, 0}, [5]int64{1, 1, 1, 0, 0}, [3]int64{1, 1, 1},
			[]string{"1 emea " + keyA + ":2", "2 amer " + keyA + ":3", "2 apac " + keyA + ":4", "3 emea " + keyA + ":5", "3 amer " + keyB + ":2", "4 apac " + keyB + ":3"},
			nil},
		{plan.DuplicatesKeepLast, 3, 1, 2, 0, [5]int64{1, 1, 0, 1, 0}, [5]int64{1, 1, 1, 0, 1}, [3]int64{0, 0, 0},
			[]string{"1 emea " + keyA + ":2", "2 apac " + keyA + ":4", "3 amer " + keyB + ":2", "4 apac " + keyB + ":3"},
			[]quarantineRow{
				{keyA, 3, `{"order_id":2,"region":"amer","amount":2,"ordered_at":"2026-01-01T11:00:00Z"}`, "duplicate key order_id=2: a later row of the same object replaces it"},
				{keyA, 5, `{"order_id":3,"region":"emea","amount":4,"ordered_at":"2026-01-01T13:00:00Z"}`, "duplicate key order_id=3: a row of the newer object " + keyB + " replaces it"},
			}},
		{plan.DuplicatesQuarantine, 3, 1, 1, 1, [5]int64{1, 1, 0, 0, 0}, [5]int64{1, 1, 1, 0, 0}, [3]int64{1, 1, 1},
			[]string{"1 emea " + keyA + ":2", "2 amer " + keyA + ":3", "3 emea " + keyA + ":5", "4 apac " + keyB + ":3"},
			[]quarantineRow{
				{keyA, 4, `{"order_id":2,"region":"apac","amount":3,"ordered_at":"2026-01-01T12:00:00Z"}`, "duplicate key order_id=2: line 3 of the same object holds it first"},
				{keyB, 2, `{"order_id":3,"region":"amer","amount":10,"ordered_at":"2026-01-02T10:00:00Z"}`, "duplicate key order_id=3: object " + keyA + " holds it already"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			ctx := context.Background()
			src := keyedOrders(tt.policy, "order_id")
			src.MaxBadFraction = 0.5
			pool, table := setupKeyed(t, src)
			load := func(key, body string) Result {
				t.Helper()
				res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: key, ETag: "e"}, LoadID: "l-" + key}, strings.NewReader(body), nil)
				require.NoError(t, err)
				return res
			}
			a := load(keyA, objectA)
			require.Equal(t, []int64{tt.rowsA, tt.quarA}, []int64{a.Rows, a.Quarantined}, "A: rows, quarantined")
			require.Equal(t, tt.countsA, counts(a), "A: duplicate keys, rows, in other objects, superseded, replaced")
			b := load(keyB, objectB)
			require.Equal(t, []int64{tt.rowsB, tt.quarB}, []int64{b.Rows, b.Quarantined}, "B: rows, quarantined")
			require.Equal(t, tt.countsB, counts(b), "B: duplicate keys, rows, in other objects, superseded, replaced")
			require.Equal(t, tt.live, liveRows(t, pool))
			require.Equal(t, tt.quarantine, quarantineRows(t, pool))

			// The ledger records the counts, and rows and quarantined as the result.
			var ledger [5]int64
			require.NoError(t, pool.QueryRow(ctx, `SELECT rows_loaded, rows_quarantined, duplicate_keys, duplicate_rows, rows_replaced FROM etl2elt.loads WHERE object_key = $1`, keyB).
				Scan(&ledger[0], &ledger[1], &ledger[2], &ledger[3], &ledger[4]))
			require.Equal(t, [5]int64{b.Rows, b.Quarantined, b.DuplicateKeys, b.DuplicateRows, b.Replaced}, ledger)

			// Loading B again: its previous rows are not "another object" (with
			// keep_last, A's order 3 is gone already).
			again := load(keyB, objectB)
			require.Equal(t, tt.againB, [3]int64{again.DuplicateKeys, again.DuplicateRows, again.KeysInOtherObjects})
			require.Equal(t, tt.live, liveRows(t, pool), "a reload changes nothing")
		})
	}
}

// TestKeepLastIsIndependentOfLoadOrder: the newest object's row stays whichever object
// loads first, and a reload of the older object does not bring its row back.
func TestKeepLastIsIndependentOfLoadOrder(t *testing.T) {
	ctx := context.Background()
	src := keyedOrders(plan.DuplicatesKeepLast, "order_id")
	pool, table := setupKeyed(t, src)
	load := func(key, body string) Result {
		t.Helper()
		res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: key, ETag: "e"}, LoadID: "l"}, strings.NewReader(body), nil)
		require.NoError(t, err)
		return res
	}
	b := load(keyB, objectB)
	require.Zero(t, b.DuplicateKeys)
	a := load(keyA, objectA)
	require.Equal(t, [5]int64{2, 2, 1, 2, 0}, [5]int64{a.DuplicateKeys, a.DuplicateRows, a.KeysInOtherObjects, a.Superseded, a.Replaced})
	require.EqualValues(t, 2, a.Rows)
	require.EqualValues(t, 2, a.Quarantined)
	want := []string{"1 emea " + keyA + ":2", "2 apac " + keyA + ":4", "3 amer " + keyB + ":2", "4 apac " + keyB + ":3"}
	require.Equal(t, want, liveRows(t, pool), "the same rows as loading A first")
	q := quarantineRows(t, pool)
	require.Len(t, q, 2)
	require.Equal(t, "duplicate key order_id=3: a row of the newer object "+keyB+" replaces it", q[1].Reason)

	load(keyA, objectA)
	require.Equal(t, want, liveRows(t, pool))
	require.Len(t, quarantineRows(t, pool), 2, "the reload replaced its quarantine")
}

func TestDuplicateKeysFailPolicy(t *testing.T) {
	ctx := context.Background()
	src := keyedOrders(plan.DuplicatesFail, "order_id")
	pool, table := setupKeyed(t, src)
	load := func(key, body string) (Result, error) {
		return LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: key, ETag: "e"}, LoadID: "l"}, strings.NewReader(body), nil)
	}
	_, err := load(keyA, objectA)
	var perr *ParseError
	require.ErrorAs(t, err, &perr)
	require.True(t, perr.BadInput(), "not retried")
	require.ErrorIs(t, err, ErrDuplicateKeys)
	require.EqualError(t, err, "object "+keyA+": malformed CSV: duplicate primary keys (duplicates: fail): 1 key(s) held more than once, in this object or by live rows of the source's other objects: order_id=2 (2 rows in this object)")
	require.Empty(t, liveRows(t, pool), "nothing loaded")

	// Without its duplicate A loads; B then holds order 3 again.
	_, err = load(keyA, strings.Replace(objectA, "2,apac,3,2026-01-01T12:00:00Z\n", "", 1))
	require.NoError(t, err)
	_, err = load(keyB, objectB)
	require.EqualError(t, err, "object "+keyB+": malformed CSV: duplicate primary keys (duplicates: fail): 1 key(s) held more than once, in this object or by live rows of the source's other objects: order_id=3 (also in "+keyA+")")
	require.Len(t, liveRows(t, pool), 3, "A's rows only")

	// At most 5 keys are named; a composite key names every column.
	src = keyedOrders(plan.DuplicatesFail, "order_id", "region")
	require.NoError(t, EnsureTable(ctx, pool, table, src))
	var b strings.Builder
	b.WriteString("order_id,region,amount,ordered_at\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "%d,emea,1,2026-01-03T10:00:00Z\n%d,emea,2,2026-01-03T10:00:00Z\n%d,amer,3,2026-01-03T10:00:00Z\n", i, i, i)
	}
	_, err = load("orders/dt=2026-01-03/c.csv", b.String())
	require.ErrorIs(t, err, ErrDuplicateKeys)
	// (i, emea) twice for i = 1…7, and (2, amer) as in A.
	require.Contains(t, err.Error(), `: 8 key(s) held more than once, in this object or by live rows of the source's other objects: `+
		`order_id=1, region="emea" (2 rows in this object, also in `+keyA+`), order_id=2, region="amer" (also in `+keyA+`), `+
		`order_id=2, region="emea" (2 rows in this object), order_id=3, region="emea" (2 rows in this object, also in `+keyA+`), `+
		`order_id=4, region="emea" (2 rows in this object), and 3 more`)
}

// TestDuplicatesQuarantineOverTheLimit: duplicates the quarantine policy moves are bad
// rows: over max_bad_fraction the load fails, keeping them as evidence.
func TestDuplicatesQuarantineOverTheLimit(t *testing.T) {
	ctx := context.Background()
	src := keyedOrders(plan.DuplicatesQuarantine, "order_id")
	pool, table := setupKeyed(t, src)
	_, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: keyA, ETag: "e"}, LoadID: "l"}, strings.NewReader(objectA), nil)
	var bad *BadDataError
	require.ErrorAs(t, err, &bad)
	require.EqualError(t, err, "object "+keyA+": 1 of 4 rows (25.00%) are bad, over max_bad_fraction 0; they are in etl2elt.quarantine; first: line 4: duplicate key order_id=2: line 3 of the same object holds it first")
	require.Empty(t, liveRows(t, pool))
	q := quarantineRows(t, pool)
	require.Len(t, q, 1)
	require.Equal(t, "duplicate key order_id=2: line 3 of the same object holds it first", q[0].Reason)
	var status string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM etl2elt.loads WHERE object_key = $1`, keyA).Scan(&status))
	require.Equal(t, "failed", status)
}

// TestDuplicateCountsOverParallelStreams: with report, an object split over two COPY
// streams is counted whole (the count runs after the helper committed its share).
func TestDuplicateCountsOverParallelStreams(t *testing.T) {
	parallel(t)
	ctx := context.Background()
	src := keyedOrders("", "region")
	src.MaxBadFraction = 0.01
	pool, table := setupKeyed(t, src)
	body := bigObject(20_000, false) // 7 regions
	res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: "big.csv", ETag: "e", Size: int64(len(body))}, LoadID: "l"}, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.EqualValues(t, 20_000, res.Rows)
	require.EqualValues(t, 7, res.DuplicateKeys)
	require.EqualValues(t, 20_000-7, res.DuplicateRows)
}

func TestEnsureTableKeyIndexFollowsTheKey(t *testing.T) {
	ctx := context.Background()
	pool, table := setup(t)
	indexes := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'raw' AND tablename = 'orders' AND indexname LIKE 'orders\_etl\_key\_%' ORDER BY 1`)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s[strings.Index(s, "USING"):])
		}
		return out
	}
	require.Empty(t, indexes(), "no key, no index")
	require.NoError(t, EnsureTable(ctx, pool, table, keyedOrders("", "order_id")))
	require.Equal(t, []string{"USING btree (order_id, _etl_load)"}, indexes())
	require.NoError(t, EnsureTable(ctx, pool, table, keyedOrders("", "order_id", "region")))
	require.Equal(t, []string{"USING btree (order_id, region, _etl_load)"}, indexes(), "the old key's index is dropped")
}
