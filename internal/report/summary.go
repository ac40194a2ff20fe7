package report

import (
	"fmt"
	"sort"
	"strings"
)

// maxSegments bounds the segments shown per pair (the rest are counted).
const maxSegments = 50

// segmentRow is a segment's worst measure, for the variance view.
type segmentRow struct {
	Segment, Measure, Legacy, ELT, Difference string
	Rel                                       float64 // relative difference, -1 when undefined
	Tolerance                                 float64 // relative tolerance, -1 when none
	// TolText is the tolerance as the totals show it ("±0.01 or ±0.010 %").
	TolText string
	Fail    bool
}

// absent is what a side shows for a segment it does not have (not a NULL value).
const absent = "(no such segment)"

// segments picks, per segment, its worst check among the sums and the row count,
// worst first: failing before passing, then by relative difference. A segment one
// side lacks says so on that side. It returns at most maxSegments and how many were
// left out.
func segments(p Pair) ([]segmentRow, int) {
	onlyLegacy, onlyELT := map[string]bool{}, map[string]bool{}
	for _, s := range p.OnlyInLegacy {
		onlyLegacy[s] = true
	}
	for _, s := range p.OnlyInELT {
		onlyELT[s] = true
	}
	worst := map[string]segmentRow{}
	for _, c := range p.Checks {
		if c.Segment == "" || (c.Metric != "sum" && c.Metric != "row_count") {
			continue
		}
		measure := c.Measure
		if c.Metric == "row_count" {
			measure = "rows"
		}
		row := segmentRow{Segment: c.Segment, Measure: measure, Legacy: c.Legacy, ELT: c.ELT, Difference: c.Difference, Rel: -1, Tolerance: -1,
			TolText: tolText(c.ToleranceAbsolute, c.ToleranceRelative), Fail: c.Status != "pass"}
		switch {
		case onlyELT[c.Segment]:
			row.Legacy = absent
		case onlyLegacy[c.Segment]:
			row.ELT = absent
		}
		if c.RelativeDifference != nil {
			row.Rel = *c.RelativeDifference
		}
		if c.ToleranceRelative != nil {
			row.Tolerance = *c.ToleranceRelative
		}
		if cur, ok := worst[c.Segment]; !ok || worse(row, cur) {
			worst[c.Segment] = row
		}
	}
	rows := make([]segmentRow, 0, len(worst))
	for _, r := range worst {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if worse(rows[i], rows[j]) != worse(rows[j], rows[i]) {
			return worse(rows[i], rows[j])
		}
		return rows[i].Segment < rows[j].Segment
	})
	if len(rows) > maxSegments {
		return rows[:maxSegments], len(rows) - maxSegments
	}
	return rows, 0
}

func worse(a, b segmentRow) bool {
	if a.Fail != b.Fail {
		return a.Fail
	}
	return relKey(a) > relKey(b)
}

// relKey sorts an undefined relative difference (legacy 0 or NULL) above any number.
func relKey(r segmentRow) float64 {
	if r.Rel < 0 {
		if r.Difference == "" || r.Difference == "0" {
			return 0
		}
		return 1e18
	}
	return r.Rel
}

func totals(p Pair) []Check {
	var out []Check
	for _, c := range p.Checks {
		if c.Segment == "" {
			out = append(out, c)
		}
	}
	return out
}

func breaches(r Run) (pairsFailing, checks, failing int) {
	for _, p := range r.Pairs {
		if p.Status != "pass" {
			pairsFailing++
		}
		for _, c := range p.Checks {
			checks++
			if c.Status != "pass" {
				failing++
			}
		}
	}
	return
}

// worstVariance is the largest relative difference of a failing check, for the summary.
func worstVariance(r Run) string {
	best, where := -1.0, ""
	for _, p := range r.Pairs {
		for _, c := range p.Checks {
			if c.Status == "pass" || c.RelativeDifference == nil {
				continue
			}
			if *c.RelativeDifference > best {
				best = *c.RelativeDifference
				seg := c.Segment
				if seg == "" {
					seg = "total"
				}
				where = fmt.Sprintf("%s · %s · %s %s", p.Output, seg, c.Measure, c.Metric)
			}
		}
	}
	if best < 0 {
		return ""
	}
	return pct(best) + " (" + where + ")"
}

func pct(f float64) string {
	switch {
	case f == 0:
		return "0 %"
	case f < 0.0001:
		return fmt.Sprintf("%.2g %%", f*100)
	case f < 0.1:
		return fmt.Sprintf("%.3f %%", f*100)
	}
	return fmt.Sprintf("%.1f %%", f*100)
}

func relText(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return pct(*r)
}

func tolText(abs, rel *float64) string {
	var parts []string
	if abs != nil {
		parts = append(parts, fmt.Sprintf("±%g", *abs))
	}
	if rel != nil {
		parts = append(parts, "±"+pct(*rel))
	}
	if len(parts) == 0 {
		return "exact"
	}
	return strings.Join(parts, " or ")
}

func dash(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// cancelling says, per measure, when segments breach while the total passes: their
// offsets cancel in the total (a dashboard reading only the total would see nothing).
func cancelling(p Pair) []string {
	total := map[string]Check{}
	for _, c := range p.Checks {
		if c.Segment == "" && c.Metric == "sum" {
			total[c.Measure] = c
		}
	}
	failing := map[string][]string{}
	var measures []string
	for _, c := range p.Checks {
		if c.Segment == "" || c.Metric != "sum" || c.Status == "pass" {
			continue
		}
		if t, ok := total[c.Measure]; !ok || t.Status != "pass" {
			continue
		}
		if _, seen := failing[c.Measure]; !seen {
			measures = append(measures, c.Measure)
		}
		failing[c.Measure] = append(failing[c.Measure], fmt.Sprintf("%s %s", c.Segment, signed(c.Difference)))
	}
	sort.Strings(measures)
	var out []string
	for _, m := range measures {
		segs := failing[m]
		shown := segs[:min(len(segs), 6)]
		more := ""
		if len(segs) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(segs)-len(shown))
		}
		out = append(out, fmt.Sprintf("%s: the total is within tolerance (difference %s) while %d segment(s) breach: %s%s. Their offsets cancel in the total.",
			m, signed(total[m].Difference), len(segs), strings.Join(shown, ", "), more))
	}
	return out
}

func signed(d string) string {
	if d == "" {
		return "n/a"
	}
	if !strings.HasPrefix(d, "-") && d != "0" {
		return "+" + d
	}
	return d
}
