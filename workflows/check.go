package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/cost"
	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
)

// CheckWorkflowName is the workflow type of an on-demand run of a domain's quality
// checks and freshness SLAs.
const CheckWorkflowName = "CheckWorkflow"

// CheckInput runs a domain's checks over a window, on demand:
//
//	{"plan": "demo/plan.yaml", "domain": "finance", "from": "2026-01-01", "to": "2026-01-08"}
type CheckInput struct {
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Checks limits the run to these checks (names; freshness:<source> for an SLA;
	// default: all of the domain's).
	Checks []string `json:"checks,omitempty"`
	// raw is the payload the input was decoded from (checkInputJSON).
	raw []byte
}

// UnmarshalJSON keeps the raw input for checkInputJSON.
func (in *CheckInput) UnmarshalJSON(b []byte) error {
	type plain CheckInput
	return keepRaw(b, (*plain)(in), &in.raw)
}

// CheckResult is the outcome: counts, what did not pass, freshness; every result
// with its examples is in etl2elt.check_results under RunID.
type CheckResult struct {
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	Window string `json:"window"`
	// Status is fail when a check failed or could not run, or an SLA was missed.
	Status string `json:"status"`
	activities.RunChecksResult
}

// CheckStatus answers the status query.
type CheckStatus struct {
	Phase  string       `json:"phase"`
	Result *CheckResult `json:"result,omitempty"`
}

// CheckWorkflow runs a domain's quality checks and freshness SLAs over a window and
// stores the results. It is on demand, over any window: it neither moves the checks'
// state nor alerts (pipeline runs do). Failing checks are its result (status fail),
// not a workflow failure.
func CheckWorkflow(ctx workflow.Context, in CheckInput) (*CheckResult, error) {
	phase := PhaseLoadingPlan
	var res *CheckResult
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (CheckStatus, error) {
		return CheckStatus{Phase: phase, Result: res}, nil
	}); err != nil {
		return nil, err
	}
	if err := checkInputJSON(ctx, CheckWorkflowName, in.raw, &CheckInput{}); err != nil {
		return nil, err
	}
	w, err := window.ParseDates(in.From, in.To)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	var snap plan.Snapshot
	if err := workflow.ExecuteActivity(actx, a.LoadPlan, activities.LoadPlanInput{Ref: in.Plan}).Get(ctx, &snap); err != nil {
		return nil, stepError("load plan "+in.Plan, err)
	}
	p := snap.Plan
	if _, ok := p.Domain(in.Domain); !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad input: plan %s has no domain %q", p.Name, in.Domain), activities.ErrTypeBadInput, nil)
	}
	ctx = costTagged(ctx, p, in.Domain, cost.PhaseManual, false)
	specs, fresh, err := selectChecks(quality.SpecsOf(p, in.Domain), quality.FreshnessSpecs(p, in.Domain), in.Checks)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Plan.ValueSet(p.Name), searchattr.Domain.ValueSet(in.Domain), searchattr.Phase.ValueSet(PhaseChecking))
	phase = PhaseChecking
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**checking** · domain `%s` · window %s · %d checks, %d SLAs", in.Domain, w, len(specs), len(fresh)))
	cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: 2 * time.Minute, RetryPolicy: retryPolicy})
	var qr activities.RunChecksResult
	if err := workflow.ExecuteActivity(cctx, a.RunChecks, activities.RunChecksInput{
		PlanName: p.Name, Domain: in.Domain, RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID + "/checks", Window: &w,
		WarehouseConnection: p.Warehouse.Connection, Dialect: p.Dialect(), Checks: specs, Freshness: fresh, OnDemand: true, LandingPrefix: p.Landing.Prefix,
	}).Get(ctx, &qr); err != nil {
		return nil, stepError("quality checks", err)
	}
	res = &CheckResult{Plan: p.Name, Domain: in.Domain, Window: w.String(), Status: StatusPass, RunChecksResult: qr}
	if !qr.Passed() {
		res.Status = StatusFail
	}
	phase = PhaseCompleted
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Phase.ValueSet(PhaseCompleted))
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · domain `%s` · window %s · %d pass, %d warn, %d fail, %d error\n", res.Status, in.Domain, w,
		qr.Counts["pass"], qr.Counts["warn"], qr.Counts["fail"], qr.Counts["error"]))
	for _, c := range qr.NotPassing {
		b.WriteString(fmt.Sprintf("\n- **%s** `%s` on %s: %s", c.Status, c.Check, c.Relation, c.Detail))
	}
	workflow.SetCurrentDetails(ctx, b.String())
	return res, nil
}

// selectChecks keeps the named checks and SLAs (all when names is empty); an unknown
// name is an error listing the known ones.
func selectChecks(specs []quality.Spec, fresh []quality.FreshnessSpec, names []string) ([]quality.Spec, []quality.FreshnessSpec, error) {
	if len(names) == 0 {
		return specs, fresh, nil
	}
	var known []string
	var outS []quality.Spec
	var outF []quality.FreshnessSpec
	for _, s := range specs {
		known = append(known, s.Name)
		if slices.Contains(names, s.Name) {
			outS = append(outS, s)
		}
	}
	for _, f := range fresh {
		known = append(known, f.Name())
		if slices.Contains(names, f.Name()) {
			outF = append(outF, f)
		}
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return nil, nil, fmt.Errorf("the domain has no check %s (checks: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return outS, outF, nil
}
