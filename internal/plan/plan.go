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

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Dialects the warehouse can speak.
const (
	DialectPostgres = "postgres"
	DialectRedshift = "redshift"
)

// Materialisations a model can have.
const (
	MaterializedView        = "view"
	MaterializedTable       = "table"
	MaterializedIncremental = "incremental"
)

// Duplicate-key policies of a source (Source.Duplicates; "" is DuplicatesReport): what
// a load does with rows whose primary key the object holds more than once, or that
// live rows of the source's other objects hold already.
const (
	// DuplicatesReport loads every row and reports the duplicates.
	DuplicatesReport = "report"
	// DuplicatesKeepLast keeps one row per key: the last row of the newest object
	// (by object key) holding it; the others go to the quarantine.
	DuplicatesKeepLast = "keep_last"
	// DuplicatesQuarantine quarantines every row of a key after the first one seen.
	DuplicatesQuarantine = "quarantine"
	// DuplicatesFail fails the object's load, naming duplicated keys.
	DuplicatesFail = "fail"
)

// Chunk sizes of backfills and incremental batches.
var ChunkSizes = []string{"day", "week", "month"}

// Plan is one migration contract.
type Plan struct {
	// Version of the plan format; 1 today.
	Version int `yaml:"version" json:"version" jsonschema:"enum=1"`
	// Name identifies the migration; it prefixes workflow ids.
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// People are the owners and approvers the plan may name (handles, no PII).
	People      []Person              `yaml:"people,omitempty" json:"people,omitempty"`
	Warehouse   Warehouse             `yaml:"warehouse" json:"warehouse"`
	Landing     Landing               `yaml:"landing" json:"landing"`
	Connections map[string]Connection `yaml:"connections" json:"connections"`
	Sources     []Source              `yaml:"sources" json:"sources"`
	Models      []Model               `yaml:"models,omitempty" json:"models,omitempty"`
	// Metrics is the KPI registry.
	Metrics    []Metric    `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	Dashboards []Dashboard `yaml:"dashboards,omitempty" json:"dashboards,omitempty"`
	Domains    []Domain    `yaml:"domains" json:"domains"`
	// Quality lists data-quality checks with warn / fail thresholds.
	Quality []QualityCheck `yaml:"quality,omitempty" json:"quality,omitempty"`
	// Freshness lists freshness SLAs per source.
	Freshness []FreshnessSLA `yaml:"freshness,omitempty" json:"freshness,omitempty"`
	// CostRates turn measured usage into money.
	CostRates CostRates `yaml:"cost_rates,omitempty" json:"cost_rates,omitempty"`
	// Alerts are where breaches are sent.
	Alerts []AlertTarget `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// Access names the warehouse roles of each layer; the worker grants them what
	// their layer needs (preflight of a migration) and nothing more.
	Access *Access `yaml:"access,omitempty" json:"access,omitempty"`
}

// Access is access control by layer: existing warehouse roles (created by the DBA;
// the worker only grants and revokes).
type Access struct {
	// Loader writes the raw tables (the worker's landing role when it is not the
	// worker's own).
	Loader string `yaml:"loader,omitempty" json:"loader,omitempty"`
	// Transformer reads raw and writes the models' schemas.
	Transformer string `yaml:"transformer,omitempty" json:"transformer,omitempty"`
	// BIReader reads the consumption views only, without the columns marked PII in
	// any source; never raw, never the models' schemas.
	BIReader string `yaml:"bi_reader,omitempty" json:"bi_reader,omitempty"`
}

// Person is someone the plan names as an owner or approver, by handle.
type Person struct {
	// ID is the handle used elsewhere in the plan (owners, approvers).
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	Team string `yaml:"team,omitempty" json:"team,omitempty"`
}

// Warehouse names the connection that holds raw, models, consumption views and the
// control schema.
type Warehouse struct {
	Connection string `yaml:"connection" json:"connection"`
	// Dialect is postgres (default) or redshift.
	Dialect string `yaml:"dialect,omitempty" json:"dialect,omitempty" jsonschema:"enum=postgres,enum=redshift"`
	// RawSchema holds landed tables (default raw).
	RawSchema string `yaml:"raw_schema,omitempty" json:"raw_schema,omitempty"`
	// Serverless marks a Redshift Serverless workgroup: priced by RPU-hours
	// (cost_rates.rpu_hour × base_rpus), not warehouse hours.
	Serverless bool `yaml:"serverless,omitempty" json:"serverless,omitempty"`
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
	Role        string `yaml:"role" json:"role" jsonschema:"enum=warehouse,enum=legacy"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// Source is a dataset landed in S3 as date-partitioned objects.
type Source struct {
	Name string `yaml:"name" json:"name"`
	// Layout is the key prefix of one day's objects under the landing prefix, with
	// {date} standing for YYYY-MM-DD, e.g. "orders/dt={date}/".
	Layout string `yaml:"layout" json:"layout"`
	// Format is csv, jsonl (JSON lines) or parquet; csv and jsonl objects may be
	// gzipped (.gz key suffix).
	Format  string   `yaml:"format" json:"format" jsonschema:"enum=csv,enum=jsonl,enum=parquet"`
	Columns []Column `yaml:"columns" json:"columns"`
	// PrimaryKey names the columns that identify a row. On load, a row with a NULL or
	// empty value in any of them is quarantined, and duplicate keys are counted and
	// handled as duplicates says.
	PrimaryKey []string `yaml:"primary_key,omitempty" json:"primary_key,omitempty"`
	// Duplicates is what a load does with rows whose primary key the object holds more
	// than once, or that live rows of the source's other objects hold already: report
	// (default: load them all and count them), keep_last (the last row of the newest
	// object wins, the others are quarantined), quarantine (every row after the first
	// one seen is quarantined) or fail (the object's load fails). All but report need
	// primary_key.
	Duplicates string `yaml:"duplicates,omitempty" json:"duplicates,omitempty" jsonschema:"enum=report,enum=keep_last,enum=quarantine,enum=fail"`
	// OnBadObject is what a run does when an object cannot be landed (corrupt,
	// empty, a missing column, too many bad rows): fail (default: the run fails after
	// trying every object) or continue (the run goes on; the object is reported).
	// Either way every other object is landed and the failed one is recorded in
	// etl2elt.loads with its reason, and tried again by the next run.
	OnBadObject string `yaml:"on_bad_object,omitempty" json:"on_bad_object,omitempty" jsonschema:"enum=fail,enum=continue"`
	// ExtraColumns is what a load does with an object that carries columns (CSV header,
	// Parquet fields, JSON keys) no column declares: ignore (default: load the declared
	// ones, record the extra ones on the load's ledger row, log and report them) or
	// fail (the object is refused whole as schema drift, recorded with the columns).
	ExtraColumns string `yaml:"extra_columns,omitempty" json:"extra_columns,omitempty" jsonschema:"enum=ignore,enum=fail"`
	// MaxLineBytes bounds one record (a CSV record, quoted line breaks included; a JSON
	// line): a longer one is quarantined by reference (object, byte offset, length,
	// the first KiB as a preview) rather than copied. Default 1 MiB (1048576), at most
	// 256 MiB.
	MaxLineBytes int64  `yaml:"max_line_bytes,omitempty" json:"max_line_bytes,omitempty"`
	EventTime    string `yaml:"event_time,omitempty" json:"event_time,omitempty"`
	// MaxBadFraction is the share of rows that may be quarantined before a load fails
	// (0 means any bad row fails the load, after quarantining it).
	MaxBadFraction float64 `yaml:"max_bad_fraction,omitempty" json:"max_bad_fraction,omitempty"`
}

// Column of a source. Type is one of text, bigint, integer, numeric, boolean, date,
// timestamptz.
type Column struct {
	Name        string `yaml:"name" json:"name"`
	Type        string `yaml:"type" json:"type" jsonschema:"enum=text,enum=bigint,enum=integer,enum=numeric,enum=boolean,enum=date,enum=timestamptz"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// PII is the column's policy on the way to staging: keep (default), hash (keyed
	// HMAC), mask or drop.
	PII string `yaml:"pii,omitempty" json:"pii,omitempty" jsonschema:"enum=keep,enum=hash,enum=mask,enum=drop"`
}

// PII policies.
var PIIPolicies = []string{"keep", "hash", "mask", "drop"}

// Model is a SQL transformation materialised in the warehouse.
type Model struct {
	Name   string `yaml:"name" json:"name"`
	Schema string `yaml:"schema" json:"schema"`
	// SQL is the path of the model's SELECT, relative to the plan file.
	SQL string `yaml:"sql" json:"sql"`
	// Materialized is view, table or incremental (an event-time window of rows
	// replaced by unique key, with a lookback for late arrivals).
	Materialized string   `yaml:"materialized" json:"materialized" jsonschema:"enum=view,enum=table,enum=incremental"`
	DependsOn    []string `yaml:"depends_on,omitempty" json:"depends_on,omitempty"`
	// UniqueKey identifies a row (required for incremental).
	UniqueKey []string `yaml:"unique_key,omitempty" json:"unique_key,omitempty"`
	// EventTime is the column incremental windows filter on (required for
	// incremental); on a table model it protects the trusted days.
	EventTime string `yaml:"event_time,omitempty" json:"event_time,omitempty"`
	// BatchSize is the incremental window: day, week or month.
	BatchSize string `yaml:"batch_size,omitempty" json:"batch_size,omitempty" jsonschema:"enum=day,enum=week,enum=month"`
	// Lookback re-processes this much before the watermark for late arrivals, e.g. 2d.
	Lookback string `yaml:"lookback,omitempty" json:"lookback,omitempty"`
	// SQLText is filled by the loader with the file's content, so that the SQL that
	// ran is recorded in workflow history.
	SQLText string `yaml:"-" json:"sql_text,omitempty"`
}

// Domain is a business area migrated as a unit.
type Domain struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Owners and Approvers are person ids from people.
	Owners    []string `yaml:"owners,omitempty" json:"owners,omitempty"`
	Approvers []string `yaml:"approvers,omitempty" json:"approvers,omitempty"`
	// RequiredApprovals is how many distinct approvers must approve a cutover (default 1).
	RequiredApprovals int          `yaml:"required_approvals,omitempty" json:"required_approvals,omitempty"`
	Sources           []string     `yaml:"sources" json:"sources"`
	Models            []string     `yaml:"models,omitempty" json:"models,omitempty"`
	Metrics           []string     `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	Outputs           []OutputPair `yaml:"outputs" json:"outputs"`
	Backfill          *Backfill    `yaml:"backfill,omitempty" json:"backfill,omitempty"`
	ParallelRun       *ParallelRun `yaml:"parallel_run,omitempty" json:"parallel_run,omitempty"`
	// SwitchingCriteria must hold before a cutover can be approved.
	SwitchingCriteria *SwitchingCriteria `yaml:"switching_criteria,omitempty" json:"switching_criteria,omitempty"`
	// RollbackTriggers swap the consumption views back automatically after cutover.
	RollbackTriggers *RollbackTriggers `yaml:"rollback_triggers,omitempty" json:"rollback_triggers,omitempty"`
	Budget           *Budget           `yaml:"budget,omitempty" json:"budget,omitempty"`
}

// Backfill is the history reload of a domain.
type Backfill struct {
	// From and To bound [from, to) as YYYY-MM-DD.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// ChunkSize is day, week or month.
	ChunkSize   string `yaml:"chunk_size" json:"chunk_size" jsonschema:"enum=day,enum=week,enum=month"`
	Concurrency int    `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// TrustedUntil protects signed-off history: windows before it are not rewritten
	// without an override recorded as a decision.
	TrustedUntil string `yaml:"trusted_until,omitempty" json:"trusted_until,omitempty"`
}

// ParallelRun is the evidence period: legacy and ELT run side by side.
type ParallelRun struct {
	// Cadence between cycles, e.g. 1h, 30m, 1d.
	Cadence string `yaml:"cadence" json:"cadence"`
	// Window is how far back each cycle reconciles, e.g. 7d (default: one cadence).
	Window string `yaml:"window,omitempty" json:"window,omitempty"`
	// WatchCycles is how many cycles run after the cutover, with the rollback
	// triggers armed, before the migration completes (default 24).
	WatchCycles int `yaml:"watch_cycles,omitempty" json:"watch_cycles,omitempty"`
}

// SwitchingCriteria gate the cutover approval.
type SwitchingCriteria struct {
	MinCycles                int  `yaml:"min_cycles,omitempty" json:"min_cycles,omitempty"`
	ConsecutivePassingCycles int  `yaml:"consecutive_passing_cycles,omitempty" json:"consecutive_passing_cycles,omitempty"`
	MaxBreaches              int  `yaml:"max_breaches,omitempty" json:"max_breaches,omitempty"`
	RequireFreshness         bool `yaml:"require_freshness,omitempty" json:"require_freshness,omitempty"`
	MaxFailedRuns            int  `yaml:"max_failed_runs,omitempty" json:"max_failed_runs,omitempty"`
	RequireWithinBudget      bool `yaml:"require_within_budget,omitempty" json:"require_within_budget,omitempty"`
	// MaxQualityFailures bounds the failing quality checks over the recent cycles
	// (default 0 when the domain has quality checks).
	MaxQualityFailures *int `yaml:"max_quality_failures,omitempty" json:"max_quality_failures,omitempty"`
}

// RollbackTriggers name what swaps a domain back to legacy during the watch.
type RollbackTriggers struct {
	VarianceBreach  bool `yaml:"variance_breach,omitempty" json:"variance_breach,omitempty"`
	FreshnessBreach bool `yaml:"freshness_breach,omitempty" json:"freshness_breach,omitempty"`
	// QualityFailure rolls back on a watch cycle with a failing quality check.
	QualityFailure bool `yaml:"quality_failure,omitempty" json:"quality_failure,omitempty"`
	FailedCycles   int  `yaml:"failed_cycles,omitempty" json:"failed_cycles,omitempty"`
}

// Budget caps spend per phase, in cost_rates.currency.
type Budget struct {
	Backfill       float64 `yaml:"backfill,omitempty" json:"backfill,omitempty"`
	ParallelRun    float64 `yaml:"parallel_run,omitempty" json:"parallel_run,omitempty"`
	Reconciliation float64 `yaml:"reconciliation,omitempty" json:"reconciliation,omitempty"`
}

// Metric is a KPI in the registry. Changing its definition requires a version bump:
// the control schema keeps the definition hash of every version.
type Metric struct {
	Name        string           `yaml:"name" json:"name"`
	Owner       string           `yaml:"owner" json:"owner"`
	Description string           `yaml:"description,omitempty" json:"description,omitempty"`
	Version     int              `yaml:"version" json:"version"`
	Definition  MetricDefinition `yaml:"definition" json:"definition"`
	Tolerance   Tolerance        `yaml:"tolerance" json:"tolerance"`
	// Dashboards that show the metric (names from dashboards).
	Dashboards []string `yaml:"dashboards,omitempty" json:"dashboards,omitempty"`
	// ChangedBy and ChangeReason explain the latest version bump.
	ChangedBy    string `yaml:"changed_by,omitempty" json:"changed_by,omitempty"`
	ChangeReason string `yaml:"change_reason,omitempty" json:"change_reason,omitempty"`
}

// MetricDefinition is what a metric computes.
type MetricDefinition struct {
	// Expression is a SQL aggregate, e.g. sum(revenue).
	Expression string `yaml:"expression" json:"expression"`
	// Relation is the schema.name it reads (a consumption view, normally).
	Relation   string   `yaml:"relation" json:"relation"`
	TimeColumn string   `yaml:"time_column" json:"time_column"`
	Dimensions []string `yaml:"dimensions,omitempty" json:"dimensions,omitempty"`
	// Filter is an optional SQL predicate.
	Filter string `yaml:"filter,omitempty" json:"filter,omitempty"`
}

// Dashboard is a consumer of metrics and relations.
type Dashboard struct {
	Name  string `yaml:"name" json:"name"`
	Owner string `yaml:"owner" json:"owner"`
	Tool  string `yaml:"tool,omitempty" json:"tool,omitempty"`
	URL   string `yaml:"url,omitempty" json:"url,omitempty"`
	// Relations are the schema.name views or tables the dashboard reads directly.
	Relations []string `yaml:"relations,omitempty" json:"relations,omitempty"`
}

// QualityCheck is a data-quality rule on a relation, run as one pushed-down query
// after a domain's models (docs/QUALITY.md).
type QualityCheck struct {
	Name     string `yaml:"name" json:"name"`
	Relation string `yaml:"relation" json:"relation"`
	// Kind is one of QualityKinds.
	Kind    string   `yaml:"kind" json:"kind" jsonschema:"enum=not_null,enum=unique,enum=null_fraction,enum=row_count_change,enum=late_arrival,enum=out_of_order,enum=missing_days,enum=referential,enum=accepted_values,enum=range"`
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Domain runs the check (default: the domain whose source, model or output the
	// relation is).
	Domain string `yaml:"domain,omitempty" json:"domain,omitempty"`
	// TimeColumn restricts the check to the run's window (default: the relation's
	// event time, from its source or model); missing_days, row_count_change,
	// late_arrival and out_of_order need one.
	TimeColumn string `yaml:"time_column,omitempty" json:"time_column,omitempty"`
	// Key names the columns shown as examples of failing rows (default: the
	// relation's primary or unique key).
	Key []string `yaml:"key,omitempty" json:"key,omitempty"`
	// Warn and Fail thresholds: fractions (0..1) for null_fraction, row_count_change,
	// late_arrival and out_of_order, counts otherwise. A value above fail fails.
	Warn *float64 `yaml:"warn,omitempty" json:"warn,omitempty"`
	Fail *float64 `yaml:"fail,omitempty" json:"fail,omitempty"`
	// Blocks makes a failing check fail the pipeline run (its watermark does not
	// advance); otherwise a failure is reported and alerted only.
	Blocks bool `yaml:"blocks,omitempty" json:"blocks,omitempty"`
	// AllowedLateness (late_arrival): rows landed later than this after their event
	// time are late, e.g. 1d (default 1d).
	AllowedLateness string `yaml:"allowed_lateness,omitempty" json:"allowed_lateness,omitempty"`
	// MinFraction (missing_days): a day with fewer rows than this fraction of the
	// trailing 28 days' median counts as missing (default 0: only empty days).
	MinFraction float64 `yaml:"min_fraction,omitempty" json:"min_fraction,omitempty"`
	// Values (accepted_values) are the only values the column may hold (NULL aside).
	Values []string `yaml:"values,omitempty" json:"values,omitempty"`
	// Min and Max (range) bound the column's values, inclusive.
	Min *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	// References (referential): the relation and columns the check's columns must be
	// found in.
	References *Reference `yaml:"references,omitempty" json:"references,omitempty"`
}

// Reference is the other side of a referential check.
type Reference struct {
	Relation string   `yaml:"relation" json:"relation"`
	Columns  []string `yaml:"columns" json:"columns"`
}

// Quality check kinds.
var QualityKinds = []string{"not_null", "unique", "null_fraction", "row_count_change", "late_arrival", "out_of_order", "missing_days", "referential", "accepted_values", "range"}

// FractionKind says whether a check kind's value and thresholds are fractions (0..1)
// rather than counts.
func FractionKind(kind string) bool {
	switch kind {
	case "null_fraction", "row_count_change", "late_arrival", "out_of_order":
		return true
	}
	return false
}

// FreshnessSLA bounds how old the newest data of a source or a domain's output may be.
type FreshnessSLA struct {
	// Source, or Output (a domain output's name): what is measured.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	Output string `yaml:"output,omitempty" json:"output,omitempty"`
	// Warn and MaxLag are durations, e.g. 2h, 1d.
	Warn   string `yaml:"warn,omitempty" json:"warn,omitempty"`
	MaxLag string `yaml:"max_lag" json:"max_lag"`
	// LagOf is event_time (default: now minus the newest event time) or load (now
	// minus the source's last successful load; sources only). Both are measured and
	// recorded; LagOf says which one the SLA judges.
	LagOf string `yaml:"lag_of,omitempty" json:"lag_of,omitempty" jsonschema:"enum=event_time,enum=load"`
}

// Freshness bases (FreshnessSLA.LagOf).
const (
	LagOfEventTime = "event_time"
	LagOfLoad      = "load"
)

// CostRates price measured usage.
type CostRates struct {
	Currency string `yaml:"currency,omitempty" json:"currency,omitempty"`
	// WarehouseHour prices an hour of statement time on PostgreSQL or provisioned
	// Redshift (the cluster's hourly price: statements use it while they run).
	WarehouseHour float64 `yaml:"warehouse_hour,omitempty" json:"warehouse_hour,omitempty"`
	// RPUHour and BaseRPUs price Redshift Serverless (warehouse.serverless): an hour
	// of statement time costs BaseRPUs × RPUHour.
	RPUHour  float64 `yaml:"rpu_hour,omitempty" json:"rpu_hour,omitempty"`
	BaseRPUs float64 `yaml:"base_rpus,omitempty" json:"base_rpus,omitempty"`
	// PerMillionRows prices rows read and written.
	PerMillionRows float64 `yaml:"per_million_rows,omitempty" json:"per_million_rows,omitempty"`
	// PerGBTransferred prices bytes read from and written to S3 (10^9 bytes a GB).
	PerGBTransferred float64 `yaml:"per_gb_transferred,omitempty" json:"per_gb_transferred,omitempty"`
	// S3Per1000Requests prices S3 requests (GET, PUT, LIST).
	S3Per1000Requests float64 `yaml:"s3_per_1000_requests,omitempty" json:"s3_per_1000_requests,omitempty"`
	// LegacyRun is what one run of the legacy ETL costs; every parallel-run and watch
	// cycle counts one legacy run (the dual-running window).
	LegacyRun float64 `yaml:"legacy_run,omitempty" json:"legacy_run,omitempty"`
}

// AlertTarget is where check state changes go. A webhook's URL comes from the
// environment variable URLEnv on the worker: no URL or token in the plan.
type AlertTarget struct {
	Name   string `yaml:"name" json:"name"`
	Kind   string `yaml:"kind" json:"kind" jsonschema:"enum=log,enum=webhook"`
	URLEnv string `yaml:"url_env,omitempty" json:"url_env,omitempty"`
	// MinStatus is the least severe status alerted: warn (default) or fail.
	MinStatus string `yaml:"min_status,omitempty" json:"min_status,omitempty" jsonschema:"enum=warn,enum=fail"`
}

// OutputPair is a legacy relation and the ELT relation that replaces it.
type OutputPair struct {
	Name   string `yaml:"name" json:"name"`
	Legacy Side   `yaml:"legacy" json:"legacy"`
	ELT    Side   `yaml:"elt" json:"elt"`
	// Consumption is the schema.name view dashboards read; it points at legacy or ELT.
	Consumption string `yaml:"consumption,omitempty" json:"consumption,omitempty"`
	// Keys identify a row on both sides (row-level diff).
	Keys []string `yaml:"keys,omitempty" json:"keys,omitempty"`
	// Segments are the dimensions aggregates are compared by.
	Segments []string `yaml:"segments,omitempty" json:"segments,omitempty"`
	// TimeColumn restricts comparisons to a window.
	TimeColumn string    `yaml:"time_column" json:"time_column"`
	Measures   []Measure `yaml:"measures" json:"measures"`
	// RowCountTolerance applies to the row count (default: exact).
	RowCountTolerance Tolerance `yaml:"row_count_tolerance,omitempty" json:"row_count_tolerance,omitempty"`
	// Compare lists the columns the row diff compares besides the keys; by default
	// every column the two sides share. Ignore leaves columns out of the default.
	Compare []string `yaml:"compare,omitempty" json:"compare,omitempty"`
	Ignore  []string `yaml:"ignore,omitempty" json:"ignore,omitempty"`
	// Normalize makes differences of representation compare equal in the row diff.
	Normalize *Normalize `yaml:"normalize,omitempty" json:"normalize,omitempty"`
}

// Normalize is how an output pair's rows are normalised before they are compared
// (each rule applies to the column types it names; see docs/PLAN.md).
type Normalize struct {
	// NullEqualsEmpty treats NULL and '' (after trimming) as equal.
	NullEqualsEmpty bool `yaml:"null_equals_empty,omitempty" json:"null_equals_empty,omitempty"`
	// Trim removes leading and trailing spaces of text; CaseInsensitive lowercases it.
	Trim            bool `yaml:"trim,omitempty" json:"trim,omitempty"`
	CaseInsensitive bool `yaml:"case_insensitive,omitempty" json:"case_insensitive,omitempty"`
	// NumericScale rounds numbers to this many decimals (0 to 37).
	NumericScale *int `yaml:"numeric_scale,omitempty" json:"numeric_scale,omitempty"`
	// TimestampsUTC compares timestamps as UTC instants.
	TimestampsUTC bool `yaml:"timestamps_utc,omitempty" json:"timestamps_utc,omitempty"`
}

// Side is a relation on a named connection.
type Side struct {
	Connection string `yaml:"connection" json:"connection"`
	Relation   string `yaml:"relation" json:"relation"`
	// WarehouseRelation is this side as the warehouse reads it, for a legacy output
	// on another server: a foreign table (postgres_fdw), a Redshift external or
	// federated schema, or a copy kept by the legacy ETL. The consumption view points
	// here while the domain is on legacy. Default: Relation, when Connection is the
	// warehouse connection.
	WarehouseRelation string `yaml:"warehouse_relation,omitempty" json:"warehouse_relation,omitempty"`
}

// InWarehouse is the relation the warehouse reads for this side ("" when it cannot
// read it: another server and no warehouse_relation).
func (s Side) InWarehouse(warehouseConnection string) string {
	switch {
	case s.WarehouseRelation != "":
		return s.WarehouseRelation
	case s.Connection == warehouseConnection:
		return s.Relation
	}
	return ""
}

// Measure is a summable column compared between legacy and ELT.
type Measure struct {
	Name string `yaml:"name" json:"name"`
	// Column defaults to Name.
	Column string `yaml:"column,omitempty" json:"column,omitempty"`
	// Tolerance is required: write {absolute: 0} for an exact match.
	Tolerance *Tolerance `yaml:"tolerance" json:"tolerance"`
}

// Tol is the measure's tolerance (exact when unset).
func (m Measure) Tol() Tolerance {
	if m.Tolerance == nil {
		return Tolerance{}
	}
	return *m.Tolerance
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

// Metric returns the named metric.
func (p *Plan) Metric(name string) (Metric, bool) {
	for _, m := range p.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
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

// WithUpstream returns the named models and every model they read (depends_on,
// transitively), in the plan's order.
func (p *Plan) WithUpstream(names ...string) []Model {
	deps := make(map[string][]string, len(p.Models))
	for _, m := range p.Models {
		deps[m.Name] = m.DependsOn
	}
	want := map[string]bool{}
	var mark func(string)
	mark = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range deps[n] {
			mark(d)
		}
	}
	for _, n := range names {
		mark(n)
	}
	var out []Model
	for _, m := range p.Models {
		if want[m.Name] {
			out = append(out, m)
		}
	}
	return out
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

// DefinitionHash fingerprints what a metric computes: its expression, relation, time
// column, dimensions and filter, with runs of whitespace collapsed so that layout
// changes do not count as definition changes. Owner, description, tolerance and
// dashboards are not part of it.
func (m Metric) DefinitionHash() string {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	d := m.Definition
	canonical, _ := json.Marshal([]any{norm(d.Expression), d.Relation, d.TimeColumn, d.Dimensions, norm(d.Filter)})
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Policies of sources[].on_bad_object.
const (
	OnBadObjectFail     = "fail"
	OnBadObjectContinue = "continue"
)

// Policies of sources[].extra_columns.
const (
	ExtraColumnsIgnore = "ignore"
	ExtraColumnsFail   = "fail"
)

// Bounds of sources[].max_line_bytes.
const (
	DefaultMaxLineBytes = 1 << 20
	MaxMaxLineBytes     = 256 << 20
)

// LineLimit is the source's max_line_bytes, or the default.
func (s Source) LineLimit() int64 {
	if s.MaxLineBytes > 0 {
		return s.MaxLineBytes
	}
	return DefaultMaxLineBytes
}
