package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/objectstore"
)

// parallel makes every object take the parallel COPY path for the test.
func parallel(t *testing.T) {
	t.Helper()
	minBytes, streams := ParallelMinBytes, ParallelStreams
	ParallelMinBytes, ParallelStreams = 0, 2
	t.Cleanup(func() { ParallelMinBytes, ParallelStreams = minBytes, streams })
}

// TestLoadObjectParallelPath runs the load tests through two COPY streams: the same
// results, quarantine, bad-row limit, framing errors and ledger.
func TestLoadObjectParallelPath(t *testing.T) {
	parallel(t)
	for name, test := range map[string]func(*testing.T){
		"twice is idempotent":           TestLoadObjectTwiceIsIdempotent,
		"quarantine within limit":       TestLoadObjectQuarantinesWithinLimit,
		"over the limit keeps evidence": TestLoadObjectOverBadLimitFailsAndKeepsEvidence,
		"jsonl and parquet":             TestLoadJSONLAndParquetTwiceAreIdempotent,
		"parquet over the limit":        TestLoadParquetOverBadLimitNamesTheRow,
		"broken framing":                TestLoadObjectStopsOnBrokenFramingWithoutPanicking,
		"too many bad rows":             TestLoadObjectTooManyBadRowsIsBadData,
		"vanished objects":              TestRemoveVanished,
		"pii policies":                  TestPIIPolicies,
	} {
		t.Run(name, test)
	}
}

// bigObject is n rows of orders CSV (many COPY blocks), with a bad row every 1000th.
func bigObject(n int, bad bool) string {
	var b strings.Builder
	b.WriteString("order_id,region,amount,ordered_at\n")
	for i := 1; i <= n; i++ {
		if bad && i%1000 == 0 {
			fmt.Fprintf(&b, "x%d,emea,1,2026-01-01T00:00:00Z\n", i)
			continue
		}
		fmt.Fprintf(&b, "%d,region-%d,%d.%02d,2026-01-01T%02d:%02d:00Z\n", i, i%7, i, i%100, (i/60)%24, i%60)
	}
	return b.String()
}

func TestLoadObjectParallelSameRowsAsOneStream(t *testing.T) {
	ctx := context.Background()
	body := bigObject(60_000, true) // ≈ 2.5 MB: about ten blocks shared by the streams
	load := func(t *testing.T) (int64, string, Result) {
		pool, table := setup(t)
		src := ordersSource
		src.MaxBadFraction = 0.01
		res, err := LoadObject(ctx, pool, Request{Source: src, Table: table, Object: objectstore.Object{Key: "big.csv", ETag: "e", Size: int64(len(body))}, LoadID: "l"}, strings.NewReader(body), nil)
		require.NoError(t, err)
		n, sum := checksum(t, pool)
		var q int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.quarantine WHERE object_key = 'big.csv'`).Scan(&q))
		require.Equal(t, 60, q)
		return n, sum, res
	}
	n1, sum1, res1 := load(t)
	parallel(t)
	n2, sum2, res2 := load(t)
	require.EqualValues(t, 60_000-60, n1)
	require.Equal(t, n1, n2)
	require.Equal(t, sum1, sum2, "the same rows, lines and lineage")
	require.Equal(t, res1, res2)
}

// A worker that dies after the helper committed and before the main transaction did
// leaves the helper's rows but no 'loaded' ledger row: the next load replaces them.
func TestLoadObjectParallelInterruptedBetweenCommits(t *testing.T) {
	ctx := context.Background()
	parallel(t)
	pool, table := setup(t)
	body := bigObject(60_000, false)
	req := Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "big.csv", ETag: "e", Size: int64(len(body))}, LoadID: "l1"}
	_, err := LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	n0, sum0 := checksum(t, pool)

	// The same object reloaded (same ETag), interrupted between the commits.
	died := errors.New("worker died")
	testHookAfterHelpers = func() error { return died }
	req.LoadID = "l2"
	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	testHookAfterHelpers = nil
	require.ErrorIs(t, err, died)
	n1, _ := checksum(t, pool)
	require.Greater(t, n1, n0, "the helper's share is committed next to the old rows")
	loaded, err := AlreadyLoaded(ctx, pool, "orders", table, req.Object)
	require.NoError(t, err)
	require.False(t, loaded, "the ledger no longer says loaded: the object is not skipped")

	req.LoadID = "l3"
	_, err = LoadObject(ctx, pool, req, strings.NewReader(body), nil)
	require.NoError(t, err)
	n2, sum2 := checksum(t, pool)
	require.Equal(t, n0, n2)
	require.Equal(t, sum0, sum2, "one copy of the object again")
	loaded, err = AlreadyLoaded(ctx, pool, "orders", table, req.Object)
	require.NoError(t, err)
	require.True(t, loaded)
}

// With no free connection for a helper, the load goes on with one stream instead of
// waiting (no hold-and-wait between loads sharing a pool).
func TestLoadObjectParallelWithoutAFreeConnection(t *testing.T) {
	ctx := context.Background()
	parallel(t)
	pool, table := setup(t)
	var held []*pgxpool.Conn
	for range pool.Config().MaxConns - 1 {
		c, err := pool.Acquire(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	body := bigObject(20_000, false)
	res, err := LoadObject(ctx, pool, Request{Source: ordersSource, Table: table, Object: objectstore.Object{Key: "big.csv", ETag: "e", Size: int64(len(body))}, LoadID: "l"}, strings.NewReader(body), nil)
	require.NoError(t, err)
	require.EqualValues(t, 20_000, res.Rows)
}
