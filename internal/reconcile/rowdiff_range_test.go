package reconcile

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/testenv"
)

// seedRanges creates, on both sides:
//   - r.items (id bigint PRIMARY KEY, ...): 20,000 rows, ids 1..40,000 step 2;
//   - r.daily (day date, region text, PRIMARY KEY (day, region)): 20 days × 1,000
//     regions, so a range (a day) holds many rows and the key-hash digits split it;
//   - r.dayids (day date, id int, PRIMARY KEY (day, id)): the same shape with an
//     integer second key column (its hash splits the days);
//   - r.nullable (a int, b int, v text) with a plain index on a: some NULL a.
var seedRanges = []string{
	`CREATE SCHEMA r`,
	`CREATE TABLE r.items (id bigint PRIMARY KEY, amount numeric(12,2), note text, at timestamptz NOT NULL)`,
	`INSERT INTO r.items SELECT 2 * g - 1, round((g % 997) * 1.37, 2), CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'n' || g END,
	        timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 20000) AS g`,
	`CREATE TABLE r.daily (day date, region text, amount numeric(12,2), PRIMARY KEY (day, region))`,
	`INSERT INTO r.daily SELECT date '2026-01-01' + d, 'region ' || g, d * 1000 + g FROM generate_series(0, 19) AS d, generate_series(1, 1000) AS g`,
	`CREATE TABLE r.dayids (day date, id int, v text, PRIMARY KEY (day, id))`,
	`INSERT INTO r.dayids SELECT date '2026-01-01' + d, d * 1000 + g, 'v' || g FROM generate_series(0, 19) AS d, generate_series(1, 1000) AS g`,
	`CREATE TABLE r.nullable (a int, b int NOT NULL, v text)`,
	`INSERT INTO r.nullable SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE g END, g, 'v' || g FROM generate_series(1, 5000) AS g`,
	`CREATE INDEX ON r.nullable (a)`,
	`ANALYZE r.items`, `ANALYZE r.daily`, `ANALYZE r.dayids`, `ANALYZE r.nullable`,
}

func newRangeDBs(t *testing.T) (legacy, elt *pgxpool.Pool) {
	legacy = testenv.Pool(t, withTZ(t, testenv.Database(t, "rowdiff_rl"), "UTC"))
	elt = testenv.Pool(t, withTZ(t, testenv.Database(t, "rowdiff_re"), "UTC"))
	for _, p := range []*pgxpool.Pool{legacy, elt} {
		exec(t, p, seedRanges...)
	}
	return legacy, elt
}

// sampleSet is a result's sample as sorted JSON lines (order-independent).
func sampleSet(t *testing.T, res RowDiffResult) []string {
	var out []string
	for _, d := range res.Sample {
		b, err := json.Marshal(d)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// TestRowDiffKeyRanges runs each case with the key-range level, hash only, and hash
// only starting deep with whole-bucket fetches: same counts and sample.
func TestRowDiffKeyRanges(t *testing.T) {
	legacy, elt := newRangeDBs(t)
	ctx := context.Background()
	items := RowDiffSpec{LegacyRelation: "r.items", ELTRelation: "r.items", Keys: []string{"id"}, Columns: []string{"amount", "note", "at"}}
	daily := RowDiffSpec{LegacyRelation: "r.daily", ELTRelation: "r.daily", Keys: []string{"day", "region"}, Columns: []string{"amount"}}
	dayids := RowDiffSpec{LegacyRelation: "r.dayids", ELTRelation: "r.dayids", Keys: []string{"day", "id"}, Columns: []string{"v"}}
	nullable := RowDiffSpec{LegacyRelation: "r.nullable", ELTRelation: "r.nullable", Keys: []string{"a", "b"}, Columns: []string{"v"}}
	tests := []struct {
		name      string
		spec      RowDiffSpec
		bothSQL   []string // run on both sides' copy first
		legacySQL []string
		eltSQL    []string
		want      counts
		hashBits  bool // the key-hash bits split the ranges
		manySpans bool // rangeMaxSpans lowered: the group filter alone
	}{
		{name: "identical bigint key", spec: items},
		{
			name: "bigint key: missing both sides, tolerance, NULL vs empty, first and last key", spec: items,
			legacySQL: []string{
				`DELETE FROM r.items WHERE id IN (1, 201, 20001)`,
				`UPDATE r.items SET amount = 10.00 WHERE id IN (501, 503)`,
				`UPDATE r.items SET note = NULL WHERE id = 701`,
			},
			eltSQL: []string{
				`DELETE FROM r.items WHERE id IN (39999, 301)`,
				`UPDATE r.items SET amount = 10.01 WHERE id = 501`,
				`UPDATE r.items SET amount = 10.02 WHERE id = 503`,
				`UPDATE r.items SET note = '' WHERE id = 701`,
				`UPDATE r.items SET at = at + interval '1 hour' WHERE id = 901`,
			},
			want: counts{missingInLegacy: 3, missingInELT: 2, mismatched: 3, withinTolerance: 1},
		},
		{
			name: "date + text key, ranges split by key-hash bits, keys picked by an index-only scan", spec: daily, hashBits: true,
			legacySQL: []string{`DELETE FROM r.daily WHERE day = '2026-01-05' AND region IN ('region 7', 'region 8')`},
			eltSQL: []string{
				`DELETE FROM r.daily WHERE day = '2026-01-20' AND region = 'region 1000'`,
				`UPDATE r.daily SET amount = amount + 1 WHERE day = '2026-01-01' AND region = 'region 1'`,
			},
			want: counts{missingInLegacy: 2, missingInELT: 1, mismatched: 1},
		},
		{
			name: "date + text key, key-hash bits, no index holding the whole key: the group filter in the scan", spec: daily, hashBits: true,
			bothSQL: []string{`ALTER TABLE r.daily DROP CONSTRAINT daily_pkey`, `CREATE INDEX ON r.daily (day)`, `ANALYZE r.daily`},
			legacySQL: []string{
				`DELETE FROM r.daily WHERE day = '2026-01-05' AND region IN ('region 7', 'region 8')`,
				`INSERT INTO r.daily VALUES ('2026-01-09', 'region 5', 1)`, // a duplicate key
			},
			eltSQL: []string{
				`DELETE FROM r.daily WHERE day = '2026-01-20' AND region = 'region 1000'`,
				`UPDATE r.daily SET amount = amount + 1 WHERE day = '2026-01-01' AND region = 'region 1'`,
			},
			want: counts{missingInLegacy: 2, missingInELT: 2, mismatched: 1, duplicateKeys: 1},
		},
		{
			name: "date + integer key, ranges split by the integer's hash bits", spec: dayids, hashBits: true,
			legacySQL: []string{`DELETE FROM r.dayids WHERE id IN (4007, 4008)`, `UPDATE r.dayids SET v = NULL WHERE id = 19999`},
			eltSQL:    []string{`DELETE FROM r.dayids WHERE id = 1`, `UPDATE r.dayids SET v = 'x' WHERE id = 12345`},
			want:      counts{missingInLegacy: 2, missingInELT: 1, mismatched: 2},
		},
		{
			name: "NULL leading keys", spec: nullable,
			legacySQL: []string{`DELETE FROM r.nullable WHERE b = 100`, `UPDATE r.nullable SET v = 'x' WHERE b = 250`},
			eltSQL:    []string{`DELETE FROM r.nullable WHERE b = 3`},
			want:      counts{missingInLegacy: 1, missingInELT: 1, mismatched: 1},
		},
		{
			name: "more differing spans than listed: the group filter alone", spec: items, manySpans: true,
			legacySQL: []string{`UPDATE r.items SET note = 'changed' WHERE id % 1000 = 1`},
			want:      counts{mismatched: 40},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []*pgxpool.Pool{legacy, elt} {
				exec(t, p, `DROP SCHEMA IF EXISTS c CASCADE`, `CREATE SCHEMA c`)
			}
			spec := tc.spec
			rel := "c." + spec.LegacyRelation[2:]
			for _, p := range []*pgxpool.Pool{legacy, elt} {
				exec(t, p, `CREATE TABLE `+rel+` (LIKE `+spec.LegacyRelation+` INCLUDING ALL)`, `INSERT INTO `+rel+` SELECT * FROM `+spec.LegacyRelation, `ANALYZE `+rel)
			}
			spec.LegacyRelation, spec.ELTRelation = rel, rel
			for _, p := range []*pgxpool.Pool{legacy, elt} {
				for _, s := range tc.bothSQL {
					exec(t, p, replaceSchema(s, rel))
				}
			}
			if slices.Contains(spec.Columns, "amount") {
				spec.NumericTolerance = map[string]float64{"amount": 0.01}
			}
			for _, s := range tc.legacySQL {
				exec(t, legacy, replaceSchema(s, rel))
			}
			for _, s := range tc.eltSQL {
				exec(t, elt, replaceSchema(s, rel))
			}
			if tc.manySpans {
				old := rangeMaxSpans
				rangeMaxSpans = 3
				defer func() { rangeMaxSpans = old }()
			}
			lim := RowDiffLimits{SampleSize: 100}
			var levels []string
			lim.Progress = func(p RowDiffProgress) { levels = append(levels, p.Level) }
			ranged, err := RowDiff(ctx, legacy, elt, spec, lim)
			require.NoError(t, err)
			require.Equal(t, "key_ranges", levels[0], "progress after each level")
			if tc.want != (counts{}) {
				require.Greater(t, len(levels), 1, "the differing groups were split")
			}
			lim.Progress = nil
			lim.HashOnly = true
			hashed, err := RowDiff(ctx, legacy, elt, spec, lim)
			require.NoError(t, err)
			// Hash only, starting deep and fetching the differing buckets whole (as
			// for a large relation without an index).
			oldDeep, oldFraction := hashDeepRows, hashDirectFraction
			hashDeepRows, hashDirectFraction = 1000, 20
			deep, err := RowDiff(ctx, legacy, elt, spec, lim)
			hashDeepRows, hashDirectFraction = oldDeep, oldFraction
			require.NoError(t, err)
			require.Equal(t, tc.want, countsOf(deep))
			require.Equal(t, sampleSet(t, hashed), sampleSet(t, deep))
			require.False(t, deep.Bounded)
			if tc.want != (counts{}) {
				require.Less(t, deep.Queries, hashed.Queries, "fewer levels")
			}
			// Key ranges, then the differing groups' rows fetched at once.
			hashDirectFraction = 2
			direct, err := RowDiff(ctx, legacy, elt, spec, RowDiffLimits{SampleSize: 100})
			hashDirectFraction = oldFraction
			require.NoError(t, err)
			require.Equal(t, tc.want, countsOf(direct))
			require.Equal(t, sampleSet(t, hashed), sampleSet(t, direct))
			if tc.want != (counts{}) {
				require.Equal(t, 8, direct.Queries, "catalog, key bounds, key-range aggregates, rows")
			}
			require.Positive(t, ranged.KeyRanges, "the key-range level ran")
			require.Zero(t, hashed.KeyRanges)
			require.Equal(t, tc.want, countsOf(ranged))
			require.Equal(t, tc.want, countsOf(hashed))
			require.Equal(t, sampleSet(t, hashed), sampleSet(t, ranged))
			require.False(t, ranged.Bounded)
			if tc.want == (counts{}) {
				require.Zero(t, ranged.RowsFetched)
				require.Equal(t, 6, ranged.Queries, "catalog, key bounds and one key-range aggregate per side")
			}
			if tc.hashBits {
				require.Greater(t, ranged.BucketsCompared, int64(2*20), "more groups than days")
			}
			// Sub-groups of about rangeLeafRows rows per side, against the bisection's leaves of
			// DefaultLeafRows.
			require.LessOrEqual(t, ranged.RowsFetched, hashed.RowsFetched+int64(4*(len(tc.legacySQL)+len(tc.eltSQL))*rangeLeafRows))
		})
	}
}

// replaceSchema points a case's statement at its copy in schema c.
func replaceSchema(stmt, rel string) string {
	for _, from := range []string{"r.items", "r.daily", "r.dayids", "r.nullable"} {
		if "c."+from[2:] == rel {
			return strings.ReplaceAll(stmt, from, rel)
		}
	}
	return stmt
}

// TestRowDiffRestrictionSQL checks the three forms of a key-range restriction: index
// ranges; ranges and the group number on the raw key columns; and, when an index
// holds every key column (all NOT NULL), the keys picked by an index-only scan of the
// differing key values. Every value is a bound parameter.
func TestRowDiffRestrictionSQL(t *testing.T) {
	r, err := newRowDiff(RowDiffSpec{LegacyRelation: "s.t", ELTRelation: "s.t", Keys: []string{"day", "region"}, Columns: []string{"v"}}, RowDiffLimits{})
	require.NoError(t, err)
	rel, err := ident.ParseRelation("s.t")
	require.NoError(t, err)
	side := &diffSide{rel: rel, keyTexts: []string{`CAST("day" AS text)`, `CAST("region" AS text)`}}

	ranges := &restriction{kr: keyRange{min: 100, width: 10}, differing: []int64{0, 1, 5}}
	cond, args := r.where(side, ranges, []any{"from", "to"})
	require.Equal(t, `(("day" >= CAST($3 AS bigint) AND "day" <= CAST($4 AS bigint)) OR ("day" >= CAST($5 AS bigint) AND "day" <= CAST($6 AS bigint)))`, cond)
	require.Equal(t, []any{"from", "to", int64(100), int64(119), int64(150), int64(159)}, args)

	bits := &restriction{kr: keyRange{date: true, min: 20000, width: 1, bits: 4}, differing: []int64{3<<4 | 7, 3<<4 | 9, 8<<4 | 1}, null: true}
	cond, args = r.where(side, bits, nil)
	require.Equal(t, `("day" IS NULL OR ((("day" >= DATE '1970-01-01' + CAST($1 AS integer) AND "day" <= DATE '1970-01-01' + CAST($2 AS integer)) OR ("day" >= DATE '1970-01-01' + CAST($3 AS integer) AND "day" <= DATE '1970-01-01' + CAST($4 AS integer))) AND (((("day" - DATE '1970-01-01') - CAST($5 AS bigint)) / CAST($6 AS bigint)) * 16 + (hashtextextended(CONCAT_WS(',', CAST("region" AS text)), 0) & 15)) = ANY(CAST($7 AS bigint[]))))`, cond)
	require.Equal(t, []any{int64(20003), int64(20003), int64(20008), int64(20008), int64(20000), int64(1), bits.differing}, args)

	side.keyCovered = true
	cond, args = r.where(side, bits, nil)
	require.Equal(t, `("day" IS NULL OR ("day", "region") IN (SELECT "day", "region" FROM "s"."t" AS "i" WHERE "day" = ANY(ARRAY(SELECT DATE '1970-01-01' + CAST("v" AS integer) FROM unnest(CAST($1 AS bigint[])) AS "v")) AND (((("day" - DATE '1970-01-01') - CAST($2 AS bigint)) / CAST($3 AS bigint)) * 16 + (hashtextextended(CONCAT_WS(',', CAST("region" AS text)), 0) & 15)) = ANY(CAST($4 AS bigint[]))))`, cond)
	require.Equal(t, []any{[]int64{20003, 20008}, int64(20000), int64(1), bits.differing}, args)

	old := rangeMaxSpans
	rangeMaxSpans = 1
	defer func() { rangeMaxSpans = old }()
	cond, _ = r.where(side, bits, nil)
	require.Equal(t, `("day" IS NULL OR (((("day" - DATE '1970-01-01') - CAST($1 AS bigint)) / CAST($2 AS bigint)) * 16 + (hashtextextended(CONCAT_WS(',', CAST("region" AS text)), 0) & 15)) = ANY(CAST($3 AS bigint[])))`, cond,
		"too many spans: the group number alone")

	// An integer key column after the leading one: its own hash, cheaper than text.
	r.spec.Keys, r.subKey = []string{"day", "region", "id"}, 2
	cond, _ = r.where(side, bits, nil)
	require.Contains(t, cond, `(COALESCE(hashint8extended(CAST("id" AS bigint), 0), 0) & 15)`)
	require.Contains(t, r.rawSelect(), `"id" AS "r_sub"`)
	require.Equal(t, `COALESCE(hashint8extended(CAST("r_sub" AS bigint), 0), 0)`, r.subHash(side, false))
}
