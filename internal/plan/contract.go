package plan

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	personID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	envName  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// ParseDuration parses durations such as 30m, 2h, 1d or 1d12h: Go's units plus d (24h).
// Negative durations and durations beyond what time.Duration holds (about 292 years)
// are errors, never wrapped around.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	bad := fmt.Errorf("%q is not a duration (e.g. 30m, 2h, 1d)", s)
	tooLong := fmt.Errorf("%q is %w", s, errTooLong)
	rest := s
	var total time.Duration
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		digits := rest[:i]
		if strings.Trim(digits, "0123456789") != "" {
			return 0, bad
		}
		days, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || days > int64(math.MaxInt64/day) {
			return 0, tooLong
		}
		total = time.Duration(days) * day
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil && goDuration.MatchString(rest) {
			return 0, tooLong
		}
		if err != nil || d < 0 || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, bad
		}
		if d > math.MaxInt64-total {
			return 0, tooLong
		}
		total += d
	}
	return total, nil
}

var errTooLong = errors.New("too long a duration (at most about 292 years)")

// goDuration is the syntax of a non-negative Go duration: when it matches and
// time.ParseDuration fails, the duration overflows.
var goDuration = regexp.MustCompile(`^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// duration checks an optional or required duration field against [minimum, maximum].
func (c *checker) duration(path, value string, required bool, minimum, maximum time.Duration) time.Duration {
	if value == "" {
		if required {
			c.add(path, "is required")
		}
		return 0
	}
	d, err := ParseDuration(value)
	switch {
	case errors.Is(err, errTooLong):
		c.add(path, "%s is more than the limit of %s", value, formatDuration(maximum))
		return 0
	case err != nil:
		c.add(path, "%v", err)
		return 0
	case d == 0:
		c.add(path, "must be more than zero")
	case d > maximum:
		c.add(path, "%s is more than the limit of %s", value, formatDuration(maximum))
		return 0
	case d < minimum:
		c.add(path, "%s is less than the minimum of %s", value, formatDuration(minimum))
		return 0
	}
	return d
}

// formatDuration writes d as ParseDuration reads it: 366d, 1s.
func formatDuration(d time.Duration) string {
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

func (c *checker) date(path, value string) (time.Time, bool) {
	if !c.required(path, value) {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02", value)
	if err != nil {
		c.add(path, "%q is not a date (YYYY-MM-DD)", value)
		return time.Time{}, false
	}
	if value < MinDate || value > MaxDate {
		c.add(path, "%s is outside the dates a plan may name (%s to %s)", value, MinDate, MaxDate)
		return time.Time{}, false
	}
	return t, true
}

func (c *checker) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		c.add(path, "must be one of %s, got %q", strings.Join(allowed, ", "), value)
	}
}

func (c *checker) person(path, id string, people map[string]bool) {
	if c.required(path, id) && !people[id] {
		c.add(path, "unknown person %q (declare them under people)", id)
	}
}

// validateContract checks the sections beyond sources, models and outputs: people,
// the KPI registry, dashboards, domain governance (owners, approvers, backfill,
// parallel run, criteria, budgets), quality checks, freshness SLAs, cost rates and
// alert targets.
func validateContract(c *checker, p *Plan) {
	people := map[string]bool{}
	for i, person := range p.People {
		path := fmt.Sprintf("$.people[%d].id", i)
		if !personID.MatchString(person.ID) {
			c.add(path, "%q is not a valid person id: lowercase letters, digits, '.', '_' and '-'", person.ID)
		}
		c.unique(path, people, person.ID)
	}

	dashboards := map[string]bool{}
	for i, d := range p.Dashboards {
		path := fmt.Sprintf("$.dashboards[%d]", i)
		c.required(path+".name", d.Name)
		c.unique(path+".name", dashboards, d.Name)
		c.person(path+".owner", d.Owner, people)
		for j, r := range d.Relations {
			c.relation(fmt.Sprintf("%s.relations[%d]", path, j), r)
		}
	}

	metrics := map[string]bool{}
	for i, m := range p.Metrics {
		path := fmt.Sprintf("$.metrics[%d]", i)
		c.ident(path+".name", m.Name)
		c.unique(path+".name", metrics, m.Name)
		c.person(path+".owner", m.Owner, people)
		if m.Version < 1 {
			c.add(path+".version", "must be 1 or more, got %d", m.Version)
		}
		c.required(path+".definition.expression", m.Definition.Expression)
		if strings.Contains(m.Definition.Expression, ";") || strings.Contains(m.Definition.Filter, ";") {
			c.add(path+".definition", "an expression or filter cannot contain ';'")
		}
		c.relation(path+".definition.relation", m.Definition.Relation)
		c.ident(path+".definition.time_column", m.Definition.TimeColumn)
		for j, d := range m.Definition.Dimensions {
			c.ident(fmt.Sprintf("%s.definition.dimensions[%d]", path, j), d)
		}
		c.tolerance(path+".tolerance", m.Tolerance)
		for j, d := range m.Dashboards {
			if !dashboards[d] {
				c.add(fmt.Sprintf("%s.dashboards[%d]", path, j), "unknown dashboard %q (declare it under dashboards)", d)
			}
		}
		if m.ChangedBy != "" {
			c.person(path+".changed_by", m.ChangedBy, people)
		}
		if m.Version > 1 && m.ChangeReason == "" {
			c.add(path+".change_reason", "is required from version 2 on: say why the definition changed")
		}
	}

	sources := map[string]bool{}
	for _, s := range p.Sources {
		sources[s.Name] = true
	}
	for i, s := range p.Sources {
		for j, col := range s.Columns {
			if col.PII == "" {
				continue
			}
			path := fmt.Sprintf("$.sources[%d].columns[%d].pii", i, j)
			c.oneOf(path, col.PII, PIIPolicies)
			if (col.PII == "hash" || col.PII == "mask") && col.Type != "text" {
				c.add(path, "%s applies to text columns; %s is %s", col.PII, col.Name, col.Type)
			}
			if col.PII == "drop" && (slices.Contains(s.PrimaryKey, col.Name) || s.EventTime == col.Name) {
				c.add(path, "%s is part of the primary key or the event time: it cannot be dropped (hash it instead)", col.Name)
			}
		}
	}
	for i, s := range p.Sources {
		if s.OnBadObject != "" {
			c.oneOf(fmt.Sprintf("$.sources[%d].on_bad_object", i), s.OnBadObject, []string{OnBadObjectFail, OnBadObjectContinue})
		}
		if s.ExtraColumns != "" {
			c.oneOf(fmt.Sprintf("$.sources[%d].extra_columns", i), s.ExtraColumns, []string{ExtraColumnsIgnore, ExtraColumnsFail})
		}
	}
	// Duplicate-key policies: every policy but report acts on rows by their key, as
	// the raw table stores it.
	duplicatePolicies := []string{DuplicatesReport, DuplicatesKeepLast, DuplicatesQuarantine, DuplicatesFail}
	for i, s := range p.Sources {
		path := fmt.Sprintf("$.sources[%d].duplicates", i)
		if s.Duplicates == "" || s.Duplicates == DuplicatesReport {
			continue
		}
		if !slices.Contains(duplicatePolicies, s.Duplicates) {
			c.oneOf(path, s.Duplicates, duplicatePolicies)
			continue
		}
		if len(s.PrimaryKey) == 0 {
			c.add(path, "%s needs primary_key: the columns that identify a row", s.Duplicates)
			continue
		}
		for _, col := range s.Columns {
			if col.PII == "mask" && slices.Contains(s.PrimaryKey, col.Name) {
				c.add(path, "%s compares keys as raw stores them, and primary key column %s has pii: mask, which makes distinct keys equal: hash it instead", s.Duplicates, col.Name)
			}
		}
	}
	for i, m := range p.Models {
		path := fmt.Sprintf("$.models[%d]", i)
		if reservedSchema(m.Schema, p.RawSchema()) {
			c.add(path+".schema", "%q is reserved (the control schema, the raw schema and system schemas are not written by models)", m.Schema)
		}
		for j, k := range m.UniqueKey {
			c.ident(fmt.Sprintf("%s.unique_key[%d]", path, j), k)
		}
		if m.EventTime != "" {
			c.ident(path+".event_time", m.EventTime)
		}
		if m.BatchSize != "" {
			c.oneOf(path+".batch_size", m.BatchSize, ChunkSizes)
		}
		if m.Lookback != "" {
			c.duration(path+".lookback", m.Lookback, false, 0, MaxLookback)
		}
		if m.Materialized == MaterializedIncremental {
			if len(m.UniqueKey) == 0 {
				c.add(path+".unique_key", "is required for an incremental model")
			}
			if m.EventTime == "" {
				c.add(path+".event_time", "is required for an incremental model")
			}
		}
	}

	consumption := map[string]string{} // view → the output that owns it
	outputNames := map[string]bool{}
	for _, d := range p.Domains {
		for _, o := range d.Outputs {
			outputNames[o.Name] = true
		}
	}
	budgeted := false
	for i, d := range p.Domains {
		path := fmt.Sprintf("$.domains[%d]", i)
		for j, o := range d.Outputs {
			if o.Consumption == "" {
				continue
			}
			here := d.Name + "." + o.Name
			if prev, ok := consumption[o.Consumption]; ok {
				c.add(fmt.Sprintf("%s.outputs[%d].consumption", path, j), "%s is already the consumption view of %s: a view points at one output", o.Consumption, prev)
			}
			consumption[o.Consumption] = here
		}
		for j, o := range d.Owners {
			c.person(fmt.Sprintf("%s.owners[%d]", path, j), o, people)
		}
		seenApprovers := map[string]bool{}
		for j, a := range d.Approvers {
			ap := fmt.Sprintf("%s.approvers[%d]", path, j)
			c.person(ap, a, people)
			c.unique(ap, seenApprovers, a)
		}
		if d.RequiredApprovals < 0 {
			c.add(path+".required_approvals", "must be zero or more, got %d", d.RequiredApprovals)
		}
		if d.RequiredApprovals > len(d.Approvers) {
			c.add(path+".required_approvals", "needs %d approvals but the domain lists %d approvers", d.RequiredApprovals, len(d.Approvers))
		}
		for j, m := range d.Metrics {
			if !metrics[m] {
				c.add(fmt.Sprintf("%s.metrics[%d]", path, j), "unknown metric %q (declare it under metrics)", m)
			}
		}
		for j, o := range d.Outputs {
			op := fmt.Sprintf("%s.outputs[%d]", path, j)
			if o.Consumption != "" {
				c.relation(op+".consumption", o.Consumption)
				if o.Legacy.Relation != "" && o.Legacy.InWarehouse(p.Warehouse.Connection) == "" {
					c.add(op+".legacy.warehouse_relation", "is required with a consumption view: legacy connection %q is not the warehouse (%q), so say how the warehouse reads %s (a foreign table, an external schema)", o.Legacy.Connection, p.Warehouse.Connection, o.Legacy.Relation)
				}
				if o.ELT.Connection != "" && o.ELT.Connection != p.Warehouse.Connection {
					c.add(op+".elt.connection", "is %q but a consumption view can only point at the warehouse (%q)", o.ELT.Connection, p.Warehouse.Connection)
				}
			}
			if o.Legacy.WarehouseRelation != "" {
				c.relation(op+".legacy.warehouse_relation", o.Legacy.WarehouseRelation)
			}
			for k, key := range o.Keys {
				c.ident(fmt.Sprintf("%s.keys[%d]", op, k), key)
			}
			for k, seg := range o.Segments {
				c.ident(fmt.Sprintf("%s.segments[%d]", op, k), seg)
			}
			if len(o.Compare) > 0 && len(o.Ignore) > 0 {
				c.add(op+".ignore", "set compare (the columns compared) or ignore (left out of every shared column), not both")
			}
			for k, col := range o.Compare {
				c.ident(fmt.Sprintf("%s.compare[%d]", op, k), col)
				if slices.Contains(o.Keys, col) {
					c.add(fmt.Sprintf("%s.compare[%d]", op, k), "%s is a key: keys are always compared", col)
				}
			}
			for k, col := range o.Ignore {
				c.ident(fmt.Sprintf("%s.ignore[%d]", op, k), col)
				if slices.Contains(o.Keys, col) {
					c.add(fmt.Sprintf("%s.ignore[%d]", op, k), "%s is a key: a key cannot be ignored", col)
				}
			}
			if n := o.Normalize; n != nil && n.NumericScale != nil && (*n.NumericScale < 0 || *n.NumericScale > 37) {
				c.add(op+".normalize.numeric_scale", "must be 0 to 37, got %d", *n.NumericScale)
			}
		}
		if b := d.Backfill; b != nil {
			bp := path + ".backfill"
			from, okFrom := c.date(bp+".from", b.From)
			to, okTo := c.date(bp+".to", b.To)
			if okFrom && okTo && !from.Before(to) {
				c.add(bp+".to", "must be after from (%s), got %s", b.From, b.To)
			} else if okFrom && okTo && to.After(from.AddDate(MaxBackfillYears, 0, 0)) {
				c.add(bp+".to", "%s is more than the limit of %d years after from (%s)", b.To, MaxBackfillYears, b.From)
			}
			if c.required(bp+".chunk_size", b.ChunkSize) {
				c.oneOf(bp+".chunk_size", b.ChunkSize, ChunkSizes)
			}
			if b.Concurrency < 0 || b.Concurrency > 64 {
				c.add(bp+".concurrency", "must be between 1 and 64, got %d", b.Concurrency)
			}
			if b.TrustedUntil != "" {
				if t, ok := c.date(bp+".trusted_until", b.TrustedUntil); ok && okTo && t.After(to) {
					c.add(bp+".trusted_until", "%s is after the backfill end %s", b.TrustedUntil, b.To)
				}
			}
		}
		if pr := d.ParallelRun; pr != nil {
			c.duration(path+".parallel_run.cadence", pr.Cadence, true, MinCadence, MaxCadence)
			c.duration(path+".parallel_run.window", pr.Window, false, 0, MaxWindow)
			if pr.WatchCycles < 0 {
				c.add(path+".parallel_run.watch_cycles", "must be zero or more, got %d", pr.WatchCycles)
			}
		}
		if sc := d.SwitchingCriteria; sc != nil {
			sp := path + ".switching_criteria"
			for _, f := range []struct {
				name string
				v    int
			}{{"min_cycles", sc.MinCycles}, {"consecutive_passing_cycles", sc.ConsecutivePassingCycles}, {"max_breaches", sc.MaxBreaches}, {"max_failed_runs", sc.MaxFailedRuns}} {
				if f.v < 0 {
					c.add(sp+"."+f.name, "must be zero or more, got %d", f.v)
				}
			}
			if sc.MaxQualityFailures != nil && *sc.MaxQualityFailures < 0 {
				c.add(sp+".max_quality_failures", "must be zero or more, got %d", *sc.MaxQualityFailures)
			}
			if sc.MinCycles > 0 && sc.ConsecutivePassingCycles > sc.MinCycles {
				c.add(sp+".consecutive_passing_cycles", "%d is more than min_cycles %d", sc.ConsecutivePassingCycles, sc.MinCycles)
			}
		}
		if rt := d.RollbackTriggers; rt != nil && rt.FailedCycles < 0 {
			c.add(path+".rollback_triggers.failed_cycles", "must be zero or more, got %d", rt.FailedCycles)
		}
		if b := d.Budget; b != nil {
			for _, f := range []struct {
				name string
				v    float64
			}{{"backfill", b.Backfill}, {"parallel_run", b.ParallelRun}, {"reconciliation", b.Reconciliation}} {
				if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
					c.add(path+".budget."+f.name, "must be a number, zero or more, got %v", f.v)
				}
			}
			if p.CostRates.Currency == "" {
				c.add(path+".budget", "a budget needs cost_rates.currency")
			}
			if len(p.People) == 0 {
				c.add(path+".budget", "a budget needs people: only a person of the plan may raise it")
			}
			budgeted = true
		}
	}

	checks := map[string]bool{}
	for i, q := range p.Quality {
		validateQualityCheck(c, p, fmt.Sprintf("$.quality[%d]", i), q, checks)
	}

	slas := map[string]string{} // source or output → the path of its SLA
	for i, f := range p.Freshness {
		path := fmt.Sprintf("$.freshness[%d]", i)
		if what := f.Source + f.Output; what != "" && (f.Source == "" || f.Output == "") {
			if prev, ok := slas[what]; ok {
				c.add(path, "%s already has an SLA (%s): one SLA per source or output (warn and max_lag are its two levels)", what, prev)
			}
			slas[what] = path
		}
		if f.Source != "" && sources[f.Source] && (f.LagOf == "" || f.LagOf == LagOfEventTime) {
			if src, _ := p.Source(f.Source); src.EventTime == "" {
				c.add(path+".lag_of", "source %s declares no event_time: judge it by its loads (lag_of: load) or declare event_time", f.Source)
			}
		}
		switch {
		case f.Source == "" && f.Output == "":
			c.add(path, "set source (a source of the plan) or output (a domain output's name)")
		case f.Source != "" && f.Output != "":
			c.add(path, "set source or output, not both")
		case f.Source != "" && !sources[f.Source]:
			c.add(path+".source", "unknown source %q", f.Source)
		case f.Output != "" && !outputNames[f.Output]:
			c.add(path+".output", "unknown output %q (the name of an output of a domain)", f.Output)
		}
		if f.LagOf != "" {
			c.oneOf(path+".lag_of", f.LagOf, []string{LagOfEventTime, LagOfLoad})
			if f.LagOf == LagOfLoad && f.Output != "" {
				c.add(path+".lag_of", "load applies to sources: an output's freshness is its newest event time")
			}
		}
		maxLag := c.duration(path+".max_lag", f.MaxLag, true, 0, MaxFreshness)
		if warn := c.duration(path+".warn", f.Warn, false, 0, MaxFreshness); warn > 0 && maxLag > 0 && warn > maxLag {
			c.add(path+".warn", "warn (%s) must not exceed max_lag (%s)", f.Warn, f.MaxLag)
		}
	}

	cr := p.CostRates
	for _, f := range []struct {
		name string
		v    float64
	}{{"warehouse_hour", cr.WarehouseHour}, {"rpu_hour", cr.RPUHour}, {"base_rpus", cr.BaseRPUs}, {"per_million_rows", cr.PerMillionRows},
		{"per_gb_transferred", cr.PerGBTransferred}, {"s3_per_1000_requests", cr.S3Per1000Requests}, {"legacy_run", cr.LegacyRun}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			c.add("$.cost_rates."+f.name, "must be a number, zero or more, got %v", f.v)
		}
	}
	if p.Warehouse.Serverless && p.Warehouse.Dialect != "redshift" {
		c.add("$.warehouse.serverless", "serverless applies to Redshift (dialect: redshift)")
	}
	if budgeted {
		// A budget is judged in money: the warehouse's own rate must be there.
		switch {
		case p.Warehouse.Serverless && (cr.RPUHour == 0 || cr.BaseRPUs == 0):
			c.add("$.cost_rates.rpu_hour", "a Redshift Serverless warehouse is priced by RPU-hours: set rpu_hour and base_rpus (a budget needs them)")
		case !p.Warehouse.Serverless && cr.WarehouseHour == 0:
			c.add("$.cost_rates.warehouse_hour", "a %s warehouse is priced by the hour: set warehouse_hour (a budget needs it)", dialectOrDefault(p.Warehouse.Dialect))
		}
	}
	if cr.Currency != "" && !regexp.MustCompile(`^[A-Z]{3}$`).MatchString(cr.Currency) {
		c.add("$.cost_rates.currency", "%q is not an ISO 4217 code such as USD or EUR", cr.Currency)
	}

	alerts := map[string]bool{}
	for i, a := range p.Alerts {
		path := fmt.Sprintf("$.alerts[%d]", i)
		c.ident(path+".name", a.Name)
		c.unique(path+".name", alerts, a.Name)
		c.oneOf(path+".kind", a.Kind, []string{"log", "webhook"})
		if a.MinStatus != "" {
			c.oneOf(path+".min_status", a.MinStatus, []string{"warn", "fail"})
		}
		if a.Kind == "webhook" {
			if a.URLEnv == "" {
				c.add(path+".url_env", "a webhook needs url_env: the environment variable that holds its URL on the worker")
			} else if !envName.MatchString(a.URLEnv) {
				c.add(path+".url_env", "%q is not an environment variable name (the URL itself never goes in a plan)", a.URLEnv)
			}
		}
	}
}

// reservedSchema tells schemas models must not write: the control schema, the raw
// landing schema and PostgreSQL's system schemas.
func reservedSchema(schema, raw string) bool {
	return schema == "etl2elt" || schema == raw || schema == "information_schema" || strings.HasPrefix(schema, "pg_")
}

// validateQualityCheck checks one quality check: its kind's settings, its thresholds'
// kind (fractions or counts), and that a domain runs it.
func validateQualityCheck(c *checker, p *Plan, path string, q QualityCheck, seen map[string]bool) {
	c.ident(path+".name", q.Name)
	c.unique(path+".name", seen, q.Name)
	c.relation(path+".relation", q.Relation)
	c.oneOf(path+".kind", q.Kind, QualityKinds)
	for j, col := range q.Columns {
		c.ident(fmt.Sprintf("%s.columns[%d]", path, j), col)
	}
	for j, col := range q.Key {
		c.ident(fmt.Sprintf("%s.key[%d]", path, j), col)
	}
	if q.TimeColumn != "" {
		c.ident(path+".time_column", q.TimeColumn)
	}
	if q.Domain != "" {
		if _, ok := p.Domain(q.Domain); !ok {
			c.add(path+".domain", "unknown domain %q", q.Domain)
		}
	} else if q.Relation != "" && p.RelationDomain(q.Relation) == "" {
		c.add(path+".domain", "%s is no source, model or output of a domain: say which domain runs the check", q.Relation)
	}
	switch q.Kind {
	case "not_null", "unique", "null_fraction", "accepted_values", "range", "referential":
		if len(q.Columns) == 0 {
			c.add(path+".columns", "a %s check needs at least one column", q.Kind)
		}
	}
	switch q.Kind {
	case "accepted_values", "range":
		if len(q.Columns) > 1 {
			c.add(path+".columns", "a %s check takes one column, got %d", q.Kind, len(q.Columns))
		}
	}
	if q.Kind == "accepted_values" && len(q.Values) == 0 {
		c.add(path+".values", "an accepted_values check needs the list of values")
	}
	if q.Kind == "range" {
		switch {
		case q.Min == nil && q.Max == nil:
			c.add(path, "a range check needs min, max or both")
		case q.Min != nil && q.Max != nil && *q.Min > *q.Max:
			c.add(path+".min", "min (%v) must not exceed max (%v)", *q.Min, *q.Max)
		}
	}
	if q.Kind == "referential" {
		switch r := q.References; {
		case r == nil:
			c.add(path+".references", "a referential check needs references: {relation, columns}")
		default:
			c.relation(path+".references.relation", r.Relation)
			for j, col := range r.Columns {
				c.ident(fmt.Sprintf("%s.references.columns[%d]", path, j), col)
			}
			if len(r.Columns) != len(q.Columns) {
				c.add(path+".references.columns", "names %d columns for the check's %d", len(r.Columns), len(q.Columns))
			}
		}
	}
	switch q.Kind {
	case "missing_days", "row_count_change", "late_arrival", "out_of_order":
		if tc, _ := p.relationDefaults(q.Relation); q.TimeColumn == "" && tc == "" {
			c.add(path+".time_column", "a %s check needs a time column: %s declares no event time", q.Kind, q.Relation)
		}
	}
	if q.AllowedLateness != "" {
		if q.Kind != "late_arrival" {
			c.add(path+".allowed_lateness", "applies to late_arrival checks only")
		}
		c.duration(path+".allowed_lateness", q.AllowedLateness, false, 0, MaxLookback)
	}
	if q.MinFraction != 0 {
		if q.Kind != "missing_days" {
			c.add(path+".min_fraction", "applies to missing_days checks only")
		} else if q.MinFraction < 0 || q.MinFraction >= 1 {
			c.add(path+".min_fraction", "must be at least 0 and below 1, got %v", q.MinFraction)
		}
	}
	if q.Warn == nil && q.Fail == nil {
		c.add(path, "set warn, fail or both")
	}
	for _, t := range []struct {
		name string
		v    *float64
	}{{"warn", q.Warn}, {"fail", q.Fail}} {
		switch {
		case t.v == nil:
		case *t.v < 0:
			c.add(path+"."+t.name, "must be zero or more, got %v", *t.v)
		case FractionKind(q.Kind) && *t.v > 1:
			c.add(path+"."+t.name, "a %s threshold is a fraction from 0 to 1 (0.05 is 5%%), got %v", q.Kind, *t.v)
		}
	}
	if q.Warn != nil && q.Fail != nil && *q.Warn > *q.Fail {
		c.add(path+".warn", "warn (%v) must not exceed fail (%v)", *q.Warn, *q.Fail)
	}
}

func dialectOrDefault(d string) string {
	if d == "" {
		return "postgres"
	}
	return d
}
