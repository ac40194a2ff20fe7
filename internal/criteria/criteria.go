// Package criteria decides whether a domain may switch from legacy to ELT: it
// evaluates the plan's switching criteria against the evidence of the parallel-run
// cycles and explains every criterion (value, threshold, pass or fail), so that an
// approver, and the approve-cutover validator, see exactly what holds and what does
// not. Pure functions: no I/O, safe to call from workflow code.
package criteria

import (
	"fmt"
	"slices"

	"etl2elt/internal/plan"
)

// Cycle is the evidence of one parallel-run cycle. Checks that do not exist yet for a
// cycle are nil (unknown), never assumed to pass.
type Cycle struct {
	// Breaches counts reconciliation checks over tolerance.
	Breaches int `json:"breaches"`
	// Failed is a cycle whose pipeline run or reconciliation failed.
	Failed bool `json:"failed"`
	// FreshnessHeld is nil when no freshness check ran.
	FreshnessHeld *bool `json:"freshness_held,omitempty"`
	// WithinBudget is nil when no budget check ran.
	WithinBudget *bool `json:"within_budget,omitempty"`
	// QualityFailures counts quality checks that failed or could not run; nil when
	// none ran.
	QualityFailures *int `json:"quality_failures,omitempty"`
	// NoData is a cycle whose reconciliation compared no row on either side: not a
	// passing cycle.
	NoData bool `json:"no_data,omitempty"`
}

// Criterion is one evaluated switching criterion.
type Criterion struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Threshold string `json:"threshold"`
	Pass      bool   `json:"pass"`
}

// Result is the evaluation of every criterion.
type Result struct {
	Met      bool        `json:"met"`
	Criteria []Criterion `json:"criteria"`
}

// Blockers lists the criteria that do not pass, for messages.
func (r Result) Blockers() []string {
	var out []string
	for _, c := range r.Criteria {
		if !c.Pass {
			out = append(out, fmt.Sprintf("%s is %s (needs %s)", c.Name, c.Value, c.Threshold))
		}
	}
	return out
}

// Streak counts the passing cycles at the end of cycles (oldest first).
func Streak(cycles []Cycle) int {
	streak := 0
	for i := len(cycles) - 1; i >= 0 && passing(cycles[i]); i-- {
		streak++
	}
	return streak
}

// Evaluate checks the criteria against the cycles, oldest first. Without criteria in
// the plan, one passing cycle is required (a cutover on no evidence is never allowed).
//
// Deprecated behaviour kept for running migrations: a plan without
// consecutive_passing_cycles is met on cycles that compared no row. EvaluateStrict
// does not allow that.
func Evaluate(sc *plan.SwitchingCriteria, cycles []Cycle) Result { return evaluate(sc, cycles, false) }

// EvaluateStrict is Evaluate where cycles count as evidence only when they compared
// rows (a no-data cycle is not counted toward min_cycles) and at least one passing
// cycle is required whatever consecutive_passing_cycles says.
func EvaluateStrict(sc *plan.SwitchingCriteria, cycles []Cycle) Result {
	return evaluate(sc, cycles, true)
}

func evaluate(sc *plan.SwitchingCriteria, cycles []Cycle, strict bool) Result {
	c := plan.SwitchingCriteria{MinCycles: 1}
	if sc != nil {
		c = *sc
		if c.MinCycles == 0 {
			c.MinCycles = 1
		}
	}
	var res Result
	add := func(name, value, threshold string, pass bool) {
		res.Criteria = append(res.Criteria, Criterion{Name: name, Value: value, Threshold: threshold, Pass: pass})
	}

	counted := len(cycles)
	if strict {
		counted = 0
		for _, cy := range cycles {
			if !cy.NoData {
				counted++
			}
		}
	}
	value := fmt.Sprint(counted)
	if counted != len(cycles) {
		value = fmt.Sprintf("%d (%d with no data not counted)", counted, len(cycles)-counted)
	}
	add("cycles", value, fmt.Sprintf("≥ %d", c.MinCycles), counted >= c.MinCycles)

	if strict && c.ConsecutivePassingCycles == 0 {
		passed := 0
		for _, cy := range cycles {
			if passing(cy) {
				passed++
			}
		}
		add("passing cycles", fmt.Sprint(passed), "≥ 1", passed >= 1)
	}
	if c.ConsecutivePassingCycles > 0 {
		streak := Streak(cycles)
		add("consecutive passing cycles", fmt.Sprint(streak), fmt.Sprintf("≥ %d", c.ConsecutivePassingCycles), streak >= c.ConsecutivePassingCycles)
	}

	window := cycles
	if c.ConsecutivePassingCycles > 0 && len(cycles) > c.ConsecutivePassingCycles {
		window = cycles[len(cycles)-c.ConsecutivePassingCycles:]
	}
	breaches := 0
	for _, cy := range window {
		breaches += cy.Breaches
	}
	add("breaches over tolerance (recent cycles)", fmt.Sprint(breaches), fmt.Sprintf("≤ %d", c.MaxBreaches), breaches <= c.MaxBreaches)

	failed := 0
	for _, cy := range cycles {
		if cy.Failed {
			failed++
		}
	}
	add("failed cycles", fmt.Sprint(failed), fmt.Sprintf("≤ %d", c.MaxFailedRuns), failed <= c.MaxFailedRuns)

	if c.RequireFreshness {
		v, pass := held(window, func(cy Cycle) *bool { return cy.FreshnessHeld })
		add("freshness held", v, "every recent cycle", pass)
	}
	if c.MaxQualityFailures != nil || slices.ContainsFunc(window, func(cy Cycle) bool { return cy.QualityFailures != nil }) {
		limit := 0
		if c.MaxQualityFailures != nil {
			limit = *c.MaxQualityFailures
		}
		// With max_quality_failures set, every recent cycle must carry checks; without
		// it, the cycles that carry checks are judged (cycles from before the checks,
		// and failed cycles, judged by their own criterion, are left out).
		failures, unknown, judged := 0, 0, 0
		for _, cy := range window {
			if cy.QualityFailures == nil {
				if c.MaxQualityFailures != nil && !cy.Failed {
					unknown++
				}
				continue
			}
			judged++
			failures += *cy.QualityFailures
		}
		value := fmt.Sprint(failures)
		if unknown > 0 {
			value += fmt.Sprintf(" (%d of %d cycles not checked)", unknown, len(window))
		}
		add("quality check failures (recent cycles)", value, fmt.Sprintf("≤ %d", limit), failures <= limit && unknown == 0 && judged > 0)
	}
	if c.RequireWithinBudget {
		v, pass := held(window, func(cy Cycle) *bool { return cy.WithinBudget })
		add("within budget", v, "every recent cycle", pass)
	}

	res.Met = true
	for _, cr := range res.Criteria {
		res.Met = res.Met && cr.Pass
	}
	return res
}

// passing is a cycle whose run succeeded and compared rows with no reconciliation
// breach. Freshness, quality and budget are judged by their own criteria over the same
// recent cycles.
func passing(c Cycle) bool { return !c.Failed && c.Breaches == 0 && !c.NoData }

// held reports how many cycles have the check passing; unknown counts as not held.
func held(cycles []Cycle, get func(Cycle) *bool) (string, bool) {
	ok, unknown := 0, 0
	for _, cy := range cycles {
		switch v := get(cy); {
		case v == nil:
			unknown++
		case *v:
			ok++
		}
	}
	value := fmt.Sprintf("%d of %d", ok, len(cycles))
	if unknown > 0 {
		value += fmt.Sprintf(" (%d not checked)", unknown)
	}
	return value, len(cycles) > 0 && ok == len(cycles)
}
