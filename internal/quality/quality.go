// Package quality runs a domain's data-quality checks and freshness SLAs as
// pushed-down SQL on the warehouse (a query per check, or one shared pass per relation
// for the checks RunAll runs together; examples only when a check finds something) and
// judges each result against the plan's warn and fail thresholds. It also keeps the results in the control schema and decides which
// state changes to alert on. No Temporal imports: the activities adapt it.
//
// The SQL is the subset PostgreSQL and Amazon Redshift share: CASE instead of
// FILTER, no generate_series (missing days are found in Go from per-day counts),
// interval literals built from whole seconds, and text casts that do not truncate on
// Redshift (VARCHAR(65535) there, text on PostgreSQL).
package quality

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// Status of a check or an SLA.
const (
	Pass  = "pass"
	Warn  = "warn"
	Fail  = "fail"
	Error = "error"
)

// MaxExamples bounds the example keys, days or values a result carries.
const MaxExamples = 20

// Queryer runs the checks' queries: a pool, a connection or a transaction.
type Queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Spec is a check as a domain runs it: the plan's check with its time column and key
// defaulted (plan.QualityChecksOf), and for late_arrival the lookback of the
// incremental models that read the relation.
type Spec struct {
	plan.QualityCheck
	// Lookback is the shortest lookback of the incremental models reading the
	// relation (0: none); late rows beyond it need a reprocess.
	Lookback time.Duration `json:"lookback,omitempty"`
	// LookbackModels names those models.
	LookbackModels []string `json:"lookback_models,omitempty"`
}

// Result is one check's outcome.
type Result struct {
	Check    string   `json:"check"`
	Kind     string   `json:"kind"`
	Relation string   `json:"relation"`
	Value    float64  `json:"value"`
	Warn     *float64 `json:"warn,omitempty"`
	Fail     *float64 `json:"fail,omitempty"`
	Status   string   `json:"status"`
	Blocks   bool     `json:"blocks,omitempty"`
	// Rows is how many rows the check looked at (in the window).
	Rows int64 `json:"rows"`
	// NoData is set when there was nothing to measure (an empty window, no previous
	// window to compare with): the status is pass but nothing was proven.
	NoData bool `json:"no_data,omitempty"`
	// Detail says what the value means, in one line.
	Detail string `json:"detail,omitempty"`
	// Examples are up to MaxExamples keys, days, values or loads behind the value.
	Examples []string `json:"examples,omitempty"`
	// Error says why the check could not run (status error).
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Judge is the status of value against the thresholds: above fail fails, above warn
// warns.
func Judge(value float64, warn, fail *float64) string {
	switch {
	case fail != nil && value > *fail:
		return Fail
	case warn != nil && value > *warn:
		return Warn
	}
	return Pass
}

// Run runs one check over window w on the warehouse q. A check that cannot run
// because of what it names (a missing relation or column, a type that does not
// compare) comes back with status error and the reason; an error is returned only
// for what a retry can fix (a lost connection, a timeout).
func Run(ctx context.Context, q Queryer, dialectName string, s Spec, w window.Window) (Result, error) {
	return RunWith(ctx, q, dialectName, s, w, Env{})
}

// RunWith is Run with what some checks need beyond the warehouse.
func RunWith(ctx context.Context, q Queryer, dialectName string, s Spec, w window.Window, env Env) (Result, error) {
	r := newResult(s, time.Now().UTC())
	c, err := newChecker(q, dialectName, s, w)
	if c != nil {
		c.env = env
	}
	if err == nil {
		err = c.run(ctx, &r)
	}
	return settle(r, err)
}

// newResult is the result of s before it runs.
func newResult(s Spec, started time.Time) Result {
	return Result{Check: s.Name, Kind: s.Kind, Relation: s.Relation, Warn: s.QualityCheck.Warn, Fail: s.QualityCheck.Fail,
		Blocks: s.Blocks, StartedAt: started}
}

// settle finishes r after its check ran with err: judged, status error with the reason
// when err is about the check, or err returned when a retry can fix it.
func settle(r Result, err error) (Result, error) {
	r.FinishedAt = time.Now().UTC()
	if err != nil {
		if !definitive(err) {
			return r, fmt.Errorf("quality check %s on %s: %w", r.Check, r.Relation, err)
		}
		r.Status, r.Error = Error, oneLine(err.Error(), 500)
		return r, nil
	}
	r.Value = round(r.Value)
	r.Status = Judge(r.Value, r.Warn, r.Fail)
	return r, nil
}

// definitive reports whether err is about the check itself (retrying cannot help):
// anything but what a retry can fix. Transient: a cancelled or timed-out context, a
// network error or a lost connection, and SQL errors of classes 08 (connection), 40
// (transaction rollback: serialization, deadlock), 53 (insufficient resources), 57
// (operator intervention: shutdown, cancel) and 58 (system error). Everything else
// (bad identifiers, classes 22, 42, 0A, a value the driver cannot encode for the
// column's type...) is about the check.
func definitive(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "57014" {
			return true // a statement timeout: the check is too slow for the data, every retry would be too
		}
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57", "58":
			return false
		}
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		return false
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset") {
		return false
	}
	return true
}

// specError is a check the engine cannot run as written.
type specError struct{ msg string }

func (e *specError) Error() string { return e.msg }

type checker struct {
	q        Queryer
	redshift bool
	s        Spec
	w        window.Window
	rel      ident.Relation
	cols     []string // quoted
	key      []string // quoted
	tc       string   // quoted time column ("" none)
	env      Env
	// numeric: range's column is numeric (lookupNumeric).
	numeric bool
}

func newChecker(q Queryer, dialectName string, s Spec, w window.Window) (*checker, error) {
	rel, err := ident.ParseRelation(s.Relation)
	if err != nil {
		return nil, err
	}
	c := &checker{q: q, redshift: dialectName == dialect.Redshift, s: s, w: w, rel: rel}
	quote := func(names []string) ([]string, error) {
		out := make([]string, len(names))
		for i, n := range names {
			if err := ident.Validate(n); err != nil {
				return nil, err
			}
			out[i] = ident.Quote(n)
		}
		return out, nil
	}
	if c.cols, err = quote(s.Columns); err != nil {
		return nil, err
	}
	if c.key, err = quote(s.Key); err != nil {
		return nil, err
	}
	if s.TimeColumn != "" {
		if err := ident.Validate(s.TimeColumn); err != nil {
			return nil, err
		}
		c.tc = ident.Quote(s.TimeColumn)
	}
	return c, nil
}

// query and queryRow send a statement. On PostgreSQL each is planned for its own
// arguments (an unnamed statement, never the statement cache): the window bounds decide
// how many rows a check reads, and a generic plan, which PostgreSQL picks after five runs
// of a cached statement, cannot know them (the shared pass took 11 s instead of 5 on 10M
// rows: no parallel workers, a sort of every row).
func (c *checker) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.q.Query(ctx, sql, c.mode(args)...)
}

func (c *checker) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return c.q.QueryRow(ctx, sql, c.mode(args)...)
}

func (c *checker) mode(args []any) []any {
	if c.redshift {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// where is the window predicate on the time column ($1, $2) and its arguments.
func (c *checker) where() (string, []any) {
	if c.tc == "" {
		return "TRUE", nil
	}
	return fmt.Sprintf("%s >= %s AND %s < %s", c.tc, ts(1), c.tc, ts(2)), []any{c.w.From, c.w.To}
}

// ts is bound parameter n as a timestamp with time zone: a time column of a type that
// does not compare with a time (text, a number) is then an error, not a silent
// comparison of strings.
func ts(n int) string { return fmt.Sprintf("CAST($%d AS TIMESTAMPTZ)", n) }

// text casts an expression to text without Redshift's 256-character TEXT limit.
func (c *checker) text(expr string) string {
	if c.redshift {
		return "CAST(" + expr + " AS VARCHAR(65535))"
	}
	return expr + "::text"
}

// keyText is the select list rendering the example key columns as text (the checked
// columns when the relation has no key).
func (c *checker) keyText() ([]string, []string) {
	cols, names := c.key, c.s.Key
	if len(cols) == 0 {
		cols, names = c.cols, c.s.Columns
	}
	out := make([]string, len(cols))
	for i, col := range cols {
		out[i] = c.text(col)
	}
	return out, names
}

func (c *checker) needTime() error {
	if c.tc == "" {
		return &specError{fmt.Sprintf("a %s check needs a time column: %s declares no event time (set time_column)", c.s.Kind, c.s.Relation)}
	}
	return nil
}

func (c *checker) run(ctx context.Context, r *Result) error {
	switch c.s.Kind {
	case "not_null":
		return c.notNull(ctx, r)
	case "null_fraction":
		return c.nullFraction(ctx, r)
	case "unique":
		return c.unique(ctx, r)
	case "missing_days":
		return c.missingDays(ctx, r)
	case "row_count_change":
		return c.rowCountChange(ctx, r)
	case "late_arrival":
		return c.lateArrival(ctx, r)
	case "out_of_order":
		return c.outOfOrder(ctx, r)
	case "referential":
		return c.referential(ctx, r)
	case "accepted_values":
		return c.acceptedValues(ctx, r)
	case "range":
		return c.inRange(ctx, r)
	}
	return &specError{fmt.Sprintf("unknown check kind %q", c.s.Kind)}
}

// anyNull is "a IS NULL OR b IS NULL ...".
func anyNull(cols []string) string {
	parts := make([]string, len(cols))
	for i, col := range cols {
		parts[i] = col + " IS NULL"
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

func (c *checker) notNull(ctx context.Context, r *Result) error {
	where, args := c.where()
	var rows, bad int64
	sql := fmt.Sprintf("SELECT count(*), coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0) FROM %s WHERE %s", anyNull(c.cols), c.rel.Quoted(), where)
	if err := c.queryRow(ctx, sql, args...).Scan(&rows, &bad); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	return c.notNullResult(ctx, r, rows, bad)
}

// notNullResult judges not_null from its counts (in the window: rows, and rows with a
// NULL), fetching examples when there are NULLs.
func (c *checker) notNullResult(ctx context.Context, r *Result, rows, bad int64) error {
	r.Rows, r.Value, r.NoData = rows, float64(bad), rows == 0
	r.Detail = fmt.Sprintf("%s of %s rows have a NULL in %s", count(bad), count(rows), strings.Join(c.s.Columns, ", "))
	if bad > 0 {
		return c.exampleKeys(ctx, r, anyNull(c.cols))
	}
	return nil
}

func (c *checker) nullFraction(ctx context.Context, r *Result) error {
	where, args := c.where()
	exprs := []string{"count(*)"}
	for _, col := range c.cols {
		exprs = append(exprs, "count("+col+")")
	}
	vals := make([]int64, len(exprs))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(exprs, ", "), c.rel.Quoted(), where)
	if err := c.queryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	return c.nullFractionResult(ctx, r, vals[0], vals[1:])
}

// nullFractionResult judges null_fraction from the rows in the window and the non-NULL
// values of each column, fetching examples of the worst column's NULLs.
func (c *checker) nullFractionResult(ctx context.Context, r *Result, rows int64, nonNull []int64) error {
	r.Rows, r.NoData = rows, rows == 0
	if r.NoData {
		r.Detail = "no rows in the window"
		return nil
	}
	worst := 0
	var parts []string
	for i, name := range c.s.Columns {
		f := float64(rows-nonNull[i]) / float64(rows)
		if f > r.Value {
			r.Value, worst = f, i
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, percent(f)))
	}
	r.Detail = "NULL fraction: " + strings.Join(parts, ", ")
	if r.Value > 0 {
		return c.exampleKeys(ctx, r, c.cols[worst]+" IS NULL")
	}
	return nil
}

// exampleKeys fills r.Examples with the keys of up to MaxExamples rows matching pred.
func (c *checker) exampleKeys(ctx context.Context, r *Result, pred string, extra ...any) error {
	where, args := c.where()
	args = append(args, extra...)
	sel, names := c.keyText()
	order := ""
	if len(c.key) > 0 {
		order = " ORDER BY " + strings.Join(c.key, ", ")
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s%s LIMIT %d", strings.Join(sel, ", "), c.rel.Quoted(), where, pred, order, MaxExamples)
	rows, err := c.query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	vals, err := textRows(rows, len(sel))
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	for _, v := range vals {
		r.Examples = append(r.Examples, keyString(names, v))
	}
	return nil
}

func (c *checker) unique(ctx context.Context, r *Result) error {
	where, args := c.where()
	group := strings.Join(c.cols, ", ")
	var rows, keys, surplus int64
	// Rows with a NULL key column are not_null's business: like SQL's UNIQUE, they
	// are not duplicates of each other.
	where += " AND NOT " + anyNull(c.cols)
	sql := fmt.Sprintf(`SELECT coalesce(sum(n), 0), coalesce(sum(CASE WHEN n > 1 THEN 1 ELSE 0 END), 0), coalesce(sum(n - 1), 0)
FROM (SELECT count(*) AS n FROM %s WHERE %s GROUP BY %s) g`, c.rel.Quoted(), where, group)
	if err := c.queryRow(ctx, sql, args...).Scan(&rows, &keys, &surplus); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	r.Rows, r.Value, r.NoData = rows, float64(keys), rows == 0
	r.Detail = fmt.Sprintf("%s keys (%s) appear more than once: %s surplus rows of %s", count(keys), strings.Join(c.s.Columns, ", "), count(surplus), count(rows))
	if keys == 0 {
		return nil
	}
	sel := make([]string, len(c.cols))
	for i, col := range c.cols {
		sel[i] = c.text(col)
	}
	q := fmt.Sprintf("SELECT %s, count(*)::bigint FROM %s WHERE %s GROUP BY %s HAVING count(*) > 1 ORDER BY count(*) DESC, %s LIMIT %d",
		strings.Join(sel, ", "), c.rel.Quoted(), where, group, group, MaxExamples)
	res, err := c.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	defer res.Close()
	for res.Next() {
		vals := make([]*string, len(sel))
		var n int64
		dest := make([]any, 0, len(sel)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := res.Scan(append(dest, &n)...); err != nil {
			return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
		}
		r.Examples = append(r.Examples, fmt.Sprintf("%s ×%d", keyString(c.s.Columns, vals), n))
	}
	return res.Err()
}

// trailingDays is how far back missing_days looks for the median of a normal day.
const trailingDays = 28

// completeDays ends the window at its last complete day (Env.CompleteTo), for the kinds
// that judge whole days.
func (c *checker) completeDays() {
	if t := c.env.CompleteTo; t != nil && t.After(c.w.From) && t.Before(c.w.To) {
		c.w.To = *t
	}
}

func (c *checker) missingDays(ctx context.Context, r *Result) error {
	if err := c.needTime(); err != nil {
		return err
	}
	c.completeDays()
	from := c.missingDaysFrom()
	sql := fmt.Sprintf("SELECT %s, count(*) FROM %s WHERE %s >= %s AND %s < %s GROUP BY 1",
		c.text("CAST("+c.tc+" AS DATE)"), c.rel.Quoted(), c.tc, ts(1), c.tc, ts(2))
	rows, err := c.query(ctx, sql, from, c.w.To)
	if err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	perDay := map[string]int64{}
	defer rows.Close()
	for rows.Next() {
		var day string
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			return fmt.Errorf("%s: %w", c.s.Relation, err)
		}
		perDay[dayOf(day)] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	c.missingDaysResult(r, perDay)
	return nil
}

// missingDaysFrom is the start of the per-day counts missing_days reads: the trailing
// days before the window.
func (c *checker) missingDaysFrom() time.Time { return c.w.From.AddDate(0, 0, -trailingDays) }

// dayOf is the YYYY-MM-DD of a date rendered as text by the warehouse.
func dayOf(s string) string { return s[:min(len(s), 10)] }

// missingDaysResult judges missing_days from the rows per day (YYYY-MM-DD) from
// missingDaysFrom to the end of the window (a day without rows may be absent).
func (c *checker) missingDaysResult(r *Result, perDay map[string]int64) {
	missing := MissingDays(perDay, c.w, c.s.MinFraction)
	for _, d := range c.w.Days() {
		r.Rows += perDay[d.Format(time.DateOnly)]
	}
	r.Value = float64(len(missing))
	days := len(c.w.Days())
	r.Detail = fmt.Sprintf("%d of %d days in the window have no rows", len(missing), days)
	if c.s.MinFraction > 0 {
		r.Detail = fmt.Sprintf("%d of %d days in the window have no rows or fewer than %s of the trailing %d days' median", len(missing), days, percent(c.s.MinFraction), trailingDays)
	}
	r.NoData = r.Rows == 0
	r.Examples = limit(missing)
}

// MissingDays lists the days of w (as "YYYY-MM-DD: why") with no rows, or, with
// minFraction > 0, fewer rows than minFraction of the median of the trailing days
// that had rows (the 28 days before each day, from perDay).
func MissingDays(perDay map[string]int64, w window.Window, minFraction float64) []string {
	var out []string
	for _, d := range w.Days() {
		n := perDay[d.Format(time.DateOnly)]
		if n == 0 {
			out = append(out, d.Format(time.DateOnly)+": no rows")
			continue
		}
		if minFraction <= 0 {
			continue
		}
		var trail []int64
		for i := 1; i <= trailingDays; i++ {
			if v := perDay[d.AddDate(0, 0, -i).Format(time.DateOnly)]; v > 0 {
				trail = append(trail, v)
			}
		}
		if len(trail) == 0 {
			continue
		}
		med := median(trail)
		if float64(n) < minFraction*med {
			out = append(out, fmt.Sprintf("%s: %d rows (trailing median %s)", d.Format(time.DateOnly), n, strconv.FormatFloat(med, 'f', -1, 64)))
		}
	}
	return out
}

func median(v []int64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

func (c *checker) rowCountChange(ctx context.Context, r *Result) error {
	if err := c.needTime(); err != nil {
		return err
	}
	c.completeDays()
	prevFrom := c.prevFrom()
	var cur, prev int64
	sql := fmt.Sprintf("SELECT coalesce(sum(CASE WHEN %s >= %s THEN 1 ELSE 0 END), 0), coalesce(sum(CASE WHEN %s < %s THEN 1 ELSE 0 END), 0) FROM %s WHERE %s >= %s AND %s < %s",
		c.tc, ts(2), c.tc, ts(2), c.rel.Quoted(), c.tc, ts(1), c.tc, ts(3))
	if err := c.queryRow(ctx, sql, prevFrom, c.w.From, c.w.To).Scan(&cur, &prev); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	c.rowCountResult(r, cur, prev)
	return nil
}

// prevFrom is the start of the previous window of the same length (row_count_change).
func (c *checker) prevFrom() time.Time { return c.w.From.Add(-c.w.To.Sub(c.w.From)) }

// rowCountResult judges row_count_change from the rows of the window and of the
// previous one.
func (c *checker) rowCountResult(r *Result, cur, prev int64) {
	prevFrom := c.prevFrom()
	r.Rows = cur
	if prev == 0 {
		r.NoData = true
		r.Detail = fmt.Sprintf("%s rows; the previous window (%s .. %s) is empty: nothing to compare", count(cur), prevFrom.Format(time.DateOnly), c.w.From.Format(time.DateOnly))
		return
	}
	r.Value = math.Abs(float64(cur-prev)) / float64(prev)
	r.Detail = fmt.Sprintf("%s rows against %s in the previous window of the same length (%+.1f%%)", count(cur), count(prev), 100*float64(cur-prev)/float64(prev))
}

// lineage columns every raw table has (internal/ingest).
const (
	colLoad     = `"_etl_load"`
	colLoadedAt = `"_etl_loaded_at"`
)

// lateness is late_arrival's allowed lateness.
func (c *checker) lateness() (time.Duration, error) {
	lateness, err := plan.ParseDuration(c.s.AllowedLateness)
	if err != nil || lateness <= 0 {
		return 0, &specError{fmt.Sprintf("allowed_lateness %q: want a duration such as 1d", c.s.AllowedLateness)}
	}
	return lateness, nil
}

// landedAfter is the predicate of a row whose event time (tc) is more than d before
// its load (loadedAt).
func landedAfter(tc, loadedAt string, d time.Duration) string {
	return fmt.Sprintf("%s < %s - interval '%d seconds'", tc, loadedAt, int64(d.Seconds()))
}

func (c *checker) lateArrival(ctx context.Context, r *Result) error {
	if err := c.needTime(); err != nil {
		return err
	}
	lateness, err := c.lateness()
	if err != nil {
		return err
	}
	where, args := c.where()
	late := landedAfter(c.tc, colLoadedAt, lateness)
	sql := fmt.Sprintf("SELECT %s, count(*), coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0) FROM %s WHERE %s GROUP BY 1 ORDER BY 1",
		colLoad, late, c.rel.Quoted(), where)
	loads, err := c.perLoad(ctx, sql, args)
	if err != nil {
		return err
	}
	if !c.lateResult(r, loads) {
		return nil
	}
	// Late rows beyond the lookback of the incremental models reading the relation
	// were not picked up by them: their days need a reprocess.
	beyond := landedAfter(c.tc, colLoadedAt, c.s.Lookback)
	q := fmt.Sprintf("SELECT %s, count(*) FROM %s WHERE %s AND %s GROUP BY 1 ORDER BY 1",
		c.text("CAST("+c.tc+" AS DATE)"), c.rel.Quoted(), where, beyond)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	defer rows.Close()
	var days []string
	var n int64
	for rows.Next() {
		var day string
		var k int64
		if err := rows.Scan(&day, &k); err != nil {
			return fmt.Errorf("%s: %w", c.s.Relation, err)
		}
		days = append(days, dayOf(day))
		n += k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	c.reprocess(r, days, n)
	return nil
}

// lateResult judges late_arrival from its loads (ascending, each with its rows in the
// window and the late ones among them) and reports whether the days beyond the
// lookback are to be named (reprocess).
func (c *checker) lateResult(r *Result, loads []loadCount) bool {
	c.judgeLoads(r, loads, "late (landed more than "+c.s.AllowedLateness+" after their event time)")
	return r.Value != 0 && c.s.Lookback > 0
}

// reprocess names the days (ascending) whose n rows landed beyond the lookback.
func (c *checker) reprocess(r *Result, days []string, n int64) {
	if len(days) > 0 {
		r.Detail += fmt.Sprintf("; %s rows landed beyond the %s lookback of %s: reprocess %s", count(n), formatDur(c.s.Lookback),
			strings.Join(c.s.LookbackModels, ", "), strings.Join(limit(days), ", "))
		for _, d := range limit(days) {
			r.Examples = append(r.Examples, "reprocess "+d)
		}
		r.Examples = limit(r.Examples)
	}
}

// LoadOrigin is where a load of a raw table came from (etl2elt.object_loads).
type LoadOrigin struct {
	ObjectKey string
	// Partition is the day the object's key names (nil when it names none).
	Partition *time.Time
}

// LoadLookup resolves the _etl_load numbers of a raw table to their objects.
type LoadLookup func(ctx context.Context, ids []int64) (map[int64]LoadOrigin, error)

// Env is what some checks need beyond the warehouse.
type Env struct {
	// Loads resolves load numbers (out_of_order).
	Loads LoadLookup
	// CompleteTo, when set, is the end of the window's complete days: a scheduled run's
	// window ends tomorrow, and today is still landing. missing_days and
	// row_count_change judge whole days only: they stop there.
	CompleteTo *time.Time
}

// datePattern finds a partition day in an object key (dt=2026-01-07/, 2026-01-07.csv...).
var datePattern = regexp.MustCompile(`(\d{4})-(\d{2})-(\d{2})`)

// PartitionOf is the first valid date an object key names, relative to the landing
// prefix (nil when none).
func PartitionOf(key string) *time.Time {
	for _, m := range datePattern.FindAllString(key, -1) {
		if d, err := time.Parse(time.DateOnly, m); err == nil {
			return &d
		}
	}
	return nil
}

// outOfOrder counts, per load, the rows whose event day is before the day their
// object's key names: rows that arrived in a later partition than their own (a late
// re-delivery, a replayed export). Backfills re-land each day's own objects, so their
// loads are in order whatever order they run in. Loads of objects whose key names no
// day are not judged (said in the detail).
func (c *checker) outOfOrder(ctx context.Context, r *Result) error {
	if err := c.needTime(); err != nil {
		return err
	}
	if c.env.Loads == nil {
		return &specError{"an out_of_order check needs the load ledger (etl2elt.object_loads)"}
	}
	where, args := c.where()
	sql := fmt.Sprintf("SELECT %s, %s, count(*) FROM %s WHERE %s GROUP BY 1, 2 ORDER BY 1, 2",
		colLoad, c.text("CAST("+c.tc+" AS DATE)"), c.rel.Quoted(), where)
	rows, err := c.query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s (a raw table with _etl_load): %w", c.s.Relation, err)
	}
	perLoad := map[int64][]dayCount{}
	var ids []int64
	for rows.Next() {
		var id, n int64
		var day string
		if err := rows.Scan(&id, &day, &n); err != nil {
			rows.Close()
			return fmt.Errorf("%s: %w", c.s.Relation, err)
		}
		if _, seen := perLoad[id]; !seen {
			ids = append(ids, id)
		}
		perLoad[id] = append(perLoad[id], dayCount{dayOf(day), n})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	return c.outOfOrderResult(ctx, r, ids, perLoad)
}

// dayCount is the rows of one day.
type dayCount struct {
	day string
	n   int64
}

// outOfOrderResult judges out_of_order from the loads with rows in the window
// (ascending) and their rows per day, resolving the loads to their objects.
func (c *checker) outOfOrderResult(ctx context.Context, r *Result, ids []int64, perLoad map[int64][]dayCount) error {
	origins, err := c.env.Loads(ctx, ids)
	if err != nil {
		return fmt.Errorf("%s: load ledger: %w", c.s.Relation, err)
	}
	var loads []loadCount
	unjudged := 0
	for _, id := range ids {
		o, ok := origins[id]
		if !ok || o.Partition == nil {
			unjudged++
			continue
		}
		lc := loadCount{load: id, what: o.ObjectKey}
		part := o.Partition.Format(time.DateOnly)
		for _, dc := range perLoad[id] {
			lc.rows += dc.n
			if dc.day < part {
				lc.hits += dc.n
			}
		}
		loads = append(loads, lc)
	}
	c.judgeLoads(r, loads, "out of order (dated before the day their object's key names)")
	if unjudged > 0 {
		r.Detail += fmt.Sprintf("; %d loads not judged (their object key names no day)", unjudged)
	}
	return nil
}

type loadCount struct {
	load       int64
	what       string // the object, when known
	rows, hits int64
}

func (c *checker) perLoad(ctx context.Context, sql string, args []any) ([]loadCount, error) {
	rows, err := c.query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s (a raw table with _etl_load and _etl_loaded_at): %w", c.s.Relation, err)
	}
	defer rows.Close()
	var out []loadCount
	for rows.Next() {
		var lc loadCount
		if err := rows.Scan(&lc.load, &lc.rows, &lc.hits); err != nil {
			return nil, fmt.Errorf("%s: %w", c.s.Relation, err)
		}
		out = append(out, lc)
	}
	return out, rows.Err()
}

// judgeLoads sets the value to the worst load's fraction of hits, and names the loads
// with hits, worst first.
func (c *checker) judgeLoads(r *Result, loads []loadCount, what string) {
	var hits int64
	for _, l := range loads {
		r.Rows += l.rows
		hits += l.hits
		if f := float64(l.hits) / float64(l.rows); f > r.Value {
			r.Value = f
		}
	}
	r.NoData = r.Rows == 0
	r.Detail = fmt.Sprintf("%s of %s rows in %d loads are %s; worst load %s", count(hits), count(r.Rows), len(loads), what, percent(r.Value))
	sort.SliceStable(loads, func(i, j int) bool {
		return float64(loads[i].hits)/float64(loads[i].rows) > float64(loads[j].hits)/float64(loads[j].rows)
	})
	for _, l := range loads {
		if l.hits > 0 && len(r.Examples) < MaxExamples {
			name := fmt.Sprintf("load %d", l.load)
			if l.what != "" {
				name += " (" + excerpt(l.what, 200) + ")"
			}
			r.Examples = append(r.Examples, fmt.Sprintf("%s: %d of %d rows", name, l.hits, l.rows))
		}
	}
}

func (c *checker) referential(ctx context.Context, r *Result) error {
	ref := c.s.References
	other, refCols, err := c.referenced()
	if err != nil {
		return err
	}
	match, notNull := c.refMatch("x", "t", refCols)
	where, args := c.where()
	if c.tc != "" {
		where = strings.ReplaceAll(where, c.tc, "t."+c.tc)
	}
	// The count is an anti-join (a hash join on both dialects), not a subquery per row:
	// the distinct keys of the other side, left-joined.
	var rows, bad int64
	sql := fmt.Sprintf(`SELECT count(*), coalesce(sum(CASE WHEN %s AND x.%s IS NULL THEN 1 ELSE 0 END), 0)
FROM %s t LEFT JOIN (SELECT DISTINCT %s FROM %s) x ON %s WHERE %s`,
		strings.Join(notNull, " AND "), refCols[0], c.rel.Quoted(), strings.Join(refCols, ", "), other.Quoted(), strings.Join(match, " AND "), where)
	if err := c.queryRow(ctx, sql, args...).Scan(&rows, &bad); err != nil {
		return fmt.Errorf("%s against %s: %w", c.s.Relation, ref.Relation, err)
	}
	return c.referentialResult(ctx, r, rows, bad)
}

// referenced is the relation a referential check references and its columns (quoted).
func (c *checker) referenced() (ident.Relation, []string, error) {
	ref := c.s.References
	if ref == nil {
		return ident.Relation{}, nil, &specError{"a referential check needs references"}
	}
	other, err := ident.ParseRelation(ref.Relation)
	if err != nil {
		return ident.Relation{}, nil, err
	}
	if len(ref.Columns) != len(c.cols) {
		return ident.Relation{}, nil, &specError{fmt.Sprintf("references names %d columns for the check's %d", len(ref.Columns), len(c.cols))}
	}
	refCols := make([]string, len(ref.Columns))
	for i, col := range ref.Columns {
		if err := ident.Validate(col); err != nil {
			return ident.Relation{}, nil, err
		}
		refCols[i] = ident.Quote(col)
	}
	return other, refCols, nil
}

// refMatch is the join condition of the referenced relation (alias x) with the
// checked one (alias t), and the predicates of a row of t whose columns are not NULL.
func (c *checker) refMatch(x, t string, refCols []string) (match, notNull []string) {
	for i, col := range c.cols {
		match = append(match, fmt.Sprintf("%s.%s = %s.%s", x, refCols[i], t, col))
		notNull = append(notNull, t+"."+col+" IS NOT NULL")
	}
	return match, notNull
}

// referentialResult judges referential from the rows in the window and those whose
// columns are not found, fetching the missing keys as examples.
func (c *checker) referentialResult(ctx context.Context, r *Result, rows, bad int64) error {
	ref := c.s.References
	_, refCols, err := c.referenced()
	if err != nil {
		return err
	}
	other, _ := ident.ParseRelation(ref.Relation)
	match, notNull := c.refMatch("x", "t", refCols)
	where, args := c.where()
	if c.tc != "" {
		where = strings.ReplaceAll(where, c.tc, "t."+c.tc)
	}
	orphan := fmt.Sprintf("%s AND NOT EXISTS (SELECT 1 FROM %s x WHERE %s)", strings.Join(notNull, " AND "), other.Quoted(), strings.Join(match, " AND "))
	r.Rows, r.Value, r.NoData = rows, float64(bad), rows == 0
	r.Detail = fmt.Sprintf("%s of %s rows have %s not found in %s", count(bad), count(rows), strings.Join(c.s.Columns, ", "), ref.Relation)
	if bad == 0 {
		return nil
	}
	sel := make([]string, len(c.cols))
	for i, col := range c.cols {
		sel[i] = c.text("t." + col)
	}
	q := fmt.Sprintf("SELECT DISTINCT %s FROM %s t WHERE %s AND %s ORDER BY 1 LIMIT %d", strings.Join(sel, ", "), c.rel.Quoted(), where, orphan, MaxExamples)
	res, err := c.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	vals, err := textRows(res, len(sel))
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	for _, v := range vals {
		r.Examples = append(r.Examples, keyString(c.s.Columns, v))
	}
	return nil
}

// acceptedPred is accepted_values' predicate of a bad row, its values numbered after
// the window's arguments.
func (c *checker) acceptedPred() (string, []any) {
	mark, extra := c.marks()
	return c.acceptedExpr(c.cols[0], mark), *extra
}

// marks binds values as parameters numbered after the window's arguments, collected
// in extra.
func (c *checker) marks() (func(any) string, *[]any) {
	_, args := c.where()
	var extra []any
	return func(v any) string {
		extra = append(extra, v)
		return fmt.Sprintf("$%d", len(args)+len(extra))
	}, &extra
}

// acceptedExpr is the predicate of a value of col outside the accepted values (bound
// by mark).
func (c *checker) acceptedExpr(col string, mark func(any) string) string {
	marks := make([]string, len(c.s.Values))
	for i, v := range c.s.Values {
		marks[i] = mark(v)
		if c.redshift {
			// Every parameter in a select list is cast on Redshift (a bare one has no
			// type there).
			marks[i] = "CAST(" + marks[i] + " AS VARCHAR(65535))"
		}
	}
	return fmt.Sprintf("%s IS NOT NULL AND %s NOT IN (%s)", col, c.text(col), strings.Join(marks, ", "))
}

func (c *checker) acceptedShape() error {
	if len(c.cols) != 1 || len(c.s.Values) == 0 {
		return &specError{"an accepted_values check takes one column and a list of values"}
	}
	return nil
}

func (c *checker) acceptedValues(ctx context.Context, r *Result) error {
	if err := c.acceptedShape(); err != nil {
		return err
	}
	where, args := c.where()
	bad, extra := c.acceptedPred()
	var rows, n int64
	sql := fmt.Sprintf("SELECT count(*), coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0) FROM %s WHERE %s", bad, c.rel.Quoted(), where)
	if err := c.queryRow(ctx, sql, append(args, extra...)...).Scan(&rows, &n); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	return c.acceptedResult(ctx, r, rows, n)
}

// acceptedResult judges accepted_values from the rows in the window and those outside
// the values, fetching the most frequent of those as examples.
func (c *checker) acceptedResult(ctx context.Context, r *Result, rows, n int64) error {
	r.Rows, r.Value, r.NoData = rows, float64(n), rows == 0
	r.Detail = fmt.Sprintf("%s of %s rows hold a %s outside the %d accepted values", count(n), count(rows), c.s.Columns[0], len(c.s.Values))
	if n == 0 {
		return nil
	}
	return c.acceptedExamples(ctx, r)
}

// acceptedExamples fills r.Examples with the most frequent values outside the list
// (one bounded query).
func (c *checker) acceptedExamples(ctx context.Context, r *Result) error {
	where, args := c.where()
	bad, extra := c.acceptedPred()
	q := fmt.Sprintf("SELECT %s, count(*)::bigint FROM %s WHERE %s AND %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d", c.text(c.cols[0]), c.rel.Quoted(), where, bad, MaxExamples)
	res, err := c.query(ctx, q, append(args, extra...)...)
	if err != nil {
		return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
	}
	defer res.Close()
	for res.Next() {
		var v string
		var k int64
		if err := res.Scan(&v, &k); err != nil {
			return fmt.Errorf("%s: examples: %w", c.s.Relation, err)
		}
		r.Examples = append(r.Examples, fmt.Sprintf("%s ×%d", strconv.Quote(excerpt(v, 80)), k))
	}
	return res.Err()
}

// rangePred is range's predicate of a bad row, its bounds numbered after the window's
// arguments.
func (c *checker) rangePred() (string, []any) {
	mark, extra := c.marks()
	return c.rangeExpr(c.cols[0], mark), *extra
}

// rangeExpr is the predicate of a value of col out of the range (bounds bound by mark):
// below min or above max, compared in double precision, as range always compares.
//
// On a numeric column of PostgreSQL that conversion is the most expensive thing a
// check does per row (numeric to text to double: it doubled the cost of a scan), so
// the values are compared as numeric with a band around each bound, wide enough that
// a value outside it compares the same in double precision; only a value within the
// band (within 2^-30 of the bound, relatively) is converted. The count is the same for
// every value the conversion accepts (one beyond double precision's range, which made
// the check an error, now compares as numeric). A value inside the range costs two
// numeric comparisons.
func (c *checker) rangeExpr(col string, mark func(any) string) string {
	type side struct {
		op       string // < for min, > for max
		bound    string // the bound, as a double
		lo, hi   string // the band, as numerics ("" when not banded)
		inside   string // the band's side within the range
		outside  string // the band's side out of the range
		bandable bool
	}
	var sides []side
	for _, b := range []struct {
		op string
		v  *float64
	}{{"<", c.s.Min}, {">", c.s.Max}} {
		if b.v == nil {
			continue
		}
		sd := side{op: b.op, bound: mark(*b.v)}
		// A double rounds a value x < bound to bound only when bound - x is at most
		// half its ulp (|bound|·2^-53); 1e-300 covers a bound of 0 (and subnormal ones).
		w := math.Abs(*b.v)*0x1p-30 + 1e-300
		if lo, hi := *b.v-w, *b.v+w; c.numeric && !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
			sd.bandable, sd.lo, sd.hi = true, mark(lo), mark(hi)
			sd.inside, sd.outside = sd.hi, sd.lo
			if b.op == ">" {
				sd.inside, sd.outside = sd.lo, sd.hi
			}
		}
		sides = append(sides, sd)
	}
	preds := make([]string, len(sides))
	banded := true
	for i, sd := range sides {
		exact := fmt.Sprintf("%s %s CAST(%s AS DOUBLE PRECISION)", col, sd.op, sd.bound)
		if !sd.bandable {
			preds[i], banded = exact, false
			continue
		}
		in := map[string]string{"<": ">", ">": "<"}[sd.op]
		// NaN is above every number both as numeric and as double precision.
		preds[i] = fmt.Sprintf("CASE WHEN %s %s CAST(%s AS NUMERIC) THEN FALSE WHEN %s %s CAST(%s AS NUMERIC) THEN TRUE ELSE %s END",
			col, in, sd.inside, col, sd.op, sd.outside, exact)
	}
	pred := "(" + strings.Join(preds, " OR ") + ")"
	if banded && len(sides) == 2 {
		// Inside both bands: decided in two comparisons.
		pred = fmt.Sprintf("(CASE WHEN %s > CAST(%s AS NUMERIC) AND %s < CAST(%s AS NUMERIC) THEN FALSE ELSE %s END)",
			col, sides[0].inside, col, sides[1].inside, pred)
	}
	return pred
}

// lookupNumeric tells a range check whether its column is numeric (PostgreSQL; one
// catalog lookup), for beyond.
func (c *checker) lookupNumeric(ctx context.Context) error {
	if c.redshift || c.s.Kind != "range" || len(c.s.Columns) != 1 {
		return nil
	}
	var typ string
	err := c.queryRow(ctx, `SELECT format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, c.rel.Quoted(), c.s.Columns[0]).Scan(&typ)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // no such relation or column: the check's own query says so
	}
	if err != nil {
		return fmt.Errorf("%s: the type of %s: %w", c.s.Relation, c.s.Columns[0], err)
	}
	c.numeric = typ == "numeric"
	return nil
}

func (c *checker) rangeShape() error {
	if len(c.cols) != 1 || (c.s.Min == nil && c.s.Max == nil) {
		return &specError{"a range check takes one column and min, max or both"}
	}
	return nil
}

func (c *checker) inRange(ctx context.Context, r *Result) error {
	if err := c.rangeShape(); err != nil {
		return err
	}
	if err := c.lookupNumeric(ctx); err != nil {
		return err
	}
	where, args := c.where()
	bad, extra := c.rangePred()
	var rows, n int64
	sql := fmt.Sprintf("SELECT count(*), coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0) FROM %s WHERE %s", bad, c.rel.Quoted(), where)
	if err := c.queryRow(ctx, sql, append(args, extra...)...).Scan(&rows, &n); err != nil {
		return fmt.Errorf("%s: %w", c.s.Relation, err)
	}
	return c.rangeResult(ctx, r, rows, n)
}

// rangeResult judges range from the rows in the window and those out of range,
// fetching examples of those.
func (c *checker) rangeResult(ctx context.Context, r *Result, rows, n int64) error {
	r.Rows, r.Value, r.NoData = rows, float64(n), rows == 0
	r.Detail = fmt.Sprintf("%s of %s rows have %s out of range [%s, %s]", count(n), count(rows), c.s.Columns[0], bound(c.s.Min, "-∞"), bound(c.s.Max, "+∞"))
	if n == 0 {
		return nil
	}
	bad, extra := c.rangePred()
	return c.exampleKeys(ctx, r, bad, extra...)
}

func bound(v *float64, none string) string {
	if v == nil {
		return none
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// textRows reads rows of n nullable text columns.
func textRows(rows pgx.Rows, n int) ([][]*string, error) {
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		vals := make([]*string, n)
		dest := make([]any, n)
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// keyString renders "a=1, b=x" (NULL for a NULL value).
func keyString(names []string, vals []*string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		s := "NULL"
		if v != nil {
			s = excerpt(*v, 80)
		}
		name := "?"
		if i < len(names) {
			name = names[i]
		}
		parts[i] = name + "=" + s
	}
	return strings.Join(parts, ", ")
}

func excerpt(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func oneLine(s string, n int) string {
	return excerpt(strings.Join(strings.Fields(s), " "), n)
}

func limit(v []string) []string {
	if len(v) > MaxExamples {
		return v[:MaxExamples]
	}
	return v
}

func round(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// percent renders a fraction as a percentage with up to two decimals.
func percent(f float64) string {
	if f > 0 && f < 0.0001 {
		return "<0.01%"
	}
	s := strconv.FormatFloat(100*f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatDur(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
