package plan

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"etl2elt/internal/ident"
)

// ColumnTypes are the source column types the loader converts.
var ColumnTypes = []string{"text", "bigint", "integer", "numeric", "boolean", "date", "timestamptz"}

// Formats are the source object formats the loader reads.
var Formats = []string{"csv", "jsonl", "parquet"}

// Problem is one thing wrong with a plan.
type Problem struct {
	// Path is the field path, e.g. $.sources[0].columns[2].type.
	Path string `json:"path"`
	// Line is the plan file line of the field (0 when unknown).
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in a plan.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s is invalid (%d problem", e.File, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String(e.File))
	}
	return b.String()
}

// BadInput marks plan problems as non-retryable.
func (e *ValidationError) BadInput() bool { return true }

// String renders file:line:column: path: message.
func (p Problem) String(file string) string {
	loc := file
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column)
	}
	if p.Path == "" {
		return fmt.Sprintf("%s: %s", loc, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Message)
}

type checker struct {
	problems []Problem
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) required(path, value string) bool {
	if strings.TrimSpace(value) == "" {
		c.add(path, "is required")
		return false
	}
	return true
}

func (c *checker) ident(path, value string) {
	if !c.required(path, value) {
		return
	}
	if err := ident.Validate(value); err != nil {
		c.add(path, "%v", err)
	}
}

func (c *checker) relation(path, value string) {
	if !c.required(path, value) {
		return
	}
	if _, err := ident.ParseRelation(value); err != nil {
		c.add(path, "%v", err)
	}
}

func (c *checker) unique(path string, seen map[string]bool, name string) {
	if name == "" {
		return
	}
	if seen[name] {
		c.add(path, "duplicate name %q", name)
	}
	seen[name] = true
}

func (c *checker) tolerance(path string, t Tolerance) {
	if t.Absolute != nil && *t.Absolute < 0 {
		c.add(path+".absolute", "must be zero or more, got %v", *t.Absolute)
	}
	if t.Relative != nil && (*t.Relative < 0 || *t.Relative > 1) {
		c.add(path+".relative", "must be a fraction between 0 and 1, got %v", *t.Relative)
	}
}

// Validate checks a parsed plan: required fields, safe identifiers, unique names and
// cross-references. It returns the problems in document order.
func Validate(p *Plan) []Problem {
	c := &checker{}
	if p.Version != 1 {
		c.add("$.version", "must be 1, got %d", p.Version)
	}
	c.ident("$.name", p.Name)
	if a := p.Access; a != nil {
		for _, r := range []struct{ path, role string }{{"$.access.loader", a.Loader}, {"$.access.transformer", a.Transformer}, {"$.access.bi_reader", a.BIReader}} {
			if r.role != "" {
				c.ident(r.path, r.role)
			}
		}
		if a.BIReader != "" && (a.BIReader == a.Loader || a.BIReader == a.Transformer) {
			c.add("$.access.bi_reader", "must be a role of its own: %s is also the loader or the transformer, which read raw", a.BIReader)
		}
	}

	for _, name := range sortedKeys(p.Connections) {
		path := fmt.Sprintf("$.connections.%s", name)
		c.ident(path, name)
		role := p.Connections[name].Role
		if role != "warehouse" && role != "legacy" {
			c.add(path+".role", "must be warehouse or legacy, got %q", role)
		}
	}
	if c.required("$.warehouse.connection", p.Warehouse.Connection) {
		if conn, ok := p.Connections[p.Warehouse.Connection]; !ok {
			c.add("$.warehouse.connection", "unknown connection %q (declare it under connections)", p.Warehouse.Connection)
		} else if conn.Role != "warehouse" {
			c.add("$.warehouse.connection", "connection %q has role %q, want warehouse", p.Warehouse.Connection, conn.Role)
		}
	}
	if d := p.Warehouse.Dialect; d != "" && d != DialectPostgres && d != DialectRedshift {
		c.add("$.warehouse.dialect", "must be postgres or redshift, got %q", d)
	}
	if p.Warehouse.RawSchema != "" {
		c.ident("$.warehouse.raw_schema", p.Warehouse.RawSchema)
	}
	c.required("$.landing.bucket", p.Landing.Bucket)

	sources := map[string]bool{}
	for i, s := range p.Sources {
		path := fmt.Sprintf("$.sources[%d]", i)
		c.ident(path+".name", s.Name)
		c.unique(path+".name", sources, s.Name)
		if c.required(path+".layout", s.Layout) && !strings.Contains(s.Layout, "{date}") {
			c.add(path+".layout", "must contain {date} (the YYYY-MM-DD partition), got %q", s.Layout)
		}
		if !slices.Contains(Formats, s.Format) {
			c.add(path+".format", "must be one of %s, got %q", strings.Join(Formats, ", "), s.Format)
		}
		if len(s.Columns) == 0 {
			c.add(path+".columns", "at least one column is required")
		}
		cols := map[string]bool{}
		for j, col := range s.Columns {
			cp := fmt.Sprintf("%s.columns[%d]", path, j)
			c.ident(cp+".name", col.Name)
			c.unique(cp+".name", cols, col.Name)
			if strings.HasPrefix(col.Name, "_etl_") {
				c.add(cp+".name", "the _etl_ prefix is reserved for lineage columns")
			}
			if !slices.Contains(ColumnTypes, col.Type) {
				c.add(cp+".type", "unknown type %q (one of %s)", col.Type, strings.Join(ColumnTypes, ", "))
			}
		}
		for j, k := range s.PrimaryKey {
			if !cols[k] {
				c.add(fmt.Sprintf("%s.primary_key[%d]", path, j), "unknown column %q", k)
			}
		}
		if s.EventTime != "" && !cols[s.EventTime] {
			c.add(path+".event_time", "unknown column %q", s.EventTime)
		}
		if s.MaxBadFraction < 0 || s.MaxBadFraction > 1 {
			c.add(path+".max_bad_fraction", "must be between 0 and 1, got %v", s.MaxBadFraction)
		}
		if s.MaxLineBytes < 0 || s.MaxLineBytes > MaxMaxLineBytes || (s.MaxLineBytes > 0 && s.MaxLineBytes < 1024) {
			c.add(path+".max_line_bytes", "must be between 1024 and %d bytes (256 MiB), got %d", MaxMaxLineBytes, s.MaxLineBytes)
		}
	}

	models := map[string]bool{}
	for i, m := range p.Models {
		path := fmt.Sprintf("$.models[%d]", i)
		c.ident(path+".name", m.Name)
		c.unique(path+".name", models, m.Name)
		c.ident(path+".schema", m.Schema)
		c.required(path+".sql", m.SQL)
		if m.Materialized != MaterializedView && m.Materialized != MaterializedTable && m.Materialized != MaterializedIncremental {
			c.add(path+".materialized", "must be view, table or incremental, got %q", m.Materialized)
		}
	}
	for i, m := range p.Models {
		for j, dep := range m.DependsOn {
			if !models[dep] {
				c.add(fmt.Sprintf("$.models[%d].depends_on[%d]", i, j), "unknown model %q", dep)
			}
		}
	}
	if cycle := findCycle(p.Models); cycle != nil {
		c.add("$.models", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}

	domains := map[string]bool{}
	for i, d := range p.Domains {
		path := fmt.Sprintf("$.domains[%d]", i)
		c.ident(path+".name", d.Name)
		c.unique(path+".name", domains, d.Name)
		for j, s := range d.Sources {
			if !sources[s] {
				c.add(fmt.Sprintf("%s.sources[%d]", path, j), "unknown source %q", s)
			}
		}
		for j, m := range d.Models {
			if !models[m] {
				c.add(fmt.Sprintf("%s.models[%d]", path, j), "unknown model %q", m)
			}
		}
		if len(d.Outputs) == 0 {
			c.add(path+".outputs", "at least one output pair is required")
		}
		outputs := map[string]bool{}
		for j, o := range d.Outputs {
			op := fmt.Sprintf("%s.outputs[%d]", path, j)
			c.ident(op+".name", o.Name)
			c.unique(op+".name", outputs, o.Name)
			c.side(op+".legacy", o.Legacy, p.Connections)
			c.side(op+".elt", o.ELT, p.Connections)
			c.ident(op+".time_column", o.TimeColumn)
			c.tolerance(op+".row_count_tolerance", o.RowCountTolerance)
			measures := map[string]bool{}
			for k, m := range o.Measures {
				mp := fmt.Sprintf("%s.measures[%d]", op, k)
				c.ident(mp+".name", m.Name)
				c.unique(mp+".name", measures, m.Name)
				if m.Column != "" {
					c.ident(mp+".column", m.Column)
				}
				if m.Tolerance == nil {
					c.add(mp+".tolerance", "is required: write {absolute: 0} for an exact match")
				} else {
					c.tolerance(mp+".tolerance", *m.Tolerance)
				}
			}
		}
	}
	validateContract(c, p)
	c.finite(reflect.ValueOf(p).Elem(), "$")
	return c.problems
}

// finite reports every NaN or infinite number in v (a plan built in code; Parse
// refuses them while decoding).
func (c *checker) finite(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Float64:
		if f := v.Float(); math.IsInf(f, 0) || math.IsNaN(f) {
			c.add(path, "must be a finite number, got %v", f)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			c.finite(v.Elem(), path)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if name := yamlName(v.Type().Field(i)); name != "" && name != "-" {
				c.finite(v.Field(i), path+"."+name)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			c.finite(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			c.finite(v.MapIndex(k), path+"."+k.String())
		}
	}
}

func (c *checker) side(path string, s Side, conns map[string]Connection) {
	if c.required(path+".connection", s.Connection) {
		if _, ok := conns[s.Connection]; !ok {
			c.add(path+".connection", "unknown connection %q (declare it under connections)", s.Connection)
		}
	}
	c.relation(path+".relation", s.Relation)
}

// findCycle returns one dependency cycle among models, or nil.
func findCycle(models []Model) []string {
	deps := map[string][]string{}
	for _, m := range models {
		deps[m.Name] = m.DependsOn
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch state[n] {
		case visiting:
			i := slices.Index(stack, n)
			return append(slices.Clone(stack[i:]), n)
		case done:
			return nil
		}
		state[n] = visiting
		stack = append(stack, n)
		for _, d := range deps[n] {
			if _, known := deps[d]; !known {
				continue
			}
			if cyc := visit(d); cyc != nil {
				return cyc
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, m := range models {
		if cyc := visit(m.Name); cyc != nil {
			return cyc
		}
	}
	return nil
}

// ModelOrder returns the named models and everything they depend on, dependencies
// first. The plan must be valid (no cycles).
func ModelOrder(p *Plan, names []string) ([]Model, error) {
	var order []Model
	seen := map[string]bool{}
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		if seen[name] {
			return nil
		}
		if depth > len(p.Models) {
			return fmt.Errorf("model %q: dependency cycle", name)
		}
		m, ok := p.Model(name)
		if !ok {
			return fmt.Errorf("unknown model %q", name)
		}
		for _, d := range m.DependsOn {
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		seen[name] = true
		order = append(order, m)
		return nil
	}
	for _, n := range names {
		if err := visit(n, 0); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
