package activities

import (
	"context"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"etl2elt/internal/cost"
	"etl2elt/internal/plan"
)

// CostTags say whose work an activity does: the ledger row of each attempt carries
// them, and the plan's rates price it. Workflows set them (WithCostTags); they travel
// in the Temporal header to the workflow's activities, its child workflows and its
// next run after continue-as-new.
type CostTags struct {
	Plan       string         `json:"plan"`
	Domain     string         `json:"domain,omitempty"`
	Phase      string         `json:"phase"`
	Rates      plan.CostRates `json:"rates"`
	Serverless bool           `json:"serverless,omitempty"`
	// Warehouse is the plan's warehouse connection: its statement time is priced,
	// other connections' (the legacy database) is recorded only.
	Warehouse string `json:"warehouse,omitempty"`
}

// costHeader is the header key of the tags.
const costHeader = "etl2elt-cost-tags"

type costTagsKey struct{}

// WithCostTags returns ctx whose activities and child workflows are tagged t.
func WithCostTags(ctx workflow.Context, t CostTags) workflow.Context {
	return workflow.WithValue(ctx, costTagsKey{}, t)
}

// CostTagsOf returns the tags of ctx (set by the workflow or inherited from its
// parent) and whether there are any.
func CostTagsOf(ctx workflow.Context) (CostTags, bool) {
	t, ok := ctx.Value(costTagsKey{}).(CostTags)
	return t, ok && t.Plan != ""
}

// TagsForPlan tags work of a plan's domain in a phase.
func TagsForPlan(p *plan.Plan, domain, phase string) CostTags {
	return CostTags{Plan: p.Name, Domain: domain, Phase: phase, Rates: p.CostRates, Serverless: p.Warehouse.Serverless, Warehouse: p.Warehouse.Connection}
}

// kindOf is the kind of work of an activity type.
func kindOf(activityType string) string {
	switch activityType {
	case "RunBackfillChunk", "PlanBackfill", "ClaimBackfill", "ReleaseBackfill", "SkipBackfillChunk", "AdvanceBackfillWatermark":
		return cost.KindBackfill
	case "LoadSource", "VerifyLoads":
		return cost.KindLoad
	case "RunModels":
		return cost.KindModels
	case "ReconcileTotals", "RowDiffPair", "WriteReport":
		return cost.KindReconciliation
	case "RunChecks":
		return cost.KindQuality
	}
	return cost.KindControl
}

// CostInterceptor measures every activity attempt (its statements and S3 calls) and
// records it in the cost ledger with the workflow's tags, priced with their rates.
// An attempt of untagged work (no plan) is not recorded. A ledger that cannot be
// written is logged, never fails the activity: the work is done.
type CostInterceptor struct {
	interceptor.WorkerInterceptorBase
	// Activities gives the control schema's pool (the ledger).
	Activities *Activities
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (c *CostInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &costActivityInbound{a: c.Activities}
	i.Next = next
	return i
}

// InterceptWorkflow implements interceptor.WorkerInterceptor.
func (c *CostInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &costWorkflowInbound{}
	i.Next = next
	return i
}

type costActivityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	a *Activities
}

func (i *costActivityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	tags, ok := decodeTags(interceptor.Header(ctx))
	if !ok || i.a == nil {
		return i.Next.ExecuteActivity(ctx, in)
	}
	m := &cost.Meter{}
	res, err := i.Next.ExecuteActivity(cost.WithMeter(ctx, m), in)
	u := m.UsageFor(tags.Warehouse)
	if u.Zero() {
		return res, err
	}
	info := activity.GetInfo(ctx)
	e := cost.Entry{
		Plan: tags.Plan, Domain: tags.Domain, Phase: tags.Phase, Kind: kindOf(info.ActivityType.Name),
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Activity: info.ActivityType.Name, ActivityID: info.ActivityID, Attempt: info.Attempt,
		Usage: u, Cost: cost.Price(tags.Rates, tags.Serverless, u).Total(), Currency: tags.Rates.Currency,
	}
	// The attempt may have been cancelled or timed out: the ledger still gets it.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if pool, perr := i.a.control(rctx); perr != nil {
		activity.GetLogger(ctx).Warn("cost not recorded", "activity", e.Activity, "error", perr)
	} else if rerr := cost.Record(rctx, pool, e); rerr != nil {
		activity.GetLogger(ctx).Warn("cost not recorded", "activity", e.Activity, "error", rerr)
	}
	return res, err
}

type costWorkflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *costWorkflowInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	o := &costWorkflowOutbound{}
	o.Next = outbound
	return i.Next.Init(o)
}

// ExecuteWorkflow makes the tags the workflow was started with (by a parent, or the
// run before continue-as-new) its context's.
func (i *costWorkflowInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	if t, ok := decodeTags(interceptor.WorkflowHeader(ctx)); ok {
		ctx = WithCostTags(ctx, t)
	}
	return i.Next.ExecuteWorkflow(ctx, in)
}

type costWorkflowOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

func (o *costWorkflowOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	putTags(ctx)
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *costWorkflowOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	putTags(ctx)
	return o.Next.ExecuteLocalActivity(ctx, activityType, args...)
}

func (o *costWorkflowOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...any) workflow.ChildWorkflowFuture {
	putTags(ctx)
	return o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

func (o *costWorkflowOutbound) NewContinueAsNewError(ctx workflow.Context, wfn any, args ...any) error {
	putTags(ctx)
	return o.Next.NewContinueAsNewError(ctx, wfn, args...)
}

func putTags(ctx workflow.Context) {
	t, ok := CostTagsOf(ctx)
	h := interceptor.WorkflowHeader(ctx)
	if !ok || h == nil {
		return
	}
	if p, err := converter.GetDefaultDataConverter().ToPayload(t); err == nil {
		h[costHeader] = p
	}
}

func decodeTags(h map[string]*commonpb.Payload) (CostTags, bool) {
	p, ok := h[costHeader]
	if !ok {
		return CostTags{}, false
	}
	var t CostTags
	if err := converter.GetDefaultDataConverter().FromPayload(p, &t); err != nil || t.Plan == "" {
		return CostTags{}, false
	}
	return t, true
}
