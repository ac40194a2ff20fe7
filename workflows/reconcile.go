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
	"etl2elt/internal/reconcile"
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
	// RowDiff, when set, also diffs the rows by key of every selected pair that has
	// keys (after its aggregates), bounded and normalised as it says:
	//
	//	"row_diff": {"max_rows_fetched": 100000, "max_seconds": 600, "numeric_tolerance": {"amount": 0.01}}
	RowDiff *RowDiffOptions `json:"row_diff,omitempty"`
	// raw is the payload the input was decoded from (checkInputJSON).
	raw []byte
}

// RowDiffOptions bound and normalise a reconciliation's row-level diffs.
type RowDiffOptions = activities.RowDiffOptions

// ReconcileResult is the reconciliation and where its report is.
type ReconcileResult struct {
	Plan     string `json:"plan"`
	PlanHash string `json:"plan_hash"`
	Domain   string `json:"domain"`
	Window   string `json:"window"`
	Status   string `json:"status"`
	Breaches int    `json:"breaches"`
	// RowDifferences counts the rows that differ beyond tolerance (missing on either
	// side or mismatched) in the pairs' row diffs.
	RowDifferences int64                        `json:"row_differences,omitempty"`
	Pairs          []activities.ReconcileResult `json:"pairs"`
	Report         *activities.ReportLocation   `json:"report,omitempty"`
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
// uploaded to S3; with RowDiff, a row-level diff by key of every pair with keys
// (RowDiffPair). Breaches and row differences are the result (status "fail"), not a
// workflow failure.
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
			b.WriteString(fmt.Sprintf("\n- `%s`: **%s** (%d breaches of %d checks)", p.Output, p.Status, p.Breaches, p.Compared()))
			if d := p.RowDiff; d != nil {
				b.WriteString(fmt.Sprintf("; row diff: %d missing in legacy, %d missing in ELT, %d mismatched, %d within tolerance",
					d.MissingInLegacy, d.MissingInELT, d.Mismatched, d.WithinTolerance))
				if d.Bounded {
					b.WriteString(" (stopped early: " + d.BoundReason + ")")
				}
			}
		}
		if st.Report != nil {
			b.WriteString("\n\nreport: " + st.Report.HTML)
		}
		if st.Error != "" {
			b.WriteString("\n\nerror: " + st.Error)
		}
		workflow.SetCurrentDetails(ctx, b.String())
	}
	var res *ReconcileResult
	err := error(nil)
	if workflow.GetVersion(ctx, operatorInputVersion, workflow.DefaultVersion, 1) >= 1 {
		err = checkInputJSON(ctx, ReconcileWorkflowName, in.raw, &ReconcileInput{})
	}
	if err == nil {
		res, err = runReconcile(ctx, in, st, setPhase)
	}
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
	ctx = costTagged(ctx, p, domain.Name, cost.PhaseManual, false)
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
		if in.RowDiff != nil && len(pair.Keys) > 0 {
			// Asked for only: histories without row diffs never reach the marker.
			if v := workflow.GetVersion(ctx, rowDiffChange, workflow.DefaultVersion, 1); v >= 1 {
				dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
					StartToCloseTimeout: rowDiffTimeout(in.RowDiff), HeartbeatTimeout: 2 * time.Minute, RetryPolicy: retryPolicy})
				var rd reconcile.RowDiffResult
				err := workflow.ExecuteActivity(dctx, a.RowDiffPair, activities.RowDiffInput{
					RunID: rr.RunID, Domain: domain.Name, Pair: pair, Window: w, Options: *in.RowDiff,
				}).Get(ctx, &rd)
				if err != nil {
					return nil, stepError("row diff "+pair.Name, err)
				}
				rr.RowDiff = &rd
				if !rd.Passed() {
					rr.Status = reconcile.Fail
				}
				res.RowDifferences += rd.Differences()
			}
		}
		res.Pairs = append(res.Pairs, rr)
		res.Breaches += rr.Breaches
		res.Status = pairsStatus(res.Pairs)
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

// rowDiffChange versions the row diff activity of ReconcileWorkflow.
const rowDiffChange = "reconcile-row-diff"

// rowDiffTimeout is the row diff activity's start-to-close timeout: its own bound
// plus room, or two hours when unbounded.
func rowDiffTimeout(o *RowDiffOptions) time.Duration {
	if o.MaxSeconds > 0 {
		return time.Duration(o.MaxSeconds)*time.Second + 10*time.Minute
	}
	return 2 * time.Hour
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
