// Package plan is the migration's contract: the YAML file that declares connections by
// name, the S3 landing zone, sources, models and business-area domains with their
// legacy ↔ ELT output pairs and tolerances. Parse reads and validates a plan, reporting
// every problem at once with its line and field path; Loader resolves a plan reference
// (a path under the plan directory or an s3:// URI) and returns the plan with the SQL of
// its models inlined and a content hash, which is what workflows record in history.
//
// docs/PLAN.md documents the format. This is the foundation's subset; the full contract
// (KPI registry, budgets, switching criteria...) grows here.
package plan

// Dialects the warehouse can speak.
const (
	DialectPostgres = "postgres"
	DialectRedshift = "redshift"
)

// Materialisations a model can have.
const (
	MaterializedView  = "view"
	MaterializedTable = "table"
)

// Plan is one migration contract.
type Plan struct {
	// Version of the plan format; 1 today.
	Version int `yaml:"version" json:"version"`
	// Name identifies the migration; it prefixes workflow ids.
	Name        string                `yaml:"name" json:"name"`
	Description string                `yaml:"description,omitempty" json:"description,omitempty"`
	Warehouse   Warehouse             `yaml:"warehouse" json:"warehouse"`
	Landing     Landing               `yaml:"landing" json:"landing"`
	Connections map[string]Connection `yaml:"connections" json:"connections"`
	Sources     []Source              `yaml:"sources" json:"sources"`
	Models      []Model               `yaml:"models,omitempty" json:"models,omitempty"`
	Domains     []Domain              `yaml:"domains" json:"domains"`
}

// Warehouse names the connection that holds raw, models, consumption views and the
// control schema.
type Warehouse struct {
	Connection string `yaml:"connection" json:"connection"`
	// Dialect is postgres (default) or redshift.
	Dialect string `yaml:"dialect,omitempty" json:"dialect,omitempty"`
	// RawSchema holds landed tables (default raw).
	RawSchema string `yaml:"raw_schema,omitempty" json:"raw_schema,omitempty"`
}

// Landing is the S3 landing zone.
type Landing struct {
	Bucket string `yaml:"bucket" json:"bucket"`
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// Connection is a database by name. The DSN never appears in a plan: the worker reads
// it from ETL2ELT_CONN_<NAME>.
type Connection struct {
	// Role is warehouse or legacy.
	Role        string `yaml:"role" json:"role"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Source is a dataset landed in S3 as date-partitioned objects.
type Source struct {
	Name string `yaml:"name" json:"name"`
	// Layout is the key prefix of one day's objects under the landing prefix, with
	// {date} standing for YYYY-MM-DD, e.g. "orders/dt={date}/".
	Layout string `yaml:"layout" json:"layout"`
	// Format is csv (the foundation reads csv; jsonl and parquet are planned).
	Format     string   `yaml:"format" json:"format"`
	Columns    []Column `yaml:"columns" json:"columns"`
	PrimaryKey []string `yaml:"primary_key,omitempty" json:"primary_key,omitempty"`
	EventTime  string   `yaml:"event_time,omitempty" json:"event_time,omitempty"`
	// MaxBadFraction is the share of rows that may be quarantined before a load fails
	// (0 means any bad row fails the load, after quarantining it).
	MaxBadFraction float64 `yaml:"max_bad_fraction,omitempty" json:"max_bad_fraction,omitempty"`
}

// Column of a source. Type is one of text, bigint, integer, numeric, boolean, date,
// timestamptz.
type Column struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"`
}

// Model is a SQL transformation materialised in the warehouse.
type Model struct {
	Name   string `yaml:"name" json:"name"`
	Schema string `yaml:"schema" json:"schema"`
	// SQL is the path of the model's SELECT, relative to the plan file.
	SQL          string   `yaml:"sql" json:"sql"`
	Materialized string   `yaml:"materialized" json:"materialized"`
	DependsOn    []string `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
	// SQLText is filled by the loader with the file's content, so that the SQL that
	// ran is recorded in workflow history.
	SQLText string `yaml:"-" json:"sql_text,omitempty"`
}

// Domain is a business area migrated as a unit.
type Domain struct {
	Name        string       `yaml:"name" json:"name"`
	Description string       `yaml:"description,omitempty" json:"description,omitempty"`
	Owners      []string     `yaml:"owners,omitempty" json:"owners,omitempty"`
	Sources     []string     `yaml:"sources" json:"sources"`
	Models      []string     `yaml:"models,omitempty" json:"models,omitempty"`
	Outputs     []OutputPair `yaml:"outputs" json:"outputs"`
}

// OutputPair is a legacy relation and the ELT relation that replaces it.
type OutputPair struct {
	Name   string `yaml:"name" json:"name"`
	Legacy Side   `yaml:"legacy" json:"legacy"`
	ELT    Side   `yaml:"elt" json:"elt"`
	// TimeColumn restricts comparisons to a window.
	TimeColumn string    `yaml:"time_column" json:"time_column"`
	Measures   []Measure `yaml:"measures" json:"measures"`
	// RowCountTolerance applies to the row count (default: exact).
	RowCountTolerance Tolerance `yaml:"row_count_tolerance,omitempty" json:"row_count_tolerance,omitempty"`
}

// Side is a relation on a named connection.
type Side struct {
	Connection string `yaml:"connection" json:"connection"`
	Relation   string `yaml:"relation" json:"relation"`
}

// Measure is a summable column compared between legacy and ELT.
type Measure struct {
	Name string `yaml:"name" json:"name"`
	// Column defaults to Name.
	Column    string    `yaml:"column,omitempty" json:"column,omitempty"`
	Tolerance Tolerance `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
}

// ColumnName is the measure's column.
func (m Measure) ColumnName() string {
	if m.Column != "" {
		return m.Column
	}
	return m.Name
}

// Tolerance bounds an acceptable difference. A difference passes when it is within
// Absolute or within Relative (a fraction of the legacy value); with neither set,
// only an exact match passes.
type Tolerance struct {
	Absolute *float64 `yaml:"absolute,omitempty" json:"absolute,omitempty"`
	Relative *float64 `yaml:"relative,omitempty" json:"relative,omitempty"`
}

// Domain returns the named domain.
func (p *Plan) Domain(name string) (Domain, bool) {
	for _, d := range p.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return Domain{}, false
}

// Source returns the named source.
func (p *Plan) Source(name string) (Source, bool) {
	for _, s := range p.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

// Model returns the named model.
func (p *Plan) Model(name string) (Model, bool) {
	for _, m := range p.Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// RawSchema is the warehouse schema of landed tables.
func (p *Plan) RawSchema() string {
	if p.Warehouse.RawSchema != "" {
		return p.Warehouse.RawSchema
	}
	return "raw"
}

// Dialect is the warehouse dialect, postgres by default.
func (p *Plan) Dialect() string {
	if p.Warehouse.Dialect != "" {
		return p.Warehouse.Dialect
	}
	return DialectPostgres
}
