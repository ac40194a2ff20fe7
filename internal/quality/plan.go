package quality

import (
	"time"

	"etl2elt/internal/plan"
)

// SpecsOf resolves the checks a domain runs (plan.QualityChecksOf) and, for each
// late_arrival check, the shortest lookback of the incremental models built from its
// relation (lineage from plan.ImpactOf; the plan's model SQL must be loaded).
func SpecsOf(p *plan.Plan, domain string) []Spec {
	var out []Spec
	for _, q := range p.QualityChecksOf(domain) {
		s := Spec{QualityCheck: q}
		if q.Kind == "late_arrival" {
			s.Lookback, s.LookbackModels = lookbackOf(p, q.Relation)
		}
		out = append(out, s)
	}
	return out
}

// lookbackOf is the shortest lookback of the incremental models downstream of rel
// (0 when none declares one) and those models' names.
func lookbackOf(p *plan.Plan, rel string) (time.Duration, []string) {
	//workflowcheck:ignore ImpactOf walks maps but returns its relations sorted
	imp, err := plan.ImpactOf(p, rel)
	if err != nil {
		return 0, nil
	}
	var shortest time.Duration
	var names []string
	for _, r := range imp.Relations {
		for _, m := range p.Models {
			if m.Schema+"."+m.Name != r || m.Materialized != plan.MaterializedIncremental {
				continue
			}
			d, _ := plan.ParseDuration(m.Lookback) // validated with the plan; "" is 0
			names = append(names, m.Name)
			if shortest == 0 || d < shortest {
				shortest = d
			}
		}
	}
	return shortest, names
}
