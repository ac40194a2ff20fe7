package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

type htmlBar struct {
	Label, Value, Title string
	Y, Width            float64
	Fail                bool
}

type htmlPair struct {
	Pair
	Totals                  []Check
	Segments                []segmentRow
	Omitted                 int
	Bars                    []htmlBar
	ChartHeight, ToleranceX float64
	HasTolerance            bool
	Scale                   string
	// Cancelling explains breaching segments whose offsets cancel in a passing total.
	Cancelling []string
	// Causes are the pair's differences by cause.
	Causes []CauseRow
}

type htmlTrend struct {
	X, Y, H float64
	Label   string
	Title   string
	Fail    bool
	Count   int
}

type htmlRun struct {
	Run
	FailingPairs, Checks, Failing int
	Worst                         string
	QualityCounts                 map[string]int
	SortedQuality                 []QualityResult
	Pairs                         []htmlPair
	Trend                         []htmlTrend
	TrendMax                      int
}

const chartWidth = 520.0

// HTML renders the run as one self-contained page: inline CSS and SVG, no script, no
// external resource; everything escaped by html/template.
func HTML(r Run) ([]byte, error) {
	v := htmlRun{Run: r}
	v.FailingPairs, v.Checks, v.Failing = breaches(r)
	v.Worst = worstVariance(r)
	v.QualityCounts, v.SortedQuality = qualityCounts(r.Quality), sortedQuality(r.Quality)
	for _, p := range r.Pairs {
		hp := htmlPair{Pair: p, Totals: totals(p), Cancelling: cancelling(p), Causes: Causes(p)}
		hp.Segments, hp.Omitted = segments(p)
		maxRel := 0.0
		for _, s := range hp.Segments {
			if s.Rel > maxRel {
				maxRel = s.Rel
			}
			if s.Tolerance > 0 {
				hp.HasTolerance = true
				if s.Tolerance > maxRel {
					maxRel = s.Tolerance
				}
			}
		}
		if maxRel == 0 {
			maxRel = 1e-9
		}
		for i, s := range hp.Segments {
			rel := s.Rel
			value := pct(rel)
			if rel < 0 {
				rel, value = maxRel, "n/a (legacy 0 or NULL)"
			}
			label := s.Segment
			if r := []rune(label); len(r) > 28 {
				label = string(r[:27]) + "…"
			}
			hp.Bars = append(hp.Bars, htmlBar{Label: label, Value: value, Y: float64(i) * 22, Width: rel / maxRel * (chartWidth - 310), Fail: s.Fail,
				Title: fmt.Sprintf("%s · %s: legacy %s, ELT %s, difference %s (%s)", s.Segment, s.Measure, dash(s.Legacy), dash(s.ELT), s.Difference, value)})
			if s.Tolerance > 0 {
				hp.ToleranceX = 200 + s.Tolerance/maxRel*(chartWidth-250)
			}
		}
		hp.ChartHeight = float64(len(hp.Bars))*22 + 24
		hp.Scale = pct(maxRel)
		v.Pairs = append(v.Pairs, hp)
	}
	for _, t := range r.Trend {
		if t.Breaches > v.TrendMax {
			v.TrendMax = t.Breaches
		}
	}
	step := chartWidth / float64(max(len(r.Trend), 1))
	for i, t := range r.Trend {
		h := 0.0
		if v.TrendMax > 0 {
			h = float64(t.Breaches) / float64(v.TrendMax) * 100
		}
		v.Trend = append(v.Trend, htmlTrend{X: float64(i) * step, Y: 110 - h, H: h, Label: t.At.UTC().Format("2006-01-02 15:04"), Fail: t.Breaches > 0, Count: t.Breaches,
			Title: fmt.Sprintf("run %s at %s: %d breaches of %d checks", t.RunID, t.At.UTC().Format("2006-01-02 15:04"), t.Breaches, t.Checks)})
	}
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render HTML report: %w", err)
	}
	return b.Bytes(), nil
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": strings.ToUpper, "pct": pct, "rel": relText, "tol": tolText, "dash": dash, "short": shortHash,
	"date": func(r Run) string { return r.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC") },
	"join": strings.Join, "qvalue": qualityValue, "qthreshold": threshold, "first3": func(v []string) []string { return firstN(v, 3) },
	"barW":   func(w float64) float64 { return max(w, 1) },
	"width":  func() float64 { return chartWidth },
	"barEnd": func(w float64) float64 { return 200 + max(w, 1) },
	"last":   func(t []htmlTrend) int { return len(t) - 1 },
	"shown":  shown, "collabel": columnLabel, "rowcounts": rowDiffCounts, "sampletitle": sampleTitle, "yesno": yesNo, "seglist": segmentList,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Reconciliation · {{.Domain}} · {{.Window}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d2330;max-width:1040px;margin:2em auto;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border:1px solid #dde;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17663a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.no-data,.warn{color:#8a6500;font-weight:600}.error{color:#b3261e;font-weight:600}
.badge{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff}.badge.pass{background:#17663a}.badge.fail{background:#b3261e}.badge.no-data{background:#8a6500}
.note{background:#fff6e0;border-left:4px solid #e0a100;padding:.5em .8em}.muted{color:#667}
svg text{font:12px system-ui,sans-serif}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}table,svg{page-break-inside:avoid}}
</style></head><body>
<h1>Reconciliation · {{.Domain}} · {{.Window}}</h1>
<p><span class="badge {{.Status}}">{{upper .Status}}</span> plan <code>{{.Plan}}</code> ({{short .PlanHash}}) · run <code>{{.RunID}}</code> · generated {{date .Run}}</p>
<h2>Summary</h2>
<p>{{len .Pairs}} output pair(s), {{.FailingPairs}} failing; {{.Checks}} check(s), {{.Failing}} over tolerance.{{if .Worst}} Worst variance: {{.Worst}}.{{end}}</p>
{{if .KPIDefinitionChanges}}<p class="note"><strong>Comparisons across a KPI definition change.</strong>
{{range $i, $c := .KPIDefinitionChanges}}{{if $i}}; {{end}}{{$c.Metric}} v{{$c.Version}} on {{$c.At.UTC.Format "2006-01-02"}} by {{$c.ChangedBy}}: {{$c.Reason}}{{end}}</p>{{end}}
{{range .Pairs}}
<h2>{{.Output}} <span class="{{.Status}}">{{upper .Status}}</span></h2>
<p class="muted"><code>{{.LegacyRelation}}</code> (legacy) ↔ <code>{{.ELTRelation}}</code> (ELT){{if .StoredRunID}} · every compared number: <code>etl2elt.reconcile_results WHERE run_id = '{{.StoredRunID}}'</code>{{end}}</p>
<table><thead><tr><th scope="col">measure</th><th scope="col">metric</th><th scope="col">legacy</th><th scope="col">ELT</th><th scope="col">difference</th><th scope="col">relative</th><th scope="col">tolerance</th><th scope="col">status</th></tr></thead><tbody>
{{range .Totals}}<tr><td>{{.Measure}}</td><td>{{.Metric}}</td><td class="n">{{dash .Legacy}}</td><td class="n">{{dash .ELT}}</td><td class="n">{{.Difference}}</td><td class="n">{{rel .RelativeDifference}}</td><td>{{tol .ToleranceAbsolute .ToleranceRelative}}</td><td class="{{.Status}}">{{upper .Status}}</td></tr>
{{end}}</tbody></table>
<h3>Differences by cause</h3>
{{if .Causes}}<table><thead><tr><th scope="col">cause</th><th scope="col">count</th><th scope="col">fails the pair</th><th scope="col">worst examples</th></tr></thead><tbody>
{{range .Causes}}<tr><td>{{.Title}}</td><td>{{.Count}}</td><td class="{{if .Fails}}fail{{else}}pass{{end}}">{{yesno .Fails}}</td><td>{{range $i, $e := .Examples}}{{if $i}}<br>{{end}}{{$e}}{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="muted">No difference: every compared number agrees exactly.</p>{{end}}
{{if .Bars}}<h3>Variance by segment, worst first</h3>
<svg role="img" aria-labelledby="v-{{.Output}}" width="{{width}}" height="{{.ChartHeight}}" viewBox="0 0 {{width}} {{.ChartHeight}}">
<title id="v-{{.Output}}">Relative difference by segment of {{.Output}}, worst first; scale 0 to {{.Scale}}{{if .HasTolerance}}; the dashed line is the relative tolerance{{end}}</title>
{{range .Bars}}<g><title>{{.Title}}</title><text x="0" y="{{.Y}}" dy="14">{{.Label}}</text><rect x="200" y="{{.Y}}" width="{{barW .Width}}" height="16" fill="{{if .Fail}}#b3261e{{else}}#2f6fb3{{end}}"/><text x="{{barEnd .Width}}" y="{{.Y}}" dy="13" dx="4" fill="#445">{{.Value}}</text></g>
{{end}}{{if .HasTolerance}}<line x1="{{.ToleranceX}}" x2="{{.ToleranceX}}" y1="0" y2="{{.ChartHeight}}" stroke="#e0a100" stroke-dasharray="4 3"/><text x="{{.ToleranceX}}" y="{{.ChartHeight}}" dx="4" dy="-4" fill="#8a6500">tolerance</text>{{end}}
</svg>
<table><thead><tr><th scope="col">segment</th><th scope="col">measure</th><th scope="col">legacy</th><th scope="col">ELT</th><th scope="col">difference</th><th scope="col">relative</th><th scope="col">tolerance</th><th scope="col">status</th></tr></thead><tbody>
{{range .Segments}}<tr><td>{{.Segment}}</td><td>{{.Measure}}</td><td class="n">{{dash .Legacy}}</td><td class="n">{{dash .ELT}}</td><td class="n">{{.Difference}}</td><td class="n">{{if lt .Rel 0.0}}n/a{{else}}{{pct .Rel}}{{end}}</td><td>{{.TolText}}</td><td class="{{if .Fail}}fail">FAIL{{else}}pass">PASS{{end}}</td></tr>
{{end}}</tbody></table>{{if .Omitted}}<p class="muted">{{.Omitted}} more segment(s) not shown.</p>{{end}}{{end}}
{{if .OnlyInLegacy}}<p><strong>Segments only in legacy:</strong> {{seglist .OnlyInLegacy .OnlyInLegacyCount}}</p>{{end}}
{{if .OnlyInELT}}<p><strong>Segments only in ELT:</strong> {{seglist .OnlyInELT .OnlyInELTCount}}</p>{{end}}
{{range .Cancelling}}<p class="note"><strong>Offsets that cancel.</strong> {{.}}</p>{{end}}
{{with .RowDiff}}<h3>Row-level diff</h3>
<p>{{rowcounts .}}</p>
{{if .Bounded}}<p class="note">The diff stopped early ({{.BoundReason}}): the counts are lower bounds.</p>{{end}}
{{if .NormalisationOnlyBounded}}<p class="note">The normalisation-only pass stopped early: its count is a lower bound.</p>{{end}}
{{if .Sample}}<h4>{{sampletitle .}}</h4>
<table><thead><tr><th scope="col">key</th><th scope="col">cause</th><th scope="col">segment</th><th scope="col">column</th><th scope="col">legacy</th><th scope="col">ELT</th></tr></thead><tbody>
{{range $k := .Sample}}{{if not $k.Columns}}<tr><td>{{$k.Key}}</td><td>{{$k.Kind}}</td><td>{{$k.Segment}}</td><td></td><td></td><td></td></tr>{{end}}{{range $k.Columns}}<tr><td>{{$k.Key}}</td><td>{{$k.Kind}}</td><td>{{$k.Segment}}</td><td>{{collabel .}}</td><td>{{shown .Legacy .LegacyNull}}</td><td>{{shown .ELT .ELTNull}}</td></tr>{{end}}{{end}}
</tbody></table>{{end}}{{end}}
{{end}}
{{with .Landing}}<h2>Landing</h2>
<p>This run landed {{.Loaded}} object(s) ({{.Rows}} rows, {{.Quarantined}} quarantined); {{.Failed}} could not be landed, {{.Skipped}} skipped by decision. Objects landed by earlier runs and left alone are not counted.</p>
{{if .Objects}}<table><thead><tr><th scope="col">status</th><th scope="col">source</th><th scope="col">object</th><th scope="col">rows</th><th scope="col">quarantined</th><th scope="col">undeclared columns (not loaded)</th><th scope="col">reason</th></tr></thead><tbody>
{{range .Objects}}<tr><td class="{{if eq .Status "failed"}}fail{{else if eq .Status "skipped"}}warn{{else}}pass{{end}}">{{upper .Status}}</td><td>{{.Source}}</td><td>{{.Key}}</td><td class="n">{{.Rows}}</td><td class="n">{{.Quarantined}}</td><td>{{join .ExtraColumns ", "}}</td><td>{{.Reason}}</td></tr>
{{end}}</tbody></table>{{if .More}}<p class="muted">…and {{.More}} more (etl2elt.loads).</p>{{end}}{{end}}{{end}}
<h2>Quality and freshness</h2>
{{if .QualityMeasured}}<p>{{index .QualityCounts "pass"}} pass, {{index .QualityCounts "warn"}} warn, {{index .QualityCounts "fail"}} fail, {{index .QualityCounts "error"}} error.</p>
<table><thead><tr><th scope="col">status</th><th scope="col">check</th><th scope="col">kind</th><th scope="col">relation</th><th scope="col">value</th><th scope="col">warn</th><th scope="col">fail</th><th scope="col">detail</th><th scope="col">examples</th></tr></thead><tbody>
{{range .SortedQuality}}<tr><td class="{{.Status}}">{{upper .Status}}{{if .NoData}} (no data){{end}}</td><td>{{.Check}}</td><td>{{.Kind}}</td><td>{{.Relation}}</td><td class="n">{{qvalue .Kind .Value}}</td><td class="n">{{qthreshold .Kind .Warn}}</td><td class="n">{{qthreshold .Kind .Fail}}</td><td>{{.Detail}}</td><td>{{join (first3 .Examples) "; "}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="muted">Not measured: no quality check or freshness SLA ran for this run.</p>{{end}}
<h2>Trend of breaches across cycles</h2>
{{if .Trend}}<svg role="img" aria-labelledby="trend" width="{{width}}" height="140" viewBox="0 0 {{width}} 140">
<title id="trend">Breaches per run, oldest first (highest: {{.TrendMax}})</title>
{{range .Trend}}<g><title>{{.Title}}</title><rect x="{{.X}}" y="{{.Y}}" width="12" height="{{.H}}" fill="{{if .Fail}}#b3261e{{else}}#17663a{{end}}"/><rect x="{{.X}}" y="109" width="12" height="1" fill="#667"/><text x="{{.X}}" y="{{.Y}}" dy="-3" fill="#445">{{.Count}}</text></g>
{{end}}<text x="0" y="132" fill="#667">{{with index .Trend 0}}{{.Label}}{{end}} … {{(index .Trend (last .Trend)).Label}} UTC{{if eq .TrendMax 0}} · no breach in these runs{{end}}</text></svg>{{else}}<p class="muted">No earlier run.</p>{{end}}
</body></html>
`))
