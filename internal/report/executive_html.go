package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Chart geometry of the executive page (fits A4 portrait with 14 mm margins).
const (
	exWidth     = 660.0
	exPlotLeft  = 56.0
	exPlotRight = 16.0
)

type exPoint struct {
	X, Y  float64
	Title string
	Fail  bool
}

// exLine is one variance series as a line chart.
type exLine struct {
	Name, Scale, Latest, FirstCycle, LastCycle string
	Height, PlotTop, PlotBottom                float64
	Points                                     string
	Markers                                    []exPoint
	TolY                                       float64
	HasTol                                     bool
	TolText                                    string
	Breaching, Count                           int
}

type exBar struct {
	Label, Value, Title, Fill string
	Y, W                      float64
}

type exBudgetBar struct {
	BudgetLine
	Y, BudgetW, SpentW, ProjX, TextX float64
	HasProj                          bool
	Label, Title, Value              string
}

type exCell struct {
	X     float64
	Fill  string
	Title string
}

// exColumn is one cycle's count as a column.
type exColumn struct {
	X, Y, W, H float64
	Title      string
	Fail       bool
}

type exDomain struct {
	DomainEvidence
	Anchor          string
	BreachColumns   []exColumn
	BreachMax       int
	Lines           []exLine
	KindBars        []exBar
	KindHeight      float64
	BudgetBars      []exBudgetBar
	BudgetHeight    float64
	QualityCells    []exCell
	FreshCells      []exCell
	CellW           float64
	StripFrom       string
	StripTo         string
	RecentCycles    []CycleRow
	OlderCycles     int
	FreshnessText   string
	FreshnessSource string
}

type exPage struct {
	*Executive
	Domains []exDomain
	Whole   bool
}

// RenderExecutiveHTML writes the report as one self-contained page: inline CSS and SVG,
// no script, no external resource, printable on A4; everything escaped by
// html/template.
func RenderExecutiveHTML(w io.Writer, e *Executive) error {
	if e == nil {
		return fmt.Errorf("render executive report: nothing to render")
	}
	page := exPage{Executive: e, Whole: e.Domain == ""}
	for i, d := range e.Domains {
		page.Domains = append(page.Domains, exDomainOf(i, d))
	}
	var b bytes.Buffer
	if err := executivePage.Execute(&b, page); err != nil {
		return fmt.Errorf("render executive report: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write executive report: %w", err)
	}
	return nil
}

func exDomainOf(i int, d DomainEvidence) exDomain {
	x := exDomain{DomainEvidence: d, Anchor: fmt.Sprintf("d%d", i)}
	for _, s := range d.Variance.Series {
		x.Lines = append(x.Lines, lineOf(s))
	}
	x.BreachColumns, x.BreachMax = breachColumns(d.Variance.Breaches)
	// Cost by kind.
	maxKind := 0.0
	for _, k := range d.Cost.ByKind {
		maxKind = max(maxKind, k.Cost)
	}
	for i, k := range d.Cost.ByKind {
		w := 0.0
		if maxKind > 0 {
			w = k.Cost / maxKind * (exWidth - 300)
		}
		x.KindBars = append(x.KindBars, exBar{Label: k.Kind, Value: moneyC(d.Cost.Currency, k.Cost), Y: float64(i) * 24, W: max(w, 1), Fill: "#2f6fb3",
			Title: fmt.Sprintf("%s: %s from etl2elt.cost_usage kind=%s, %s", k.Kind, moneyC(d.Cost.Currency, k.Cost), k.Kind, rowsText(k.Entries))})
	}
	x.KindHeight = float64(len(x.KindBars))*24 + 4
	// Budgets: spent against budget, projection marked.
	scale := 0.0
	for _, b := range d.Cost.Budgets {
		scale = max(scale, b.Budget, b.Spent)
		if b.Projected != nil {
			scale = max(scale, *b.Projected)
		}
	}
	if scale == 0 {
		scale = 1
	}
	span := exWidth - 420
	for i, b := range d.Cost.Budgets {
		bb := exBudgetBar{BudgetLine: b, Y: float64(i) * 34, SpentW: max(b.Spent/scale*span, 1), Label: b.Name}
		if b.HasBudget {
			bb.BudgetW = b.Budget / scale * span
		}
		if b.Projected != nil {
			bb.HasProj, bb.ProjX = true, 140+*b.Projected/scale*span
		}
		bb.Title = budgetTitle(d.Cost.Currency, b)
		bb.TextX = 140 + max(bb.BudgetW, bb.SpentW) + 6
		if bb.HasProj {
			bb.TextX = max(bb.TextX, bb.ProjX+6)
		}
		bb.Value = money(b.Spent)
		if b.HasBudget {
			bb.Value += " of " + money(b.Budget)
		} else {
			bb.Value += " (no budget)"
		}
		if b.Projected != nil {
			bb.Value += " · projected " + money(*b.Projected)
		}
		x.BudgetBars = append(x.BudgetBars, bb)
	}
	x.BudgetHeight = float64(len(x.BudgetBars))*34 + 4
	// Quality and freshness strips, one cell per cycle.
	n := len(d.Quality.Cycles)
	if n > 0 {
		x.CellW = min(24, (exWidth-110)/float64(n))
		x.StripFrom = fmt.Sprintf("cycle %d", d.Quality.Cycles[0].Cycle)
		x.StripTo = fmt.Sprintf("cycle %d", d.Quality.Cycles[n-1].Cycle)
	}
	for i, c := range d.Quality.Cycles {
		xpos := 100 + float64(i)*x.CellW
		x.QualityCells = append(x.QualityCells, exCell{X: xpos, Fill: statusFill(c.Worst()), Title: qualityCellTitle(c)})
		fresh, title := "not-measured", fmt.Sprintf("cycle %d: freshness not yet measured", c.Cycle)
		if c.FreshnessRuns > 0 {
			fresh = "pass"
			if c.FreshnessMet < c.FreshnessRuns {
				fresh = "fail"
			}
			title = fmt.Sprintf("cycle %d: %d of %d freshness SLA(s) met", c.Cycle, c.FreshnessMet, c.FreshnessRuns)
		}
		x.FreshCells = append(x.FreshCells, exCell{X: xpos, Fill: statusFill(fresh), Title: title})
	}
	x.FreshnessText = freshnessText(d.Quality)
	// The latest cycles in a table (the trend charts show all of them).
	x.RecentCycles = d.Cycles
	if len(x.RecentCycles) > 10 {
		x.OlderCycles = len(x.RecentCycles) - 10
		x.RecentCycles = x.RecentCycles[len(x.RecentCycles)-10:]
	}
	return x
}

// breachColumns draws the checks over tolerance per cycle (totals and segments).
func breachColumns(counts []CycleCount) ([]exColumn, int) {
	top := 0
	for _, c := range counts {
		top = max(top, c.Count)
	}
	if len(counts) == 0 {
		return nil, 0
	}
	span := exWidth - exPlotLeft - exPlotRight
	step := span / float64(len(counts))
	w := max(1, min(16, step-1))
	var out []exColumn
	for i, c := range counts {
		h := 0.0
		if top > 0 {
			h = float64(c.Count) / float64(top) * 60
		}
		out = append(out, exColumn{X: exPlotLeft + float64(i)*step, Y: 80 - max(h, 1), W: w, H: max(h, 1), Fail: c.Count > 0,
			Title: fmt.Sprintf("cycle %d: %d of %d check(s) over tolerance (etl2elt.reconcile_runs.breaches)", c.Cycle, c.Count, c.Of)})
	}
	return out, top
}

func freshnessText(q QualityTrend) string {
	if q.FreshnessCycles == 0 {
		return "not yet measured"
	}
	return fmt.Sprintf("%d of %d cycle(s) held every SLA (%s)", q.FreshnessHeld, q.FreshnessCycles, pct(float64(q.FreshnessHeld)/float64(q.FreshnessCycles)))
}

func budgetTitle(currency string, b BudgetLine) string {
	s := fmt.Sprintf("%s: spent %s", b.Name, moneyC(currency, b.Spent))
	if b.HasBudget {
		s += fmt.Sprintf(" of %s (plan %s + raised %s)", money(b.Budget), money(b.Planned), money(b.Raised))
	} else {
		s += ", no budget"
	}
	if b.Projected != nil {
		s += fmt.Sprintf("; projected %s", money(*b.Projected))
	}
	return s
}

func qualityCellTitle(c QualityCycle) string {
	if c.Checks == 0 {
		return fmt.Sprintf("cycle %d: quality not yet measured", c.Cycle)
	}
	return fmt.Sprintf("cycle %d: %d check(s): %d pass, %d warn, %d fail, %d error", c.Cycle, c.Checks, c.Pass, c.Warn, c.Fail, c.Error)
}

func statusFill(s string) string {
	switch s {
	case "pass":
		return "#17663a"
	case "warn":
		return "#e0a100"
	case "fail", "error":
		return "#b3261e"
	}
	return "#c8ccd6"
}

// lineOf draws a series' relative difference per cycle; a breach is a red dot, the
// relative tolerance a dashed line. An undefined relative difference (legacy 0) is
// drawn at the top of the scale.
func lineOf(s VarianceSeries) exLine {
	l := exLine{Name: s.Name(), Height: 160, PlotTop: 22, PlotBottom: 130, Count: len(s.Points)}
	top := 0.0
	for _, p := range s.Points {
		if p.RelativeDifference != nil {
			top = max(top, *p.RelativeDifference)
		}
	}
	if s.ToleranceRelative != nil {
		top = max(top, *s.ToleranceRelative)
		l.HasTol = true
		l.TolText = "tolerance ±" + pct(*s.ToleranceRelative)
	}
	if top == 0 {
		top = 0.001
	}
	top *= 1.1
	l.Scale = pct(top)
	n := len(s.Points)
	if n == 0 {
		return l
	}
	l.FirstCycle, l.LastCycle = fmt.Sprintf("cycle %d", s.Points[0].Cycle), fmt.Sprintf("cycle %d", s.Points[n-1].Cycle)
	span := exWidth - exPlotLeft - exPlotRight
	y := func(v float64) float64 { return l.PlotBottom - v/top*(l.PlotBottom-l.PlotTop) }
	var pts []string
	for i, p := range s.Points {
		xpos := exPlotLeft + span/2
		if n > 1 {
			xpos = exPlotLeft + float64(i)/float64(n-1)*span
		}
		rel, value := top, "n/a (legacy 0 or NULL)"
		if p.RelativeDifference != nil {
			rel, value = *p.RelativeDifference, pct(*p.RelativeDifference)
		}
		ypos := y(rel)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", xpos, ypos))
		fail := p.Status != "pass"
		if fail {
			l.Breaching++
		}
		if fail || i == n-1 || n <= 30 {
			l.Markers = append(l.Markers, exPoint{X: xpos, Y: ypos, Fail: fail,
				Title: fmt.Sprintf("cycle %d: legacy %s, ELT %s, difference %s (%s), %s — etl2elt.reconcile_results run_id=%s segment=''",
					p.Cycle, dash(p.Legacy), dash(p.ELT), dash(p.Difference), value, strings.ToUpper(p.Status), p.RunID)})
		}
		if i == n-1 {
			l.Latest = value
		}
	}
	l.Points = strings.Join(pts, " ")
	if l.HasTol {
		l.TolY = y(*s.ToleranceRelative)
	}
	return l
}

func exDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func boolText(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "not measured"
	case *b:
		return yes
	}
	return no
}

func intPtrText(n *int) string {
	if n == nil {
		return "not measured"
	}
	return fmt.Sprint(*n)
}

var exFuncs = template.FuncMap{
	"date": exDate, "pct": pct, "rel": relText, "dash": dash, "short": shortHash, "upper": strings.ToUpper,
	"money": money, "moneyC": moneyC, "rows": rowsText, "bool": boolText, "intp": intPtrText,
	"width": func() float64 { return exWidth }, "plotLeft": func() float64 { return exPlotLeft },
	"plotRight": func() float64 { return exWidth - exPlotRight },
	"add":       func(a, b float64) float64 { return a + b },
	"join":      strings.Join,
	"proj": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return money(*p)
	},
	"budget": func(b BudgetLine) string {
		if !b.HasBudget {
			return "no budget"
		}
		return money(b.Budget)
	},
	"share": func(b BudgetLine) string {
		if !b.HasBudget || b.Budget == 0 {
			return "—"
		}
		return pct(b.Spent / b.Budget)
	},
	"dayText": func(d string) string {
		if d == "" {
			return "whole window"
		}
		return d
	},
	"passText": func(pass bool) string {
		if pass {
			return "PASS"
		}
		return "FAIL"
	},
	"cls": func(s string) string {
		switch s {
		case "pass", "go", "within tolerance", "explained":
			return "pass"
		case "warn", "no-data", "no-evidence", "not-measured":
			return "warn"
		}
		return "fail"
	},
}

var executivePage = template.Must(template.New("executive").Funcs(exFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Executive evidence · {{.Plan}}{{if .Domain}} · {{.Domain}}{{end}}</title>
<style>
@page{size:A4;margin:14mm}
body{font:13px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d2330;max-width:980px;margin:2em auto;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #1d2330;padding-bottom:.2em}
h3{margin-top:1.5em;border-bottom:1px solid #dde;padding-bottom:.15em}
table{border-collapse:collapse;margin:.5em 0;width:100%}th,td{border:1px solid #dde;padding:.2em .45em;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17663a;font-weight:600}.fail{color:#b3261e;font-weight:600}.warn{color:#8a6500;font-weight:600}
.badge{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:700}
.badge.pass{background:#17663a;color:#fff}.badge.fail{background:#b3261e;color:#fff}.badge.warn{background:#8a6500;color:#fff}
.verdict{font-size:1.15em}.note{background:#fff6e0;border-left:4px solid #e0a100;padding:.4em .8em}
.src{color:#667;font-size:.85em;margin:.2em 0 .8em}.muted{color:#667}code{font-size:.92em;word-break:break-all}
svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif}
@media print{body{margin:0;max-width:none;font-size:10.5pt}h2{page-break-before:always;page-break-after:avoid}h2.first{page-break-before:avoid}h3{page-break-after:avoid}table,svg,.chart{page-break-inside:avoid}}
</style></head><body>
<h1>Executive evidence · {{.Plan}}{{if .Domain}} · {{.Domain}}{{end}}</h1>
<p class="muted">plan <code>{{.Plan}}</code>{{if .PlanHash}} ({{short .PlanHash}}){{end}} · generated {{date .GeneratedAt}} UTC · {{if .Whole}}every domain of the plan{{else}}domain {{.Domain}}{{end}}{{if .Currency}} · amounts in {{.Currency}}{{end}}</p>
<p class="muted">Three questions: is it safe to switch (verdict, variance, freshness and quality), what did it cost (cost against budget), who decided (decision log). Each section names the control-schema rows (schema <code>etl2elt</code>) its figures come from.</p>
{{if .Whole}}<h2 class="first" id="summary">Summary of domains</h2>
<table><thead><tr><th scope="col">domain</th><th scope="col">phase</th><th scope="col">verdict</th><th scope="col">cycles</th><th scope="col">spend vs budget</th><th scope="col">projected</th></tr></thead><tbody>
{{range .Domains}}<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td>{{.Phase}}</td><td class="{{cls .Verdict.State}}">{{.Verdict.Label}}</td><td class="n">{{.CycleCount}}</td><td class="n" title="{{.Cost.Source}}">{{.Cost.SpendVsBudget}}</td><td class="n">{{.Cost.ProjectedVsBudget}}</td></tr>
{{end}}</tbody></table>
<p class="src">source: etl2elt.migration_cycles (phase, verdict), etl2elt.cost_usage (spend), the plan's budgets and etl2elt.decisions kind=raise-budget; per domain below.</p>{{end}}
{{range $i, $d := .Domains}}
<h2 id="{{.Anchor}}"{{if and (eq $i 0) (not $.Whole)}} class="first"{{end}}>{{.Name}} <span class="badge {{cls .Verdict.State}}">{{.Verdict.Label}}</span></h2>
<p>{{if .Description}}{{.Description}} · {{end}}phase <strong>{{.Phase}}</strong> · {{.CycleCount}} cycle(s){{if .MigrationID}} · migration <code>{{.MigrationID}}</code>{{end}}{{if .Owners}} · owners {{join .Owners ", "}}{{end}}{{if .Approvers}} · approvers {{join .Approvers ", "}}{{end}}</p>

<h3 id="{{.Anchor}}-verdict">1. Verdict: is it safe to switch?</h3>
<p class="verdict"><span class="badge {{cls .Verdict.State}}">{{.Verdict.Label}}</span> {{.Verdict.Summary}}</p>
{{if .Verdict.Criteria}}<table><thead><tr><th scope="col">criterion</th><th scope="col">value</th><th scope="col">threshold</th><th scope="col">result</th></tr></thead><tbody>
{{range .Verdict.Criteria}}<tr title="{{$d.Verdict.Source}}"><td>{{.Name}}</td><td class="n">{{.Value}}</td><td class="n">{{.Threshold}}</td><td class="{{if .Pass}}pass{{else}}fail{{end}}">{{passText .Pass}}</td></tr>
{{end}}</tbody></table>{{else if .CycleCount}}<p class="note">The latest cycle recorded no criteria evaluation: never read as go.</p>{{end}}
{{if .RecentCycles}}<table><thead><tr><th scope="col">cycle</th><th scope="col">phase</th><th scope="col">finished</th><th scope="col">status</th><th scope="col">breaches</th><th scope="col">quality failures</th><th scope="col">freshness</th><th scope="col">budget</th><th scope="col">reconciliation report</th></tr></thead><tbody>
{{range .RecentCycles}}<tr title="etl2elt.migration_cycles cycle={{.Cycle}} cycle_workflow_id={{.WorkflowID}}"><td class="n">{{.Cycle}}</td><td>{{.Phase}}</td><td>{{date .FinishedAt}}</td><td class="{{cls .Status}}">{{upper .Status}}{{if .NoData}} (no data){{end}}</td><td class="n">{{.Breaches}}</td><td class="n">{{intp .QualityFailures}}</td><td>{{bool .FreshnessHeld "held" "missed"}}</td><td>{{bool .WithinBudget "within" "over"}}</td><td>{{if .ReportHTML}}<code>{{.ReportHTML}}</code>{{else}}—{{end}}</td></tr>
{{end}}</tbody></table>{{if .OlderCycles}}<p class="muted">{{.OlderCycles}} earlier cycle(s) in the charts below, not listed.</p>{{end}}{{end}}
<p class="src">source: {{.Verdict.Source}}{{if .CycleSource}}; {{.CycleSource}}{{end}}</p>

<h3 id="{{.Anchor}}-variance">2. Variance across cycles</h3>
{{if .Lines}}{{range .Lines}}<div class="chart"><svg role="img" aria-label="Relative difference of {{.Name}} per cycle" width="{{width}}" height="{{.Height}}" viewBox="0 0 {{width}} {{.Height}}">
<title>{{.Name}}: relative difference legacy ↔ ELT per cycle (scale 0 to {{.Scale}}){{if .HasTol}}; dashed: {{.TolText}}{{end}}</title>
<text x="0" y="12" font-weight="600">{{.Name}}</text><text x="{{plotRight}}" y="12" text-anchor="end" fill="#445">latest {{.Latest}} · {{.Breaching}} of {{.Count}} cycle(s) over tolerance</text>
<line x1="{{plotLeft}}" x2="{{plotRight}}" y1="{{.PlotBottom}}" y2="{{.PlotBottom}}" stroke="#889"/><line x1="{{plotLeft}}" x2="{{plotLeft}}" y1="{{.PlotTop}}" y2="{{.PlotBottom}}" stroke="#889"/>
<text x="{{plotLeft}}" y="{{.PlotTop}}" dx="-4" dy="12" text-anchor="end" fill="#667">{{.Scale}}</text><text x="{{plotLeft}}" y="{{.PlotBottom}}" dx="-4" text-anchor="end" fill="#667">0 %</text>
{{if .HasTol}}<line x1="{{plotLeft}}" x2="{{plotRight}}" y1="{{.TolY}}" y2="{{.TolY}}" stroke="#e0a100" stroke-dasharray="4 3"/><text x="{{plotRight}}" y="{{.TolY}}" dy="-3" text-anchor="end" fill="#8a6500">{{.TolText}}</text>{{end}}
<polyline points="{{.Points}}" fill="none" stroke="#2f6fb3" stroke-width="1.6"/>
{{range .Markers}}<circle cx="{{.X}}" cy="{{.Y}}" r="{{if .Fail}}3.5{{else}}2.2{{end}}" fill="{{if .Fail}}#b3261e{{else}}#2f6fb3{{end}}"><title>{{.Title}}</title></circle>
{{end}}<text x="{{plotLeft}}" y="{{add .PlotBottom 16}}" fill="#667">{{.FirstCycle}}</text><text x="{{plotRight}}" y="{{add .PlotBottom 16}}" text-anchor="end" fill="#667">{{.LastCycle}}</text>
</svg></div>
{{end}}{{if .BreachColumns}}<div class="chart"><svg role="img" aria-label="Checks over tolerance per cycle" width="{{width}}" height="100" viewBox="0 0 {{width}} 100">
<title>Checks over tolerance per cycle, totals and segments (highest: {{.BreachMax}})</title>
<text x="0" y="12" font-weight="600">checks over tolerance per cycle (totals and segments)</text><text x="{{plotRight}}" y="12" text-anchor="end" fill="#445">highest {{.BreachMax}}</text>
<line x1="{{plotLeft}}" x2="{{plotRight}}" y1="80" y2="80" stroke="#889"/>
{{range .BreachColumns}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{if .Fail}}#b3261e{{else}}#17663a{{end}}"><title>{{.Title}}</title></rect>
{{end}}<text x="{{plotLeft}}" y="96" fill="#667">{{with index .Variance.Breaches 0}}cycle {{.Cycle}}{{end}}</text><text x="{{plotRight}}" y="96" text-anchor="end" fill="#667">cycle {{.Variance.LatestCycle}}</text></svg></div>{{end}}
{{else}}<p class="muted">No reconciliation of a cycle yet: not yet measured.</p>{{end}}
{{if .Variance.LatestCycle}}<h4>Worst segments of cycle {{.Variance.LatestCycle}}</h4>
<p>{{.Variance.SegmentsBreaching}} of {{.Variance.SegmentsCompared}} segment(s) over tolerance.</p>
{{if .Variance.Worst}}<table><thead><tr><th scope="col">output</th><th scope="col">segment</th><th scope="col">measure</th><th scope="col">legacy</th><th scope="col">ELT</th><th scope="col">difference</th><th scope="col">relative</th><th scope="col">result</th><th scope="col">status (open / explained)</th></tr></thead><tbody>
{{range .Variance.Worst}}<tr title="etl2elt.reconcile_results run_id={{.RunID}} segment={{.Segment}} measure={{.Measure}} metric={{.Metric}}"><td>{{.Output}}</td><td>{{.Segment}}</td><td>{{.Measure}} {{.Metric}}</td><td class="n">{{dash .Legacy}}</td><td class="n">{{dash .ELT}}</td><td class="n">{{dash .Difference}}</td><td class="n">{{rel .RelativeDifference}}</td><td class="{{cls .Status}}">{{upper .Status}}</td><td class="{{cls .Resolution}}">{{.Resolution}}{{if .ExplainedBy}} by {{.ExplainedBy}}: {{.Explanation}} (decision #{{.ExplanationID}}){{end}}</td></tr>
{{end}}</tbody></table>{{end}}
<h4>Day-level roll-up of the breaching segments</h4>
{{if .Variance.Rollup}}<table><thead><tr><th scope="col">output</th><th scope="col">measure</th><th scope="col">day</th><th scope="col">segments (breaching)</th><th scope="col">legacy</th><th scope="col">ELT</th><th scope="col">difference</th><th scope="col">relative</th><th scope="col">day total</th></tr></thead><tbody>
{{range .Variance.Rollup}}<tr><td>{{.Output}}</td><td>{{.Measure}}</td><td>{{dayText .Day}}</td><td class="n">{{.Segments}} ({{.Breaching}})</td><td class="n">{{.Legacy}}</td><td class="n">{{.ELT}}</td><td class="n">{{dash .Difference}}</td><td class="n">{{rel .RelativeDifference}}</td><td class="{{if .Cancels}}pass">offsets cancel: within tolerance{{else}}fail">breaches{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="muted">No segment over tolerance in cycle {{.Variance.LatestCycle}}.</p>{{end}}{{end}}
<p class="src">source: {{.Variance.Source}}{{if .Variance.LatestCycle}}; worst segments and roll-up: the sum checks of cycle {{.Variance.LatestCycle}} (etl2elt.reconcile_results segment &lt;&gt; ''), aggregated in SQL; explained: {{.Variance.ExplainSource}}{{end}}</p>

<h3 id="{{.Anchor}}-quality">3. Freshness and quality</h3>
<p>Freshness SLA attainment: <strong>{{.FreshnessText}}</strong>. Quality checks: {{if .Quality.Measured}}measured in the cycles below{{else}}<strong>not yet measured</strong>{{end}}.</p>
{{if .Quality.Cycles}}<div class="chart"><svg role="img" aria-label="Quality and freshness per cycle" width="{{width}}" height="62" viewBox="0 0 {{width}} 62">
<title>Worst quality status and freshness per cycle: green pass, amber warn, red fail or error, grey not yet measured</title>
<text x="0" y="14">quality</text>{{range .QualityCells}}<rect x="{{.X}}" y="2" width="{{$d.CellW}}" height="16" fill="{{.Fill}}" stroke="#fff"><title>{{.Title}}</title></rect>{{end}}
<text x="0" y="36">freshness</text>{{range .FreshCells}}<rect x="{{.X}}" y="24" width="{{$d.CellW}}" height="16" fill="{{.Fill}}" stroke="#fff"><title>{{.Title}}</title></rect>{{end}}
<text x="100" y="56" fill="#667">{{.StripFrom}}</text><text x="{{plotRight}}" y="56" text-anchor="end" fill="#667">{{.StripTo}}</text></svg></div>{{end}}
{{if .Quality.SLAs}}<table><thead><tr><th scope="col">freshness SLA</th><th scope="col">relation</th><th scope="col">met</th><th scope="col">missed</th><th scope="col">could not run</th><th scope="col">attainment</th></tr></thead><tbody>
{{range .Quality.SLAs}}<tr><td>{{.Check}}</td><td>{{.Relation}}</td><td class="n">{{.Met}}</td><td class="n">{{.Missed}}</td><td class="n">{{.Errors}}</td><td class="n">{{.Attainment}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="muted">Freshness SLAs: not yet measured in any cycle.</p>{{end}}
{{if .Quality.FailingLatest}}<table><thead><tr><th scope="col">failing in the latest measured cycle</th><th scope="col">kind</th><th scope="col">relation</th><th scope="col">status</th><th scope="col">detail</th></tr></thead><tbody>
{{range .Quality.FailingLatest}}<tr><td>{{.Check}}</td><td>{{.Kind}}</td><td>{{.Relation}}</td><td class="fail">{{upper .Status}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody></table>{{end}}
<p class="src">source: {{.Quality.Source}}</p>

<h3 id="{{.Anchor}}-cost">4. Cost to date against budget</h3>
<p>{{.Cost.SpentLead}} <strong>{{moneyC .Cost.Currency .Cost.Total}}</strong> {{.Cost.SpentDetail}}</p>
<table><thead><tr><th scope="col">budget</th><th scope="col">plan</th><th scope="col">raised</th><th scope="col">budget</th><th scope="col">spent</th><th scope="col">used</th><th scope="col">projected to completion</th></tr></thead><tbody>
{{range .Cost.Budgets}}<tr title="{{$d.Cost.Source}}"><td>{{.Name}}</td><td class="n">{{if .Planned}}{{money .Planned}}{{else}}—{{end}}</td><td class="n">{{if .Raises}}{{money .Raised}} ({{.Raises}}×){{else}}—{{end}}</td><td class="n">{{budget .}}</td><td class="n {{if .Over}}fail{{end}}">{{moneyC $d.Cost.Currency .Spent}}</td><td class="n">{{share .}}</td><td class="n {{if .ProjectedOver}}fail{{end}}">{{proj .Projected}}{{if .ProjectedOver}} (over budget){{end}}</td></tr>
{{end}}</tbody></table>
<div class="chart"><svg role="img" aria-label="Spend against budget" width="{{width}}" height="{{.BudgetHeight}}" viewBox="0 0 {{width}} {{.BudgetHeight}}">
<title>Spend (bar) against budget (grey) per budget; the dashed mark is the projection to completion</title>
{{range .BudgetBars}}<g><title>{{.Title}}</title><text x="0" y="{{.Y}}" dy="15">{{.Label}}</text>{{if .HasBudget}}<rect x="140" y="{{.Y}}" width="{{.BudgetW}}" height="20" fill="#e3e6ee"/>{{end}}<rect x="140" y="{{add .Y 4}}" width="{{.SpentW}}" height="12" fill="{{if .Over}}#b3261e{{else}}#2f6fb3{{end}}"/>{{if .HasProj}}<line x1="{{.ProjX}}" x2="{{.ProjX}}" y1="{{.Y}}" y2="{{add .Y 20}}" stroke="#1d2330" stroke-dasharray="3 2"/>{{end}}<text x="{{.TextX}}" y="{{.Y}}" dy="14" fill="#445">{{.Value}}</text></g>
{{end}}</svg></div>
{{if .KindBars}}<div class="chart"><svg role="img" aria-label="Spend by kind of work" width="{{width}}" height="{{.KindHeight}}" viewBox="0 0 {{width}} {{.KindHeight}}">
<title>Spend to date by kind of work</title>
{{range .KindBars}}<g><title>{{.Title}}</title><text x="0" y="{{.Y}}" dy="14">{{.Label}}</text><rect x="140" y="{{.Y}}" width="{{.W}}" height="16" fill="{{.Fill}}"/><text x="{{add 144 .W}}" y="{{.Y}}" dy="13" fill="#445">{{.Value}}</text></g>
{{end}}</svg></div>{{else}}<p class="muted">Nothing in the cost ledger for this domain yet: not yet measured.</p>{{end}}
<p><strong>Projection to completion.</strong> {{.Cost.ProjectionText}}</p>
<p class="src">source: {{.Cost.Source}}; {{.Cost.SpendRule}}</p>

<h3 id="{{.Anchor}}-decisions">5. Decision log</h3>
{{if .Decisions.Entries}}<table><thead><tr><th scope="col">#</th><th scope="col">when (UTC)</th><th scope="col">kind</th><th scope="col">who</th><th scope="col">why</th><th scope="col">on</th><th scope="col">evidence seen</th></tr></thead><tbody>
{{range .Decisions.Entries}}<tr title="etl2elt.decisions id={{.ID}}"><td class="n">{{.ID}}</td><td>{{date .At}}</td><td><strong>{{.Kind}}</strong></td><td>{{.By}}</td><td>{{.Reason}}</td><td>{{if .Target}}{{.Target}} {{end}}{{.Subject}}</td><td>{{.Evidence}}</td></tr>
{{end}}</tbody></table>{{if gt .Decisions.Total (len .Decisions.Entries)}}<p class="muted">{{len .Decisions.Entries}} latest of {{.Decisions.Total}} decisions shown.</p>{{end}}{{else}}<p class="muted">No decision recorded for this domain.</p>{{end}}
<p class="src">source: {{.Decisions.Source}}</p>

<h3 id="{{.Anchor}}-kpi">6. KPI registry</h3>
{{if .KPI.Metrics}}<table><thead><tr><th scope="col">metric</th><th scope="col">owner</th><th scope="col">version (plan)</th><th scope="col">versions recorded</th><th scope="col">relation</th><th scope="col">dashboards</th></tr></thead><tbody>
{{range .KPI.Metrics}}<tr><td>{{.Name}}</td><td>{{.Owner}}</td><td class="n">v{{.Version}}</td><td>{{range $j, $v := .Recorded}}{{if $j}}, {{end}}v{{$v}}{{else}}not recorded yet{{end}}</td><td><code>{{.Relation}}</code></td><td>{{join .Dashboards ", "}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="muted">The domain declares no metric.</p>{{end}}
{{if .KPI.Outputs}}<table><thead><tr><th scope="col">output</th><th scope="col">consumption view</th><th scope="col">dashboards that depend on it (owner)</th><th scope="col">metrics on it</th></tr></thead><tbody>
{{range .KPI.Outputs}}<tr><td>{{.Output}}</td><td><code>{{.Consumption}}</code></td><td>{{range $j, $b := .Dashboards}}{{if $j}}, {{end}}{{$b.Name}} ({{$b.Owner}}{{if $b.Tool}}, {{$b.Tool}}{{end}}){{else}}none declared{{end}}</td><td>{{join .Metrics ", "}}</td></tr>
{{end}}</tbody></table>{{end}}
{{range .KPI.Changes}}<h4>Definition change of {{.Metric}} during the migration: v{{.Old.Version}} → v{{.New.Version}} on {{date .Changed}}</h4>
<table><thead><tr><th scope="col"></th><th scope="col">v{{.Old.Version}}: {{date .OldFrom}} → {{date .Changed}} ({{.CyclesBefore}} cycle(s))</th><th scope="col">v{{.New.Version}}: {{date .Changed}} → {{date .NewTo}} ({{.CyclesAfter}} cycle(s))</th></tr></thead><tbody>
<tr><th scope="row">expression</th><td><code>{{.Old.Definition.Expression}}</code></td><td><code>{{.New.Definition.Expression}}</code></td></tr>
<tr><th scope="row">relation</th><td><code>{{.Old.Definition.Relation}}</code></td><td><code>{{.New.Definition.Relation}}</code></td></tr>
<tr><th scope="row">time column</th><td>{{.Old.Definition.TimeColumn}}</td><td>{{.New.Definition.TimeColumn}}</td></tr>
<tr><th scope="row">dimensions</th><td>{{join .Old.Definition.Dimensions ", "}}</td><td>{{join .New.Definition.Dimensions ", "}}</td></tr>
<tr><th scope="row">filter</th><td><code>{{.Old.Definition.Filter}}</code></td><td><code>{{.New.Definition.Filter}}</code></td></tr>
<tr><th scope="row">owner</th><td>{{.Old.Owner}}</td><td>{{.New.Owner}}</td></tr>
<tr><th scope="row">changed by, why</th><td>{{.Old.ChangedBy}} {{.Old.Reason}}</td><td>{{.New.ChangedBy}}: {{.New.Reason}}</td></tr>
<tr><th scope="row">definition hash</th><td><code>{{short .Old.Hash}}</code></td><td><code>{{short .New.Hash}}</code></td></tr>
</tbody></table>
<p class="note">Comparisons of {{.Metric}} across {{date .Changed}} compare two definitions.</p>
{{end}}
<p class="src">source: {{.KPI.Source}}</p>
{{end}}
</body></html>
`))
