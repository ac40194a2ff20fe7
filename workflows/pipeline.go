// Package workflows holds the deterministic workflow code: it reads as a plan of the
// process (load, model, reconcile...) and leaves every side effect to activities.
// Workflow type, query, signal and update names are public API, listed in
// docs/ARCHITECTURE.md.
package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/cost"
	"etl2elt/internal/model"
	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
)

// Public names.
const (
	// PipelineRunWorkflowName is the workflow type of one ELT pipeline run.
	PipelineRunWorkflowName = "PipelineRunWorkflow"
	// StatusQuery answers the workflow's current status.
	StatusQuery = "status"
)

// Phases of a pipeline run (the Etl2eltPhase search attribute).
const (
	PhaseLoadingPlan = "loading-plan"
	PhaseLoading     = "loading"
	PhaseModeling    = "modeling"
	PhaseChecking    = "checking"
	PhaseReconciling = "reconciling"
	PhaseCompleted   = "completed"
	PhaseFailed      = "failed"
)

// PipelineRunInput is one incremental run of a domain's ELT pipeline over a window.
// It is small JSON an operator can paste in the Temporal UI:
//
//	{"plan": "demo/plan.yaml", "domain": "finance", "from": "2026-01-01", "to": "2026-01-08"}
//
// Without from and to (as a Schedule starts it), the run is incremental: it covers
// [min(watermark, today - window), tomorrow) where window is the domain's
// parallel_run.window (default 1d), and advances the domain's watermark to today when
// it succeeds. Objects already landed unchanged are skipped either way.
type PipelineRunInput struct {
	// Plan is a path under the worker's plan directory or an s3:// URI.
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	// From and To bound the window [from, to) as YYYY-MM-DD dates.
	From string `json:"from"`
	To   string `json:"to"`
	// Reload lands objects again even when the ledger holds them unchanged.
	Reload bool `json:"reload,omitempty"`
	// OverrideTrusted allows a window that starts in the domain's trusted period
	// (before backfill.trusted_until); recorded as a decision.
	OverrideTrusted *Override `json:"override_trusted,omitempty"`
	// raw is the payload the input was decoded from (checkInputJSON).
	raw []byte
}

// PipelineRunResult is what the run did, and whether legacy and ELT agree.
type PipelineRunResult struct {
	Plan            string                        `json:"plan"`
	PlanHash        string                        `json:"plan_hash"`
	Domain          string                        `json:"domain"`
	Window          string                        `json:"window"`
	Loads           []activities.LoadSourceResult `json:"loads"`
	Models          *activities.RunModelsResult   `json:"models,omitempty"`
	Reconciliations []activities.ReconcileResult  `json:"reconciliations"`
	Status          string                        `json:"status"`
	Breaches        int                           `json:"breaches"`
	Report          *activities.ReportLocation    `json:"report,omitempty"`
	// Quality is the outcome of the domain's quality checks and freshness SLAs (nil:
	// the domain has none, or the run predates them).
	Quality *activities.RunChecksResult `json:"quality,omitempty"`
	// FailedObjects counts the objects that could not be landed (sources with
	// on_bad_object: continue; with fail, the run fails after landing the others).
	FailedObjects int `json:"failed_objects,omitempty"`
}

// PipelineRunStatus answers the status query.
type PipelineRunStatus struct {
	Phase           string                        `json:"phase"`
	Domain          string                        `json:"domain"`
	Window          string                        `json:"window"`
	PlanHash        string                        `json:"plan_hash,omitempty"`
	Loads           []activities.LoadSourceResult `json:"loads,omitempty"`
	ModelsRun       int                           `json:"models_run"`
	Quality         *activities.RunChecksResult   `json:"quality,omitempty"`
	Reconciliations []activities.ReconcileResult  `json:"reconciliations,omitempty"`
	Report          *activities.ReportLocation    `json:"report,omitempty"`
	Error           string                        `json:"error,omitempty"`
}

// Outcome of a run (PipelineRunResult.Status).
const (
	StatusPass = "pass"
	StatusFail = "fail"
	// StatusNoData is a run whose every output pair had no row on either side over
	// the window: nothing was compared, so it is not a pass (and not a passing cycle).
	StatusNoData = "no-data"
)

// pairsStatus folds the pairs' statuses into a run's (reconcile.RunStatus).
func pairsStatus(pairs []activities.ReconcileResult) string {
	statuses := make([]string, len(pairs))
	for i, p := range pairs {
		statuses[i] = p.Status
	}
	return reconcile.RunStatus(statuses)
}

// a is the activities' method set; only its method values are used, to name them.
var a *activities.Activities

// PipelineRunWorkflow lands the domain's sources for the window, runs its models and
// reconciles its output pairs' totals against legacy. Reconciliation breaches do not
// fail the workflow: they are its result (Status "fail"), stored in the control
// schema. Bad input (unknown domain, invalid plan, malformed data) fails it without
// retries.
func PipelineRunWorkflow(ctx workflow.Context, in PipelineRunInput) (*PipelineRunResult, error) {
	r := &pipelineRun{in: in, status: PipelineRunStatus{Phase: PhaseLoadingPlan, Domain: in.Domain, Window: "since the watermark"}}
	if in.From != "" || in.To != "" {
		r.status.Window = in.From + " .. " + in.To
	}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (PipelineRunStatus, error) { return r.status, nil }); err != nil {
		return nil, err
	}
	var res *PipelineRunResult
	err := error(nil)
	if workflow.GetVersion(ctx, operatorInputVersion, workflow.DefaultVersion, 1) >= 1 {
		err = checkInputJSON(ctx, PipelineRunWorkflowName, in.raw, &PipelineRunInput{})
	}
	if err == nil {
		res, err = r.run(ctx)
	}
	if err != nil {
		r.status.Error = err.Error()
		r.setPhase(ctx, PhaseFailed)
		return nil, err
	}
	return res, nil
}

type pipelineRun struct {
	in     PipelineRunInput
	status PipelineRunStatus
	// trustOverride is the recorded override of the trusted period ("" none).
	trustOverride string
	plan          *plan.Plan
}

func (r *pipelineRun) run(ctx workflow.Context) (*PipelineRunResult, error) {
	scheduled := r.in.From == "" && r.in.To == ""
	var w window.Window
	if !scheduled {
		var err error
		if w, err = window.ParseDates(r.in.From, r.in.To); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
		}
		r.status.Window = w.String()
	}
	r.setPhase(ctx, PhaseLoadingPlan)

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         retryPolicy,
	})
	var snap plan.Snapshot
	if err := workflow.ExecuteActivity(ctx, a.LoadPlan, activities.LoadPlanInput{Ref: r.in.Plan}).Get(ctx, &snap); err != nil {
		return nil, stepError("load plan "+r.in.Plan, err)
	}
	p := snap.Plan
	r.plan = p
	r.status.PlanHash = snap.Hash
	domain, ok := p.Domain(r.in.Domain)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("bad input: plan %s has no domain %q", p.Name, r.in.Domain), activities.ErrTypeBadInput, nil)
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Plan.ValueSet(p.Name))
	runPhase := cost.PhaseManual // an operator's window
	if scheduled {
		runPhase = cost.PhaseScheduled
	}
	ctx = costTagged(ctx, p, domain.Name, runPhase, false)
	if scheduled {
		var wm activities.WatermarkResult
		if err := workflow.ExecuteActivity(ctx, a.GetPipelineWatermark, activities.WatermarkInput{PlanName: p.Name, Domain: domain.Name}).Get(ctx, &wm); err != nil {
			return nil, stepError("read watermark", err)
		}
		var err error
		if w, err = ScheduledWindow(workflow.Now(ctx), wm.Watermark, domain); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
		}
		r.status.Window = w.String()
	}
	if v := workflow.GetVersion(ctx, "trusted-period-check", workflow.DefaultVersion, 1); v == 1 {
		if err := r.checkTrusted(ctx, domain, w); err != nil {
			return nil, err
		}
	}
	trust := model.Trust{Domain: domain.Name, Override: r.trustOverride}
	if domain.Backfill != nil && domain.Backfill.TrustedUntil != "" {
		trust.Until, _ = time.Parse(window.DateLayout, domain.Backfill.TrustedUntil) // validated with the plan
	}
	res := &PipelineRunResult{Plan: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Window: w.String(), Status: StatusPass}
	runID := workflow.GetInfo(ctx).WorkflowExecution.RunID

	// 1. Land the domain's sources.
	r.setPhase(ctx, PhaseLoading)
	loadCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         retryPolicy,
	})
	// Version 1 on, every object that can be landed is, and those that cannot are
	// recorded (the run fails after the others, or goes on, per on_bad_object).
	perObject := workflow.GetVersion(ctx, perObjectVersion, workflow.DefaultVersion, 1) >= 1
	for _, name := range domain.Sources {
		src, _ := p.Source(name)
		onBad := ""
		if perObject {
			onBad = cmp.Or(src.OnBadObject, plan.OnBadObjectFail)
		}
		var lr activities.LoadSourceResult
		err := workflow.ExecuteActivity(loadCtx, a.LoadSource, activities.LoadSourceInput{
			Source: src, Landing: p.Landing, WarehouseConnection: p.Warehouse.Connection,
			RawSchema: p.RawSchema(), Window: w, LoadID: runID + "/" + name, Reload: r.in.Reload,
			Dialect: p.Dialect(), OnBadObject: onBad,
		}).Get(ctx, &lr)
		if err != nil {
			return nil, stepError("load source "+name, err)
		}
		if workflow.GetVersion(ctx, "pipeline-verify-loads", workflow.DefaultVersion, 1) >= 1 {
			// What the load reported is checked against the load ledger: an object whose
			// commit was lost after it was reported is landed again, never counted.
			if err := r.verifyLoads(ctx, loadCtx, p, src, &lr, activities.LoadSourceInput{
				Source: src, Landing: p.Landing, WarehouseConnection: p.Warehouse.Connection,
				RawSchema: p.RawSchema(), Window: w, LoadID: runID + "/" + name, Reload: r.in.Reload,
				Dialect: p.Dialect(), OnBadObject: onBad,
			}); err != nil {
				return nil, err
			}
		}
		res.Loads = append(res.Loads, lr)
		r.status.Loads = res.Loads
		r.updateDetails(ctx)
	}
	if perObject {
		if err := badObjects(p, res); err != nil {
			r.status.Error = err.Error()
			return nil, err
		}
	}

	// 2. Run the domain's models, dependencies first.
	r.setPhase(ctx, PhaseModeling)
	models, err := plan.ModelOrder(p, domain.Models)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	if len(models) > 0 {
		modelCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Hour,
			HeartbeatTimeout:    10 * time.Minute,
			RetryPolicy:         retryPolicy,
		})
		var mr activities.RunModelsResult
		err := workflow.ExecuteActivity(modelCtx, a.RunModels, activities.RunModelsInput{
			Models: models, WarehouseConnection: p.Warehouse.Connection, RunID: runID,
			Window: w, Inputs: landedObjects(res.Loads), Dialect: p.Dialect(), Trust: trust,
		}).Get(ctx, &mr)
		if err != nil {
			return nil, stepError("run models", err)
		}
		res.Models = &mr
		r.status.ModelsRun = len(mr.Models)
	}

	// 3. Quality checks and freshness SLAs (version 1 on). A failing check the plan
	// says blocks fails the run's status and keeps the watermark where it was.
	if workflow.GetVersion(ctx, "quality-checks", workflow.DefaultVersion, 1) >= 1 {
		if err := r.checks(ctx, p, domain, w, runID, res); err != nil {
			return nil, err
		}
	}

	// 4. Reconcile every output pair against legacy.
	r.setPhase(ctx, PhaseReconciling)
	recCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy:         retryPolicy,
	})
	for _, pair := range domain.Outputs {
		var rr activities.ReconcileResult
		err := workflow.ExecuteActivity(recCtx, a.ReconcileTotals, activities.ReconcileInput{
			PlanName: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Pair: pair, Window: w,
			RunID: runID + "/" + pair.Name,
		}).Get(ctx, &rr)
		if err != nil {
			return nil, stepError("reconcile "+pair.Name, err)
		}
		res.Reconciliations = append(res.Reconciliations, rr)
		res.Breaches += rr.Breaches
		r.status.Reconciliations = res.Reconciliations
	}
	if res.Status == StatusPass {
		res.Status = pairsStatus(res.Reconciliations)
	}
	// Each run's evidence as a report (version 1 on): the status carries its location.
	if v := workflow.GetVersion(ctx, "reconcile-report", workflow.DefaultVersion, 1); v == 1 && len(res.Reconciliations) > 0 {
		var loc activities.ReportLocation
		in := activities.ReportInput{
			RunID: runID, PlanName: p.Name, PlanHash: snap.Hash, Domain: domain.Name, Window: w, Metrics: domain.Metrics,
			Pairs: res.Reconciliations, Relations: relationsOf(domain.Outputs),
		}
		if res.Quality != nil {
			in.ChecksRunID = res.Quality.RunID
		}
		err := workflow.ExecuteActivity(recCtx, a.WriteReport, in).Get(ctx, &loc)
		if err != nil {
			return nil, stepError("write report", err)
		}
		res.Report, r.status.Report = &loc, &loc
	}
	if scheduled && (res.Quality == nil || len(res.Quality.Blocking) == 0) {
		// The last day of the window is today, still filling: the next run starts there.
		next := w.To.AddDate(0, 0, -1)
		err := workflow.ExecuteActivity(ctx, a.AdvancePipelineWatermark, activities.WatermarkInput{PlanName: p.Name, Domain: domain.Name, To: next}).Get(ctx, nil)
		if err != nil {
			return nil, stepError("advance watermark", err)
		}
	}
	r.setPhase(ctx, PhaseCompleted)
	return res, nil
}

// checks runs the domain's quality checks and freshness SLAs, if it has any.
func (r *pipelineRun) checks(ctx workflow.Context, p *plan.Plan, domain plan.Domain, w window.Window, runID string, res *PipelineRunResult) error {
	specs := quality.SpecsOf(p, domain.Name)
	fresh := quality.FreshnessSpecs(p, domain.Name)
	if len(specs) == 0 && len(fresh) == 0 {
		return nil
	}
	r.setPhase(ctx, PhaseChecking)
	checkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         retryPolicy,
	})
	var qr activities.RunChecksResult
	in := activities.RunChecksInput{
		PlanName: p.Name, Domain: domain.Name, RunID: runID + "/checks", Window: &w,
		WarehouseConnection: p.Warehouse.Connection, Dialect: p.Dialect(),
		Checks: specs, Freshness: fresh, Alerts: p.Alerts, LandingPrefix: p.Landing.Prefix,
	}
	if r.in.From == "" && r.in.To == "" {
		// A scheduled run's window ends tomorrow: today is still landing.
		today := w.To.AddDate(0, 0, -1)
		in.CompleteTo = &today
	} else {
		// A run of a window an operator chose (a reprocess, an old week) must not move
		// the checks' state: an old window's pass would "resolve" today's failure.
		in.OnDemand = true
	}
	err := workflow.ExecuteActivity(checkCtx, a.RunChecks, in).Get(ctx, &qr)
	if err != nil {
		return stepError("quality checks", err)
	}
	res.Quality, r.status.Quality = &qr, &qr
	if len(qr.Blocking) > 0 {
		res.Status = StatusFail
	}
	r.updateDetails(ctx)
	return nil
}

// ScheduledWindow is the window of a run started without dates: from the earlier of
// the watermark and today minus the domain's parallel_run.window (default one day),
// to tomorrow (today's partition is loaded as far as it has landed).
func ScheduledWindow(now time.Time, watermark *time.Time, d plan.Domain) (window.Window, error) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	back := 24 * time.Hour
	if d.ParallelRun != nil && d.ParallelRun.Window != "" {
		var err error
		if back, err = plan.ParseDuration(d.ParallelRun.Window); err != nil {
			return window.Window{}, fmt.Errorf("domain %s parallel_run.window: %w", d.Name, err)
		}
	}
	from := today.Add(-back)
	if watermark != nil && watermark.Before(from) {
		from = *watermark
	}
	return window.Window{From: from, To: today.AddDate(0, 0, 1)}, nil
}

func (r *pipelineRun) setPhase(ctx workflow.Context, phase string) {
	r.status.Phase = phase
	// A failed upsert (attribute not registered) must not fail the run: the status
	// query and current details still show the phase.
	if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Domain.ValueSet(r.in.Domain), searchattr.Phase.ValueSet(phase)); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
	r.updateDetails(ctx)
}

// updateDetails keeps the UI's "current details" markdown in step with the status.
func (r *pipelineRun) updateDetails(ctx workflow.Context) {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · domain `%s` · window %s\n\n", r.status.Phase, r.status.Domain, r.status.Window))
	if len(r.status.Loads) > 0 {
		b.WriteString("| source | objects | rows | quarantined | skipped |\n|---|---|---|---|---|\n")
		for _, l := range r.status.Loads {
			b.WriteString(fmt.Sprintf("| %s | %d | %d | %d | %d |\n", l.Source, len(l.Objects), l.Rows, l.Quarantined, l.Skipped))
		}
	}
	if r.status.ModelsRun > 0 {
		b.WriteString(fmt.Sprintf("\nmodels run: %d\n", r.status.ModelsRun))
	}
	if q := r.status.Quality; q != nil {
		b.WriteString(fmt.Sprintf("\nquality: %d pass, %d warn, %d fail, %d error", q.Counts["pass"], q.Counts["warn"], q.Counts["fail"], q.Counts["error"]))
		if q.FreshnessHeld != nil {
			b.WriteString(fmt.Sprintf(" · freshness held: %t", *q.FreshnessHeld))
		}
		b.WriteString("\n")
		for _, c := range q.NotPassing {
			b.WriteString(fmt.Sprintf("- **%s** `%s` on %s: %s\n", c.Status, c.Check, c.Relation, c.Detail))
		}
	}
	for _, rr := range r.status.Reconciliations {
		b.WriteString(fmt.Sprintf("\nreconcile `%s`: **%s** (%d breaches of %d checks)\n", rr.Output, rr.Status, rr.Breaches, rr.Compared()))
	}
	if r.status.Error != "" {
		b.WriteString(fmt.Sprintf("\nerror: %s\n", r.status.Error))
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// stepError names the failed step. When the cause is bad input, the workflow fails
// with a BadInput application error, so that the UI and callers see the failure's
// kind at the top, not only deep in the cause chain.
func stepError(step string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeBadInput {
		return temporal.NewNonRetryableApplicationError(step+": "+appErr.Message(), activities.ErrTypeBadInput, nil)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// verifyLoads checks the objects a load reported as landed against the load ledger;
// missing ones (a commit lost after the report) are landed again by the same load,
// up to maxVerifyRounds times, then the run fails listing them.
func (r *pipelineRun) verifyLoads(ctx, loadCtx workflow.Context, p *plan.Plan, src plan.Source, lr *activities.LoadSourceResult, in activities.LoadSourceInput) error {
	claimed := map[string]int64{}
	for _, o := range lr.Objects {
		if !o.Skipped {
			claimed[o.ObjectKey] = o.Rows
		}
	}
	for round := 0; len(claimed) > 0; round++ {
		var v activities.VerifyLoadsResult
		err := workflow.ExecuteActivity(ctx, a.VerifyLoads, activities.VerifyLoadsInput{
			WarehouseConnection: p.Warehouse.Connection, Dialect: p.Dialect(), Source: src.Name, LoadID: in.LoadID, Objects: claimed,
		}).Get(ctx, &v)
		if err != nil {
			return stepError("verify the loads of "+src.Name, err)
		}
		if len(v.Missing) == 0 {
			lr.Verified = true
			return nil
		}
		shown := v.Missing[:min(len(v.Missing), 20)]
		if round >= maxVerifyRounds {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"source %s: %d object(s) reported landed are still not in the load ledger after %d re-loads (first: %s)",
				src.Name, len(v.Missing), round, strings.Join(shown, ", ")), ErrTypeIncomplete, nil)
		}
		lr.Lost += len(v.Missing)
		workflow.GetLogger(ctx).Warn("objects reported landed are not in the load ledger (a lost commit?): landing them again",
			"source", src.Name, "objects", shown)
		var again activities.LoadSourceResult
		if err := workflow.ExecuteActivity(loadCtx, a.LoadSource, in).Get(ctx, &again); err != nil {
			return stepError("load source "+src.Name+" again", err)
		}
		for _, o := range again.Objects {
			if !o.Skipped {
				claimed[o.ObjectKey] = o.Rows
			}
		}
	}
	return nil
}

// landedObjects lists the objects this run landed (skipped ones excluded): the
// lineage of the models it runs.
func landedObjects(loads []activities.LoadSourceResult) []model.Input {
	var in []model.Input
	for _, l := range loads {
		for _, o := range l.Objects {
			if !o.Skipped {
				in = append(in, model.Input{Source: l.Source, LoadID: l.LoadID, ObjectKey: o.ObjectKey})
			}
		}
	}
	return in
}

// checkTrusted refuses a window that starts in the domain's signed-off period unless
// the input overrides it with who and why, which is recorded as a decision.
func (r *pipelineRun) checkTrusted(ctx workflow.Context, d plan.Domain, w window.Window) error {
	if d.Backfill == nil || d.Backfill.TrustedUntil == "" {
		return nil
	}
	until, err := time.Parse(window.DateLayout, d.Backfill.TrustedUntil)
	if err != nil || !w.From.Before(until) {
		return nil
	}
	o := r.in.OverrideTrusted
	if o == nil || strings.TrimSpace(o.By) == "" || strings.TrimSpace(o.Reason) == "" {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"bad input: window %s starts in domain %s's trusted period (before %s, signed off): pass override_trusted {by, reason} to rewrite it",
			w, d.Name, d.Backfill.TrustedUntil), activities.ErrTypeBadInput, nil)
	}
	if workflow.GetVersion(ctx, "pipeline-override-checked", workflow.DefaultVersion, 1) >= 1 {
		// The same rules as every other override: a person of the plan, a real reason.
		if err := checkOverride(o, planPeople(r.plan, &d), r.plan.Name); err != nil {
			return badInputError("PipelineRunWorkflow input", err)
		}
	}
	if err := workflow.ExecuteActivity(ctx, a.RecordDecision, backfill.Decision{
		Kind: "override-trusted", Domain: d.Name, Subject: w.String(), By: o.By, Reason: o.Reason,
		Evidence: map[string]any{"trusted_until": d.Backfill.TrustedUntil, "workflow": PipelineRunWorkflowName},
	}).Get(ctx, nil); err != nil {
		return err
	}
	r.trustOverride = "override by " + o.By + ": " + o.Reason
	return nil
}

// perObjectVersion: loads land every object they can (activities.LoadSourceInput
// OnBadObject) and the run decides on the failed ones after all sources.
const perObjectVersion = "per-object-outcomes"

// badObjects counts the objects the loads could not land; when a source's
// on_bad_object is fail (the default) and one of its objects failed, the run fails
// now, after every other object was landed, naming the failed ones.
func badObjects(p *plan.Plan, res *PipelineRunResult) error {
	var failing []string
	n := 0
	for _, lr := range res.Loads {
		res.FailedObjects += len(lr.Failed)
		src, _ := p.Source(lr.Source)
		if cmp.Or(src.OnBadObject, plan.OnBadObjectFail) != plan.OnBadObjectFail {
			continue
		}
		for _, f := range lr.Failed {
			n++
			if len(failing) < 5 {
				failing = append(failing, f.Key+": "+f.Error)
			}
		}
	}
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(failing) {
		more = fmt.Sprintf("; and %d more", n-len(failing))
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"bad input: %d object(s) could not be landed; every other object was (on_bad_object: fail). Each is a failed row of etl2elt.loads with its reason and is tried again by the next run: %s%s",
		n, strings.Join(failing, " | "), more), activities.ErrTypeBadInput, nil)
}
