package report

import (
	"fmt"
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
		w("| measure | metric | legacy | ELT | difference | relative | tolerance | status |\n|---|---|---|---|---|---|---|---|\n")
		for _, c := range totals(p) {
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(c.Measure), cell(c.Metric), cell(dash(c.Legacy)), cell(dash(c.ELT)), cell(c.Difference), relText(c.RelativeDifference), tolText(c.ToleranceAbsolute, c.ToleranceRelative), strings.ToUpper(c.Status))
		}
		rows, omitted := segments(p)
		if len(rows) > 0 {
			w("\n### Variance by segment, worst first\n\n| segment | measure | legacy | ELT | difference | relative | status |\n|---|---|---|---|---|---|---|\n")
			for _, s := range rows {
				rel := "n/a"
				if s.Rel >= 0 {
					rel = pct(s.Rel)
				}
				st := "PASS"
				if s.Fail {
					st = "FAIL"
				}
				w("| %s | %s | %s | %s | %s | %s | %s |\n", cell(s.Segment), cell(s.Measure), cell(dash(s.Legacy)), cell(dash(s.ELT)), cell(s.Difference), rel, st)
			}
			if omitted > 0 {
				w("\n%d more segment(s) not shown.\n", omitted)
			}
		}
		if len(p.OnlyInLegacy) > 0 {
			w("\nSegments only in legacy: %s\n", cell(strings.Join(p.OnlyInLegacy, ", ")))
		}
		if len(p.OnlyInELT) > 0 {
			w("\nSegments only in ELT: %s\n", cell(strings.Join(p.OnlyInELT, ", ")))
		}
		if d := p.RowDiff; d != nil {
			w("\n### Row-level diff\n\nmissing in legacy %d · missing in ELT %d · mismatched %d · within tolerance %d · rows fetched %d\n",
				d.MissingInLegacy, d.MissingInELT, d.Mismatched, d.WithinTolerance, d.RowsFetched)
			if d.Bounded {
				w("\n> The diff stopped early (%s): the counts are lower bounds.\n", cell(d.BoundReason))
			}
			if len(d.Sample) > 0 {
				w("\n| key | kind | column | legacy | ELT |\n|---|---|---|---|---|\n")
				for _, k := range d.Sample {
					if len(k.Columns) == 0 {
						w("| %s | %s | | | |\n", cell(k.Key), cell(k.Kind))
					}
					for _, c := range k.Columns {
						w("| %s | %s | %s | %s | %s |\n", cell(k.Key), cell(k.Kind), cell(c.Column), cell(c.Legacy), cell(c.ELT))
					}
				}
			}
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

// cell escapes a value for a Markdown table cell or line.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}
