package plan

import (
	"fmt"
	"slices"
)

// DefaultAllowedLateness is a late_arrival check's allowed lateness when the plan sets
// none.
const DefaultAllowedLateness = "1d"

// RelationDomain is the domain a relation belongs to: the domain of the source whose
// raw table it is, of the model it is, or of the output whose ELT relation or
// consumption view it is ("" when none).
func (p *Plan) RelationDomain(rel string) string {
	for _, d := range p.Domains {
		for _, s := range d.Sources {
			if p.RawSchema()+"."+s == rel {
				return d.Name
			}
		}
		for _, name := range d.Models {
			if m, ok := p.Model(name); ok && m.Schema+"."+m.Name == rel {
				return d.Name
			}
		}
		for _, o := range d.Outputs {
			if o.ELT.Relation == rel || o.Consumption == rel {
				return d.Name
			}
		}
	}
	return ""
}

// CheckDomain is the domain that runs a quality check: its domain, else the domain of
// its relation.
func (p *Plan) CheckDomain(q QualityCheck) string {
	if q.Domain != "" {
		return q.Domain
	}
	return p.RelationDomain(q.Relation)
}

// QualityChecksOf lists the checks a domain runs, in plan order, with their time
// column and key defaulted from the relation's source, model or output.
func (p *Plan) QualityChecksOf(domain string) []QualityCheck {
	var out []QualityCheck
	for _, q := range p.Quality {
		if p.CheckDomain(q) != domain {
			continue
		}
		tc, key := p.relationDefaults(q.Relation)
		if q.TimeColumn == "" {
			q.TimeColumn = tc
		}
		if len(q.Key) == 0 {
			q.Key = key
		}
		if q.Kind == "late_arrival" && q.AllowedLateness == "" {
			q.AllowedLateness = DefaultAllowedLateness
		}
		out = append(out, q)
	}
	return out
}

// FreshnessOf lists the freshness SLAs of a domain: those of its sources and outputs.
func (p *Plan) FreshnessOf(domain string) []FreshnessSLA {
	d, ok := p.Domain(domain)
	if !ok {
		return nil
	}
	var out []FreshnessSLA
	for _, f := range p.Freshness {
		if f.Source != "" && slices.Contains(d.Sources, f.Source) {
			out = append(out, f)
		}
		if f.Output != "" && slices.ContainsFunc(d.Outputs, func(o OutputPair) bool { return o.Name == f.Output }) {
			out = append(out, f)
		}
	}
	return out
}

// relationDefaults is the event time and key of a relation the plan declares: a
// source's raw table, a model, an output's ELT relation or consumption view.
func (p *Plan) relationDefaults(rel string) (timeColumn string, key []string) {
	for _, s := range p.Sources {
		if p.RawSchema()+"."+s.Name == rel {
			return s.EventTime, s.PrimaryKey
		}
	}
	for _, m := range p.Models {
		if m.Schema+"."+m.Name == rel {
			timeColumn, key = m.EventTime, m.UniqueKey
		}
	}
	for _, d := range p.Domains {
		for _, o := range d.Outputs {
			if o.ELT.Relation == rel || o.Consumption == rel {
				if timeColumn == "" {
					timeColumn = o.TimeColumn
				}
				if len(key) == 0 {
					key = o.Keys
				}
			}
		}
	}
	return timeColumn, key
}

// NotActedOn lists the plan's settings that are validated but not acted on yet, one
// line each naming where, so that `starter validate` can warn about them.
func NotActedOn(p *Plan) []string {
	var out []string
	for i, d := range p.Domains {
		if d.SwitchingCriteria != nil && d.SwitchingCriteria.RequireWithinBudget && (d.Budget == nil || (d.Budget.ParallelRun == 0 && d.Budget.Reconciliation == 0)) {
			out = append(out, fmt.Sprintf("$.domains[%d].switching_criteria.require_within_budget: the domain has no parallel_run or reconciliation budget, so this criterion cannot be met", i))
		}
		if len(p.QualityChecksOf(d.Name)) == 0 && len(p.FreshnessOf(d.Name)) == 0 && d.SwitchingCriteria != nil && d.SwitchingCriteria.RequireFreshness {
			out = append(out, fmt.Sprintf("$.domains[%d].switching_criteria.require_freshness: the domain has no freshness SLA, so this criterion cannot be met", i))
		}
		for j, m := range p.Models {
			if d.Backfill != nil && d.Backfill.TrustedUntil != "" && m.Materialized == MaterializedTable && m.EventTime == "" && slices.Contains(d.Models, m.Name) {
				out = append(out, fmt.Sprintf("$.models[%d]: table model %s of domain %s has no event_time, so every run rebuilds its rows before trusted_until %s (signed-off days change with late rows): declare event_time (a date or timestamp column of its rows, e.g. its day) to protect them (PostgreSQL only: not built on Redshift yet)", j, m.Name, d.Name, d.Backfill.TrustedUntil))
			}
		}
	}
	return out
}
