// Package report renders one reconciliation run for people: Markdown, and a
// self-contained HTML page (inline CSS and SVG, no script, no external resource) with
// each pair's differences by cause and their worst examples (causes.go), the
// variance by segment (worst first, tolerance drawn), the row diff's stratified
// sample and the trend of breaches across parallel-run cycles. Every value comes
// from data or plans and is escaped.
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
	// Landing is what the run's loads did (nil: the run landed nothing, e.g. an
	// on-demand reconciliation).
	Landing *Landing
}

// Landing is the load ledger of a run's objects (etl2elt.loads).
type Landing struct {
	Loaded, Failed, Skipped int
	Rows, Quarantined       int64
	// Objects lists the objects worth a look, at most MaxLandingObjects: failed and
	// skipped ones with their reason, loaded ones with quarantined rows or undeclared
	// columns. More says how many were left out.
	Objects []LandedObject
	More    int
}

// MaxLandingObjects bounds Landing.Objects.
const MaxLandingObjects = 50

// LandedObject is one object of Landing.
type LandedObject struct {
	Source, Key, Status string
	Rows, Quarantined   int64
	ExtraColumns        []string
	Reason              string
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
	Checks []Check
	// OnlyInLegacy and OnlyInELT are segments one side lacks (perhaps the first
	// ones), OnlyInLegacyCount and OnlyInELTCount how many there are (0: the lists).
	OnlyInLegacy, OnlyInELT           []string
	OnlyInLegacyCount, OnlyInELTCount int
	// CheckCauses counts every differing check by cause (reconcile.CountCauses), when
	// Checks are not all of them; nil: counted from Checks.
	CheckCauses map[string]int
	RowDiff     *RowDiff
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
	// NormalisationOnly rows differ only in values the normalisation makes equal;
	// NormalisationOnlyBounded: a lower bound.
	NormalisationOnly        int64
	NormalisationOnlyBounded bool
	// Sample is stratified across causes and segments, in the diff's order;
	// SampleStored is how many keys the control schema keeps (0: len(Sample)).
	Sample                    []KeyDiff
	SampleStored              int
	Bounded                   bool
	BoundReason               string
	RowsFetched, BytesFetched int64
}

// KeyDiff is one differing key: Kind as shown ("missing in elt"), Cause its
// reconcile cause (reconcile.CauseOfKind), Segment its segment ("" when the pair has
// none).
type KeyDiff struct {
	Key, Kind, Cause, Segment string
	Columns                   []ColumnDiff
}

// ColumnDiff is one differing column of a key. A NULL reads <null> with LegacyNull
// or ELTNull set; WithinTolerance and NormalisationOnly say why the column does not
// count as a difference.
type ColumnDiff struct {
	Column, Legacy, ELT                                     string
	LegacyNull, ELTNull, WithinTolerance, NormalisationOnly bool
}

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
