package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Markdown renders the run as Markdown (table cells escaped).
func Markdown(r Run) ([]byte, error) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Reconciliation · %s · %s\n\n", cell(r.Domain), cell(r.Window))
	w("**%s** · plan `%s` (%s) · run `%s` · generated %s\n\n", strings.ToUpper(r.Status), cell(r.Plan), shortHash(r.PlanHash), cell(r.RunID), r.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC"))
	failingPairs, checks, failing := breaches(r)
	w("## Summary\n\n%d output pair(s), %d failing; %d check(s), %d over tolerance.", len(r.Pairs), failingPairs, checks, failing)
	if v := worstVariance(r); v != "" {
		w(" Worst variance: %s.", cell(v))
	}
	w("\n\n")
	if len(r.KPIDefinitionChanges) > 0 {
		w("> **Comparisons across a KPI definition change.** ")
		for i, c := range r.KPIDefinitionChanges {
			if i > 0 {
				w("; ")
			}
			w("%s v%d on %s by %s: %s", cell(c.Metric), c.Version, c.At.UTC().Format("2006-01-02"), cell(c.ChangedBy), cell(c.Reason))
		}
		w("\n\n")
	}
	for _, p := range r.Pairs {
		w("## %s: %s\n\n`%s` (legacy) ↔ `%s` (ELT)\n\n", cell(p.Output), strings.ToUpper(p.Status), cell(p.LegacyRelation), cell(p.ELTRelation))
		if p.StoredRunID != "" {
			w("Every compared number: `SELECT * FROM etl2elt.reconcile_results WHERE run_id = '%s'`\n\n", cell(p.StoredRunID))
		}
		w("| measure | metric | legacy | ELT | difference | relative | tolerance | status |\n|---|---|---|---|---|---|---|---|\n")
		for _, c := range totals(p) {
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(c.Measure), cell(c.Metric), cell(dash(c.Legacy)), cell(dash(c.ELT)), cell(c.Difference), relText(c.RelativeDifference), tolText(c.ToleranceAbsolute, c.ToleranceRelative), strings.ToUpper(c.Status))
		}
		w("\n### Differences by cause\n\n")
		if causes := Causes(p); len(causes) == 0 {
			w("No difference: every compared number agrees exactly.\n")
		} else {
			w("| cause | count | fails the pair | worst examples |\n|---|---|---|---|\n")
			for _, c := range causes {
				w("| %s | %s | %s | %s |\n", cell(c.Title), cell(c.Count()), yesNo(c.Fails), cell(strings.Join(c.Examples, "; ")))
			}
		}
		rows, omitted := segments(p)
		if len(rows) > 0 {
			w("\n### Variance by segment, worst first\n\n| segment | measure | legacy | ELT | difference | relative | tolerance | status |\n|---|---|---|---|---|---|---|---|\n")
			for _, s := range rows {
				rel := "n/a"
				if s.Rel >= 0 {
					rel = pct(s.Rel)
				}
				st := "PASS"
				if s.Fail {
					st = "FAIL"
				}
				w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(s.Segment), cell(s.Measure), cell(dash(s.Legacy)), cell(dash(s.ELT)), cell(s.Difference), rel, cell(s.TolText), st)
			}
			if omitted > 0 {
				w("\n%d more segment(s) not shown.\n", omitted)
			}
		}
		for _, c := range cancelling(p) {
			w("\n> **Offsets that cancel.** %s\n", cell(c))
		}
		if len(p.OnlyInLegacy) > 0 {
			w("\nSegments only in legacy: %s\n", cell(segmentList(p.OnlyInLegacy, p.OnlyInLegacyCount)))
		}
		if len(p.OnlyInELT) > 0 {
			w("\nSegments only in ELT: %s\n", cell(segmentList(p.OnlyInELT, p.OnlyInELTCount)))
		}
		if d := p.RowDiff; d != nil {
			w("\n### Row-level diff\n\n%s\n", rowDiffCounts(d))
			if d.Bounded {
				w("\n> The diff stopped early (%s): the counts are lower bounds.\n", cell(d.BoundReason))
			}
			if d.NormalisationOnlyBounded {
				w("\n> The normalisation-only pass stopped early: its count is a lower bound.\n")
			}
			if len(d.Sample) > 0 {
				w("\n#### %s\n\n| key | cause | segment | column | legacy | ELT |\n|---|---|---|---|---|---|\n", sampleTitle(d))
				for _, k := range d.Sample {
					if len(k.Columns) == 0 {
						w("| %s | %s | %s | | | |\n", cell(k.Key), cell(k.Kind), cell(k.Segment))
					}
					for _, c := range k.Columns {
						w("| %s | %s | %s | %s | %s | %s |\n", cell(k.Key), cell(k.Kind), cell(k.Segment), cell(columnLabel(c)),
							cell(shown(c.Legacy, c.LegacyNull)), cell(shown(c.ELT, c.ELTNull)))
					}
				}
			}
		}
		w("\n")
	}
	if l := r.Landing; l != nil {
		w("## Landing\n\n")
		w("This run landed %d object(s) (%d rows, %d quarantined); %d could not be landed, %d skipped by decision. Objects landed by earlier runs and left alone are not counted.\n\n",
			l.Loaded, l.Rows, l.Quarantined, l.Failed, l.Skipped)
		if len(l.Objects) > 0 {
			w("| status | source | object | rows | quarantined | undeclared columns (not loaded) | reason |\n|---|---|---|---|---|---|---|\n")
			for _, o := range l.Objects {
				w("| %s | %s | %s | %d | %d | %s | %s |\n", strings.ToUpper(o.Status), cell(o.Source), cell(o.Key), o.Rows, o.Quarantined,
					cell(strings.Join(o.ExtraColumns, ", ")), cell(o.Reason))
			}
			if l.More > 0 {
				w("\n…and %d more (etl2elt.loads).\n", l.More)
			}
			w("\n")
		}
	}
	w("## Quality and freshness\n\n")
	switch {
	case !r.QualityMeasured:
		w("Not measured: no quality check or freshness SLA ran for this run.\n\n")
	default:
		counts := qualityCounts(r.Quality)
		w("%d pass, %d warn, %d fail, %d error.\n\n", counts["pass"], counts["warn"], counts["fail"], counts["error"])
		w("| status | check | kind | relation | value | warn | fail | detail | examples |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, q := range sortedQuality(r.Quality) {
			st := strings.ToUpper(q.Status)
			if q.NoData {
				st += " (no data)"
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", st, cell(q.Check), cell(q.Kind), cell(q.Relation), qualityValue(q.Kind, q.Value),
				threshold(q.Kind, q.Warn), threshold(q.Kind, q.Fail), cell(q.Detail), cell(strings.Join(firstN(q.Examples, 3), "; ")))
		}
		w("\n")
	}
	w("## Trend of breaches across cycles\n\n")
	if len(r.Trend) == 0 {
		w("No earlier run.\n")
	} else {
		w("| run | at | checks | breaches |\n|---|---|---|---|\n")
		for _, t := range r.Trend {
			w("| %s | %s | %d | %d |\n", cell(t.RunID), t.At.UTC().Format("2006-01-02 15:04"), t.Checks, t.Breaches)
		}
	}
	return []byte(b.String()), nil
}

// qualityCounts counts results per status.
func qualityCounts(q []QualityResult) map[string]int {
	out := map[string]int{}
	for _, r := range q {
		out[r.Status]++
	}
	return out
}

// sortedQuality puts the worst first (error, fail, warn, pass), then by check name.
func sortedQuality(q []QualityResult) []QualityResult {
	rank := map[string]int{"error": 0, "fail": 1, "warn": 2, "pass": 3}
	out := append([]QualityResult(nil), q...)
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Status] != rank[out[j].Status] {
			return rank[out[i].Status] < rank[out[j].Status]
		}
		return out[i].Check < out[j].Check
	})
	return out
}

// qualityValue renders a check's value: seconds for freshness, a percentage for the
// fraction kinds, a count otherwise.
func qualityValue(kind string, v float64) string {
	switch kind {
	case "freshness":
		return strconv.FormatFloat(v/3600, 'f', 1, 64) + " h"
	case "null_fraction", "row_count_change", "late_arrival", "out_of_order":
		return pct(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func threshold(kind string, v *float64) string {
	if v == nil {
		return "—"
	}
	return qualityValue(kind, *v)
}

func firstN(v []string, n int) []string {
	if len(v) > n {
		return v[:n]
	}
	return v
}

// cell escapes a value for a Markdown table cell or line.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// segmentList joins segment keys, saying how many more there are than listed.
func segmentList(segs []string, count int) string {
	s := strings.Join(segs, ", ")
	if count > len(segs) {
		s += fmt.Sprintf(" … and %d more", count-len(segs))
	}
	return s
}

// rowDiffCounts is the row diff's counts on one line.
func rowDiffCounts(d *RowDiff) string {
	norm := fmt.Sprint(d.NormalisationOnly)
	if d.NormalisationOnlyBounded {
		norm = "≥ " + norm
	}
	return fmt.Sprintf("missing in legacy %d · missing in ELT %d · mismatched %d · within tolerance %d · normalisation-only %s · rows fetched %d",
		d.MissingInLegacy, d.MissingInELT, d.Mismatched, d.WithinTolerance, norm, d.RowsFetched)
}

// sampleTitle names the row sample and how it was drawn.
func sampleTitle(d *RowDiff) string {
	t := fmt.Sprintf("Row sample: %d key(s), stratified across causes and segments", len(d.Sample))
	if d.SampleStored > len(d.Sample) {
		t += fmt.Sprintf(" (the first %d of %d stored)", len(d.Sample), d.SampleStored)
	}
	return t
}

// columnLabel is a sampled column's name, with why it does not count when it does
// not.
func columnLabel(c ColumnDiff) string {
	switch {
	case c.WithinTolerance:
		return c.Column + " (within tolerance)"
	case c.NormalisationOnly:
		return c.Column + " (normalisation only)"
	}
	return c.Column
}
