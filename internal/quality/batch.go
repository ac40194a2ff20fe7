package quality

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"etl2elt/internal/window"
)

// passKinds are the kinds RunAll computes from one shared pass over a relation: every
// check of these kinds on the same relation and time column is a set of counts of
// one aggregate, grouped by load and day when a kind needs them.
var passKinds = map[string]bool{
	"not_null": true, "null_fraction": true, "accepted_values": true, "range": true, "referential": true,
	"missing_days": true, "row_count_change": true, "late_arrival": true, "out_of_order": true,
}

// RunAll runs a domain's checks, in order, with the same results as running each
// alone (Run), for less: the checks of the pass kinds (not_null, null_fraction,
// accepted_values, range, referential, missing_days, row_count_change, late_arrival,
// out_of_order) on the same relation and time column share one scan of the relation
// (runPass; a referential check only when that scan reads at most twice the window).
// Only checks that found something run their bounded example query, and unique runs
// its own GROUP BY on the key. When the shared scan fails on what a check
// names (a missing column, a type that does not compare), each check of the group
// runs on its own, so that each gets its own status and error.
func RunAll(ctx context.Context, q Queryer, dialectName string, specs []Spec, w window.Window, env Env) ([]Result, error) {
	results := make([]Result, len(specs))
	done := make([]bool, len(specs))
	groups := map[string][]int{}
	var order []string
	for i, s := range specs {
		if !passKinds[s.Kind] {
			continue
		}
		k := s.Relation + "\x00" + s.TimeColumn
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		rs, ran, err := runPass(ctx, q, dialectName, specs, groups[k], w, env)
		if err != nil {
			return nil, err
		}
		for j, i := range ran {
			results[i], done[i] = rs[j], true
		}
	}
	for i, s := range specs {
		if done[i] {
			continue
		}
		r, err := RunWith(ctx, q, dialectName, s, w, env)
		if err != nil {
			return nil, err
		}
		results[i] = r
	}
	return results, nil
}

// pass is the shared aggregate of the checks of one relation and time column: one
// SELECT over the rows of [lo, hi) (the union of what the checks read: the window, the
// trailing days of missing_days, the previous window of row_count_change), each
// check's counts restricted to its own interval by CASE, grouped by load and day
// (as text) when a check needs them. The relation is aliased t.
type pass struct {
	first  *checker
	tc     string // the time column, qualified ("" none)
	lo, hi time.Time
	args   []any
	times  map[time.Time]string
	aggs   []string
	seen   map[string]int
	joins  []string
	byLoad bool
	byDay  bool
}

// passRow is one group of the pass: its load and day when grouped by them, and the
// counts.
type passRow struct {
	load int64
	day  string
	n    []int64
}

// passPart is one check in the pass: what judges it from the pass's rows.
type passPart struct {
	c      *checker
	finish func(ctx context.Context, r *Result, rows []passRow) error
}

// sum adds up count i over rows.
func sum(rows []passRow, i int) int64 {
	var n int64
	for _, r := range rows {
		n += r.n[i]
	}
	return n
}

// at is time t as a bound parameter (one per distinct time).
func (p *pass) at(t time.Time) string {
	if m, ok := p.times[t]; ok {
		return m
	}
	p.args = append(p.args, t)
	m := ts(len(p.args))
	p.times[t] = m
	return m
}

// mark binds v as the next parameter.
func (p *pass) mark(v any) string {
	p.args = append(p.args, v)
	return fmt.Sprintf("$%d", len(p.args))
}

// in is the predicate of a row of the pass in [from, to): none when the pass's own
// WHERE already says so.
func (p *pass) in(from, to time.Time) []string {
	if p.tc == "" {
		return nil
	}
	var out []string
	if from.After(p.lo) {
		out = append(out, p.tc+" >= "+p.at(from))
	}
	if to.Before(p.hi) {
		out = append(out, p.tc+" < "+p.at(to))
	}
	return out
}

// agg adds an aggregate (once) and returns its index.
func (p *pass) agg(expr string) int {
	if i, ok := p.seen[expr]; ok {
		return i
	}
	p.aggs = append(p.aggs, expr)
	p.seen[expr] = len(p.aggs) - 1
	return len(p.aggs) - 1
}

// count is the rows matching every predicate (count(CASE ...), the same on both
// dialects as a FILTER would be).
func (p *pass) count(preds ...string) int {
	if len(preds) == 0 {
		return p.agg("count(*)")
	}
	return p.agg("count(CASE WHEN " + strings.Join(preds, " AND ") + " THEN 1 END)")
}

// countOf is the non-NULL values of col among the rows matching every predicate.
func (p *pass) countOf(preds []string, col string) int {
	if len(preds) == 0 {
		return p.agg("count(" + col + ")")
	}
	return p.agg("count(CASE WHEN " + strings.Join(preds, " AND ") + " THEN " + col + " END)")
}

func and(preds []string, more ...string) []string {
	return append(slices.Clone(preds), more...)
}

func qualify(alias string, cols []string) []string {
	out := make([]string, len(cols))
	for i, col := range cols {
		out[i] = alias + "." + col
	}
	return out
}

// passable reports whether c can be judged from the pass; a check that cannot runs on
// its own (and says why).
func (c *checker) passable() bool {
	switch c.s.Kind {
	case "not_null", "null_fraction":
		return len(c.cols) > 0
	case "accepted_values":
		return c.acceptedShape() == nil
	case "range":
		return c.rangeShape() == nil
	case "referential":
		_, _, err := c.referenced()
		return err == nil
	case "missing_days", "row_count_change":
		return c.tc != ""
	case "late_arrival":
		_, err := c.lateness()
		return c.tc != "" && err == nil
	case "out_of_order":
		return c.tc != "" && c.env.Loads != nil
	}
	return false
}

// span is the interval of the time column c reads.
func (c *checker) span() (time.Time, time.Time) {
	switch c.s.Kind {
	case "missing_days":
		return c.missingDaysFrom(), c.w.To
	case "row_count_change":
		return c.prevFrom(), c.w.To
	}
	return c.w.From, c.w.To
}

// spanOf is the interval of the time column that checkers read together.
func spanOf(checkers []*checker) (lo, hi time.Time) {
	for i, c := range checkers {
		from, to := c.span()
		if i == 0 || from.Before(lo) {
			lo = from
		}
		if i == 0 || to.After(hi) {
			hi = to
		}
	}
	return lo, hi
}

// runPass runs the checks specs[idx...] of one relation and time column in one
// shared pass, returning the results of those it ran and their indexes in specs. It
// runs none (and the caller runs each alone) when fewer than two can share it, or when
// the pass fails on what a check names.
func runPass(ctx context.Context, q Queryer, dialectName string, specs []Spec, idx []int, w window.Window, env Env) ([]Result, []int, error) {
	started := time.Now().UTC()
	var checkers []*checker
	var ran []int
	for _, i := range idx {
		c, err := newChecker(q, dialectName, specs[i], w)
		if err != nil {
			continue
		}
		c.env = env
		if !c.passable() {
			continue
		}
		if c.s.Kind == "missing_days" || c.s.Kind == "row_count_change" {
			c.completeDays()
		}
		if err := c.lookupNumeric(ctx); err != nil {
			if !definitive(err) {
				return nil, nil, fmt.Errorf("quality check %s on %s: %w", c.s.Name, c.s.Relation, err)
			}
			continue // on its own, it says why
		}
		checkers, ran = append(checkers, c), append(ran, i)
	}
	// A referential check joins every row the pass reads, in the window or not: when
	// the pass reads far more than the window (a daily run's missing_days reads 29
	// days), its own query (a join of the window's rows) costs less.
	lo, hi := spanOf(checkers)
	keep := 0
	for j, c := range checkers {
		if c.s.Kind == "referential" && c.tc != "" && hi.Sub(lo) > 2*c.w.To.Sub(c.w.From) {
			continue
		}
		checkers[keep], ran[keep] = c, ran[j]
		keep++
	}
	checkers, ran = checkers[:keep], ran[:keep]
	if len(checkers) < 2 {
		return nil, nil, nil
	}
	p := &pass{first: checkers[0], times: map[time.Time]string{}, seen: map[string]int{}}
	where := "TRUE"
	if checkers[0].tc != "" {
		p.tc = "t." + checkers[0].tc
		p.lo, p.hi = spanOf(checkers)
		where = fmt.Sprintf("%s >= %s AND %s < %s", p.tc, p.at(p.lo), p.tc, p.at(p.hi))
	}
	parts := make([]passPart, len(checkers))
	for i, c := range checkers {
		parts[i] = passPart{c: c, finish: p.add(c, len(p.joins))}
	}
	rows, err := p.query(ctx, where)
	if err != nil {
		if definitive(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("quality checks on %s: %w", specs[idx[0]].Relation, err)
	}
	out := make([]Result, len(parts))
	for i, part := range parts {
		r := newResult(part.c.s, started)
		if out[i], err = settle(r, part.finish(ctx, &r, rows)); err != nil {
			return nil, nil, err
		}
	}
	return out, ran, nil
}

// add puts c's counts into the pass and returns what judges c from its rows (the same
// judging as the check's own query). join numbers the alias of a referenced relation.
func (p *pass) add(c *checker, join int) func(ctx context.Context, r *Result, rows []passRow) error {
	// The window's predicate, made when a kind reads it: a parameter is bound only
	// when used (PostgreSQL cannot type an unused one).
	var win []string
	if c.s.Kind != "missing_days" && c.s.Kind != "row_count_change" {
		win = p.in(c.w.From, c.w.To)
	}
	cols := qualify("t", c.cols)
	switch c.s.Kind {
	case "not_null":
		n, bad := p.count(win...), p.count(and(win, anyNull(cols))...)
		return func(ctx context.Context, r *Result, rows []passRow) error {
			return c.notNullResult(ctx, r, sum(rows, n), sum(rows, bad))
		}
	case "null_fraction":
		n := p.count(win...)
		nonNull := make([]int, len(cols))
		for i, col := range cols {
			nonNull[i] = p.countOf(win, col)
		}
		return func(ctx context.Context, r *Result, rows []passRow) error {
			vals := make([]int64, len(nonNull))
			for i, k := range nonNull {
				vals[i] = sum(rows, k)
			}
			return c.nullFractionResult(ctx, r, sum(rows, n), vals)
		}
	case "accepted_values":
		n, bad := p.count(win...), p.count(and(win, c.acceptedExpr(cols[0], p.mark))...)
		return func(ctx context.Context, r *Result, rows []passRow) error {
			return c.acceptedResult(ctx, r, sum(rows, n), sum(rows, bad))
		}
	case "range":
		n, bad := p.count(win...), p.count(and(win, c.rangeExpr(cols[0], p.mark))...)
		return func(ctx context.Context, r *Result, rows []passRow) error {
			return c.rangeResult(ctx, r, sum(rows, n), sum(rows, bad))
		}
	case "referential":
		// The anti-join of the check's own query, one LEFT JOIN per referential check.
		other, refCols, _ := c.referenced()
		x := fmt.Sprintf("x%d", join)
		match, notNull := c.refMatch(x, "t", refCols)
		p.joins = append(p.joins, fmt.Sprintf("LEFT JOIN (SELECT DISTINCT %s FROM %s) %s ON %s",
			strings.Join(refCols, ", "), other.Quoted(), x, strings.Join(match, " AND ")))
		n, bad := p.count(win...), p.count(and(and(win, notNull...), x+"."+refCols[0]+" IS NULL")...)
		return func(ctx context.Context, r *Result, rows []passRow) error {
			return c.referentialResult(ctx, r, sum(rows, n), sum(rows, bad))
		}
	case "missing_days":
		p.byDay = true
		n := p.count(p.in(c.missingDaysFrom(), c.w.To)...)
		return func(_ context.Context, r *Result, rows []passRow) error {
			perDay := map[string]int64{}
			for _, row := range rows {
				perDay[row.day] += row.n[n]
			}
			c.missingDaysResult(r, perDay)
			return nil
		}
	case "row_count_change":
		cur, prev := p.count(p.in(c.w.From, c.w.To)...), p.count(p.in(c.prevFrom(), c.w.From)...)
		return func(_ context.Context, r *Result, rows []passRow) error {
			c.rowCountResult(r, sum(rows, cur), sum(rows, prev))
			return nil
		}
	case "late_arrival":
		p.byLoad = true
		lateness, _ := c.lateness()
		n, late := p.count(win...), p.count(and(win, landedAfter(p.tc, "t."+colLoadedAt, lateness))...)
		beyond := -1
		if c.s.Lookback > 0 {
			p.byDay = true
			beyond = p.count(and(win, landedAfter(p.tc, "t."+colLoadedAt, c.s.Lookback))...)
		}
		return func(_ context.Context, r *Result, rows []passRow) error {
			perLoad := map[int64]*loadCount{}
			var loads []loadCount
			for _, row := range rows {
				if row.n[n] == 0 {
					continue
				}
				lc := perLoad[row.load]
				if lc == nil {
					loads = append(loads, loadCount{load: row.load})
					lc = &loads[len(loads)-1]
					perLoad[row.load] = lc
				}
				lc.rows += row.n[n]
				lc.hits += row.n[late]
			}
			slices.SortFunc(loads, func(a, b loadCount) int { return cmpInt(a.load, b.load) })
			if !c.lateResult(r, loads) {
				return nil
			}
			perDay := map[string]int64{}
			var total int64
			for _, row := range rows {
				perDay[row.day] += row.n[beyond]
				total += row.n[beyond]
			}
			var days []string
			for d, k := range perDay {
				if k > 0 {
					days = append(days, d)
				}
			}
			slices.Sort(days)
			c.reprocess(r, days, total)
			return nil
		}
	case "out_of_order":
		p.byLoad, p.byDay = true, true
		n := p.count(win...)
		return func(ctx context.Context, r *Result, rows []passRow) error {
			perLoad := map[int64][]dayCount{}
			var ids []int64
			for _, row := range rows {
				if row.n[n] == 0 {
					continue
				}
				if _, seen := perLoad[row.load]; !seen {
					ids = append(ids, row.load)
				}
				perLoad[row.load] = append(perLoad[row.load], dayCount{row.day, row.n[n]})
			}
			slices.Sort(ids)
			for _, id := range ids {
				slices.SortFunc(perLoad[id], func(a, b dayCount) int { return strings.Compare(a.day, b.day) })
			}
			return c.outOfOrderResult(ctx, r, ids, perLoad)
		}
	}
	panic("quality: kind " + c.s.Kind + " is not a pass kind")
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sql is the pass's statement: grouped by load and day as needed, the day rendered as
// text outside the grouping (one cast per group, not per row).
func (p *pass) sql(where string) string {
	var sel, outer []string
	if p.byLoad {
		sel = append(sel, "t."+colLoad+" AS l")
		outer = append(outer, "p.l")
	}
	if p.byDay {
		sel = append(sel, "CAST("+p.tc+" AS DATE) AS d")
		outer = append(outer, p.first.text("p.d"))
	}
	keys := len(sel)
	for i, a := range p.aggs {
		sel = append(sel, fmt.Sprintf("%s AS n%d", a, i))
		outer = append(outer, fmt.Sprintf("p.n%d", i))
	}
	q := fmt.Sprintf("SELECT %s FROM %s t", strings.Join(sel, ", "), p.first.rel.Quoted())
	for _, j := range p.joins {
		q += " " + j
	}
	q += " WHERE " + where
	if keys == 0 {
		return q
	}
	group := make([]string, keys)
	for i := range group {
		group[i] = fmt.Sprint(i + 1)
	}
	q += " GROUP BY " + strings.Join(group, ", ")
	if !p.byDay {
		return q
	}
	return fmt.Sprintf("SELECT %s FROM (%s) p", strings.Join(outer, ", "), q)
}

// query runs the pass and reads its groups.
func (p *pass) query(ctx context.Context, where string) ([]passRow, error) {
	res, err := p.first.query(ctx, p.sql(where), p.args...)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []passRow
	for res.Next() {
		row := passRow{n: make([]int64, len(p.aggs))}
		var dest []any
		if p.byLoad {
			dest = append(dest, &row.load)
		}
		if p.byDay {
			dest = append(dest, &row.day)
		}
		for i := range row.n {
			dest = append(dest, &row.n[i])
		}
		if err := res.Scan(dest...); err != nil {
			return nil, err
		}
		row.day = dayOf(row.day)
		out = append(out, row)
	}
	return out, res.Err()
}
