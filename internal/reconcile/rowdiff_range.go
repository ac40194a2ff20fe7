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

// The key-range levels: the first levels of a row diff when the leading key column
// is an integer (smallint, integer, bigint) or a date on both sides and a valid btree
// index starts with it on both sides (a primary key, typically).
//
// Without them every bisection level is a full scan per side (the key hash is
// computed on every row to find a bucket), about four levels at 10M rows. With them:
//
//  1. min and max of the leading key on each side: two index lookups.
//  2. One scan per side aggregates the rows by group: the key range
//     (key - min) / width, with width chosen for at most rangeTargetGroups groups of
//     at least rangeRowsPerGroup rows (from the planner's row estimate). When a range
//     is a single key value that still holds many rows (a composite key whose
//     leading column has few values, such as (day, region)), the group number also
//     takes the low bits of PostgreSQL's hashtextextended of the normalised key
//     text, far cheaper than an MD5. (Were it to differ between the two servers, a
//     key would fall in a differing group on both sides: the diff stays exact, only
//     slower.) Rows with a NULL leading key form one more group. The groups are few
//     enough for the aggregate's hash table to stay in memory (measured: 31,250
//     groups cost a quarter more than 4,096 or 8,192; docs/BENCHMARKS.md).
//  3. Equal groups are identical (as equal buckets are). The differing ones become a
//     restriction of both sides: the leading key within the differing ranges (merged
//     when adjacent; index range scans) and, with hash bits, the group number among
//     the differing ones, tested in the scan's WHERE on the raw key columns, so the
//     other rows are never normalised or hashed.
//  4. While the restricted rows are more than 1/hashDirectFraction of the relation,
//     the next level splits each differing group into sub-groups of about
//     rangeLeafRows rows (narrower key ranges, or more hash bits once a range is one
//     key value) and aggregates the restricted rows only, through the index. Then
//     the restricted rows are fetched and compared at once. Should a level not
//     reduce the rows, the hash bisection runs unchanged on the restricted rows.
//
// So a diff costs about one checksum scan per side plus index range scans. Ranges are
// on the raw leading key, which is the same value on both sides for integers and
// dates whatever the normalisation. With more than rangeMaxSpans differing spans the
// restriction is the group number alone (a scan, but no hashing of other rows).
// RowDiffLimits.HashOnly skips these levels.

const (
	rangeRowsPerGroup = 64
	rangeTargetGroups = 1 << 13
	rangeMaxGroups    = 1 << 14
	rangeMaxBits      = 16
	rangeLeafRows     = 8
)

// rangeMaxSpans is the most key spans a restriction lists (a variable for tests).
var rangeMaxSpans = 500

var integerTypes = map[string]bool{"smallint": true, "integer": true, "bigint": true}

// keyRange is the grouping of one key-range level.
type keyRange struct {
	date   bool  // the leading key is a date: units are days since 1970-01-01
	min    int64 // smallest leading key on either side, in key units
	width  int64 // key units per range
	ranges int64 // number of ranges of the first level
	bits   int   // low bits of the key hash added to the group number
}

// planKeyRange reads min and max of the leading key on both sides and sizes the
// first level's ranges; nil when the level does not apply.
func (r *rowDiff) planKeyRange(ctx context.Context) (*keyRange, error) {
	if r.lim.HashOnly {
		return nil, nil
	}
	k := r.spec.Keys[0]
	lt, et := r.sides[0].types[k], r.sides[1].types[k]
	kr := &keyRange{}
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
	r.subKey = 0
	for j := 1; j < len(r.spec.Keys) && r.subKey == 0; j++ {
		c := r.spec.Keys[j]
		if integerTypes[r.sides[0].types[c]] && integerTypes[r.sides[1].types[c]] {
			r.subKey = j
		}
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
			args = s.baseArgs
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
	for kr.width == 1 && len(r.spec.Keys) > 1 && kr.bits < rangeMaxBits && perRange>>kr.bits > 4*rangeRowsPerGroup &&
		kr.ranges<<(kr.bits+1) <= rangeMaxGroups {
		kr.bits++
	}
	return kr, nil
}

// groupExpr is a row's group number, with its bound parameters appended to args:
// key is the raw leading key (a column or an alias of it), sub the hash of the other
// key columns (subHash) whose low bits are added when kr.bits > 0.
func (kr *keyRange) groupExpr(args []any, key, sub string) (string, []any) {
	if kr.date {
		key = "(" + key + " - DATE '1970-01-01')"
	} else {
		key = "CAST(" + key + " AS bigint)"
	}
	args = append(args, kr.min, kr.width)
	n := len(args)
	e := fmt.Sprintf(`((%s - CAST($%d AS bigint)) / CAST($%d AS bigint))`, key, n-1, n)
	if kr.bits > 0 {
		e = fmt.Sprintf(`(%s * %d + (%s & %d))`, e, int64(1)<<kr.bits, sub, int64(1)<<kr.bits-1)
	}
	return e, args
}

// refine splits the differing groups of a level that left rows (both sides) in them
// into sub-groups of about rangeLeafRows rows each: narrower ranges, or more hash bits
// once a range is one key value. false: no finer grouping is possible.
func (kr *keyRange) refine(groups int, rows int64, multiKey bool) bool {
	if groups == 0 {
		return false
	}
	perGroup := rows / int64(2*groups) // rows per differing group, per side
	factor := int64(2)
	for perGroup/factor > rangeLeafRows && int64(groups)*factor*2 <= rangeMaxGroups {
		factor *= 2
	}
	switch {
	case kr.width > 1:
		kr.width = max((kr.width-1)/factor+1, 1)
	case kr.bits < rangeMaxBits && multiKey:
		for f := factor; f > 1 && kr.bits < rangeMaxBits; f /= 2 {
			kr.bits++
		}
	default:
		return false
	}
	return true
}

// quotedKeys are the key columns, quoted.
func (r *rowDiff) quotedKeys() []string {
	out := make([]string, len(r.spec.Keys))
	for i, k := range r.spec.Keys {
		out[i] = ident.Quote(k)
	}
	return out
}

// rawSelect adds the raw leading key to a side's source rows (and the raw integer
// key column subHash uses, if any).
func (r *rowDiff) rawSelect() string {
	out := ", " + ident.Quote(r.spec.Keys[0]) + ` AS "r_key"`
	if r.subKey > 0 {
		out += ", " + ident.Quote(r.spec.Keys[r.subKey]) + ` AS "r_sub"`
	}
	return out
}

// subHash is the hash whose low bits split a range of one leading key value (the
// group number's hash bits): any function of the key columns after the leading one
// is exact (equal keys fall in the same group on both sides), the cheapest is best.
// When one of them is an integer on both sides (subKey), PostgreSQL's
// hashint8extended of it (the (day, region, id) key: a tenth of a scan less than
// hashtextextended of the other columns' normalised text, which the other keys
// use). On a side's raw columns (raw) or on the side subquery's columns.
func (r *rowDiff) subHash(s *diffSide, raw bool) string {
	if r.subKey > 0 {
		col := `"r_sub"`
		if raw {
			col = ident.Quote(r.spec.Keys[r.subKey])
		}
		return "COALESCE(hashint8extended(CAST(" + col + " AS bigint), 0), 0)"
	}
	texts := r.keyAliases()[1:]
	if raw {
		texts = s.keyTexts[1:]
	}
	return "hashtextextended(CONCAT_WS(',', " + strings.Join(texts, ", ") + "), 0)"
}

// restriction is the rows of a level's differing groups.
type restriction struct {
	kr        keyRange
	differing []int64 // group numbers, sorted
	null      bool    // the NULL leading key's group differs
}

// spans are the ranges covering the differing groups, adjacent ones merged
// (inclusive).
func (rs *restriction) spans() [][2]int64 {
	var spans [][2]int64
	for _, id := range rs.differing {
		rg := id >> rs.kr.bits
		if n := len(spans); n > 0 && rg <= spans[n-1][1]+1 {
			spans[n-1][1] = max(spans[n-1][1], rg)
			continue
		}
		spans = append(spans, [2]int64{rg, rg})
	}
	return spans
}

// where is the restriction as a condition on the relation's raw columns (the
// scan's WHERE, before any normalisation or hashing), with its bound parameters
// appended to args.
func (r *rowDiff) where(s *diffSide, rs *restriction, args []any) (string, []any) {
	kr := &rs.kr
	q := ident.Quote(r.spec.Keys[0])
	spans := rs.spans()
	useSpans := len(spans) <= rangeMaxSpans
	var cond string
	switch {
	case useSpans && kr.bits > 0 && s.keyCovered:
		// Each range is one key value (kr.width is 1 with hash bits) and the group
		// number needs the key columns only: an index-only scan of those key values
		// picks the keys of the differing groups, and only their rows are read (the
		// ranges' other rows may fill every page of the table).
		var values []int64
		for _, sp := range spans {
			for rg := sp[0]; rg <= sp[1]; rg++ {
				values = append(values, kr.keyAt(rg, false))
			}
		}
		args = append(args, values)
		list := fmt.Sprintf(`CAST($%d AS bigint[])`, len(args))
		if kr.date {
			list = fmt.Sprintf(`ARRAY(SELECT DATE '1970-01-01' + CAST("v" AS integer) FROM unnest(CAST($%d AS bigint[])) AS "v")`, len(args))
		}
		var expr string
		expr, args = kr.groupExpr(args, q, r.subHash(s, true))
		args = append(args, rs.differing)
		keys := strings.Join(r.quotedKeys(), ", ")
		cond = fmt.Sprintf(`(%s) IN (SELECT %s FROM %s AS "i" WHERE %s = ANY(%s) AND %s = ANY(CAST($%d AS bigint[])))`,
			keys, keys, s.rel.Quoted(), q, list, expr, len(args))
	case useSpans:
		var conds []string
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
		cond = "false"
		if len(conds) > 0 {
			cond = "(" + strings.Join(conds, " OR ") + ")"
		}
		if kr.bits > 0 {
			var expr string
			expr, args = kr.groupExpr(args, q, r.subHash(s, true))
			args = append(args, rs.differing)
			cond = fmt.Sprintf(`(%s AND %s = ANY(CAST($%d AS bigint[])))`, cond, expr, len(args))
		}
	default:
		var expr string
		expr, args = kr.groupExpr(args, q, r.subHash(s, true))
		args = append(args, rs.differing)
		cond = fmt.Sprintf(`%s = ANY(CAST($%d AS bigint[]))`, expr, len(args))
	}
	if rs.null {
		cond = "(" + q + " IS NULL OR " + cond + ")"
	}
	return cond, args
}

// rangeLevels runs the key-range levels and leaves both sides restricted to the
// differing groups of the last one (diffSide.hashed and args). identical: no group
// differs (nothing else to do).
func (r *rowDiff) rangeLevels(ctx context.Context, kr *keyRange) (identical bool, restricted [2]agg, err error) {
	type groups struct {
		byGroup map[int64]agg
		null    agg
	}
	est := max(r.sides[0].estimated, r.sides[1].estimated, 0)
	var rs *restriction
	for level := 0; ; level++ {
		g, err := both(ctx, r.sides, func(ctx context.Context, _ int, s *diffSide) (groups, error) {
			args := slices.Clone(s.baseArgs)
			cond := ""
			if rs != nil {
				cond, args = r.where(s, rs, args)
			}
			expr, args := kr.groupExpr(args, `"r_key"`, r.subHash(s, false))
			sql := fmt.Sprintf(`SELECT %s AS "g", %s FROM (%s) AS "h" GROUP BY 1`,
				expr, r.d.AggregateHash(`"rh"`), r.hashedQuery(s, r.rawSelect(), cond))
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
		next := &restriction{kr: *kr, null: g[0].null != g[1].null}
		var n [2]agg
		for id := range ids {
			r.res.BucketsCompared++
			if g[0].byGroup[id] != g[1].byGroup[id] {
				next.differing = append(next.differing, id)
				n[0].n += g[0].byGroup[id].n
				n[1].n += g[1].byGroup[id].n
			}
		}
		if g[0].null.n > 0 || g[1].null.n > 0 {
			r.res.BucketsCompared++
		}
		if next.null {
			n[0].n += g[0].null.n
			n[1].n += g[1].null.n
		}
		r.pending = n[0].n + n[1].n
		r.progress("key_ranges", level)
		if len(next.differing) == 0 && !next.null {
			// At a later level only if the relations changed between two queries:
			// nothing differs any more.
			return true, n, nil
		}
		if rs != nil && n[0].n+n[1].n >= restricted[0].n+restricted[1].n {
			// No fewer rows than the level before: keep its restriction.
			return false, restricted, nil
		}
		slices.Sort(next.differing)
		rs, restricted = next, n
		// The next queries read the restricted rows through the index (unless there
		// are too many spans to list): parallel workers would cost more to start
		// than they save.
		if err := r.plan(ctx, false, len(rs.spans()) > rangeMaxSpans); err != nil {
			return false, restricted, err
		}
		for _, s := range r.sides {
			cond, args := r.where(s, rs, slices.Clone(s.baseArgs))
			s.hashed, s.args = r.hashedQuery(s, r.rawSelect(), cond), args
		}
		total := n[0].n + n[1].n
		fits := r.lim.MaxRowsFetched <= 0 || total <= r.lim.MaxRowsFetched
		if (total <= est/hashDirectFraction && fits) || !kr.refine(len(next.differing)+btoi(next.null), total, len(r.spec.Keys) > 1) {
			return false, restricted, nil
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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

// String describes the first level for logs and tests.
func (kr *keyRange) String() string {
	return "ranges " + strconv.FormatInt(kr.ranges, 10) + " × width " + strconv.FormatInt(kr.width, 10) +
		" × " + strconv.Itoa(kr.bits) + " hash bits"
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
	r.sides = sides
	if err := r.typedHashes(); err != nil {
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
