package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/plan"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
)

// ReconcileWorkflowName is the workflow type of an on-demand reconciliation.
const ReconcileWorkflowName = "ReconcileWorkflow"

// ReconcileInput reconciles a domain's output pairs over a window, on demand:
//
//	{"plan": "demo/plan.yaml", "domain": "finance", "from": "2026-01-01", "to": "2026-01-08"}
type ReconcileInput struct {
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Outputs limits the run to these output pairs (default: all of the domain's).
	Outputs []string `json:"outputs,omitempty"`
}

// ReconcileResult is the reconciliation and where its report is.
type ReconcileResult struct {
	Plan     string                       `json:"plan"`
	PlanHash string                       `json:"plan_hash"`
	Domain   string                       `json:"domain"`
	Window   string                       `json:"window"`
	Status   string                       `json:"status"`
	Breaches int                          `json:"breaches"`
	Pairs    []activities.ReconcileResult `json:"pairs"`
	Report   *activities.ReportLocation   `json:"report,omitempty"`
}

// ReconcileStatus answers the status query.
type ReconcileStatus struct {
	Phase  string                       `json:"phase"`
	Domain string                       `json:"domain"`
	Window string                       `json:"window"`
	Pairs  []activities.ReconcileResult `json:"pairs,omitempty"`
	Report *activities.ReportLocation   `json:"report,omitempty"`
	Error  string                       `json:"error,omitempty"`
}

// Phases of a reconciliation.
const PhaseReporting = "reporting"

// ReconcileWorkflow reconciles a domain's output pairs over a window: totals and
// segmented aggregates, stored in the control schema, and a Markdown and HTML report
// uploaded to S3. (The row-level diff is not wired in yet.) Breaches are the
// result (status "fail"), not a workflow failure.
func ReconcileWorkflow(ctx workflow.Context, in ReconcileInput) (*ReconcileResult, error) {
	st := &ReconcileStatus{Phase: PhaseLoadingPlan, Domain: in.Domain, Window: in.From + " .. " + in.To}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (ReconcileStatus, error) { return *st, nil }); err != nil {
		return nil, err
	}
	setPhase := func(phase string) {
		st.Phase = phase
		_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Domain.ValueSet(in.Domain), searchattr.Phase.ValueSet(phase))
		var b strings.Builder
		b.WriteString(fmt.Sprintf("**%s** · domain `%s` · window %s\n", phase, st.Domain, st.Window))
		for _, p := range st.Pairs {
			b.WriteString(fmt.Sprintf("\n- `%s`: **%s** (%d breaches of %d checks)", p.Output, p.Status, p.Breaches, len(p.Checks)))
		}
		if st.Report != nil {
			b.WriteString("\n\nreport: " + st.Report.HTML)
		}
		if st.Error != "" {
			b.WriteString("\n\nerror: " + st.Error)
		}
		workflow.SetCurrentDetails(ctx, b.String())
	}
	res, err := runReconcile(ctx, in, st, setPhase)
	if err != nil {
		st.Error = err.Error()
		setPhase(PhaseFailed)
		return nil, err
	}
	setPhase(PhaseCompleted)
	return res, nil
}

func runReconcile(ctx workflow.Context, in ReconcileInput, st *ReconcileStatus, setPhase func(string)) (*ReconcileResult, error) {
	w, err := window.ParseDates(in.From, in.To)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	st.Window = w.String()
	setPhase(PhaseLoadingPlan)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	var snap plan.Snapshot
	if err := workflow.ExecuteActivity(actx, a.LoadPlan, activities.LoadPlanInput{Ref: in.Plan}).Get(ctx, &snap); err != nil {
		return nil, stepError("load plan "+in.Plan, err)
	}
	p := snap.Plan
	domain, ok := p.Domain(in.Domain)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad input: plan %s has no domain %q", p.Name, in.Domain), activities.ErrTypeBadInput, nil)
	}
	pairs, err := selectPairs(domain, in.Outputs)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Plan.ValueSet(p.Name))
	runID := workflow.GetInfo(ctx).WorkflowExecution.RunID
	res := &ReconcileResult{Plan: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Window: w.String(), Status: StatusPass}

	setPhase(PhaseReconciling)
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 5 * time.Minute, RetryPolicy: retryPolicy})
	for _, pair := range pairs {
		var rr activities.ReconcileResult
		err := workflow.ExecuteActivity(rctx, a.ReconcileTotals, activities.ReconcileInput{
			PlanName: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Pair: pair, Window: w, RunID: runID + "/" + pair.Name,
		}).Get(ctx, &rr)
		if err != nil {
			return nil, stepError("reconcile "+pair.Name, err)
		}
		res.Pairs = append(res.Pairs, rr)
		res.Breaches += rr.Breaches
		if rr.Status != StatusPass {
			res.Status = StatusFail
		}
		st.Pairs = res.Pairs
		setPhase(PhaseReconciling)
	}

	setPhase(PhaseReporting)
	var loc activities.ReportLocation
	err = workflow.ExecuteActivity(rctx, a.WriteReport, activities.ReportInput{
		RunID: runID, PlanName: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Window: w, Metrics: domain.Metrics, Pairs: res.Pairs,
		Relations: relationsOf(pairs),
	}).Get(ctx, &loc)
	if err != nil {
		return nil, stepError("write report", err)
	}
	res.Report, st.Report = &loc, &loc
	return res, nil
}

func selectPairs(d plan.Domain, names []string) ([]plan.OutputPair, error) {
	if len(names) == 0 {
		return d.Outputs, nil
	}
	var out []plan.OutputPair
	for _, n := range names {
		i := slices.IndexFunc(d.Outputs, func(o plan.OutputPair) bool { return o.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("domain %s has no output pair %q", d.Name, n)
		}
		out = append(out, d.Outputs[i])
	}
	return out, nil
}

func relationsOf(pairs []plan.OutputPair) map[string][2]string {
	m := map[string][2]string{}
	for _, p := range pairs {
		m[p.Name] = [2]string{p.Legacy.Relation, p.ELT.Relation}
	}
	return m
}
