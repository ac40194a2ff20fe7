package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/plan"
)

// Retries ride out ordinary outages (a database or S3 server restarting for a minute
// or two) before a person is asked: connection loss, timeouts and server errors are
// retried with exponential backoff; bad input (ErrTypeBadInput) is never retried.
// docs/OPERATIONS.md ("Retries") documents this table; TestRetryTableIsDocumented
// keeps the two equal.

// retryPolicy is every activity's but the backfill chunks': an activity that still
// fails fails its workflow step (a pipeline run, a reconciliation, a cutover is
// retried from the migration's next cycle).
var retryPolicy = outagePolicy()

// chunkRetryPolicy is a backfill chunk's: a chunk that still fails waits for a
// person (retry-chunk / skip-chunk) while the others go on. The same numbers today,
// kept apart so that either can change alone.
var chunkRetryPolicy = outagePolicy()

// outagePolicy rides out a 2.5-minute outage: 10 attempts, backoff 1 s doubling to
// 30 s; bad input is never retried.
func outagePolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Second,
		MaximumAttempts:        10,
		NonRetryableErrorTypes: []string{activities.ErrTypeBadInput},
	}
}

// RetryRow is one policy of the documented retry table.
type RetryRow struct {
	Name     string
	Attempts int32
	First    time.Duration
	Max      time.Duration
	// RideOut is the total backoff between the first and the last attempt: how long
	// an outage may last before the step fails or waits for a person.
	RideOut time.Duration
}

// RetryTable lists the policies as docs/OPERATIONS.md documents them.
func RetryTable() []RetryRow {
	row := func(name string, p *temporal.RetryPolicy) RetryRow {
		r := RetryRow{Name: name, Attempts: p.MaximumAttempts, First: p.InitialInterval, Max: p.MaximumInterval}
		wait := p.InitialInterval
		for i := int32(1); i < p.MaximumAttempts; i++ {
			r.RideOut += wait
			wait = min(time.Duration(float64(wait)*p.BackoffCoefficient), p.MaximumInterval)
		}
		return r
	}
	return []RetryRow{row("activities", retryPolicy), row("backfill chunks", chunkRetryPolicy)}
}

// costTagged tags the work started from ctx for the cost ledger: the plan's domain
// and phase, unless a parent (a migration) tagged them already; force sets the phase
// whatever the parent said (a backfill is backfill work). Rates and the warehouse
// always come from the plan just loaded (a corrected plan prices from then on).
func costTagged(ctx workflow.Context, p *plan.Plan, domain, phase string, force bool) workflow.Context {
	t := activities.TagsForPlan(p, domain, phase)
	if parent, inherited := activities.CostTagsOf(ctx); inherited && parent.Plan == p.Name {
		if parent.Domain != "" {
			t.Domain = parent.Domain
		}
		if !force {
			t.Phase = parent.Phase
		}
	}
	return activities.WithCostTags(ctx, t)
}
