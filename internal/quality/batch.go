package quality

import (
	"context"
	"fmt"
	"strings"
	"time"

	"etl2elt/internal/window"
)

// scanKinds are the kinds computed by one aggregate over the relation's rows: RunAll
// folds every such check of one relation and time column into a single scan.
var scanKinds = map[string]bool{"not_null": true, "null_fraction": true, "accepted_values": true, "range": true}

// RunAll runs a domain's checks, in order. The checks of the scan kinds (not_null,
// null_fraction, accepted_values, range) on the same relation and time column share
// one scan: their counts come from one SELECT, and only checks that found something
// run their (bounded) example query. When the shared scan fails on what a check names
// (a missing column), each check of the group runs on its own, so that each gets its
// own status and error.
func RunAll(ctx context.Context, q Queryer, dialectName string, specs []Spec, w window.Window, env Env) ([]Result, error) {
	results := make([]Result, len(specs))
	done := make([]bool, len(specs))
	groups := map[string][]int{}
	var order []string
	for i, s := range specs {
		if !scanKinds[s.Kind] {
			continue
		}
		k := s.Relation + "\x00" + s.TimeColumn
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		if len(idx) < 2 {
			continue
		}
		batch := make([]Spec, len(idx))
		for j, i := range idx {
			batch[j] = specs[i]
		}
		rs, ok, err := runScan(ctx, q, dialectName, batch, w, env)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // run one by one below
		}
		for j, i := range idx {
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

// runScan runs checks of one relation and time column in one scan; ok is false when
// the scan failed on what a check names (the caller runs them one by one).
func runScan(ctx context.Context, q Queryer, dialectName string, specs []Spec, w window.Window, env Env) ([]Result, bool, error) {
	started := time.Now().UTC()
	parts := make([]*checker, len(specs))
	for i, s := range specs {
		c, err := newChecker(q, dialectName, s, w)
		if err != nil {
			return nil, false, nil
		}
		c.env = env
		parts[i] = c
	}
	where, args := parts[0].where()
	exprs := []string{"count(*)"}
	for _, c := range parts {
		switch c.s.Kind {
		case "not_null":
			exprs = append(exprs, fmt.Sprintf("coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0)", anyNull(c.cols)))
		case "null_fraction":
			for _, col := range c.cols {
				exprs = append(exprs, "count("+col+")")
			}
		case "accepted_values":
			if len(c.cols) != 1 || len(c.s.Values) == 0 {
				return nil, false, nil
			}
			marks := make([]string, len(c.s.Values))
			for j, v := range c.s.Values {
				args = append(args, v)
				marks[j] = fmt.Sprintf("$%d", len(args))
			}
			exprs = append(exprs, fmt.Sprintf("coalesce(sum(CASE WHEN %s IS NOT NULL AND %s NOT IN (%s) THEN 1 ELSE 0 END), 0)", c.cols[0], c.text(c.cols[0]), strings.Join(marks, ", ")))
		case "range":
			if len(c.cols) != 1 || (c.s.Min == nil && c.s.Max == nil) {
				return nil, false, nil
			}
			var preds []string
			if c.s.Min != nil {
				args = append(args, *c.s.Min)
				preds = append(preds, fmt.Sprintf("%s < CAST($%d AS DOUBLE PRECISION)", c.cols[0], len(args)))
			}
			if c.s.Max != nil {
				args = append(args, *c.s.Max)
				preds = append(preds, fmt.Sprintf("%s > CAST($%d AS DOUBLE PRECISION)", c.cols[0], len(args)))
			}
			exprs = append(exprs, fmt.Sprintf("coalesce(sum(CASE WHEN %s THEN 1 ELSE 0 END), 0)", strings.Join(preds, " OR ")))
		}
	}
	vals := make([]int64, len(exprs))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(exprs, ", "), parts[0].rel.Quoted(), where)
	if err := q.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		if definitive(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("quality checks on %s: %w", specs[0].Relation, err)
	}
	rows := vals[0]
	next := 1
	out := make([]Result, len(parts))
	for i, c := range parts {
		r := Result{Check: c.s.Name, Kind: c.s.Kind, Relation: c.s.Relation, Warn: c.s.QualityCheck.Warn, Fail: c.s.QualityCheck.Fail,
			Blocks: c.s.Blocks, StartedAt: started, Rows: rows, NoData: rows == 0}
		var err error
		switch c.s.Kind {
		case "not_null":
			bad := vals[next]
			next++
			r.Value = float64(bad)
			r.Detail = fmt.Sprintf("%s of %s rows have a NULL in %s", count(bad), count(rows), strings.Join(c.s.Columns, ", "))
			if bad > 0 {
				err = c.exampleKeys(ctx, &r, anyNull(c.cols))
			}
		case "null_fraction":
			worst := 0
			var ps []string
			for j, name := range c.s.Columns {
				nonNull := vals[next]
				next++
				f := 0.0
				if rows > 0 {
					f = float64(rows-nonNull) / float64(rows)
				}
				if f > r.Value {
					r.Value, worst = f, j
				}
				ps = append(ps, fmt.Sprintf("%s %s", name, percent(f)))
			}
			r.Detail = "NULL fraction: " + strings.Join(ps, ", ")
			if rows == 0 {
				r.Detail = "no rows in the window"
			}
			if r.Value > 0 {
				err = c.exampleKeys(ctx, &r, c.cols[worst]+" IS NULL")
			}
		case "accepted_values":
			n := vals[next]
			next++
			r.Value = float64(n)
			r.Detail = fmt.Sprintf("%s of %s rows hold a %s outside the %d accepted values", count(n), count(rows), c.s.Columns[0], len(c.s.Values))
			if n > 0 {
				err = c.acceptedExamples(ctx, &r)
			}
		case "range":
			n := vals[next]
			next++
			r.Value = float64(n)
			r.Detail = fmt.Sprintf("%s of %s rows have %s out of range [%s, %s]", count(n), count(rows), c.s.Columns[0], bound(c.s.Min, "-∞"), bound(c.s.Max, "+∞"))
			if n > 0 {
				bad, extra := c.rangePred()
				err = c.exampleKeys(ctx, &r, bad, extra...)
			}
		}
		if err != nil {
			if !definitive(err) {
				return nil, false, fmt.Errorf("quality check %s on %s: %w", c.s.Name, c.s.Relation, err)
			}
			r.Error = oneLine(err.Error(), 500)
		}
		r.FinishedAt = time.Now().UTC()
		r.Value = round(r.Value)
		r.Status = Judge(r.Value, r.Warn, r.Fail)
		if r.Error != "" {
			r.Status = Error
		}
		out[i] = r
	}
	return out, true, nil
}
