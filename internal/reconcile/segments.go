package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// nullSegment stands for a NULL segment value in segment keys.
const nullSegment = "<null>"

// ComputeSegments aggregates rel over w per combination of the segment columns, in
// the database (GROUP BY; only aggregates travel): for each segment its row count and
// each measure's sum and null count. Keys read "region=emea|channel=web".
func ComputeSegments(ctx context.Context, q segmentQuerier, relation, timeColumn string, segments []string, measures []plan.Measure, w window.Window) (map[string]Totals, error) {
	return ComputeSegmentsWith(ctx, q, relation, timeColumn, segments, measures, ColumnNulls{}, w)
}

// ComputeSegmentsWith is ComputeSegments with each column of nulls' NULL count per
// segment.
func ComputeSegmentsWith(ctx context.Context, q segmentQuerier, relation, timeColumn string, segments []string, measures []plan.Measure, nulls ColumnNulls, w window.Window) (map[string]Totals, error) {
	rel, err := ident.ParseRelation(relation)
	if err != nil {
		return nil, err
	}
	if err := ident.Validate(timeColumn); err != nil {
		return nil, err
	}
	var groupCols []string
	for _, s := range segments {
		if err := ident.Validate(s); err != nil {
			return nil, err
		}
		groupCols = append(groupCols, ident.Quote(s)+"::text")
	}
	aggs, err := aggregateExprs(measures, nulls)
	if err != nil {
		return nil, err
	}
	exprs := append(append([]string{}, groupCols...), aggs...)
	var groupBy []string
	for i := range segments {
		groupBy = append(groupBy, fmt.Sprint(i+1))
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= $1 AND %s < $2 GROUP BY %s",
		strings.Join(exprs, ", "), rel.Quoted(), ident.Quote(timeColumn), ident.Quote(timeColumn), strings.Join(groupBy, ", "))
	rows, err := q.Query(ctx, sql, w.From, w.To)
	if err != nil {
		return nil, fmt.Errorf("segments of %s: %w", rel, err)
	}
	defer rows.Close()
	out := map[string]Totals{}
	vals := make([]*string, len(exprs))
	dest := make([]any, len(exprs))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("segments of %s: %w", rel, err)
		}
		var parts []string
		for i, s := range segments {
			v := nullSegment
			if vals[i] != nil {
				v = *vals[i]
			}
			parts = append(parts, s+"="+v)
		}
		out[strings.Join(parts, "|")] = readTotals(vals[len(segments):], measures, nulls)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("segments of %s: %w", rel, err)
	}
	return out, nil
}

// SegmentComparison is the outcome of comparing two sides segment by segment.
type SegmentComparison struct {
	Checks       []Check
	OnlyInLegacy []string
	OnlyInELT    []string
}

// CompareSegments compares each segment present on either side like CompareTotals
// does for totals (row count against the pair's row-count tolerance, sums against each
// measure's tolerance, null counts exactly, the columns' too). A segment present on one side only is
// listed and its checks fail. Offsets that cancel out in the totals show up here.
func CompareSegments(pair plan.OutputPair, legacy, elt map[string]Totals) SegmentComparison {
	keys := map[string]bool{}
	for k := range legacy {
		keys[k] = true
	}
	for k := range elt {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var res SegmentComparison
	for _, k := range sorted {
		l, inLegacy := legacy[k]
		e, inELT := elt[k]
		switch {
		case !inLegacy:
			res.OnlyInELT = append(res.OnlyInELT, k)
		case !inELT:
			res.OnlyInLegacy = append(res.OnlyInLegacy, k)
		}
		for _, c := range CompareTotals(pair, l, e) {
			c.Segment = k
			if !inLegacy || !inELT {
				c.Status = Fail
			}
			res.Checks = append(res.Checks, c)
		}
	}
	return res
}
