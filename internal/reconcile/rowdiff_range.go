package reconcile

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
)

// The key-range level: the first level of a row diff when the leading key column is
// an integer (smallint, integer, bigint) or a date on both sides and a valid btree
// index starts with it on both sides (a primary key, typically).
//
// Without it every bisection level is a full scan per side (the key hash is computed
// on every row to find a bucket), about four levels at 10M rows. With it:
//
//  1. min and max of the leading key on each side: two index lookups.
//  2. One scan per side aggregates the rows by group: the key range
//     (key - min) / width, with width chosen for about rangeTargetGroups groups of
//     rangeRowsPerGroup rows (from the planner's row estimate), times 16^hexDigits
//     sub-groups when a range would still hold many rows (a composite key whose
//     leading column has few values, such as (day, region)): the low bits of
//     PostgreSQL's hashtextextended of the normalised key text, far cheaper than an
//     MD5. (Were it to differ between the two servers, a key would fall in a
//     differing group on both sides: the diff stays exact, only slower.)
//     Rows with a NULL leading key form one more group.
//  3. Equal groups are identical (as equal buckets are). The differing ones become a
//     restriction of both sides: the leading key within the differing ranges (merged
//     when adjacent; an index range scan each) and, with hex digits, the group
//     number among the differing ones. When the restricted rows are at most
//     1/hashDirectFraction of the relation (and fit MaxRowsFetched), they are fetched
//     and compared at once: one more pass. Otherwise the hash bisection runs unchanged
//     on the restricted rows: its levels read them through the index, not the table.
//
// So a diff costs about one checksum scan per side plus index range scans. Ranges are
// on the raw leading key, which is the same value on both sides for integers and
// dates whatever the normalisation. With more than rangeMaxSpans differing spans the
// restriction is the group number alone (a scan, but no hashing of other rows).
// RowDiffLimits.HashOnly skips this level.

const (
	rangeRowsPerGroup = 64
	rangeTargetGroups = 1 << 16
	rangeMaxGroups    = 1 << 17
	rangeMaxHexDigits = 4
)

// rangeMaxSpans is the most key spans a restriction lists (a variable for tests).
var rangeMaxSpans = 500

var integerTypes = map[string]bool{"smallint": true, "integer": true, "bigint": true}

// keyRange is the plan of the key-range level.
type keyRange struct {
	date      bool  // the leading key is a date: units are days since 1970-01-01
	min       int64 // smallest leading key on either side, in key units
	width     int64 // key units per range
	ranges    int64 // number of ranges
	hexDigits int   // key-hash hex digits added to the group number
	keyList   string
}

// planKeyRange reads min and max of the leading key on both sides and sizes the
// ranges; nil when the level does not apply.
func (r *rowDiff) planKeyRange(ctx context.Context) (*keyRange, error) {
	if r.lim.HashOnly {
		return nil, nil
	}
	k := r.spec.Keys[0]
	lt, et := r.sides[0].types[k], r.sides[1].types[k]
	keys, _ := r.aliases()
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = ident.Quote(k)
	}
	kr := &keyRange{keyList: strings.Join(quoted, ", ")}
	switch {
	case integerTypes[lt] && integerTypes[et]:
	case lt == "date" && et == "date":
		kr.date = true
	default:
		return nil, nil
	}
	if !r.sides[0].keyIndex || !r.sides[1].keyIndex {
		return nil, nil
	}
	type bounds struct {
		min, max *int64
		ok       bool
	}
	b, err := both(ctx, r.sides, func(ctx context.Context, _ int, s *diffSide) (bounds, error) {
		q := ident.Quote(k)
		sel := fmt.Sprintf(`CAST(min(%s) AS bigint), CAST(max(%s) AS bigint), true`, q, q)
		if kr.date {
			sel = fmt.Sprintf(`CASE WHEN isfinite(min(%[1]s)) THEN min(%[1]s) - DATE '1970-01-01' END,
  CASE WHEN isfinite(max(%[1]s)) THEN max(%[1]s) - DATE '1970-01-01' END,
  COALESCE(isfinite(min(%[1]s)) AND isfinite(max(%[1]s)), true)`, q)
		}
		sql := fmt.Sprintf(`SELECT %s FROM %s`, sel, s.rel.Quoted())
		var args []any
		if r.spec.TimeColumn == k { // the window is a range of the key itself: still an index range
			sql += s.where
			args = s.args
		}
		r.queries.Add(1)
		var out bounds
		if err := s.q.QueryRow(ctx, sql, args...).Scan(&out.min, &out.max, &out.ok); err != nil {
			return out, fmt.Errorf("row diff: key bounds of %s relation %s: %w", s.name, s.rel, err)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	var lo, hi *int64
	for _, s := range b {
		if !s.ok {
			return nil, nil // infinite dates
		}
		if s.min != nil && (lo == nil || *s.min < *lo) {
			lo = s.min
		}
		if s.max != nil && (hi == nil || *s.max > *hi) {
			hi = s.max
		}
	}
	if lo == nil || hi == nil {
		return nil, nil // no non-NULL key on either side
	}
	span := new(big.Int).Sub(big.NewInt(*hi), big.NewInt(*lo))
	span.Add(span, big.NewInt(1))
	if !span.IsInt64() {
		return nil, nil
	}
	n := max(r.sides[0].estimated, r.sides[1].estimated)
	if n <= 0 {
		n = min(span.Int64(), rangeTargetGroups*rangeRowsPerGroup)
	}
	groups := min(max(n/rangeRowsPerGroup, 1), rangeTargetGroups)
	kr.min = *lo
	kr.ranges = min(span.Int64(), groups)
	kr.width = (span.Int64()-1)/kr.ranges + 1
	kr.ranges = (span.Int64()-1)/kr.width + 1
	perRange := n / kr.ranges
	for kr.hexDigits < rangeMaxHexDigits && perRange>>(4*kr.hexDigits) > 4*rangeRowsPerGroup &&
		kr.ranges<<(4*(kr.hexDigits+1)) <= rangeMaxGroups {
		kr.hexDigits++
	}
	return kr, nil
}

// groupExpr is the group number of a row of the side subquery (columns "r_key" and
// "kh"), with its bound parameters appended to args.
func (kr *keyRange) groupExpr(args []any) (string, []any) {
	key := `CAST("r_key" AS bigint)`
	if kr.date {
		key = `("r_key" - DATE '1970-01-01')`
	}
	args = append(args, kr.min, kr.width)
	n := len(args)
	e := fmt.Sprintf(`((%s - CAST($%d AS bigint)) / CAST($%d AS bigint))`, key, n-1, n)
	if kr.hexDigits > 0 {
		e = fmt.Sprintf(`(%s * %d + (hashtextextended(CONCAT_WS(',', %s), 0) & %d))`,
			e, int64(1)<<(4*kr.hexDigits), kr.keyList, int64(1)<<(4*kr.hexDigits)-1)
	}
	return e, args
}

// rawSelect adds the raw leading key to a side's source rows.
func (r *rowDiff) rawSelect() string {
	return ", " + ident.Quote(r.spec.Keys[0]) + ` AS "r_key"`
}

// rangeLevel runs the key-range level and restricts both sides to the differing
// groups. identical: no group differs (nothing else to do).
func (r *rowDiff) rangeLevel(ctx context.Context, kr *keyRange) (identical bool, restricted [2]agg, err error) {
	type groups struct {
		byGroup map[int64]agg
		null    agg
	}
	g, err := both(ctx, r.sides, func(ctx context.Context, _ int, s *diffSide) (groups, error) {
		expr, args := kr.groupExpr(slices.Clone(s.args))
		sql := fmt.Sprintf(`SELECT %s AS "g", %s FROM (%s) AS "h" GROUP BY 1`,
			expr, r.d.AggregateHash(`"rh"`), r.hashedQuery(s, r.rawSelect(), ""))
		r.queries.Add(1)
		rows, err := s.q.Query(ctx, sql, args...)
		if err != nil {
			return groups{}, fmt.Errorf("row diff: key-range aggregates of %s relation %s: %w", s.name, s.rel, err)
		}
		out := groups{byGroup: map[int64]agg{}}
		var id *int64
		var a agg
		_, err = pgx.ForEachRow(rows, []any{&id, &a.n, &a.sum}, func() error {
			if id == nil {
				out.null = a
			} else {
				out.byGroup[*id] = a
			}
			return nil
		})
		if err != nil {
			return groups{}, fmt.Errorf("row diff: key-range aggregates of %s relation %s: %w", s.name, s.rel, err)
		}
		return out, nil
	})
	if err != nil {
		return false, restricted, err
	}
	ids := map[int64]bool{}
	for _, side := range g {
		for id := range side.byGroup {
			ids[id] = true
		}
	}
	var differing []int64
	for id := range ids {
		r.res.BucketsCompared++
		if g[0].byGroup[id] != g[1].byGroup[id] {
			differing = append(differing, id)
			restricted[0].n += g[0].byGroup[id].n
			restricted[1].n += g[1].byGroup[id].n
		}
	}
	nullDiffers := g[0].null != g[1].null
	if g[0].null.n > 0 || g[1].null.n > 0 {
		r.res.BucketsCompared++
	}
	if nullDiffers {
		restricted[0].n += g[0].null.n
		restricted[1].n += g[1].null.n
	}
	r.pending = restricted[0].n + restricted[1].n
	r.progress("key_ranges", 0)
	if len(differing) == 0 && !nullDiffers {
		return true, restricted, nil
	}
	slices.Sort(differing)
	for i, s := range r.sides {
		s.hashed, s.args = r.restrict(s, kr, differing, nullDiffers)
		r.sides[i] = s
	}
	return false, restricted, nil
}

// restrict is the side subquery limited to the differing groups, and its arguments.
func (r *rowDiff) restrict(s *diffSide, kr *keyRange, differing []int64, nullDiffers bool) (string, []any) {
	args := slices.Clone(s.args)
	q := ident.Quote(r.spec.Keys[0])
	// The spans of key values covering the differing ranges, adjacent ones merged.
	shift := uint(4 * kr.hexDigits)
	var spans [][2]int64 // ranges, inclusive
	for _, id := range differing {
		rg := id >> shift
		if n := len(spans); n > 0 && rg <= spans[n-1][1]+1 {
			spans[n-1][1] = max(spans[n-1][1], rg)
			continue
		}
		spans = append(spans, [2]int64{rg, rg})
	}
	var conds []string
	if nullDiffers {
		conds = append(conds, q+" IS NULL")
	}
	useSpans := len(spans) <= rangeMaxSpans
	if useSpans {
		for _, sp := range spans {
			lo, hi := kr.keyAt(sp[0], false), kr.keyAt(sp[1]+1, true)
			args = append(args, lo, hi)
			n := len(args)
			if kr.date {
				conds = append(conds, fmt.Sprintf(`(%s >= DATE '1970-01-01' + CAST($%d AS integer) AND %s <= DATE '1970-01-01' + CAST($%d AS integer))`, q, n-1, q, n))
			} else {
				conds = append(conds, fmt.Sprintf(`(%s >= CAST($%d AS bigint) AND %s <= CAST($%d AS bigint))`, q, n-1, q, n))
			}
		}
	}
	inner := ""
	if useSpans {
		inner = strings.Join(conds, " OR ")
	}
	sql := r.hashedQuery(s, r.rawSelect(), inner)
	if !useSpans || kr.hexDigits > 0 {
		expr, a := kr.groupExpr(args)
		a = append(a, differing)
		null := "false"
		if nullDiffers {
			null = `"r_key" IS NULL`
		}
		sql = fmt.Sprintf(`SELECT * FROM (%s) AS "hr" WHERE %s OR %s = ANY(CAST($%d AS bigint[]))`, sql, null, expr, len(a))
		args = a
	}
	return sql, args
}

// keyAt is the first key value of range rg, or with last the last value of range
// rg-1; clamped to the key type's range.
func (kr *keyRange) keyAt(rg int64, last bool) int64 {
	v := new(big.Int).Mul(big.NewInt(rg), big.NewInt(kr.width))
	v.Add(v, big.NewInt(kr.min))
	if last {
		v.Sub(v, big.NewInt(1))
	}
	lo, hi := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	if kr.date {
		lo, hi = big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32)
	}
	if v.Cmp(lo) < 0 {
		return lo.Int64()
	}
	if v.Cmp(hi) > 0 {
		return hi.Int64()
	}
	return v.Int64()
}

// keyRangeSummary describes the level for logs and tests.
func (kr *keyRange) String() string {
	return "ranges " + strconv.FormatInt(kr.ranges, 10) + " × width " + strconv.FormatInt(kr.width, 10) +
		" × " + strconv.Itoa(kr.hexDigits) + " hex digits"
}

// RowChecksum is one side's count of rows and sum of row hashes (the root aggregate
// of a row diff).
type RowChecksum struct {
	Rows    int64  `json:"rows"`
	HashSum string `json:"hash_sum"`
}

// RowChecksums computes the whole-relation checksum of both sides concurrently, one
// query each, over the same normalised row hash as RowDiff: equal checksums mean
// identical rows. It is the baseline a row diff's cost is measured against.
func RowChecksums(ctx context.Context, legacy, elt Queryer, spec RowDiffSpec) ([2]RowChecksum, error) {
	r, err := newRowDiff(spec, RowDiffLimits{})
	if err != nil {
		return [2]RowChecksum{}, err
	}
	sides, err := both(ctx, [2]Queryer{legacy, elt}, func(ctx context.Context, i int, q Queryer) (*diffSide, error) {
		return r.prepareSide(ctx, i, q)
	})
	if err != nil {
		return [2]RowChecksum{}, err
	}
	return both(ctx, sides, func(ctx context.Context, _ int, s *diffSide) (RowChecksum, error) {
		var c RowChecksum
		err := s.q.QueryRow(ctx, fmt.Sprintf(`SELECT %s FROM (%s) AS "h"`, r.d.AggregateHash(`"rh"`), s.hashed), s.args...).Scan(&c.Rows, &c.HashSum)
		if err != nil {
			return c, fmt.Errorf("row diff: checksum of %s relation %s: %w", s.name, s.rel, err)
		}
		return c, nil
	})
}
