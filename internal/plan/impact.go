package plan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Impact is what a change to one metric, relation, model or source touches
// downstream: the relations built from it, the metrics computed on them, the
// dashboards that show those, the domains that own them and the people to tell.
type Impact struct {
	Name       string      `json:"name"`
	Kind       string      `json:"kind"`
	Relations  []string    `json:"relations,omitempty"`
	Metrics    []Metric    `json:"metrics,omitempty"`
	Dashboards []Dashboard `json:"dashboards,omitempty"`
	Domains    []Domain    `json:"domains,omitempty"`
	// People maps each person to their roles in the impact (e.g. "owner of metric x").
	People map[string][]string `json:"people,omitempty"`
}

// ImpactOf computes the impact of a change to name: a metric name, a relation
// (schema.name: raw table, model, legacy or ELT output, consumption view), a model
// name or a source name. Lineage between relations comes from the plan: models read
// their depends_on models and any relation their SQL names (SQLText must be loaded),
// an output pair's legacy and ELT relations feed its consumption view, metrics read
// their definition's relation, dashboards read their relations and metrics.
func ImpactOf(p *Plan, name string) (*Impact, error) {
	imp := &Impact{Name: name, People: map[string][]string{}}
	start := map[string]bool{}
	var startMetrics []string
	if _, ok := p.Metric(name); ok {
		imp.Kind = "metric"
		startMetrics = append(startMetrics, name)
	} else if s, ok := p.Source(name); ok {
		imp.Kind = "source"
		start[p.RawSchema()+"."+s.Name] = true
	} else if m, ok := p.Model(name); ok {
		imp.Kind = "model"
		start[m.Schema+"."+m.Name] = true
	} else if strings.Contains(name, ".") && p.knowsRelation(name) {
		imp.Kind = "relation"
		start[name] = true
	} else {
		return nil, fmt.Errorf("plan %s has no metric, source, model or relation called %q", p.Name, name)
	}

	relations := p.downstream(start)
	for r := range relations {
		if !start[r] {
			imp.Relations = append(imp.Relations, r)
		}
	}
	sort.Strings(imp.Relations)

	metrics := map[string]bool{}
	for _, n := range startMetrics {
		metrics[n] = true
	}
	for _, m := range p.Metrics {
		if relations[m.Definition.Relation] {
			metrics[m.Name] = true
		}
	}
	for _, m := range p.Metrics {
		if metrics[m.Name] {
			imp.Metrics = append(imp.Metrics, m)
			imp.People[m.Owner] = append(imp.People[m.Owner], "owner of metric "+m.Name)
		}
	}
	for _, d := range p.Dashboards {
		uses := slices.ContainsFunc(d.Relations, func(r string) bool { return relations[r] })
		for _, m := range imp.Metrics {
			uses = uses || slices.Contains(m.Dashboards, d.Name)
		}
		if uses {
			imp.Dashboards = append(imp.Dashboards, d)
			imp.People[d.Owner] = append(imp.People[d.Owner], "owner of dashboard "+d.Name)
		}
	}
	for _, d := range p.Domains {
		touched := slices.ContainsFunc(d.Metrics, func(m string) bool { return metrics[m] })
		for _, o := range d.Outputs {
			touched = touched || relations[o.Legacy.Relation] || relations[o.ELT.Relation] || relations[o.Consumption]
		}
		for _, s := range d.Sources {
			touched = touched || relations[p.RawSchema()+"."+s]
		}
		if touched {
			imp.Domains = append(imp.Domains, d)
			for _, o := range d.Owners {
				imp.People[o] = append(imp.People[o], "owner of domain "+d.Name)
			}
			for _, a := range d.Approvers {
				imp.People[a] = append(imp.People[a], "approver of domain "+d.Name)
			}
		}
	}
	return imp, nil
}

func (p *Plan) knowsRelation(r string) bool {
	if len(p.edges()[r]) > 0 {
		return true
	}
	for _, s := range p.Sources {
		if p.RawSchema()+"."+s.Name == r {
			return true
		}
	}
	for _, m := range p.Models {
		if m.Schema+"."+m.Name == r {
			return true
		}
	}
	for _, m := range p.Metrics {
		if m.Definition.Relation == r {
			return true
		}
	}
	for _, d := range p.Dashboards {
		if slices.Contains(d.Relations, r) {
			return true
		}
	}
	for _, d := range p.Domains {
		for _, o := range d.Outputs {
			if o.Legacy.Relation == r || o.ELT.Relation == r || o.Consumption == r {
				return true
			}
		}
	}
	return false
}

// edges maps a relation to the relations built from it.
func (p *Plan) edges() map[string][]string {
	e := map[string][]string{}
	var known []string
	for _, s := range p.Sources {
		known = append(known, p.RawSchema()+"."+s.Name)
	}
	for _, m := range p.Models {
		known = append(known, m.Schema+"."+m.Name)
	}
	for _, m := range p.Models {
		rel := m.Schema + "." + m.Name
		for _, dep := range m.DependsOn {
			if d, ok := p.Model(dep); ok {
				e[d.Schema+"."+d.Name] = append(e[d.Schema+"."+d.Name], rel)
			}
		}
		for _, k := range known {
			if k != rel && mentions(m.SQLText, k) && !slices.Contains(e[k], rel) {
				e[k] = append(e[k], rel)
			}
		}
	}
	for _, d := range p.Domains {
		for _, o := range d.Outputs {
			if o.Consumption != "" {
				e[o.ELT.Relation] = append(e[o.ELT.Relation], o.Consumption)
				e[o.Legacy.Relation] = append(e[o.Legacy.Relation], o.Consumption)
			}
		}
	}
	return e
}

func mentions(sql, relation string) bool {
	if sql == "" {
		return false
	}
	schema, name, _ := strings.Cut(relation, ".")
	re := regexp.MustCompile(`(?i)(^|[^a-z0-9_."])"?` + regexp.QuoteMeta(schema) + `"?\s*\.\s*"?` + regexp.QuoteMeta(name) + `"?($|[^a-z0-9_])`)
	return re.MatchString(sql)
}

// downstream returns the relations reachable from start, start included.
func (p *Plan) downstream(start map[string]bool) map[string]bool {
	e := p.edges()
	seen := map[string]bool{}
	var queue []string
	for r := range start {
		seen[r] = true
		queue = append(queue, r)
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for _, next := range e[r] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return seen
}
