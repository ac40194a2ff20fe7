package plan

import "time"

// Limits on a plan file, checked before it is decoded (docs/PLAN.md, "Limits"): a
// plan is a small hand-written file, so anything beyond these is a mistake or an
// attack, refused with a problem instead of costing the worker time and memory.
const (
	// MaxPlanBytes is the largest plan file read or parsed.
	MaxPlanBytes = 1 << 20
	// MaxDepth is the deepest nesting of mappings and lists (a plan needs about 8).
	MaxDepth = 64
	// MaxEntries is the most keys and list items in a plan (the demo plan has about
	// 200).
	MaxEntries = 50_000
	// MaxKeys is the most keys in one block mapping.
	MaxKeys = 1000
	// MaxAliases is the most aliases (*name) a plan may contain.
	MaxAliases = 1000
	// MaxAliasNodes is the most nodes aliases may add to the document once expanded
	// (a "billion laughs" alias bomb expands to 10⁹).
	MaxAliasNodes = 100_000
)

// Limits on durations and dates in a plan.
const (
	day = 24 * time.Hour
	// MaxLookback bounds models[].lookback.
	MaxLookback = 366 * day
	// MinCadence and MaxCadence bound domains[].parallel_run.cadence.
	MinCadence = time.Second
	MaxCadence = 31 * day
	// MaxWindow bounds domains[].parallel_run.window.
	MaxWindow = 366 * day
	// MaxFreshness bounds freshness[].warn and freshness[].max_lag.
	MaxFreshness = 366 * day
	// MaxBackfillYears bounds domains[].backfill: to is at most this many years after
	// from.
	MaxBackfillYears = 50
	// MinDate and MaxDate bound every date of a plan (backfill from, to, trusted_until).
	MinDate = "1900-01-01"
	MaxDate = "2999-12-31"
)
