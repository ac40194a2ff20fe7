// Package report renders one reconciliation run for people: Markdown, and a
// self-contained HTML page (inline CSS and SVG, no script, no external resource) with
// the variance by segment (worst first, tolerance drawn) and the trend of breaches
// across parallel-run cycles. Every value comes from data or plans and is escaped.
//
// It also renders the executive evidence report (executive*.go), per domain or for a
// whole plan: LoadExecutive reads a migration's cycles, reconciliations, checks, cost
// ledger, decisions and KPI registry from the control schema (aggregated in SQL and
// bounded, so that a long migration costs about what a short one does), and
// RenderExecutiveHTML / RenderExecutiveMarkdown answer "is it safe to switch, what did
// it cost, who decided", each figure naming the rows it came from (docs/REPORTS.md).
package report

import "time"

// Run is one reconciliation of a domain's output pairs over a window.
type Run struct {
	RunID, Plan, PlanHash, Domain string
	// Window is e.g. "[2026-01-01, 2026-01-08)".
	Window      string
	GeneratedAt time.Time
	// Status is pass or fail.
	Status string
	Pairs  []Pair
	// Trend holds earlier runs of the domain, oldest first.
	Trend []CyclePoint
	// KPIDefinitionChanges are metric version bumps inside the compared period:
	// comparisons across them compare two definitions.
	KPIDefinitionChanges []KPIChange
	// Quality holds the run's quality checks and freshness SLAs; QualityMeasured is
	// false when none ran (the report then says "not measured", never "pass").
	Quality         []QualityResult
	QualityMeasured bool
}

// QualityResult is one check or SLA of the run (etl2elt.check_results).
type QualityResult struct {
	Check, Kind, Relation, Status, Detail string
	Value                                 float64
	Warn, Fail                            *float64
	NoData                                bool
	Examples                              []string
}

// Pair is one legacy ↔ ELT output pair.
type Pair struct {
	Output, LegacyRelation, ELTRelation, Status string
	// StoredRunID is the pair's key in etl2elt.reconcile_runs and reconcile_results
	// ("<run id>/<output>"; "" when not stored).
	StoredRunID string
	// Checks: totals (Segment "") and per segment ("region=emea|channel=web").
	Checks                  []Check
	OnlyInLegacy, OnlyInELT []string
	RowDiff                 *RowDiff
}

// Check is one compared number; Legacy, ELT and Difference are exact decimals as text.
type Check struct {
	Segment, Measure, Metric             string
	Legacy, ELT, Difference              string
	RelativeDifference                   *float64
	ToleranceAbsolute, ToleranceRelative *float64
	Status                               string
}

// RowDiff summarises a row-level diff by key.
type RowDiff struct {
	MissingInLegacy, MissingInELT, Mismatched, WithinTolerance int64
	Sample                                                     []KeyDiff
	Bounded                                                    bool
	BoundReason                                                string
	RowsFetched, BytesFetched                                  int64
}

// KeyDiff is one differing key.
type KeyDiff struct {
	Key, Kind string
	Columns   []ColumnDiff
}

// ColumnDiff is one differing column of a key.
type ColumnDiff struct{ Column, Legacy, ELT string }

// CyclePoint is an earlier run in the trend.
type CyclePoint struct {
	RunID            string
	At               time.Time
	Checks, Breaches int
}

// KPIChange is a metric version bump.
type KPIChange struct {
	Metric            string
	Version           int
	ChangedBy, Reason string
	At                time.Time
}
