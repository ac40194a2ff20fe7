package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/window"
)

// seedRows is the number of rows of base.orders on both sides.
const seedRows = 20000

// seedOrders creates base.orders with a composite key (region text, order_no int):
// regions include a space and a quote; notes include NULL and ”; 1,000 rows per day
// over 20 days.
var seedOrders = []string{
	`CREATE SCHEMA base`,
	`CREATE TABLE base.orders (
		region text NOT NULL, order_no int NOT NULL, amount numeric(12,2), note text,
		status text NOT NULL, ordered_at timestamptz NOT NULL, PRIMARY KEY (region, order_no))`,
	`INSERT INTO base.orders
	 SELECT (ARRAY['emea', 'amer', 'apac', 'north america', 'o''brien ltd'])[1 + g % 5], g,
	        round((g % 997) * 1.37 + 0.05, 2),
	        CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'note ' || g END,
	        (ARRAY['shipped', 'open', 'cancelled'])[1 + g % 3],
	        timestamptz '2026-01-01 00:00:00+00' + (g % 20) * interval '1 day' + (g % 1440) * interval '1 minute'
	 FROM generate_series(1, 20000) AS g`,
}

var regions = []string{"emea", "amer", "apac", "north america", "o'brien ltd"}

// orderKey is the KeyDiff key of order g.
func orderKey(g int) map[string]string {
	return map[string]string{"region": regions[g%5], "order_no": strconv.Itoa(g)}
}

// day3 is the window of the orders with g % 20 == 2 (1,000 rows).
var day3 = window.Window{From: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)}

// withTZ returns dsn with the session time zone set.
func withTZ(t *testing.T, dsn, tz string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("timezone", tz)
	u.RawQuery = q.Encode()
	return u.String()
}

type rowDiffDBs struct {
	legacy, elt *pgxpool.Pool
	eltDSN      string
}

// newRowDiffDBs creates two databases (legacy and ELT), sessions in UTC, each with
// base.orders.
func newRowDiffDBs(t *testing.T) rowDiffDBs {
	legacyDSN := withTZ(t, testenv.Database(t, "rowdiff_legacy"), "UTC")
	eltDSN := withTZ(t, testenv.Database(t, "rowdiff_elt"), "UTC")
	dbs := rowDiffDBs{legacy: testenv.Pool(t, legacyDSN), elt: testenv.Pool(t, eltDSN), eltDSN: eltDSN}
	for _, p := range []*pgxpool.Pool{dbs.legacy, dbs.elt} {
		exec(t, p, seedOrders...)
	}
	return dbs
}

func exec(t *testing.T, p *pgxpool.Pool, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := p.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

// resetCase gives a case its own copy of base.orders as c.orders (no primary key, so
// duplicates can be planted).
func resetCase(t *testing.T, p *pgxpool.Pool) {
	exec(t, p, `DROP SCHEMA IF EXISTS c CASCADE`, `CREATE SCHEMA c`, `CREATE TABLE c.orders AS SELECT * FROM base.orders`)
}

func ordersSpec() RowDiffSpec {
	return RowDiffSpec{
		LegacyRelation: "c.orders", ELTRelation: "c.orders",
		Keys:    []string{"region", "order_no"},
		Columns: []string{"amount", "note", "status", "ordered_at"},
	}
}

func intp(v int) *int { return &v }

type counts struct {
	missingInLegacy, missingInELT, mismatched, withinTolerance, duplicateKeys, normalisationOnly int64
}

func countsOf(r RowDiffResult) counts {
	return counts{r.MissingInLegacy, r.MissingInELT, r.Mismatched, r.WithinTolerance, r.DuplicateKeys, r.NormalisationOnly}
}

// recorder wraps a Queryer and keeps every statement and its arguments.
type recorder struct {
	Queryer
	mu    sync.Mutex
	calls []call
}

type call struct {
	sql  string
	args []any
}

func (r *recorder) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.mu.Lock()
	r.calls = append(r.calls, call{sql, args})
	r.mu.Unlock()
	return r.Queryer.Query(ctx, sql, args...)
}

func TestRowDiff(t *testing.T) {
	dbs := newRowDiffDBs(t)
	ctx := context.Background()
	tests := []struct {
		name           string
		legacySQL      []string
		eltSQL         []string
		eltTZ          string // ELT session time zone (default UTC)
		spec           func(*RowDiffSpec)
		lim            RowDiffLimits
		want           counts
		sample         []KeyDiff // when set, the exact sample (any order)
		noRowsFetched  bool      // only aggregates travelled
		maxRowsFetched int64     // when set, RowsFetched stays below
		anyCounts      bool      // the counts are checked by check only
		check          func(t *testing.T, res RowDiffResult)
	}{
		{
			name:          "identical data: nothing but aggregates",
			noRowsFetched: true,
			check: func(t *testing.T, res RowDiffResult) {
				require.Equal(t, 4, res.Queries, "two catalog queries, one aggregate per side")
				require.EqualValues(t, 1, res.BucketsCompared)
				require.Zero(t, res.BytesFetched)
				require.Empty(t, res.Sample)
			},
		},
		{
			name:      "rows missing on each side, composite text + int keys",
			legacySQL: []string{`DELETE FROM c.orders WHERE order_no IN (10, 11, 12)`},
			eltSQL:    []string{`DELETE FROM c.orders WHERE order_no IN (13, 14)`},
			want:      counts{missingInLegacy: 3, missingInELT: 2},
			sample: []KeyDiff{
				{Key: orderKey(10), Kind: KindMissingInLegacy}, {Key: orderKey(11), Kind: KindMissingInLegacy},
				{Key: orderKey(12), Kind: KindMissingInLegacy},
				{Key: orderKey(13), Kind: KindMissingInELT}, {Key: orderKey(14), Kind: KindMissingInELT},
			},
			maxRowsFetched: 100,
		},
		{
			name: "numeric tolerance: just inside, just outside, inside but another column differs",
			legacySQL: []string{
				`UPDATE c.orders SET amount = 500.00 WHERE order_no IN (100, 102, 103)`,
				`UPDATE c.orders SET amount = 1000.00 WHERE order_no = 101`,
			},
			eltSQL: []string{
				`UPDATE c.orders SET amount = 500.01 WHERE order_no = 100`,
				`UPDATE c.orders SET amount = 1000.02 WHERE order_no = 101`,
				`UPDATE c.orders SET amount = 499.99 WHERE order_no = 102`,
				`UPDATE c.orders SET amount = 500.01, status = 'lost' WHERE order_no = 103`,
			},
			spec: func(s *RowDiffSpec) { s.NumericTolerance = map[string]float64{"amount": 0.01} },
			want: counts{mismatched: 2, withinTolerance: 2},
			sample: []KeyDiff{
				{Key: orderKey(100), Kind: KindWithinTolerance, Columns: []ColumnDiff{{Column: "amount", Legacy: "500.00", ELT: "500.01", WithinTolerance: true}}},
				{Key: orderKey(102), Kind: KindWithinTolerance, Columns: []ColumnDiff{{Column: "amount", Legacy: "500.00", ELT: "499.99", WithinTolerance: true}}},
				{Key: orderKey(101), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "amount", Legacy: "1000.00", ELT: "1000.02"}}},
				{Key: orderKey(103), Kind: KindMismatched, Columns: []ColumnDiff{
					{Column: "amount", Legacy: "500.00", ELT: "500.01", WithinTolerance: true},
					{Column: "status", Legacy: "open", ELT: "lost"},
				}},
			},
		},
		{
			name: "the plan's relative tolerance at row level: inside (+1 cent on 1,000), outside, from zero, absolute override",
			legacySQL: []string{
				`UPDATE c.orders SET amount = 1000.00 WHERE order_no IN (100, 101)`,
				`UPDATE c.orders SET amount = 0 WHERE order_no = 102`,
				`UPDATE c.orders SET amount = 10.00 WHERE order_no = 103`,
			},
			eltSQL: []string{
				`UPDATE c.orders SET amount = 1000.01 WHERE order_no = 100`, // 0.001 % : within 0.1 %
				`UPDATE c.orders SET amount = 1002.00 WHERE order_no = 101`, // 0.2 %: outside
				`UPDATE c.orders SET amount = 0.01 WHERE order_no = 102`,    // from 0: no relative difference
				`UPDATE c.orders SET amount = 10.50 WHERE order_no = 103`,   // 5 %, within the absolute override 1
			},
			spec: func(s *RowDiffSpec) {
				rel := 0.001
				s.Tolerance = map[string]plan.Tolerance{"amount": {Relative: &rel}}
				s.NumericTolerance = map[string]float64{"amount": 1}
			},
			want: counts{mismatched: 1, withinTolerance: 3},
			sample: []KeyDiff{
				{Key: orderKey(101), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "amount", Legacy: "1000.00", ELT: "1002.00"}}},
				{Key: orderKey(100), Kind: KindWithinTolerance, Columns: []ColumnDiff{{Column: "amount", Legacy: "1000.00", ELT: "1000.01", WithinTolerance: true}}},
				{Key: orderKey(102), Kind: KindWithinTolerance, Columns: []ColumnDiff{{Column: "amount", Legacy: "0.00", ELT: "0.01", WithinTolerance: true}}},
				{Key: orderKey(103), Kind: KindWithinTolerance, Columns: []ColumnDiff{{Column: "amount", Legacy: "10.00", ELT: "10.50", WithinTolerance: true}}},
			},
		},
		{
			name:      "relative tolerance only: a value from zero is a mismatch",
			legacySQL: []string{`UPDATE c.orders SET amount = 0 WHERE order_no = 102`},
			eltSQL:    []string{`UPDATE c.orders SET amount = 0.01 WHERE order_no = 102`},
			spec: func(s *RowDiffSpec) {
				rel := 0.5
				s.Tolerance = map[string]plan.Tolerance{"amount": {Relative: &rel}}
			},
			want: counts{mismatched: 1},
		},
		{
			name:      "no tolerance: any numeric difference is a mismatch",
			legacySQL: []string{`UPDATE c.orders SET amount = 500.00 WHERE order_no = 100`},
			eltSQL:    []string{`UPDATE c.orders SET amount = 500.01 WHERE order_no = 100`},
			want:      counts{mismatched: 1},
		},
		{
			name:      "NULL vs empty string is a difference by default",
			legacySQL: []string{`UPDATE c.orders SET note = NULL WHERE order_no = 200`, `UPDATE c.orders SET note = '' WHERE order_no = 201`},
			eltSQL:    []string{`UPDATE c.orders SET note = '' WHERE order_no = 200`, `UPDATE c.orders SET note = NULL WHERE order_no = 201`},
			want:      counts{mismatched: 2},
			sample: []KeyDiff{
				{Key: orderKey(200), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "note", Legacy: "<null>", ELT: "", LegacyNull: true}}},
				{Key: orderKey(201), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "note", Legacy: "", ELT: "<null>", ELTNull: true}}},
			},
		},
		{
			// Equal as compared; the normalisation-only pass says which rows only the
			// rule made equal, with their values before it.
			name:      "NULL equals empty string with NullEqualsEmpty: normalisation-only",
			legacySQL: []string{`UPDATE c.orders SET note = NULL WHERE order_no = 200`, `UPDATE c.orders SET note = '' WHERE order_no = 201`},
			eltSQL:    []string{`UPDATE c.orders SET note = '' WHERE order_no = 200`, `UPDATE c.orders SET note = NULL WHERE order_no = 201`},
			spec:      func(s *RowDiffSpec) { s.Normalize.NullEqualsEmpty = true },
			want:      counts{normalisationOnly: 2},
			sample: []KeyDiff{
				{Key: orderKey(200), Kind: KindNormalisationOnly, Columns: []ColumnDiff{{Column: "note", Legacy: "<null>", ELT: "", LegacyNull: true, NormalisationOnly: true}}},
				{Key: orderKey(201), Kind: KindNormalisationOnly, Columns: []ColumnDiff{{Column: "note", Legacy: "", ELT: "<null>", ELTNull: true, NormalisationOnly: true}}},
			},
			maxRowsFetched: 100,
			check: func(t *testing.T, res RowDiffResult) {
				require.True(t, res.Passed(), "accepted by the normalisation")
				require.False(t, res.NormalisationOnlyBounded)
			},
		},
		{
			name:      "normalisation-only pass: bounded by NormalisationOnlyMaxRows, a lower bound that does not bound the diff",
			eltSQL:    []string{`UPDATE c.orders SET note = NULL WHERE note = ''`},
			spec:      func(s *RowDiffSpec) { s.Normalize.NullEqualsEmpty = true },
			lim:       RowDiffLimits{NormalisationOnlyMaxRows: 50},
			anyCounts: true,
			check: func(t *testing.T, res RowDiffResult) {
				require.False(t, res.Bounded)
				require.True(t, res.Passed())
				require.True(t, res.NormalisationOnlyBounded)
				require.Less(t, res.NormalisationOnly, int64(seedRows/7))
				require.LessOrEqual(t, res.RowsFetched, int64(50))
			},
		},
		{
			name:          "normalisation-only pass skipped with a negative NormalisationOnlyMaxRows",
			eltSQL:        []string{`UPDATE c.orders SET note = NULL WHERE order_no = 8`}, // '' in legacy
			spec:          func(s *RowDiffSpec) { s.Normalize.NullEqualsEmpty = true },
			lim:           RowDiffLimits{NormalisationOnlyMaxRows: -1},
			noRowsFetched: true,
		},
		{
			name:   "trailing spaces and case differ by default",
			eltSQL: []string{`UPDATE c.orders SET status = status || '  ' WHERE order_no = 300`, `UPDATE c.orders SET status = upper(status) WHERE order_no = 301`},
			want:   counts{mismatched: 2},
			sample: []KeyDiff{
				{Key: orderKey(300), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "status", Legacy: "shipped", ELT: "shipped  "}}},
				{Key: orderKey(301), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "status", Legacy: "open", ELT: "OPEN"}}},
			},
		},
		{
			name:   "trailing spaces and case equal with TrimStrings and CaseInsensitive: normalisation-only",
			eltSQL: []string{`UPDATE c.orders SET status = status || '  ' WHERE order_no = 300`, `UPDATE c.orders SET status = upper(status) WHERE order_no = 301`},
			spec:   func(s *RowDiffSpec) { s.Normalize.TrimStrings, s.Normalize.CaseInsensitive = true, true },
			want:   counts{normalisationOnly: 2},
		},
		{
			name:   "trimming alone leaves a case difference",
			eltSQL: []string{`UPDATE c.orders SET status = status || '  ' WHERE order_no = 300`, `UPDATE c.orders SET status = upper(status) WHERE order_no = 301`},
			spec:   func(s *RowDiffSpec) { s.Normalize.TrimStrings = true },
			want:   counts{mismatched: 1, normalisationOnly: 1},
			sample: []KeyDiff{
				{Key: orderKey(301), Kind: KindMismatched, Columns: []ColumnDiff{{Column: "status", Legacy: "open", ELT: "OPEN"}}},
				{Key: orderKey(300), Kind: KindNormalisationOnly, Columns: []ColumnDiff{{Column: "status", Legacy: "shipped", ELT: "shipped  ", NormalisationOnly: true}}},
			},
		},
		{
			name:  "timestamptz shown in another session zone differs by default (window: one day)",
			eltTZ: "America/New_York",
			spec:  func(s *RowDiffSpec) { s.TimeColumn, s.Window = "ordered_at", day3 },
			want:  counts{mismatched: 1000},
			lim:   RowDiffLimits{SampleSize: 1},
			check: func(t *testing.T, res RowDiffResult) {
				require.Len(t, res.Sample, 1)
				require.Equal(t, "ordered_at", res.Sample[0].Columns[0].Column)
				require.Regexp(t, `^2026-01-03 \d\d:\d\d:00\+00$`, res.Sample[0].Columns[0].Legacy)
				require.Regexp(t, `^2026-01-0[23] \d\d:\d\d:00-05$`, res.Sample[0].Columns[0].ELT)
			},
		},
		{
			name:          "timestamptz in another session zone equal with TimestampsUTC",
			eltTZ:         "America/New_York",
			spec:          func(s *RowDiffSpec) { s.TimeColumn, s.Window, s.Normalize.TimestampsUTC = "ordered_at", day3, true },
			noRowsFetched: true,
		},
		{
			name:      "legacy timestamp without time zone (UTC) vs ELT timestamptz differs by default",
			legacySQL: []string{`ALTER TABLE c.orders ALTER ordered_at TYPE timestamp USING ordered_at AT TIME ZONE 'UTC'`},
			spec:      func(s *RowDiffSpec) { s.TimeColumn, s.Window = "ordered_at", day3 },
			want:      counts{mismatched: 1000},
			lim:       RowDiffLimits{SampleSize: -1},
			check:     func(t *testing.T, res RowDiffResult) { require.Empty(t, res.Sample) },
		},
		{
			name:          "legacy timestamp without time zone (UTC) vs ELT timestamptz equal with TimestampsUTC",
			legacySQL:     []string{`ALTER TABLE c.orders ALTER ordered_at TYPE timestamp USING ordered_at AT TIME ZONE 'UTC'`},
			spec:          func(s *RowDiffSpec) { s.TimeColumn, s.Window, s.Normalize.TimestampsUTC = "ordered_at", day3, true },
			noRowsFetched: true,
		},
		{
			name:   "numeric(12,2) vs numeric(14,4) differ by default",
			eltSQL: []string{`ALTER TABLE c.orders ALTER amount TYPE numeric(14,4)`},
			spec:   func(s *RowDiffSpec) { s.TimeColumn, s.Window = "ordered_at", day3 },
			want:   counts{mismatched: 1000},
		},
		{
			name:          "numeric(12,2) vs double precision equal with NumericScale",
			eltSQL:        []string{`ALTER TABLE c.orders ALTER amount TYPE double precision`},
			spec:          func(s *RowDiffSpec) { s.Normalize.NumericScale = intp(2) },
			noRowsFetched: true,
		},
		{
			name:      "NumericScale rounds before the tolerance",
			legacySQL: []string{`UPDATE c.orders SET amount = 10.00 WHERE order_no = 400`},
			eltSQL:    []string{`ALTER TABLE c.orders ALTER amount TYPE numeric(14,4)`, `UPDATE c.orders SET amount = 10.0149 WHERE order_no = 400`},
			spec: func(s *RowDiffSpec) {
				s.Normalize.NumericScale = intp(2)
				s.NumericTolerance = map[string]float64{"amount": 0.01}
			},
			want: counts{withinTolerance: 1},
		},
		{
			name:      "window restricts both sides",
			legacySQL: []string{`DELETE FROM c.orders WHERE order_no = 22`}, // day 3
			eltSQL:    []string{`DELETE FROM c.orders WHERE order_no = 23`}, // day 4: outside
			spec:      func(s *RowDiffSpec) { s.TimeColumn, s.Window = "ordered_at", day3 },
			want:      counts{missingInLegacy: 1},
			sample:    []KeyDiff{{Key: orderKey(22), Kind: KindMissingInLegacy}},
		},
		{
			name:   "a day missing in ELT: counted from aggregates, only the sample's keys fetched",
			eltSQL: []string{`DELETE FROM c.orders WHERE ordered_at >= '2026-01-03' AND ordered_at < '2026-01-04'`},
			spec:   func(s *RowDiffSpec) { s.TimeColumn, s.Window = "ordered_at", day3 },
			lim:    RowDiffLimits{SampleSize: 5},
			want:   counts{missingInELT: 1000},
			check: func(t *testing.T, res RowDiffResult) {
				require.EqualValues(t, 5, res.RowsFetched)
				require.Len(t, res.Sample, 5)
				for _, s := range res.Sample {
					require.Equal(t, KindMissingInELT, s.Kind)
				}
			},
		},
		{
			name:      "duplicate key on one side",
			legacySQL: []string{`INSERT INTO c.orders SELECT * FROM c.orders WHERE order_no = 500`},
			want:      counts{missingInELT: 1, duplicateKeys: 1},
			sample:    []KeyDiff{{Key: orderKey(500), Kind: KindMissingInELT}},
		},
		{
			name:   "100 differing rows out of 20,000: few rows fetched",
			eltSQL: []string{`UPDATE c.orders SET amount = amount + 1 WHERE order_no % 200 = 7`},
			want:   counts{mismatched: 100},
			// 5 % of the 20,000 rows, both sides together.
			maxRowsFetched: seedRows / 20,
			check: func(t *testing.T, res RowDiffResult) {
				require.Len(t, res.Sample, DefaultSampleSize)
				t.Logf("100 differences in %d rows: rows fetched %d, bytes fetched %d, queries %d, buckets compared %d",
					seedRows, res.RowsFetched, res.BytesFetched, res.Queries, res.BucketsCompared)
			},
		},
		{
			// Thousands of differing buckets per level: parents beyond one IN list
			// (unfiltered level, then batches with LeafRows 1), leaves in batches.
			name:   "every row differs: each row fetched exactly once per side",
			eltSQL: []string{`UPDATE c.orders SET status = 'x'`},
			want:   counts{mismatched: seedRows},
			check: func(t *testing.T, res RowDiffResult) {
				require.EqualValues(t, 2*seedRows, res.RowsFetched)
				t.Logf("every row differs: queries %d, buckets compared %d", res.Queries, res.BucketsCompared)
			},
		},
		{
			name:   "every row differs, LeafRows 1",
			eltSQL: []string{`UPDATE c.orders SET status = 'x'`},
			lim:    RowDiffLimits{LeafRows: 1},
			want:   counts{mismatched: seedRows},
			check: func(t *testing.T, res RowDiffResult) {
				require.EqualValues(t, 2*seedRows, res.RowsFetched)
				t.Logf("every row differs, LeafRows 1: queries %d, buckets compared %d", res.Queries, res.BucketsCompared)
			},
		},
		{
			name:   "bounded by MaxRowsFetched",
			eltSQL: []string{`UPDATE c.orders SET amount = amount + 1 WHERE order_no % 200 = 7`},
			lim:    RowDiffLimits{MaxRowsFetched: 10},
			check: func(t *testing.T, res RowDiffResult) {
				require.True(t, res.Bounded)
				require.Equal(t, BoundMaxRowsFetched, res.BoundReason)
				require.LessOrEqual(t, res.RowsFetched, int64(10))
				require.Less(t, res.Mismatched, int64(100), "a lower bound")
				require.Positive(t, res.UnexaminedRows)
			},
		},
		{
			name:   "bounded by MaxDuration",
			eltSQL: []string{`UPDATE c.orders SET amount = amount + 1 WHERE order_no % 200 = 7`},
			lim:    RowDiffLimits{MaxDuration: time.Nanosecond},
			check: func(t *testing.T, res RowDiffResult) {
				require.True(t, res.Bounded)
				require.Equal(t, BoundMaxDuration, res.BoundReason)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetCase(t, dbs.legacy)
			resetCase(t, dbs.elt)
			exec(t, dbs.legacy, tt.legacySQL...)
			exec(t, dbs.elt, tt.eltSQL...)
			elt := dbs.elt
			if tt.eltTZ != "" {
				elt = testenv.Pool(t, withTZ(t, dbs.eltDSN, tt.eltTZ))
			}
			spec := ordersSpec()
			if tt.spec != nil {
				tt.spec(&spec)
			}
			res, err := RowDiff(ctx, dbs.legacy, elt, spec, tt.lim)
			require.NoError(t, err)
			if tt.check == nil || !res.Bounded {
				require.False(t, res.Bounded, res.BoundReason)
				if !tt.anyCounts {
					require.Equal(t, tt.want, countsOf(res))
				}
			}
			if tt.sample != nil {
				require.ElementsMatch(t, tt.sample, res.Sample)
			}
			if tt.noRowsFetched {
				require.Zero(t, res.RowsFetched)
				require.Equal(t, counts{}, countsOf(res))
			}
			if tt.maxRowsFetched > 0 {
				require.Less(t, res.RowsFetched, tt.maxRowsFetched)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

// TestRowDiffSampleStratified: hundreds of mismatched rows and a few differences of
// every other cause. A 10-key sample shows each cause, and the mismatched keys spread
// over the segments; the same diff twice gives the same sample. Segments may be a
// compared column: missing keys are then fetched whole for their segment.
func TestRowDiffSampleStratified(t *testing.T) {
	dbs := newRowDiffDBs(t)
	ctx := context.Background()
	resetCase(t, dbs.legacy)
	resetCase(t, dbs.elt)
	exec(t, dbs.legacy, `DELETE FROM c.orders WHERE order_no = 12`)
	exec(t, dbs.elt,
		`UPDATE c.orders SET status = 'lost' WHERE order_no % 37 = 3`,           // 541 mismatched, every region
		`DELETE FROM c.orders WHERE order_no IN (10, 11)`,                       // missing in ELT
		`UPDATE c.orders SET amount = amount + 0.01 WHERE order_no IN (20, 21)`, // within tolerance
		`UPDATE c.orders SET note = NULL WHERE order_no = 8`,                    // '' in legacy: normalisation-only
	)
	for _, segment := range []string{"region", "status"} {
		t.Run("by "+segment, func(t *testing.T) {
			spec := ordersSpec()
			spec.Normalize.NullEqualsEmpty = true
			spec.NumericTolerance = map[string]float64{"amount": 0.01}
			spec.Segments = []string{segment}
			res, err := RowDiff(ctx, dbs.legacy, dbs.elt, spec, RowDiffLimits{SampleSize: 10})
			require.NoError(t, err)
			require.Equal(t, counts{missingInLegacy: 1, missingInELT: 2, mismatched: 541, withinTolerance: 2, normalisationOnly: 1}, countsOf(res))
			require.Len(t, res.Sample, 10)
			var kinds []string
			for _, d := range res.Sample[:5] {
				kinds = append(kinds, d.Kind)
				require.True(t, strings.HasPrefix(d.Segment, segment+"="), d.Segment)
			}
			require.Equal(t, sampleKinds, kinds, "the first round takes one key of each cause")
			if segment == "region" {
				regionsSeen := map[string]bool{}
				for _, d := range res.Sample {
					if d.Kind == KindMismatched {
						regionsSeen[d.Segment] = true
					}
				}
				require.GreaterOrEqual(t, len(regionsSeen), 3, "mismatched keys from several regions: %v", regionsSeen)
			}
			again, err := RowDiff(ctx, dbs.legacy, dbs.elt, spec, RowDiffLimits{SampleSize: 10})
			require.NoError(t, err)
			require.Equal(t, res.Sample, again.Sample, "deterministic")
		})
	}
	spec := ordersSpec()
	spec.Segments = []string{"colour"}
	_, err := RowDiff(ctx, dbs.legacy, dbs.elt, spec, RowDiffLimits{})
	require.ErrorContains(t, err, `segment "colour" is neither a key nor a compared column`)
}

// TestRowDiffTextKey diffs a table keyed by one text column whose values are
// awkward: ”, a separator, a quote, unicode, a NULL-looking text, case variants.
func TestRowDiffTextKey(t *testing.T) {
	dbs := newRowDiffDBs(t)
	create := []string{
		`CREATE TABLE base.products (sku text PRIMARY KEY, price numeric(10,2), label text)`,
		`INSERT INTO base.products VALUES ('', 1, 'empty'), ('a|b', 2, 'pipe'), ('a', 3, 'a'), ('A', 4, 'upper a'),
			('it''s', 5, 'quote'), ('ünï', 6, 'unicode'), ('<null>', 7, 'looks null'), ('n', 8, 'n'), ('v', 9, 'v')`,
		`INSERT INTO base.products SELECT 'sku-' || g, g, 'label ' || g FROM generate_series(1, 2000) AS g`,
	}
	exec(t, dbs.legacy, create...)
	exec(t, dbs.elt, create...)
	exec(t, dbs.elt,
		`UPDATE base.products SET price = 20 WHERE sku = 'a|b'`,
		`DELETE FROM base.products WHERE sku = ''`,
		`INSERT INTO base.products VALUES ('new sku', 1, 'new')`,
		`UPDATE base.products SET label = NULL WHERE sku = '<null>'`,
	)
	spec := RowDiffSpec{LegacyRelation: "base.products", ELTRelation: "base.products", Keys: []string{"sku"}, Columns: []string{"price", "label"}}
	res, err := RowDiff(context.Background(), dbs.legacy, dbs.elt, spec, RowDiffLimits{})
	require.NoError(t, err)
	require.Equal(t, counts{missingInLegacy: 1, missingInELT: 1, mismatched: 2}, countsOf(res))
	require.ElementsMatch(t, []KeyDiff{
		{Key: map[string]string{"sku": ""}, Kind: KindMissingInELT},
		{Key: map[string]string{"sku": "new sku"}, Kind: KindMissingInLegacy},
		{Key: map[string]string{"sku": "a|b"}, Kind: KindMismatched, Columns: []ColumnDiff{{Column: "price", Legacy: "2.00", ELT: "20.00"}}},
		{Key: map[string]string{"sku": "<null>"}, Kind: KindMismatched, Columns: []ColumnDiff{{Column: "label", Legacy: "looks null", ELT: "<null>", ELTNull: true}}},
	}, res.Sample)

	// Key-only diff (no compared columns): only missing rows.
	spec.Columns = nil
	res, err = RowDiff(context.Background(), dbs.legacy, dbs.elt, spec, RowDiffLimits{})
	require.NoError(t, err)
	require.Equal(t, counts{missingInLegacy: 1, missingInELT: 1}, countsOf(res))
}

// TestRowDiffSQL checks that hash prefixes and window bounds travel as bound
// parameters, never in the SQL text.
func TestRowDiffSQL(t *testing.T) {
	dbs := newRowDiffDBs(t)
	exec(t, dbs.elt, `UPDATE base.orders SET amount = amount + 1 WHERE order_no % 1000 = 7`)
	legacy, elt := &recorder{Queryer: dbs.legacy}, &recorder{Queryer: dbs.elt}
	spec := ordersSpec()
	spec.LegacyRelation, spec.ELTRelation = "base.orders", "base.orders"
	spec.TimeColumn, spec.Window = "ordered_at", window.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	res, err := RowDiff(context.Background(), legacy, elt, spec, RowDiffLimits{})
	require.NoError(t, err)
	require.EqualValues(t, 20, res.Mismatched)
	hexLiteral := regexp.MustCompile(`'[0-9a-f]{1,32}'`)
	filtered := 0
	for _, c := range append(legacy.calls, elt.calls...) {
		require.NotRegexp(t, hexLiteral, c.sql)
		require.NotContains(t, c.sql, "2026")
		if regexp.MustCompile(`IN \(\$3`).MatchString(c.sql) {
			filtered++
			require.IsType(t, "", c.args[2])
			require.Regexp(t, `^[0-9a-f]+$`, c.args[2])
		}
	}
	require.Positive(t, filtered)
	require.Equal(t, len(legacy.calls)+len(elt.calls), res.Queries)
}

// TestRowDiffMaxDurationCancelsSlowQuery: a side that takes far longer than
// MaxDuration is cancelled and the result says bounded, promptly.
func TestRowDiffMaxDurationCancelsSlowQuery(t *testing.T) {
	dbs := newRowDiffDBs(t)
	exec(t, dbs.elt, `CREATE VIEW base.slow_orders AS SELECT o.* FROM base.orders AS o WHERE o.order_no::text || pg_sleep(0.001)::text IS NOT NULL`)
	spec := ordersSpec()
	spec.LegacyRelation, spec.ELTRelation = "base.orders", "base.slow_orders"
	start := time.Now()
	res, err := RowDiff(context.Background(), dbs.legacy, dbs.elt, spec, RowDiffLimits{MaxDuration: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, res.Bounded)
	require.Equal(t, BoundMaxDuration, res.BoundReason)
	require.Zero(t, res.RowsFetched)
}

func TestRowDiffRejects(t *testing.T) {
	base := ordersSpec()
	with := func(f func(*RowDiffSpec)) RowDiffSpec {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name  string
		spec  RowDiffSpec
		ident bool // an *ident.Error
		msg   string
	}{
		{"unqualified relation", with(func(s *RowDiffSpec) { s.LegacyRelation = "orders" }), true, "schema-qualified"},
		{"injection in relation", with(func(s *RowDiffSpec) { s.ELTRelation = `c.orders"; DROP TABLE x; --` }), true, "not a safe SQL identifier"},
		{"injection in key", with(func(s *RowDiffSpec) { s.Keys = []string{`id" OR 1=1 --`} }), true, "not a safe SQL identifier"},
		{"upper-case column", with(func(s *RowDiffSpec) { s.Columns = []string{"Amount"} }), true, "not a safe SQL identifier"},
		{"bad time column", with(func(s *RowDiffSpec) { s.TimeColumn = "ordered at" }), true, "not a safe SQL identifier"},
		{"no keys", with(func(s *RowDiffSpec) { s.Keys = nil }), false, "no key columns"},
		{"key also compared", with(func(s *RowDiffSpec) { s.Columns = []string{"amount", "region"} }), false, `"region" is listed twice`},
		{"empty window", with(func(s *RowDiffSpec) { s.TimeColumn = "ordered_at" }), false, "window"},
		{"tolerance on a non-compared column", with(func(s *RowDiffSpec) { s.NumericTolerance = map[string]float64{"price": 1} }), false, `"price", which is not a compared column`},
		{"negative tolerance", with(func(s *RowDiffSpec) { s.NumericTolerance = map[string]float64{"amount": -1} }), false, "must be a finite number >= 0"},
		{"scale out of range", with(func(s *RowDiffSpec) { s.Normalize.NumericScale = intp(-1) }), false, "numeric scale -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RowDiff(context.Background(), nil, nil, tt.spec, RowDiffLimits{})
			require.ErrorContains(t, err, tt.msg)
			var ie *ident.Error
			var se *RowDiffSpecError
			if tt.ident {
				require.True(t, errors.As(err, &ie))
			} else {
				require.True(t, errors.As(err, &se))
				require.True(t, se.BadInput())
			}
		})
	}
}

func TestRowDiffMissingColumn(t *testing.T) {
	dbs := newRowDiffDBs(t)
	exec(t, dbs.elt, `ALTER TABLE base.orders DROP COLUMN note`)
	tests := []struct {
		name string
		spec func(*RowDiffSpec)
		msg  string
	}{
		{"column missing on ELT", func(*RowDiffSpec) {}, `ELT relation base.orders has no column "note"`},
		{"unknown relation", func(s *RowDiffSpec) { s.LegacyRelation, s.Columns = "base.nope", []string{"amount"} }, "legacy relation base.nope does not exist"},
		{"unknown time column", func(s *RowDiffSpec) {
			s.Columns = []string{"amount"}
			s.TimeColumn, s.Window = "shipped_at", day3
		}, `has no time column "shipped_at"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ordersSpec()
			spec.LegacyRelation, spec.ELTRelation = "base.orders", "base.orders"
			tt.spec(&spec)
			_, err := RowDiff(context.Background(), dbs.legacy, dbs.elt, spec, RowDiffLimits{})
			var se *RowDiffSpecError
			require.True(t, errors.As(err, &se), fmt.Sprint(err))
			require.ErrorContains(t, err, tt.msg)
		})
	}
}
