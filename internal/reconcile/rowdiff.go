package reconcile

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// Row-level diff by key across two connections, by checksum bisection
// (DESIGN.md, Reconciliation, point 3).
//
// Every row of each side is reduced, in its own database, to two fingerprints built
// from normalised text (see Normalization): the key hash kh = RowHashOf(keys) and the
// row hash rh = RowHashOf(keys + columns) (internal/dialect: one MD5 over per-column
// tokens, length-prefixed, or delimited for a column that is a number, a date or a
// timestamp on both sides, so NULL and '' differ and no two tuples share an encoding). A
// bucket is the set of rows whose kh starts with a given hex prefix; it is the same
// set of keys on both databases, whatever the key types (composite and text keys
// included). Per bucket each database returns only a row count and an
// order-independent sum of row hashes (AggregateHash).
//
//  1. Root: one aggregate per side over the whole relation (or window). Equal counts
//     and sums: the sides are identical, nothing else is read (two queries).
//  2. A differing bucket with no row on one side: all its rows are missing from that
//     side; they are counted from the aggregate, and only the keys needed for the
//     sample are fetched.
//  3. A differing bucket with at most LeafRows rows on each side (or at the full hash
//     length) is a leaf: its rows (normalised key + columns, the same expressions the
//     hashes were computed on) are fetched from both sides and compared in Go:
//     missing in legacy, missing in ELT, mismatched (which columns, both values) or
//     within the numeric tolerance.
//  4. The other differing buckets are split by the next hex digit(s) of kh: one
//     GROUP BY query per side per level, filtered on the parent prefixes (bound
//     parameters). Several digits are added at once while the largest parent would
//     still average at least LeafRows rows per child and a query returns at most
//     65,536 buckets, so a 20,000-row table goes from the root straight to 4,096
//     buckets. Repeat from 2 at the new depth.
//
// When the leading key column is an indexed integer or date on both sides, key-range
// levels run first (rowdiff_range.go): one scan per side aggregates by key range, and
// the levels below only read the differing ranges through the index. The diff runs
// in a transaction of its own per side, with local planner settings (session).
//
// Every hash level costs one scan per side (more when over 1,000 parent buckets must be
// filtered in batches); the number of levels is about log16(rows / LeafRows). Rows
// fetched are roughly 2 x (differing rows) x (1 + LeafRows / 2): measured, 392 rows
// and 12 queries for 100 differing rows out of 20,000 with the default LeafRows. Rows
// that differ only within a numeric tolerance still differ in hash, so they are
// always fetched. From hashDeepRows rows (planner estimate) without the key-range
// level, the bisection skips the root aggregate and fetches the differing buckets whole
// once they hold at most 1/hashDirectFraction of the rows: at 10M rows, two passes
// instead of five. RowDiff stops when MaxRowsFetched would be exceeded (leaves are
// fetched only when they fit, using the per-bucket counts) or MaxDuration has passed;
// the result then says Bounded, with the reason, and its counts are lower bounds.

// Queryer is what one side of a row diff needs: *pgxpool.Pool, *pgx.Conn and pgx.Tx
// satisfy it.
type Queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Kinds of KeyDiff: its cause (CauseOfKind).
const (
	KindMissingInLegacy = "missing_in_legacy"
	KindMissingInELT    = "missing_in_elt"
	KindMismatched      = "mismatched"
	// KindWithinTolerance: the row differs only within its columns' tolerances.
	KindWithinTolerance = "within_tolerance"
	// KindNormalisationOnly: the row differs only in values the normalisation makes
	// equal (RowDiffResult.NormalisationOnly).
	KindNormalisationOnly = "normalisation_only"
)

// Reasons a row diff stopped early (RowDiffResult.BoundReason).
const (
	BoundMaxRowsFetched = "max_rows_fetched"
	BoundMaxDuration    = "max_duration"
)

// Defaults of RowDiffLimits' zero values.
const (
	DefaultLeafRows   = 4
	DefaultSampleSize = 20
	// DefaultNormalisationOnlyRows bounds the rows the normalisation-only pass
	// fetches (both sides) when RowDiffLimits does not say.
	DefaultNormalisationOnlyRows = 100_000
)

// hashDeepRows: from this many rows (the planner's estimate) the hash bisection
// starts at the depth its first split would pick (about 65,536 buckets at 10M rows)
// instead of one root aggregate, and once the differing buckets hold at most
// 1/hashDirectFraction of the rows it fetches them whole instead of splitting again:
// each level it saves is a scan of both relations, the rows it fetches instead are a
// small fraction of their bytes. (Variables for tests.)
var (
	hashDeepRows       int64 = 1_000_000
	hashDirectFraction int64 = 200
)

const (
	hashDigits          = 32      // hex digits of an MD5: the deepest bucket
	maxPrefixesPerQuery = 1000    // bound parameters in one IN list
	maxBucketsPerQuery  = 1 << 16 // aggregates one level may return per side
	maxNumericScale     = 37
	nullDisplay         = "<null>"                          // a NULL in KeyDiff.Key and ColumnDiff values
	utcFormat           = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'` // TO_CHAR pattern of TimestampsUTC
)

// RowDiffSpec says what to compare.
type RowDiffSpec struct {
	// LegacyRelation and ELTRelation are schema.name, validated with
	// ident.ParseRelation. Tables or views.
	LegacyRelation string `json:"legacy_relation"`
	ELTRelation    string `json:"elt_relation"`
	// Keys identify a row on both sides (composite and text keys work). Rows with the
	// same key on one side are paired in order and counted in DuplicateKeys.
	Keys []string `json:"keys"`
	// Columns are the compared columns, not keys. May be empty: only missing rows are
	// looked for then.
	Columns []string `json:"columns"`
	// TimeColumn, when set, restricts both sides to Window, [From, To), on it.
	// Empty: whole relations.
	TimeColumn string        `json:"time_column,omitempty"`
	Window     window.Window `json:"window"`
	// Normalize applies to keys and columns, in hashes and fetched values alike.
	Normalize Normalization `json:"normalize"`
	// NumericTolerance is a per-column absolute tolerance (>= 0) for numbers: two
	// numeric values whose difference is at most this are "within tolerance", not
	// mismatched. Compared exactly (big.Rat) in Go; the rows are fetched, because their
	// hashes differ. It overrides Tolerance's absolute bound of the column.
	NumericTolerance map[string]float64 `json:"numeric_tolerance,omitempty"`
	// Tolerance is a column's tolerance with the aggregates' rule (WithinTolerance):
	// within the absolute bound or within the relative one, |elt - legacy| / |legacy|.
	// The plan's measures give it (the same tolerance at row and aggregate level).
	Tolerance map[string]plan.Tolerance `json:"tolerance,omitempty"`
	// Segments are key or compared columns (the pair's segments) the sample is
	// stratified by: each KeyDiff's Segment reads "region=emea|channel=web" from
	// their normalised values (legacy's, or ELT's for a key missing in legacy).
	Segments []string `json:"segments,omitempty"`
}

// Normalization makes differences of representation that do not matter compare
// equal. Column types are read from information_schema.columns on each side; each
// rule applies to the types it names, and every value is then compared as text.
type Normalization struct {
	// NumericScale rounds numbers (integer, numeric, real, double precision) to this
	// many decimals (0 to 37) and prints them with exactly that many, so numeric(12,2)
	// 1.50 and double precision 1.5 compare equal. Nil: numbers as their text
	// (numeric keeps its scale: 1.50 and 1.5 differ).
	NumericScale *int `json:"numeric_scale,omitempty"`
	// TimestampsUTC compares timestamps as UTC instants: timestamptz is converted to
	// UTC whatever the session's TimeZone, and timestamp without time zone is taken
	// as UTC, both printed as 2026-01-31T10:00:00.000000Z. Off: their text in the
	// session's TimeZone (etl2elt's pools use UTC).
	TimestampsUTC bool `json:"timestamps_utc,omitempty"`
	// TrimStrings removes leading and trailing spaces of text values; CaseInsensitive
	// lowercases them (LOWER, in the database's collation).
	TrimStrings     bool `json:"trim_strings,omitempty"`
	CaseInsensitive bool `json:"case_insensitive,omitempty"`
	// NullEqualsEmpty treats NULL and '' (after trimming) as equal. Off by default:
	// NULL vs '' is a difference.
	NullEqualsEmpty bool `json:"null_equals_empty,omitempty"`
}

// valueRules says whether n has a rule that can make two different text values
// equal (trim, case, NULL vs ”), as opposed to the representation rules (numeric
// scale, UTC timestamps) that make the same value of two types compare equal.
func (n Normalization) valueRules() bool {
	return n.TrimStrings || n.CaseInsensitive || n.NullEqualsEmpty
}

// representation is n without its value rules: what the normalisation-only pass
// compares raw values with.
func (n Normalization) representation() Normalization {
	return Normalization{NumericScale: n.NumericScale, TimestampsUTC: n.TimestampsUTC}
}

// RowDiffLimits bounds a row diff. Zero values: no row or time limit,
// DefaultSampleSize, DefaultLeafRows.
type RowDiffLimits struct {
	// MaxRowsFetched bounds the rows read from both sides together.
	MaxRowsFetched int64 `json:"max_rows_fetched,omitempty"`
	// MaxDuration bounds the whole diff; a query running at the deadline is cancelled.
	MaxDuration time.Duration `json:"max_duration,omitempty"`
	// SampleSize is the most KeyDiffs returned; negative: none.
	SampleSize int `json:"sample_size,omitempty"`
	// LeafRows: a differing bucket's rows are fetched when both sides have at most
	// this many; larger buckets are split. Smaller means fewer rows fetched and more
	// levels (one scan per side each).
	LeafRows int64 `json:"leaf_rows,omitempty"`
	// HashOnly skips the key-range level (rowdiff_range.go): every level is then a
	// hash bisection level. For comparisons; the default picks the level when it
	// applies.
	HashOnly bool `json:"hash_only,omitempty"`
	// NormalisationOnlyMaxRows bounds the rows (both sides) the normalisation-only
	// pass fetches (see RowDiff), within MaxRowsFetched; 0:
	// DefaultNormalisationOnlyRows; negative: no such pass.
	NormalisationOnlyMaxRows int64 `json:"normalisation_only_max_rows,omitempty"`
	// Progress, when set, is called after each level with the counts so far (from
	// the diff's goroutine): for heartbeats.
	Progress func(RowDiffProgress) `json:"-"`
}

// RowDiffProgress is where a running row diff is.
type RowDiffProgress struct {
	// Level is "key_ranges" or "hash", Depth the hash level's hex digits.
	Level           string `json:"level"`
	Depth           int    `json:"depth"`
	BucketsCompared int64  `json:"buckets_compared"`
	PendingRows     int64  `json:"pending_rows"`
	RowsFetched     int64  `json:"rows_fetched"`
	Queries         int64  `json:"queries"`
	Differences     int64  `json:"differences"`
}

// RowDiffResult is the outcome of a row diff.
type RowDiffResult struct {
	// MissingInLegacy and MissingInELT count rows present on one side only;
	// Mismatched rows are on both with a difference beyond tolerance in at least one
	// column; WithinTolerance rows differ only within their tolerances.
	MissingInLegacy int64 `json:"missing_in_legacy"`
	MissingInELT    int64 `json:"missing_in_elt"`
	Mismatched      int64 `json:"mismatched"`
	WithinTolerance int64 `json:"within_tolerance"`
	// NormalisationOnly counts the rows whose only differences disappear under the
	// normalisation's value rules (NULL vs '', spaces, case): equal as compared, not
	// differences. Each row has one cause: missing, mismatched, within tolerance,
	// normalisation-only, the first that applies. NormalisationOnlyBounded says the
	// pass that counts them stopped early (NormalisationOnlyMaxRows, or the time
	// bound): the count is then a lower bound (and it does not bound the diff).
	NormalisationOnly        int64 `json:"normalisation_only,omitempty"`
	NormalisationOnlyBounded bool  `json:"normalisation_only_bounded,omitempty"`
	// DuplicateKeys counts keys found more than once on a side, among fetched rows.
	DuplicateKeys int64 `json:"duplicate_keys"`
	// Sample holds at most SampleSize differing rows of every cause (missing,
	// mismatched, within tolerance, normalisation-only), stratified across causes and
	// segments (sample.go): round-robin over the causes, and within a cause over its
	// segments.
	Sample []KeyDiff `json:"sample"`
	// Bounded says the diff stopped early, BoundReason why (BoundMaxRowsFetched or
	// BoundMaxDuration): the counts are then lower bounds, and UnexaminedRows is the
	// number of rows (both sides) in differing buckets left unexamined, as far as
	// known when it stopped.
	Bounded        bool   `json:"bounded"`
	BoundReason    string `json:"bound_reason,omitempty"`
	UnexaminedRows int64  `json:"unexamined_rows,omitempty"`
	// RowsFetched and BytesFetched count the data rows read (both sides; the bytes
	// of their values on the wire); aggregates are not rows. BucketsCompared counts
	// the bucket aggregates compared, Queries every query run on either side.
	RowsFetched     int64 `json:"rows_fetched"`
	BytesFetched    int64 `json:"bytes_fetched"`
	BucketsCompared int64 `json:"buckets_compared"`
	Queries         int   `json:"queries"`
	// KeyRanges is the number of key ranges of the key-range level when it ran (the
	// leading key is an indexed integer or date on both sides), 0 otherwise.
	KeyRanges int64 `json:"key_ranges,omitempty"`
	// SampleStored is how many sampled keys etl2elt.row_diffs holds when Sample was
	// cut for a workflow result (Bounded): 0 when Sample is whole.
	SampleStored int `json:"sample_stored,omitempty"`
}

// Result limits of a row diff carried in a workflow (the whole sample stays in the
// control schema): sampled keys, and characters of each value shown.
const (
	ResultSampleKeys = 20
	ResultValueChars = 200
)

// BoundedForResult returns r with at most ResultSampleKeys sampled keys and every value cut
// to ResultValueChars characters (a 1 MB text value does not travel); SampleStored
// says how many keys the stored sample holds.
func (r RowDiffResult) BoundedForResult() RowDiffResult {
	out := r
	n := min(len(r.Sample), ResultSampleKeys)
	if n < len(r.Sample) {
		out.SampleStored = len(r.Sample)
	}
	out.Sample = make([]KeyDiff, n)
	for i, k := range r.Sample[:n] {
		kd := KeyDiff{Kind: k.Kind, Segment: CutText(k.Segment, ResultValueChars), Key: make(map[string]string, len(k.Key))}
		for name, v := range k.Key {
			kd.Key[name] = CutText(v, ResultValueChars)
		}
		for _, c := range k.Columns {
			c.Legacy, c.ELT = CutText(c.Legacy, ResultValueChars), CutText(c.ELT, ResultValueChars)
			kd.Columns = append(kd.Columns, c)
		}
		out.Sample[i] = kd
	}
	return out
}

// CutText keeps the first n characters of s (whole UTF-8 characters) and says how
// long it was.
func CutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + fmt.Sprintf("… (%d characters)", len(r))
}

// Differences counts the rows that differ beyond tolerance: missing on either side
// or mismatched (rows within tolerance are not differences).
func (r RowDiffResult) Differences() int64 { return r.MissingInLegacy + r.MissingInELT + r.Mismatched }

// Passed says the diff ran to the end and found no difference beyond tolerance. A
// bounded diff never passes: its counts are lower bounds, and differing buckets (or
// unread ones) were left unexamined.
func (r RowDiffResult) Passed() bool { return r.Differences() == 0 && !r.Bounded }

// KeyDiff is one differing key: its normalised key values by key column, the kind
// (KindMissingInLegacy, KindMissingInELT, KindMismatched, KindWithinTolerance,
// KindNormalisationOnly), its segment (RowDiffSpec.Segments) and, when on both
// sides, the differing columns.
type KeyDiff struct {
	Key     map[string]string `json:"key"`
	Kind    string            `json:"kind"`
	Segment string            `json:"segment,omitempty"`
	Columns []ColumnDiff      `json:"columns,omitempty"`
}

// ColumnDiff is one differing column of a row, with both normalised values. A NULL
// reads "<null>" and sets LegacyNull or ELTNull, so that it stays distinguishable
// from the text "<null>". WithinTolerance marks a numeric difference within the
// column's tolerance. NormalisationOnly marks values that are equal once normalised:
// Legacy and ELT are then the values before the value rules (' x' and 'x' with trim).
type ColumnDiff struct {
	Column            string `json:"column"`
	Legacy            string `json:"legacy"`
	ELT               string `json:"elt"`
	LegacyNull        bool   `json:"legacy_null,omitempty"`
	ELTNull           bool   `json:"elt_null,omitempty"`
	WithinTolerance   bool   `json:"within_tolerance,omitempty"`
	NormalisationOnly bool   `json:"normalisation_only,omitempty"`
}

// RowDiffSpecError is a row diff that cannot run as asked (a column missing from a
// relation, a tolerance on an unknown column...). Bad identifiers are *ident.Error.
type RowDiffSpecError struct{ Reason string }

func (e *RowDiffSpecError) Error() string { return "row diff: " + e.Reason }

// BadInput marks the error as the request's problem, not a transient one.
func (e *RowDiffSpecError) BadInput() bool { return true }

func specErr(format string, args ...any) error {
	return &RowDiffSpecError{Reason: fmt.Sprintf(format, args...)}
}

// RowDiff compares the rows of spec.LegacyRelation on legacy with those of
// spec.ELTRelation on elt, by key, by checksum bisection (see the comment at the top
// of rowdiff.go). Only aggregates travel until a differing bucket is small enough;
// then only that bucket's rows are fetched. Identifiers are validated and quoted;
// window bounds and hash prefixes are bound parameters. Being stopped by lim is not
// an error: the result says Bounded. The SQL is PostgreSQL's (both sides).
//
// When the normalisation has value rules (trim, case_insensitive, null_equals_empty)
// that apply to compared text columns, and the diff ran to its end, a second pass
// finds the rows whose only differences those rules hide (NormalisationOnly): the
// same bisection with the row hash over the keys and those columns' values before
// the value rules, fetching the rows that differ there and keeping those equal once
// normalised. It costs about one more checksum scan per side, and is bounded by
// NormalisationOnlyMaxRows and the time left; being stopped only makes its count a
// lower bound.
func RowDiff(ctx context.Context, legacy, elt Queryer, spec RowDiffSpec, lim RowDiffLimits) (RowDiffResult, error) {
	r, err := newRowDiff(spec, lim)
	if err != nil {
		return RowDiffResult{}, err
	}
	dctx := ctx
	if lim.MaxDuration > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, lim.MaxDuration)
		defer cancel()
	}
	sess, err := both(dctx, [2]Queryer{legacy, elt}, func(ctx context.Context, _ int, q Queryer) (*session, error) {
		return openSession(ctx, q)
	})
	defer func() {
		for _, s := range sess {
			s.close(ctx)
		}
	}()
	if err == nil {
		r.sess = sess
		legacy, elt = sess[0].q, sess[1].q
		err = r.run(dctx, legacy, elt)
	}
	if err == nil && !r.res.Bounded {
		err = r.normalisationOnly(dctx, legacy, elt)
		if err != nil && ctx.Err() == nil && dctx.Err() != nil {
			r.res.NormalisationOnlyBounded, err = true, nil
		}
	}
	r.res.RowsFetched = r.rows.Load()
	r.res.BytesFetched = r.bytes.Load()
	r.res.Queries = int(r.queries.Load())
	r.res.Sample = r.samp.sample()
	if err != nil && ctx.Err() == nil && dctx.Err() != nil {
		r.bound(BoundMaxDuration)
		return r.res, nil
	}
	if err != nil {
		return r.res, err
	}
	return r.res, nil
}

// normalisationOnly is the second pass (see RowDiff), after a complete first one.
func (r *rowDiff) normalisationOnly(ctx context.Context, legacy, elt Queryer) error {
	if r.lim.NormalisationOnlyMaxRows < 0 || !r.spec.Normalize.valueRules() {
		return nil
	}
	var raw []int
	for j, col := range r.spec.Columns {
		if textTypes[r.sides[0].types[col]] || textTypes[r.sides[1].types[col]] {
			raw = append(raw, j)
		}
	}
	if len(raw) == 0 {
		return nil
	}
	budget := r.lim.NormalisationOnlyMaxRows
	if budget == 0 {
		budget = DefaultNormalisationOnlyRows
	}
	if r.lim.MaxRowsFetched > 0 {
		budget = min(budget, r.lim.MaxRowsFetched-r.rows.Load())
	}
	if budget <= 0 {
		r.res.NormalisationOnlyBounded = true
		return nil
	}
	p := &rowDiff{spec: r.spec, d: r.d, tol: r.tol, samp: r.samp, segIdx: r.segIdx, raw: raw, normOnly: true, kh: r.kh, sess: r.sess,
		lim: RowDiffLimits{MaxRowsFetched: budget, SampleSize: r.lim.SampleSize, LeafRows: r.lim.LeafRows, HashOnly: r.lim.HashOnly, Progress: r.lim.Progress}}
	keys, _ := p.aliases()
	var err error
	if p.rh, err = r.d.RowHash(append(keys, p.rawAliases()...)); err != nil {
		return err
	}
	if err := r.plan(ctx, true, true); err != nil { // the pass's first level is a scan again
		return err
	}
	err = p.run(ctx, legacy, elt)
	r.queries.Add(p.queries.Load())
	r.rows.Add(p.rows.Load())
	r.bytes.Add(p.bytes.Load())
	r.res.BucketsCompared += p.res.BucketsCompared
	r.res.NormalisationOnly = p.res.NormalisationOnly
	r.res.NormalisationOnlyBounded = p.res.Bounded
	return err
}

// rowDiff is one run's state.
type rowDiff struct {
	spec   RowDiffSpec
	lim    RowDiffLimits
	d      dialect.Dialect
	tol    map[int]plan.Tolerance // by index in spec.Columns
	kh, rh string                 // key and row hash expressions over the aliases
	sides  [2]*diffSide           // legacy, elt
	sess   [2]*session            // the sides' connections (legacy, elt); nil entries outside RowDiff
	subKey int                    // a key column after the leading one that is an integer on both sides (0: none; subHash)

	res     RowDiffResult
	pending int64 // rows (both sides) of differing buckets not yet resolved
	queries atomic.Int64
	rows    atomic.Int64
	bytes   atomic.Int64

	samp          *sampler
	segIdx        []int    // RowDiffSpec.Segments' positions in a fetched row
	missingSample [2]int64 // keys fetched for the sample from one-sided buckets, by side (legacy, ELT)

	// The normalisation-only pass: raw are the positions in spec.Columns of the
	// columns also selected before the value rules ("u_0".., after the "c_" ones);
	// the row hash covers the keys and those.
	raw      []int
	normOnly bool
}

// diffSide is one database and its normalised, hashed rows as a subquery.
type diffSide struct {
	name   string // "legacy" or "ELT", for messages
	q      Queryer
	rel    ident.Relation
	hashed string // SELECT "kh", "rh", "k_0".., "c_0".. FROM (...)
	args   []any  // its arguments: the window bounds, $1 and $2, when filtered, then the restriction's
	// baseArgs are the window bounds alone (the unrestricted relation's arguments),
	// keyTexts the normalised key columns' expressions on the raw columns.
	baseArgs []any
	keyTexts []string

	// What the key-range level needs (rowdiff_range.go): the normalised select list,
	// the window filter, the column types, whether the leading key column leads a
	// valid btree index, and the planner's row estimate (-1: unknown).
	exprs     string
	where     string
	types     map[string]string
	keyIndex  bool
	estimated int64
	// keyCovered: a valid btree index starts with the leading key column and holds
	// every key column, all NOT NULL: rows can be picked by key from an index-only
	// scan (rowDiff.where).
	keyCovered bool
}

// agg is a bucket's aggregate on one side; the zero value is an empty bucket.
type agg struct {
	n   int64
	sum string
}

type bucket struct {
	prefix string
	l, e   agg
}

func (b bucket) rows() int64 { return b.l.n + b.e.n }

// newRowDiff validates the request; it does no I/O.
func newRowDiff(spec RowDiffSpec, lim RowDiffLimits) (*rowDiff, error) {
	for _, rel := range []string{spec.LegacyRelation, spec.ELTRelation} {
		if _, err := ident.ParseRelation(rel); err != nil {
			return nil, err
		}
	}
	if len(spec.Keys) == 0 {
		return nil, specErr("no key columns")
	}
	seen := map[string]string{}
	for _, list := range []struct {
		what string
		cols []string
	}{{"key", spec.Keys}, {"column", spec.Columns}} {
		for _, c := range list.cols {
			if err := ident.Validate(c); err != nil {
				return nil, err
			}
			if prev, ok := seen[c]; ok {
				return nil, specErr("%q is listed twice (as %s and %s): keys and compared columns must be distinct", c, prev, list.what)
			}
			seen[c] = list.what
		}
	}
	if spec.TimeColumn != "" {
		if err := ident.Validate(spec.TimeColumn); err != nil {
			return nil, err
		}
		if !spec.Window.From.Before(spec.Window.To) {
			return nil, specErr("window %s is empty: from must be before to", spec.Window)
		}
	}
	if s := spec.Normalize.NumericScale; s != nil && (*s < 0 || *s > maxNumericScale) {
		return nil, specErr("numeric scale %d is out of range 0..%d", *s, maxNumericScale)
	}
	r := &rowDiff{spec: spec, lim: lim, tol: map[int]plan.Tolerance{}}
	bad := func(v *float64) bool { return v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0) }
	for col, t := range spec.Tolerance {
		i := slices.Index(spec.Columns, col)
		if i < 0 {
			return nil, specErr("tolerance for %q, which is not a compared column", col)
		}
		if bad(t.Absolute) || bad(t.Relative) {
			return nil, specErr("tolerance of %q: absolute and relative must be finite numbers >= 0", col)
		}
		r.tol[i] = t
	}
	for col, t := range spec.NumericTolerance {
		i := slices.Index(spec.Columns, col)
		if i < 0 {
			return nil, specErr("numeric tolerance for %q, which is not a compared column", col)
		}
		if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
			return nil, specErr("numeric tolerance %v for %q: must be a finite number >= 0", t, col)
		}
		tol := r.tol[i]
		tol.Absolute = &t
		r.tol[i] = tol
	}
	if r.lim.LeafRows <= 0 {
		r.lim.LeafRows = DefaultLeafRows
	}
	if r.lim.SampleSize == 0 {
		r.lim.SampleSize = DefaultSampleSize
	}
	r.samp = newSampler(r.lim.SampleSize)
	for _, seg := range spec.Segments {
		i := slices.Index(spec.Keys, seg)
		if j := slices.Index(spec.Columns, seg); j >= 0 {
			i = len(spec.Keys) + j
		}
		if i < 0 {
			return nil, specErr("segment %q is neither a key nor a compared column", seg)
		}
		r.segIdx = append(r.segIdx, i)
	}
	d, err := dialect.For(dialect.Postgres)
	if err != nil {
		return nil, err
	}
	r.d = d
	keys, all := r.aliases()
	if r.kh, err = d.RowHash(keys); err != nil {
		return nil, err
	}
	if r.rh, err = d.RowHash(all); err != nil {
		return nil, err
	}
	return r, nil
}

// aliases are the names of the normalised keys (k_0...) and of keys + columns (k_*,
// c_0...) in the side subquery: fixed, valid identifiers whatever the real names. In
// the normalisation-only pass, all ends with the raw columns (u_0...).
func (r *rowDiff) aliases() (keys, all []string) {
	for i := range len(r.spec.Keys) {
		keys = append(keys, "k_"+strconv.Itoa(i))
	}
	all = append(all, keys...)
	for i := range len(r.spec.Columns) {
		all = append(all, "c_"+strconv.Itoa(i))
	}
	return keys, append(all, r.rawAliases()...)
}

// keyAliases are the normalised keys' aliases, quoted.
func (r *rowDiff) keyAliases() []string {
	keys, _ := r.aliases()
	for i, k := range keys {
		keys[i] = ident.Quote(k)
	}
	return keys
}

// rawAliases name the normalisation-only pass's raw columns.
func (r *rowDiff) rawAliases() []string {
	var out []string
	for i := range r.raw {
		out = append(out, "u_"+strconv.Itoa(i))
	}
	return out
}

// textTypes are the information_schema data types the value rules apply to.
var textTypes = map[string]bool{"text": true, "character varying": true, "character": true, "name": true, `"char"`: true}

func (r *rowDiff) progress(level string, depth int) {
	if r.lim.Progress != nil {
		r.lim.Progress(RowDiffProgress{Level: level, Depth: depth, BucketsCompared: r.res.BucketsCompared, PendingRows: r.pending,
			RowsFetched: r.rows.Load(), Queries: r.queries.Load(), Differences: r.res.Differences()})
	}
}

func (r *rowDiff) bound(reason string) {
	if !r.res.Bounded {
		r.res.Bounded, r.res.BoundReason, r.res.UnexaminedRows = true, reason, r.pending
	}
}

// run is the bisection, level by level.
func (r *rowDiff) run(ctx context.Context, legacy, elt Queryer) error {
	sides, err := both(ctx, [2]Queryer{legacy, elt}, func(ctx context.Context, i int, q Queryer) (*diffSide, error) {
		return r.prepareSide(ctx, i, q)
	})
	if err != nil {
		return err
	}
	r.sides = sides
	if err := r.typedHashes(); err != nil {
		return err
	}
	kr, err := r.planKeyRange(ctx)
	if err != nil {
		return err
	}
	if kr != nil {
		r.res.KeyRanges = kr.ranges
		identical, restricted, err := r.rangeLevels(ctx, kr)
		if err != nil || identical {
			return err
		}
		n := restricted[0].n + restricted[1].n
		est := max(r.sides[0].estimated, r.sides[1].estimated, 0)
		if n <= est/hashDirectFraction && (r.lim.MaxRowsFetched <= 0 || n <= r.lim.MaxRowsFetched) {
			// Few rows differ in groups: fetch them all at once (one pass through
			// the index) rather than bisect (a pass per level).
			_, err := r.fetchLeaves(ctx, 0, []bucket{{prefix: "", l: restricted[0], e: restricted[1]}})
			return err
		}
	}
	// A large relation without the key-range level: every level is a scan of both
	// sides, so start deep (no root aggregate) and fetch the differing buckets' rows
	// as soon as they are few (see hashDeepRows).
	depth := 0
	est := max(r.sides[0].estimated, r.sides[1].estimated)
	deep := kr == nil && est >= hashDeepRows
	if deep {
		depth = r.step(0, []bucket{{l: agg{n: est}}})
	}
	aggs, err := r.aggregates(ctx, depth, 0, nil)
	if err != nil {
		return err
	}
	for {
		var leaves, onlyELT, onlyLegacy, split []bucket
		r.pending = 0
		for _, b := range merge(aggs) {
			r.res.BucketsCompared++
			switch {
			case b.l == b.e:
			case b.l.n == 0:
				r.res.MissingInLegacy += b.e.n
				onlyELT = append(onlyELT, b)
			case b.e.n == 0:
				r.res.MissingInELT += b.l.n
				onlyLegacy = append(onlyLegacy, b)
			case b.l.n <= r.lim.LeafRows && b.e.n <= r.lim.LeafRows, depth == hashDigits:
				leaves = append(leaves, b)
				r.pending += b.rows()
			default:
				split = append(split, b)
				r.pending += b.rows()
			}
		}
		if deep && len(split) > 0 {
			var n int64
			for _, b := range split {
				n += b.rows()
			}
			if n <= est/hashDirectFraction {
				leaves = append(leaves, split...)
				split = nil
				sort.Slice(leaves, func(i, j int) bool { return leaves[i].prefix < leaves[j].prefix })
			}
		}
		r.progress("hash", depth)
		if done, err := r.fetchLeaves(ctx, depth, leaves); err != nil || done {
			return err
		}
		if err := r.sampleMissing(ctx, depth, onlyLegacy, onlyELT); err != nil {
			return err
		}
		if len(split) == 0 {
			return nil
		}
		step := r.step(depth, split)
		parents := make([]string, len(split))
		for i, b := range split {
			parents[i] = b.prefix
		}
		if aggs, err = r.aggregates(ctx, depth+step, depth, parents); err != nil {
			return err
		}
		depth += step
	}
}

// step is how many hex digits the next level adds: at least one, more while the
// largest bucket to split would still average LeafRows rows per child and the level
// returns at most maxBucketsPerQuery buckets per side.
func (r *rowDiff) step(depth int, split []bucket) int {
	var largest int64
	for _, b := range split {
		largest = max(largest, b.l.n, b.e.n)
	}
	step := 1
	for depth+step < hashDigits {
		children := math.Pow(16, float64(step+1))
		if float64(largest)/children < float64(r.lim.LeafRows) || float64(len(split))*children > maxBucketsPerQuery {
			break
		}
		step++
	}
	return step
}

// merge pairs both sides' buckets, in prefix order.
func merge(aggs [2]map[string]agg) []bucket {
	prefixes := map[string]bool{}
	for _, m := range aggs {
		for p := range m {
			prefixes[p] = true
		}
	}
	out := make([]bucket, 0, len(prefixes))
	for p := range prefixes {
		out = append(out, bucket{prefix: p, l: aggs[0][p], e: aggs[1][p]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix < out[j].prefix })
	return out
}

// fetchLeaves fetches and compares the leaves' rows, in batches, as long as they fit
// in MaxRowsFetched. done reports that the diff stopped (bounded).
func (r *rowDiff) fetchLeaves(ctx context.Context, depth int, leaves []bucket) (done bool, err error) {
	fit := len(leaves)
	if r.lim.MaxRowsFetched > 0 {
		room := r.lim.MaxRowsFetched - r.rows.Load()
		var need int64
		for i, b := range leaves {
			if need+b.rows() > room {
				fit = i
				break
			}
			need += b.rows()
		}
	}
	for start := 0; start < fit; start += maxPrefixesPerQuery {
		batch := leaves[start:min(fit, start+maxPrefixesPerQuery)]
		prefixes := make([]string, len(batch))
		var n int64
		for i, b := range batch {
			prefixes[i] = b.prefix
			n += b.rows()
		}
		rows, err := both(ctx, r.sides, func(ctx context.Context, _ int, s *diffSide) ([][]*string, error) {
			return r.fetch(ctx, s, depth, prefixes, r.columnList(true), 0)
		})
		if err != nil {
			return false, err
		}
		r.compare(rows[0], rows[1])
		r.pending -= n
	}
	if fit < len(leaves) {
		r.bound(BoundMaxRowsFetched)
		return true, nil
	}
	return false, nil
}

// sampleMissing fetches the keys of rows in one-sided buckets for the sample: their
// count is already known. At most SampleSize keys per side over the whole diff, as
// MaxRowsFetched allows; whole rows when a segment is not a key (the sample is
// stratified by segment). The normalisation-only pass counts no missing row.
func (r *rowDiff) sampleMissing(ctx context.Context, depth int, onlyLegacy, onlyELT []bucket) error {
	if r.normOnly {
		return nil
	}
	withColumns := slices.ContainsFunc(r.segIdx, func(i int) bool { return i >= len(r.spec.Keys) })
	for _, side := range []struct {
		i       int
		buckets []bucket
		kind    string
	}{{0, onlyLegacy, KindMissingInELT}, {1, onlyELT, KindMissingInLegacy}} {
		room := int64(r.lim.SampleSize) - r.missingSample[side.i]
		if r.lim.MaxRowsFetched > 0 {
			room = min(room, r.lim.MaxRowsFetched-r.rows.Load())
		}
		if room <= 0 || len(side.buckets) == 0 {
			continue
		}
		prefixes := make([]string, 0, maxPrefixesPerQuery)
		for _, b := range side.buckets[:min(len(side.buckets), maxPrefixesPerQuery)] {
			prefixes = append(prefixes, b.prefix)
		}
		rows, err := r.fetch(ctx, r.sides[side.i], depth, prefixes, r.columnList(withColumns), room)
		if err != nil {
			return err
		}
		r.missingSample[side.i] += int64(len(rows))
		for _, row := range rows {
			r.addSample(KeyDiff{Key: r.keyMap(row), Kind: side.kind}, row)
		}
	}
	return nil
}

// prepareSide reads the relation's column types, checks that every column exists
// and builds the side's normalised, hashed subquery.
func (r *rowDiff) prepareSide(ctx context.Context, i int, q Queryer) (*diffSide, error) {
	s := &diffSide{name: "legacy", q: q}
	relation := r.spec.LegacyRelation
	if i == 1 {
		s.name, relation = "ELT", r.spec.ELTRelation
	}
	rel, err := ident.ParseRelation(relation)
	if err != nil {
		return nil, err
	}
	s.rel = rel
	types, err := r.columnTypes(ctx, s)
	if err != nil {
		return nil, err
	}
	s.types = types
	var exprs []string
	_, all := r.aliases()
	for j, col := range append(slices.Clone(r.spec.Keys), r.spec.Columns...) {
		typ, ok := types[col]
		if !ok {
			return nil, specErr("%s relation %s has no column %q", s.name, rel, col)
		}
		e := r.spec.Normalize.expr(col, typ)
		if j < len(r.spec.Keys) {
			s.keyTexts = append(s.keyTexts, e)
		}
		exprs = append(exprs, e+" AS "+ident.Quote(all[j]))
	}
	for i, j := range r.raw {
		col := r.spec.Columns[j]
		exprs = append(exprs, r.spec.Normalize.representation().expr(col, types[col])+" AS "+ident.Quote("u_"+strconv.Itoa(i)))
	}
	where := ""
	if tc := r.spec.TimeColumn; tc != "" {
		if _, ok := types[tc]; !ok {
			return nil, specErr("%s relation %s has no time column %q", s.name, rel, tc)
		}
		where = fmt.Sprintf(" WHERE %s >= $1 AND %s < $2", ident.Quote(tc), ident.Quote(tc))
		s.args = []any{r.spec.Window.From, r.spec.Window.To}
	}
	s.exprs, s.where, s.baseArgs = strings.Join(exprs, ", "), where, s.args
	return s, nil
}

// typedHashes sets the key and row hashes from both sides' column types, and the
// sides' hashed subqueries: a column that is a number, a date or a timestamp on both
// sides is hashed Delimited (dialect.RowHashOf: its text and '|', not its length,
// ':' and its text), which costs about a tenth less per row on the benchmark's
// table. Both sides hash alike, so equal rows still hash equal.
func (r *rowDiff) typedHashes() error {
	keys, all := r.aliases()
	cols := append(slices.Clone(r.spec.Keys), r.spec.Columns...)
	for _, j := range r.raw {
		cols = append(cols, r.spec.Columns[j])
	}
	hc := make([]dialect.HashColumn, len(all))
	for i, a := range all {
		c := cols[i]
		hc[i] = dialect.HashColumn{Name: a, Delimited: dialect.DelimitedTypes[r.sides[0].types[c]] && dialect.DelimitedTypes[r.sides[1].types[c]]}
	}
	rh := hc
	if r.normOnly { // the keys and the raw columns
		rh = append(slices.Clone(hc[:len(keys)]), hc[len(keys)+len(r.spec.Columns):]...)
	}
	var err error
	if r.kh, err = r.d.RowHashOf(hc[:len(keys)]); err != nil {
		return err
	}
	if r.rh, err = r.d.RowHashOf(rh); err != nil {
		return err
	}
	for _, s := range r.sides {
		s.hashed = r.hashedQuery(s, "", "")
	}
	return nil
}

// hashedQuery is the side's subquery of normalised, hashed rows; extraSelect adds
// source columns (", expr AS alias"), extraWhere a condition on the relation's own
// columns. The inner query, which normalises each column once, ends with OFFSET 0:
// PostgreSQL then keeps it a subquery instead of pulling it up into the hashes, which
// would compute each normalised column once per use (its LENGTH and its text in the
// row hash, again in the key hash and the select list): measured, 8 % of a scan.
func (r *rowDiff) hashedQuery(s *diffSide, extraSelect, extraWhere string) string {
	_, all := r.aliases()
	quoted := make([]string, len(all))
	for j, a := range all {
		quoted[j] = ident.Quote(a)
	}
	where := s.where
	if extraWhere != "" {
		if where == "" {
			where = " WHERE " + extraWhere
		} else {
			where += " AND (" + extraWhere + ")"
		}
	}
	outer := strings.Join(quoted, ", ")
	if extraSelect != "" {
		outer += `, "r_key"`
		if r.subKey > 0 {
			outer += `, "r_sub"`
		}
	}
	return fmt.Sprintf(`SELECT %s AS "kh", %s AS "rh", %s FROM (SELECT %s%s FROM %s%s OFFSET 0) AS "src"`,
		r.kh, r.rh, outer, s.exprs, extraSelect, s.rel.Quoted(), where)
}

// columnTypes maps the relation's columns to their information_schema data_type.
func (r *rowDiff) columnTypes(ctx context.Context, s *diffSide) (map[string]string, error) {
	r.queries.Add(1)
	// One catalog query: the column types, and for the leading key column whether a
	// valid btree index starts with it, whether such an index holds every key column,
	// with the planner's row estimate; whether each column is NOT NULL.
	rows, err := s.q.Query(ctx, `SELECT CAST(c.column_name AS text), CAST(c.data_type AS text),
  CAST(c.column_name AS text) = CAST($3 AS text) AND EXISTS (
    SELECT 1 FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = t.oid AND i.indisvalid AND a.attname = c.column_name),
  CAST(c.column_name AS text) = CAST($3 AS text) AND EXISTS (
    SELECT 1 FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
    JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = t.oid AND i.indisvalid AND a.attname = c.column_name
      AND NOT EXISTS (SELECT 1 FROM unnest(CAST($4 AS text[])) AS k(name) WHERE NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_attribute ka WHERE ka.attrelid = i.indrelid AND ka.attname = k.name AND ka.attnum = ANY(i.indkey)))),
  CAST(c.is_nullable AS text) = 'NO',
  COALESCE(CAST(t.reltuples AS bigint), -1)
FROM information_schema.columns c
LEFT JOIN LATERAL (SELECT cl.oid, cl.reltuples FROM pg_catalog.pg_class cl
  JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = CAST($1 AS text) AND cl.relname = CAST($2 AS text)) t ON true
WHERE c.table_schema = CAST($1 AS text) AND c.table_name = CAST($2 AS text)`,
		s.rel.Schema, s.rel.Name, r.spec.Keys[0], r.spec.Keys)
	if err != nil {
		return nil, fmt.Errorf("row diff: columns of %s relation %s: %w", s.name, s.rel, err)
	}
	types := map[string]string{}
	notNull := map[string]bool{}
	var name, typ string
	var indexed, covered, nn bool
	var estimated int64
	_, err = pgx.ForEachRow(rows, []any{&name, &typ, &indexed, &covered, &nn, &estimated}, func() error {
		types[name] = typ
		notNull[name] = nn
		s.keyIndex = s.keyIndex || indexed
		s.keyCovered = s.keyCovered || covered
		s.estimated = estimated
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("row diff: columns of %s relation %s: %w", s.name, s.rel, err)
	}
	for _, k := range r.spec.Keys {
		s.keyCovered = s.keyCovered && notNull[k]
	}
	if len(types) == 0 {
		return nil, specErr("%s relation %s does not exist or has no visible column", s.name, s.rel)
	}
	return types, nil
}

// expr is a column's normalised text. The same expression feeds the hashes and the
// fetched values, so what the hashes call different, Go sees as different.
func (n Normalization) expr(col, dataType string) string {
	q := ident.Quote(col)
	e := "CAST(" + q + " AS text)"
	switch dataType {
	case "smallint", "integer", "bigint", "numeric", "decimal", "real", "double precision":
		if n.NumericScale != nil {
			e = fmt.Sprintf("CAST(ROUND(CAST(%s AS numeric), %d) AS text)", q, *n.NumericScale)
		}
	case "timestamp with time zone":
		if n.TimestampsUTC {
			e = "TO_CHAR(" + q + " AT TIME ZONE 'UTC', " + utcFormat + ")"
		}
	case "timestamp without time zone":
		if n.TimestampsUTC {
			e = "TO_CHAR(" + q + ", " + utcFormat + ")"
		}
	case "text", "character varying", "character", "name", `"char"`:
		if n.TrimStrings {
			e = "BTRIM(" + e + ")"
		}
		if n.CaseInsensitive {
			e = "LOWER(" + e + ")"
		}
	}
	if n.NullEqualsEmpty {
		e = "NULLIF(" + e + ", '')"
	}
	return e
}

// both runs f on the two sides concurrently; the first error cancels the other.
func both[S, T any](ctx context.Context, sides [2]S, f func(context.Context, int, S) (T, error)) ([2]T, error) {
	var out [2]T
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range sides {
		g.Go(func() error {
			v, err := f(gctx, i, s)
			out[i] = v
			return err
		})
	}
	return out, g.Wait()
}

// prefixFilter is " WHERE SUBSTRING("kh", 1, n) IN ($k, ...)" with the prefixes
// appended to args as bound parameters.
func prefixFilter(n int, prefixes []string, args []any) (string, []any) {
	ph := make([]string, len(prefixes))
	for i, p := range prefixes {
		args = append(args, p)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	return fmt.Sprintf(` WHERE SUBSTRING("kh", 1, %d) IN (%s)`, n, strings.Join(ph, ", ")), args
}

// aggregates returns each side's count and hash sum per bucket of groupLen hex digits,
// among the rows whose filterLen-digit prefix is one of parents (all rows when nil).
// Up to maxPrefixesPerQuery parents, one query filters on them. Beyond, when the
// whole level has at most maxBucketsPerQuery buckets, one unfiltered query reads it
// and Go keeps the parents' children; otherwise the parents go in batches (one query,
// so one scan, each).
func (r *rowDiff) aggregates(ctx context.Context, groupLen, filterLen int, parents []string) ([2]map[string]agg, error) {
	var batches [][]string
	var keep map[string]bool
	switch {
	case parents == nil || filterLen == 0: // the root, or the root's children: every row
		batches = [][]string{nil}
	case len(parents) <= maxPrefixesPerQuery:
		batches = [][]string{parents}
	case math.Pow(16, float64(groupLen)) <= maxBucketsPerQuery:
		batches = [][]string{nil}
		keep = map[string]bool{}
		for _, p := range parents {
			keep[p] = true
		}
	default:
		for chunk := range slices.Chunk(parents, maxPrefixesPerQuery) {
			batches = append(batches, chunk)
		}
	}
	return both(ctx, r.sides, func(ctx context.Context, _ int, s *diffSide) (map[string]agg, error) {
		out := map[string]agg{}
		for _, batch := range batches {
			args := slices.Clone(s.args)
			where := ""
			if batch != nil {
				where, args = prefixFilter(filterLen, batch, args)
			}
			sql := fmt.Sprintf(`SELECT SUBSTRING("kh", 1, %d) AS "bucket", %s FROM (%s) AS "h"%s GROUP BY 1`,
				groupLen, r.d.AggregateHash(`"rh"`), s.hashed, where)
			r.queries.Add(1)
			rows, err := s.q.Query(ctx, sql, args...)
			if err != nil {
				return nil, fmt.Errorf("row diff: bucket aggregates of %s relation %s: %w", s.name, s.rel, err)
			}
			var prefix string
			var a agg
			_, err = pgx.ForEachRow(rows, []any{&prefix, &a.n, &a.sum}, func() error {
				if keep == nil || keep[prefix[:filterLen]] { // groupLen > filterLen
					out[prefix] = a
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("row diff: bucket aggregates of %s relation %s: %w", s.name, s.rel, err)
			}
		}
		return out, nil
	})
}

// columnList is the select list of fetched rows: the normalised keys, and the
// normalised columns too when withColumns.
func (r *rowDiff) columnList(withColumns bool) string {
	keys, all := r.aliases()
	if !withColumns {
		all = keys
	}
	quoted := make([]string, len(all))
	for i, a := range all {
		quoted[i] = ident.Quote(a)
	}
	return strings.Join(quoted, ", ")
}

// fetch reads the rows of the buckets with the given prefixes (depth hex digits) from
// one side, at most limit rows (in key-hash order) when limit > 0, counting rows and
// bytes.
func (r *rowDiff) fetch(ctx context.Context, s *diffSide, depth int, prefixes []string, list string, limit int64) ([][]*string, error) {
	where, args := "", slices.Clone(s.args)
	if depth > 0 { // depth 0: the root bucket, every row
		where, args = prefixFilter(depth, prefixes, args)
	}
	sql := fmt.Sprintf(`SELECT %s FROM (%s) AS "h"%s`, list, s.hashed, where)
	if limit > 0 {
		args = append(args, limit)
		sql += ` ORDER BY "kh" LIMIT $` + strconv.Itoa(len(args))
	}
	r.queries.Add(1)
	rows, err := s.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("row diff: rows of %s relation %s: %w", s.name, s.rel, err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		var n int64
		for _, v := range rows.RawValues() {
			n += int64(len(v))
		}
		vals := make([]*string, len(rows.FieldDescriptions()))
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("row diff: rows of %s relation %s: %w", s.name, s.rel, err)
		}
		r.rows.Add(1)
		r.bytes.Add(n)
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("row diff: rows of %s relation %s: %w", s.name, s.rel, err)
	}
	return out, nil
}

// encode is an unambiguous text form of a tuple of nullable values.
func encode(vals []*string) string {
	var b strings.Builder
	for _, v := range vals {
		if v == nil {
			b.WriteByte('n')
			continue
		}
		b.WriteByte('v')
		b.WriteString(strconv.Itoa(len(*v)))
		b.WriteByte(':')
		b.WriteString(*v)
	}
	return b.String()
}

// compare classifies the fetched rows of the same buckets on both sides. Rows are
// grouped by key; identical rows pair off first, the rest pair in value order (a key
// on one side only leaves the other side's list empty), and unpaired rows are missing
// on the other side.
func (r *rowDiff) compare(legacy, elt [][]*string) {
	nk := len(r.spec.Keys)
	type group struct{ l, e [][]*string }
	groups := map[string]*group{}
	for i, rows := range [][][]*string{legacy, elt} {
		for _, row := range rows {
			k := encode(row[:nk])
			g := groups[k]
			if g == nil {
				g = &group{}
				groups[k] = g
			}
			if i == 0 {
				g.l = append(g.l, row)
			} else {
				g.e = append(g.e, row)
			}
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := groups[k]
		if len(g.l) > 1 || len(g.e) > 1 {
			r.res.DuplicateKeys++
		}
		l, e := unpaired(g.l, g.e, nk)
		n := min(len(l), len(e))
		for i := range n {
			r.compareRow(l[i], e[i])
		}
		if r.normOnly {
			continue // counted by the first pass
		}
		for _, row := range l[n:] {
			r.res.MissingInELT++
			r.addSample(KeyDiff{Key: r.keyMap(row), Kind: KindMissingInELT}, row)
		}
		for _, row := range e[n:] {
			r.res.MissingInLegacy++
			r.addSample(KeyDiff{Key: r.keyMap(row), Kind: KindMissingInLegacy}, row)
		}
	}
}

// unpaired removes the rows of l and e (one key's rows) that have an identical row
// on the other side, and returns the others sorted by their values.
func unpaired(l, e [][]*string, nk int) ([][]*string, [][]*string) {
	avail := map[string]int{}
	for _, row := range e {
		avail[encode(row[nk:])]++
	}
	var restL [][]*string
	for _, row := range l {
		enc := encode(row[nk:])
		if avail[enc] > 0 {
			avail[enc]--
			continue
		}
		restL = append(restL, row)
	}
	var restE [][]*string
	for _, row := range e {
		enc := encode(row[nk:])
		if avail[enc] > 0 {
			avail[enc]--
			restE = append(restE, row)
		}
	}
	byValue := func(rows [][]*string) {
		sort.SliceStable(rows, func(i, j int) bool { return encode(rows[i][nk:]) < encode(rows[j][nk:]) })
	}
	byValue(restL)
	byValue(restE)
	return restL, restE
}

// compareRow compares the columns of two rows with the same key: mismatched when a
// column differs beyond its tolerance, else within tolerance when one differs
// within it (the differing columns are listed either way). In the
// normalisation-only pass, rows that differ once normalised are left to the first
// pass; the others differ only before the value rules.
func (r *rowDiff) compareRow(l, e []*string) {
	nk := len(r.spec.Keys)
	var diffs []ColumnDiff
	mismatched := false
	for i, col := range r.spec.Columns {
		lv, ev := l[nk+i], e[nk+i]
		if equalValues(lv, ev) {
			continue
		}
		cd := ColumnDiff{Column: col, Legacy: display(lv), ELT: display(ev), LegacyNull: lv == nil, ELTNull: ev == nil}
		if tol, ok := r.tol[i]; ok && withinTolerance(lv, ev, tol) {
			cd.WithinTolerance = true
		} else {
			mismatched = true
		}
		diffs = append(diffs, cd)
	}
	switch {
	case r.normOnly && len(diffs) > 0:
		return
	case r.normOnly:
		at := nk + len(r.spec.Columns)
		for k, j := range r.raw {
			lv, ev := l[at+k], e[at+k]
			if !equalValues(lv, ev) {
				diffs = append(diffs, ColumnDiff{Column: r.spec.Columns[j], Legacy: display(lv), ELT: display(ev),
					LegacyNull: lv == nil, ELTNull: ev == nil, NormalisationOnly: true})
			}
		}
		if len(diffs) > 0 {
			r.res.NormalisationOnly++
			r.addSample(KeyDiff{Key: r.keyMap(l), Kind: KindNormalisationOnly, Columns: diffs}, l)
		}
	case mismatched:
		r.res.Mismatched++
		r.addSample(KeyDiff{Key: r.keyMap(l), Kind: KindMismatched, Columns: diffs}, l)
	case len(diffs) > 0:
		r.res.WithinTolerance++
		r.addSample(KeyDiff{Key: r.keyMap(l), Kind: KindWithinTolerance, Columns: diffs}, l)
	}
}

func equalValues(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// withinTolerance says whether two numeric texts are within tol, exactly, by the
// aggregates' rule (WithinTolerance; relative to the legacy value a). A NULL or a
// value that is not a number is never within tolerance.
func withinTolerance(a, b *string, tol plan.Tolerance) bool {
	if a == nil || b == nil {
		return false
	}
	x, ok1 := new(big.Rat).SetString(*a)
	y, ok2 := new(big.Rat).SetString(*b)
	if !ok1 || !ok2 {
		return false
	}
	diff := new(big.Rat).Sub(y, x)
	absDiff := diff.Abs(diff)
	var rel *float64
	if x.Sign() != 0 {
		f, _ := new(big.Rat).Quo(absDiff, new(big.Rat).Abs(x)).Float64()
		rel = &f
	}
	return WithinTolerance(absDiff, rel, tol)
}

func display(v *string) string {
	if v == nil {
		return nullDisplay
	}
	return *v
}

func (r *rowDiff) keyMap(row []*string) map[string]string {
	m := make(map[string]string, len(r.spec.Keys))
	for i, k := range r.spec.Keys {
		m[k] = display(row[i])
	}
	return m
}

// addSample offers d, found in row (keys, then columns), to the sample, with the
// row's segment.
func (r *rowDiff) addSample(d KeyDiff, row []*string) {
	if len(r.segIdx) > 0 {
		parts := make([]string, len(r.segIdx))
		for i, at := range r.segIdx {
			v := nullSegment
			if at < len(row) && row[at] != nil {
				v = *row[at]
			}
			parts[i] = r.spec.Segments[i] + "=" + v
		}
		d.Segment = strings.Join(parts, "|")
	}
	r.samp.add(d)
}

// session is one side's connection for a row diff. When the Queryer can begin a
// transaction (*pgxpool.Pool, *pgx.Conn; a pgx.Tx begins a savepoint) the diff runs
// in one of its own, which it rolls back at the end (it only reads), so that the
// planner settings it changes stay local to it (set_config(..., true), SET LOCAL):
//   - enable_sort off: the planner cannot know how many groups a group number or a
//     hash prefix makes (it takes the key's distinct values, millions), so it
//     prefers sorting every row, on disk, over a hash table that holds a few
//     thousand groups (measured at 2M rows: 9.3 s against 4.5 s per side);
//   - once the rows are restricted to differing key ranges, which the restriction
//     reads through the index, max_parallel_workers_per_gather 0 (starting
//     parallel workers cost 65–250 ms per query on the benchmark machine, more than
//     the work), and enable_seqscan, enable_hashjoin and enable_mergejoin off: the
//     planner overestimates the rows of a list of group numbers, and would scan the
//     whole table, or join the keys an index-only scan picked to all its rows
//     instead of looking each up in the index.
//
// Another Queryer (a wrapper that records queries, in tests) runs with the
// connection's settings.
type session struct {
	q        Queryer
	tx       pgx.Tx // nil: settings are left alone
	parallel string // max_parallel_workers_per_gather when the diff began
	// The settings in force: parallel workers as configured, sequential scans.
	parallelOn, seqscanOn bool
}

func openSession(ctx context.Context, q Queryer) (*session, error) {
	b, ok := q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok || q == nil {
		return &session{q: q}, nil
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("row diff: begin: %w", err)
	}
	s := &session{q: tx, tx: tx, parallelOn: true, seqscanOn: true}
	var sorting string
	if err := tx.QueryRow(ctx, `SELECT current_setting('max_parallel_workers_per_gather'), set_config('enable_sort', 'off', true)`).Scan(&s.parallel, &sorting); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("row diff: session settings: %w", err)
	}
	return s, nil
}

// close rolls back the session's transaction, if any, even when ctx is done.
func (s *session) close(ctx context.Context) {
	if s == nil || s.tx == nil {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.tx.Rollback(c)
}

// plan allows parallel workers (as configured when the diff began) or not, and
// sequential scans, hash and merge joins or not, for the next queries on both sides' sessions; a query
// is sent only when a setting changes.
func (r *rowDiff) plan(ctx context.Context, parallel, seqscan bool) error {
	_, err := both(ctx, r.sess, func(ctx context.Context, _ int, s *session) (struct{}, error) {
		if s == nil || s.tx == nil || (s.parallelOn == parallel && s.seqscanOn == seqscan) {
			return struct{}{}, nil
		}
		workers, scans := "0", "off"
		if parallel {
			workers = s.parallel
		}
		if seqscan {
			scans = "on"
		}
		var a, b, c, d string
		if err := s.tx.QueryRow(ctx, `SELECT set_config('max_parallel_workers_per_gather', $1, true), set_config('enable_seqscan', $2, true),
  set_config('enable_hashjoin', $2, true), set_config('enable_mergejoin', $2, true)`, workers, scans).Scan(&a, &b, &c, &d); err != nil {
			return struct{}{}, fmt.Errorf("row diff: session settings: %w", err)
		}
		s.parallelOn, s.seqscanOn = parallel, seqscan
		return struct{}{}, nil
	})
	return err
}
