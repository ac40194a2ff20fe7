package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// maxMarkdownTrend bounds the cycles of the Markdown variance table (the HTML chart
// shows every loaded cycle).
const maxMarkdownTrend = 30

// RenderExecutiveMarkdown writes the report as Markdown (cells escaped).
func RenderExecutiveMarkdown(w io.Writer, e *Executive) error {
	if e == nil {
		return fmt.Errorf("render executive report: nothing to render")
	}
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	title := "# Executive evidence · " + cell(e.Plan)
	if e.Domain != "" {
		title += " · " + cell(e.Domain)
	}
	p("%s\n\n", title)
	scope := "every domain of the plan"
	if e.Domain != "" {
		scope = "domain " + cell(e.Domain)
	}
	p("plan `%s` (%s) · generated %s UTC · %s", cell(e.Plan), shortHash(e.PlanHash), exDate(e.GeneratedAt), scope)
	if e.Currency != "" {
		p(" · amounts in %s", cell(e.Currency))
	}
	p("\n\nThree questions: is it safe to switch (verdict, variance, freshness and quality), what did it cost (cost against budget), who decided (decision log). Each section names the control-schema rows (schema `etl2elt`) its figures come from.\n\n")
	if e.Domain == "" {
		p("## Summary of domains\n\n| domain | phase | verdict | cycles | spend vs budget | projected |\n|---|---|---|---|---|---|\n")
		for _, d := range e.Domains {
			p("| %s | %s | %s | %d | %s | %s |\n", cell(d.Name), cell(d.Phase), d.Verdict.Label(), d.CycleCount, cell(d.Cost.SpendVsBudget()), cell(d.Cost.ProjectedVsBudget()))
		}
		p("\n_source: etl2elt.migration_cycles (phase, verdict), etl2elt.cost_usage (spend), the plan's budgets and etl2elt.decisions kind=raise-budget; per domain below._\n\n")
	}
	for _, d := range e.Domains {
		markdownDomain(p, d)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write executive report: %w", err)
	}
	return nil
}

func src(s string) string { return "_source: " + cell(s) + "_\n\n" }

func markdownDomain(p func(string, ...any), d DomainEvidence) {
	p("## %s: %s\n\n", cell(d.Name), d.Verdict.Label())
	var facts []string
	if d.Description != "" {
		facts = append(facts, cell(d.Description))
	}
	facts = append(facts, "phase **"+cell(d.Phase)+"**", fmt.Sprintf("%d cycle(s)", d.CycleCount))
	if d.MigrationID != "" {
		facts = append(facts, "migration `"+cell(d.MigrationID)+"`")
	}
	if len(d.Owners) > 0 {
		facts = append(facts, "owners "+cell(strings.Join(d.Owners, ", ")))
	}
	if len(d.Approvers) > 0 {
		facts = append(facts, "approvers "+cell(strings.Join(d.Approvers, ", ")))
	}
	p("%s\n\n", strings.Join(facts, " · "))

	// 1. Verdict.
	p("### 1. Verdict: is it safe to switch?\n\n**%s** %s\n\n", d.Verdict.Label(), cell(d.Verdict.Summary))
	if len(d.Verdict.Criteria) > 0 {
		p("| criterion | value | threshold | result |\n|---|---|---|---|\n")
		for _, c := range d.Verdict.Criteria {
			res := "FAIL"
			if c.Pass {
				res = "PASS"
			}
			p("| %s | %s | %s | %s |\n", cell(c.Name), cell(c.Value), cell(c.Threshold), res)
		}
		p("\n")
	} else if d.CycleCount > 0 {
		p("> The latest cycle recorded no criteria evaluation: never read as go.\n\n")
	}
	if n := len(d.Cycles); n > 0 {
		recent := d.Cycles[max(0, n-10):]
		p("| cycle | phase | finished | status | breaches | quality failures | freshness | budget | reconciliation report |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range recent {
			st := strings.ToUpper(c.Status)
			if c.NoData {
				st += " (no data)"
			}
			report := "—"
			if c.ReportMarkdown != "" {
				report = "`" + cell(c.ReportMarkdown) + "`"
			}
			p("| %d | %s | %s | %s | %d | %s | %s | %s | %s |\n", c.Cycle, cell(c.Phase), exDate(c.FinishedAt), st, c.Breaches, intPtrText(c.QualityFailures),
				boolText(c.FreshnessHeld, "held", "missed"), boolText(c.WithinBudget, "within", "over"), report)
		}
		if n > 10 {
			p("\n%d earlier cycle(s) not listed.\n", n-10)
		}
		p("\n")
	}
	source := d.Verdict.Source
	if d.CycleSource != "" && d.CycleSource != source {
		source += "; " + d.CycleSource
	}
	p("%s", src(source))

	// 2. Variance.
	v := d.Variance
	p("### 2. Variance across cycles\n\n")
	if len(v.Series) == 0 {
		p("No reconciliation of a cycle yet: not yet measured.\n\n")
	} else {
		cycles := map[int]bool{}
		var order []int
		for _, s := range v.Series {
			for _, pt := range s.Points {
				if !cycles[pt.Cycle] {
					cycles[pt.Cycle] = true
					order = append(order, pt.Cycle)
				}
			}
		}
		slices.Sort(order)
		skipped := 0
		if len(order) > maxMarkdownTrend {
			skipped = len(order) - maxMarkdownTrend
			order = order[skipped:]
		}
		breaches := map[int]CycleCount{}
		for _, b := range v.Breaches {
			breaches[b.Cycle] = b
		}
		p("Relative difference legacy ↔ ELT of each total per cycle (breaches marked ✗), and the checks over tolerance of the cycle (totals and segments).\n\n| cycle | over tolerance |")
		for _, s := range v.Series {
			p(" %s |", cell(s.Name()))
		}
		p("\n|---|---|")
		for range v.Series {
			p("---|")
		}
		p("\n")
		for _, c := range order {
			p("| %d | %d of %d |", c, breaches[c].Count, breaches[c].Of)
			for _, s := range v.Series {
				txt := "—"
				for _, pt := range s.Points {
					if pt.Cycle == c {
						txt = relText(pt.RelativeDifference)
						if pt.Status != "pass" {
							txt += " ✗"
						}
					}
				}
				p(" %s |", txt)
			}
			p("\n")
		}
		p("| tolerance | |")
		for _, s := range v.Series {
			p(" %s |", tolText(s.ToleranceAbsolute, s.ToleranceRelative))
		}
		p("\n\n")
		if skipped > 0 {
			p("%d earlier cycle(s) not listed (the HTML page charts them).\n\n", skipped)
		}
	}
	if v.LatestCycle > 0 {
		p("#### Worst segments of cycle %d\n\n%d of %d segment(s) over tolerance.\n\n", v.LatestCycle, v.SegmentsBreaching, v.SegmentsCompared)
		if len(v.Worst) > 0 {
			p("| output | segment | measure | legacy | ELT | difference | relative | result | status (open / explained) |\n|---|---|---|---|---|---|---|---|---|\n")
			for _, w := range v.Worst {
				res := w.Resolution
				if w.ExplainedBy != "" {
					res += fmt.Sprintf(" by %s: %s (decision #%d)", w.ExplainedBy, w.Explanation, w.ExplanationID)
				}
				p("| %s | %s | %s %s | %s | %s | %s | %s | %s | %s |\n", cell(w.Output), cell(w.Segment), cell(w.Measure), cell(w.Metric), cell(dash(w.Legacy)), cell(dash(w.ELT)),
					cell(dash(w.Difference)), relText(w.RelativeDifference), strings.ToUpper(w.Status), cell(res))
			}
			p("\n")
		}
		p("#### Day-level roll-up of the breaching segments\n\n")
		if len(v.Rollup) == 0 {
			p("No segment over tolerance in cycle %d.\n\n", v.LatestCycle)
		} else {
			p("| output | measure | day | segments (breaching) | legacy | ELT | difference | relative | day total |\n|---|---|---|---|---|---|---|---|---|\n")
			for _, r := range v.Rollup {
				day := r.Day
				if day == "" {
					day = "whole window"
				}
				verdict := "breaches"
				if r.Cancels {
					verdict = "offsets cancel: within tolerance"
				}
				p("| %s | %s | %s | %d (%d) | %s | %s | %s | %s | %s |\n", cell(r.Output), cell(r.Measure), cell(day), r.Segments, r.Breaching, cell(r.Legacy), cell(r.ELT),
					cell(dash(r.Difference)), relText(r.RelativeDifference), verdict)
			}
			p("\n")
		}
	}
	vs := v.Source
	if v.LatestCycle > 0 {
		vs += fmt.Sprintf("; worst segments and roll-up: the sum checks of cycle %d (etl2elt.reconcile_results segment <> ''), aggregated in SQL; explained: %s", v.LatestCycle, v.ExplainSource)
	}
	p("%s", src(vs))

	// 3. Freshness and quality.
	q := d.Quality
	p("### 3. Freshness and quality\n\nFreshness SLA attainment: **%s**. Quality checks: ", freshnessText(q))
	if q.Measured() {
		p("measured in the cycles below.\n\n")
	} else {
		p("**not yet measured**.\n\n")
	}
	if len(q.Cycles) > 0 {
		p("| cycle | checks | pass | warn | fail | error | freshness SLAs met |\n|---|---|---|---|---|---|---|\n")
		for _, c := range q.Cycles[max(0, len(q.Cycles)-maxMarkdownTrend):] {
			if c.Checks == 0 {
				p("| %d | not yet measured | | | | | |\n", c.Cycle)
				continue
			}
			fresh := "not yet measured"
			if c.FreshnessRuns > 0 {
				fresh = fmt.Sprintf("%d of %d", c.FreshnessMet, c.FreshnessRuns)
			}
			p("| %d | %d | %d | %d | %d | %d | %s |\n", c.Cycle, c.Checks, c.Pass, c.Warn, c.Fail, c.Error, fresh)
		}
		p("\n")
	}
	if len(q.SLAs) > 0 {
		p("| freshness SLA | relation | met | missed | could not run | attainment |\n|---|---|---|---|---|---|\n")
		for _, s := range q.SLAs {
			p("| %s | %s | %d | %d | %d | %s |\n", cell(s.Check), cell(s.Relation), s.Met, s.Missed, s.Errors, s.Attainment())
		}
		p("\n")
	} else {
		p("Freshness SLAs: not yet measured in any cycle.\n\n")
	}
	if len(q.FailingLatest) > 0 {
		p("| failing in the latest measured cycle | kind | relation | status | detail |\n|---|---|---|---|---|\n")
		for _, f := range q.FailingLatest {
			p("| %s | %s | %s | %s | %s |\n", cell(f.Check), cell(f.Kind), cell(f.Relation), strings.ToUpper(f.Status), cell(f.Detail))
		}
		p("\n")
	}
	p("%s", src(q.Source))

	// 4. Cost.
	c := d.Cost
	p("### 4. Cost to date against budget\n\n%s **%s** %s\n\n", cell(c.SpentLead()), cell(moneyC(c.Currency, c.Total)), cell(c.SpentDetail()))
	p("| budget | plan | raised | budget | spent | used | projected to completion |\n|---|---|---|---|---|---|---|\n")
	for _, b := range c.Budgets {
		planned, raised, budget, used, projected := "—", "—", "no budget", "—", "—"
		if b.Planned > 0 {
			planned = money(b.Planned)
		}
		if b.Raises > 0 {
			raised = fmt.Sprintf("%s (%d×)", money(b.Raised), b.Raises)
		}
		if b.HasBudget {
			budget = money(b.Budget)
			if b.Budget > 0 {
				used = pct(b.Spent / b.Budget)
			}
		}
		if b.Projected != nil {
			projected = money(*b.Projected)
			if b.ProjectedOver() {
				projected += " (over budget)"
			}
		}
		spent := moneyC(c.Currency, b.Spent)
		if b.Over() {
			spent += " (over budget)"
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", b.Name, planned, raised, budget, cell(spent), used, projected)
	}
	p("\n")
	if len(c.ByKind) > 0 {
		p("| kind of work | spent | ledger rows |\n|---|---|---|\n")
		for _, k := range c.ByKind {
			p("| %s | %s | %d |\n", cell(k.Kind), cell(moneyC(c.Currency, k.Cost)), k.Entries)
		}
		p("\n")
	} else {
		p("Nothing in the cost ledger for this domain yet: not yet measured.\n\n")
	}
	p("**Projection to completion.** %s\n\n", cell(c.ProjectionText()))
	p("%s", src(c.Source+"; "+c.SpendRule()))

	// 5. Decisions.
	p("### 5. Decision log\n\n")
	if len(d.Decisions.Entries) == 0 {
		p("No decision recorded for this domain.\n\n")
	} else {
		p("| # | when (UTC) | kind | who | why | on | evidence seen |\n|---|---|---|---|---|---|---|\n")
		for _, e := range d.Decisions.Entries {
			on := strings.TrimSpace(e.Target + " " + e.Subject)
			p("| %d | %s | **%s** | %s | %s | %s | %s |\n", e.ID, exDate(e.At), cell(e.Kind), cell(e.By), cell(e.Reason), cell(on), cell(e.Evidence))
		}
		if d.Decisions.Total > len(d.Decisions.Entries) {
			p("\n%d latest of %d decisions shown.\n", len(d.Decisions.Entries), d.Decisions.Total)
		}
		p("\n")
	}
	p("%s", src(d.Decisions.Source))

	// 6. KPI registry.
	k := d.KPI
	p("### 6. KPI registry\n\n")
	if len(k.Metrics) == 0 {
		p("The domain declares no metric.\n\n")
	} else {
		p("| metric | owner | version (plan) | versions recorded | relation | dashboards |\n|---|---|---|---|---|---|\n")
		for _, m := range k.Metrics {
			rec := "not recorded yet"
			if len(m.Recorded) > 0 {
				parts := make([]string, len(m.Recorded))
				for i, v := range m.Recorded {
					parts[i] = fmt.Sprintf("v%d", v)
				}
				rec = strings.Join(parts, ", ")
			}
			p("| %s | %s | v%d | %s | `%s` | %s |\n", cell(m.Name), cell(m.Owner), m.Version, rec, cell(m.Relation), cell(strings.Join(m.Dashboards, ", ")))
		}
		p("\n")
	}
	if len(k.Outputs) > 0 {
		p("| output | consumption view | dashboards that depend on it (owner) | metrics on it |\n|---|---|---|---|\n")
		for _, o := range k.Outputs {
			var ds []string
			for _, b := range o.Dashboards {
				t := b.Name + " (" + b.Owner
				if b.Tool != "" {
					t += ", " + b.Tool
				}
				ds = append(ds, t+")")
			}
			deps := strings.Join(ds, ", ")
			if deps == "" {
				deps = "none declared"
			}
			p("| %s | `%s` | %s | %s |\n", cell(o.Output), cell(o.Consumption), cell(deps), cell(strings.Join(o.Metrics, ", ")))
		}
		p("\n")
	}
	for _, ch := range k.Changes {
		p("#### Definition change of %s during the migration: v%d → v%d on %s\n\n", cell(ch.Metric), ch.Old.Version, ch.New.Version, exDate(ch.Changed))
		p("| | v%d: %s → %s (%d cycle(s)) | v%d: %s → %s (%d cycle(s)) |\n|---|---|---|\n", ch.Old.Version, exDate(ch.OldFrom), exDate(ch.Changed), ch.CyclesBefore,
			ch.New.Version, exDate(ch.Changed), exDate(ch.NewTo), ch.CyclesAfter)
		o, n := ch.Old.Definition, ch.New.Definition
		p("| expression | `%s` | `%s` |\n", cell(o.Expression), cell(n.Expression))
		p("| relation | `%s` | `%s` |\n", cell(o.Relation), cell(n.Relation))
		p("| time column | %s | %s |\n", cell(o.TimeColumn), cell(n.TimeColumn))
		p("| dimensions | %s | %s |\n", cell(strings.Join(o.Dimensions, ", ")), cell(strings.Join(n.Dimensions, ", ")))
		p("| filter | `%s` | `%s` |\n", cell(o.Filter), cell(n.Filter))
		p("| owner | %s | %s |\n", cell(ch.Old.Owner), cell(ch.New.Owner))
		p("| changed by, why | %s | %s: %s |\n", cell(strings.TrimSpace(ch.Old.ChangedBy+" "+ch.Old.Reason)), cell(ch.New.ChangedBy), cell(ch.New.Reason))
		p("| definition hash | `%s` | `%s` |\n\n", shortHash(ch.Old.Hash), shortHash(ch.New.Hash))
		p("> Comparisons of %s across %s compare two definitions.\n\n", cell(ch.Metric), exDate(ch.Changed))
	}
	p("%s", src(k.Source))
}
