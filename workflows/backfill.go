package workflows

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/cost"
	"etl2elt/internal/model"
	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
)

// Public names of BackfillWorkflow.
const (
	BackfillWorkflowName = "BackfillWorkflow"
	// RetryChunkSignal re-queues a chunk waiting for a person.
	RetryChunkSignal = "retry-chunk"
	// SkipChunkSignal settles a waiting chunk as skipped (recorded).
	SkipChunkSignal = "skip-chunk"
	// RaiseBudgetUpdate raises the backfill budget of a paused backfill.
	RaiseBudgetUpdate = "raise-budget"
)

// Backfill phases (the Etl2eltPhase search attribute).
const (
	PhaseBackfilling        = "backfilling"
	PhaseWaitingForOperator = "waiting-for-operator"
	PhasePausedBudget       = "paused-budget"
	PhaseDryRun             = "dry-run"
)

// BackfillInput reloads a target's history over [from, to). Operators paste it in the
// Temporal UI:
//
//	{"plan": "demo/plan.yaml", "target": "fct_orders_daily", "from": "2025-01-01", "to": "2026-01-01"}
type BackfillInput struct {
	Plan string `json:"plan"`
	// Target is an incremental model or a source of the plan (its raw table is
	// re-landed from S3, day by day).
	Target string `json:"target"`
	From   string `json:"from"`
	To     string `json:"to"`
	// ChunkSize is day, week or month (default: the domain's backfill.chunk_size, else day).
	ChunkSize string `json:"chunk_size,omitempty"`
	// Concurrency bounds chunks in flight (default: the domain's, else 4).
	Concurrency int `json:"concurrency,omitempty"`
	// Reprocess is missing (default), failed, all, or changed (the chunks holding
	// periods built by another definition of the model or of a model it reads:
	// starter models status lists them).
	Reprocess string `json:"reprocess,omitempty"`
	// DryRun only reports what would run.
	DryRun bool `json:"dry_run,omitempty"`
	// OverrideTrusted allows rewriting signed-off windows; recorded as a decision.
	OverrideTrusted *Override `json:"override_trusted,omitempty"`
	// HeartbeatTimeoutSeconds bounds how long a chunk of a lost worker goes unnoticed
	// before it is retried elsewhere (default 30).
	HeartbeatTimeoutSeconds int `json:"heartbeat_timeout_seconds,omitempty"`
	// ChunksPerRun bounds one run's history: after this many chunk completions the
	// backfill continues as new with its state (default and maximum 500).
	ChunksPerRun int `json:"chunks_per_run,omitempty"`
	// Carry is the state handed over by continue-as-new (not for operators).
	Carry *BackfillCarry `json:"carry,omitempty"`
	// raw is the payload the input was decoded from (checkInputJSON).
	raw []byte
}

// Override is a person's decision with a reason.
type Override struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// ChunkSignal is the payload of retry-chunk and skip-chunk.
type ChunkSignal struct {
	ChunkID string `json:"chunk_id"`
	By      string `json:"by"`
	Reason  string `json:"reason,omitempty"`
}

// RaiseBudgetRequest is the payload of the raise-budget update.
type RaiseBudgetRequest struct {
	By     string  `json:"by"`
	Amount float64 `json:"amount"`
	Reason string  `json:"reason"`
}

// WaitingChunk is a chunk that kept failing and waits for retry-chunk or skip-chunk.
type WaitingChunk struct {
	Chunk backfill.Chunk `json:"chunk"`
	ID    string         `json:"id"`
	Error string         `json:"error"`
}

// BackfillCarry is what a continued run inherits.
type BackfillCarry struct {
	Pending  []backfill.Chunk `json:"pending"`
	Waiting  []WaitingChunk   `json:"waiting,omitempty"`
	Counters BackfillCounters `json:"counters"`
	Budget   float64          `json:"budget"`
	Runs     int              `json:"runs"`
	// VerifyRounds counts completion checks that found lost chunks.
	VerifyRounds int `json:"verify_rounds,omitempty"`
	// Refused counts refused signals so far (the decision-log cap spans runs).
	Refused int `json:"refused,omitempty"`
	// Trust is the trusted period and the recorded override the chunks run with.
	Trust model.Trust `json:"trust,omitzero"`
}

// BackfillCounters sum up the work so far.
type BackfillCounters struct {
	Total      int     `json:"total"`
	Settled    int     `json:"settled"`
	Done       int     `json:"done"`
	Skipped    int     `json:"skipped"`
	Rows       int64   `json:"rows"`
	Spent      float64 `json:"spent"`
	DurationMS int64   `json:"duration_ms"`
	// Lost counts chunks reported done that the ledger did not hold at the end (run
	// again); Verified is set when every chunk of the range was found settled in the
	// ledger before the backfill completed.
	Lost     int  `json:"lost,omitempty"`
	Verified bool `json:"verified,omitempty"`
}

// BackfillStatus answers the status query.
type BackfillStatus struct {
	Phase       string           `json:"phase"`
	Target      string           `json:"target"`
	Range       string           `json:"range"`
	ChunkSize   string           `json:"chunk_size"`
	Concurrency int              `json:"concurrency"`
	Counters    BackfillCounters `json:"counters"`
	Running     int              `json:"running"`
	Pending     int              `json:"pending"`
	Waiting     []WaitingChunk   `json:"waiting,omitempty"`
	Watermark   *time.Time       `json:"watermark,omitempty"`
	Budget      float64          `json:"budget,omitempty"`
	// Estimate is the expected cost of one more chunk (mean so far); Projected the
	// spend at completion: spent + estimate × chunks left (pending, running, waiting).
	Estimate  float64 `json:"estimate,omitempty"`
	Projected float64 `json:"projected,omitempty"`
	// ETA is the expected remaining time at the current pace.
	ETA string `json:"eta,omitempty"`
	// Trusted counts chunks inside the trusted period (dry run and refusals).
	Trusted int `json:"trusted,omitempty"`
	// NextChunks lists the first pending chunk ids (at most 20): what is missing.
	NextChunks []string `json:"next_chunks,omitempty"`
	// PercentDone is settled chunks (done before, done now, skipped) over the total.
	PercentDone float64 `json:"percent_done"`
	// ChunksPerMinute is the pace of this execution's chunks.
	ChunksPerMinute float64 `json:"chunks_per_minute,omitempty"`
	// NeedsAction says what a person must do (stuck-chunk, budget; "" nothing).
	NeedsAction string `json:"needs_action,omitempty"`
	// Notices are refused or ignored operator inputs and other things to know (the
	// latest 20, newest last); RefusedInputs counts refused signals.
	Notices       []string `json:"notices,omitempty"`
	RefusedInputs int      `json:"refused_inputs,omitempty"`
}

// BackfillResult is the outcome.
type BackfillResult struct {
	Target    string           `json:"target"`
	Range     string           `json:"range"`
	Counters  BackfillCounters `json:"counters"`
	Watermark *time.Time       `json:"watermark,omitempty"`
	DryRun    bool             `json:"dry_run,omitempty"`
	// ToRun lists the chunk ids a dry run would run.
	ToRun   []string `json:"to_run,omitempty"`
	Trusted []string `json:"trusted,omitempty"`
}

// maxChunksPerRun bounds history: after this many chunk completions the workflow
// continues as new with its state (the input's chunks_per_run can lower it).
const maxChunksPerRun = 500

type backfillRun struct {
	in       BackfillInput
	targetID string
	status   BackfillStatus
	pending  []backfill.Chunk
	waiting  []WaitingChunk
	// completions counts chunk results in this run (continue-as-new trigger).
	completions int
	budgetCh    workflow.Channel
	// v2: strict operator input (operatorInputVersion); people may act on the target.
	v2        bool
	recording int // refused-input decisions being recorded
	// verifyRounds counts completion checks that found lost chunks.
	verifyRounds int
	// trust protects the target's signed-off rows (with the recorded override, if any).
	trust      model.Trust
	people     []string
	planName   string
	domain     string
	shownPhase string
	shownNeeds string
}

// BackfillWorkflow reloads an incremental model's history chunk by chunk with bounded
// concurrency. Each chunk is idempotent (target + window, one transaction, ledger
// row); transient failures retry; a chunk that keeps failing (or fails for bad input)
// waits, listed in the status, for a retry-chunk or skip-chunk signal while the others
// go on. Windows in the domain's trusted period are refused unless OverrideTrusted is
// given (recorded). With a domain budget, the backfill pauses before a chunk that would
// exceed it and waits for the raise-budget update.
func BackfillWorkflow(ctx workflow.Context, in BackfillInput) (*BackfillResult, error) {
	r := &backfillRun{in: in, budgetCh: workflow.NewBufferedChannel(ctx, 16)}
	r.status = BackfillStatus{Phase: PhaseLoadingPlan, Target: in.Target, Range: in.From + " .. " + in.To}
	// The version first: the handlers decode strictly only in runs that have it.
	r.v2 = workflow.GetVersion(ctx, operatorInputVersion, workflow.DefaultVersion, 1) >= 1
	if r.v2 && in.Carry != nil {
		r.status.RefusedInputs = in.Carry.Refused
	}
	if err := r.registerHandlers(ctx); err != nil {
		return nil, err
	}
	res, err := r.run(ctx)
	if err != nil {
		var canErr *workflow.ContinueAsNewError
		if !errors.As(err, &canErr) {
			r.setPhase(ctx, PhaseFailed)
		}
		return nil, err
	}
	return res, nil
}

func (r *backfillRun) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (BackfillStatus, error) {
		st := r.status
		st.Pending = len(r.pending)
		for _, c := range r.pending[:min(len(r.pending), 20)] {
			st.NextChunks = append(st.NextChunks, c.ID())
		}
		st.Waiting = append([]WaitingChunk(nil), r.waiting...)
		return st, nil
	}); err != nil {
		return err
	}
	// The update takes its payload raw: a payload that does not decode is refused by
	// the validator with a one-line reason, never by the SDK.
	return workflow.SetUpdateHandlerWithOptions(ctx, RaiseBudgetUpdate,
		func(ctx workflow.Context, raw converter.RawValue) (float64, error) {
			var req RaiseBudgetRequest
			if err := decodeRaw(raw, &req, r.v2); err != nil {
				return 0, refusal(fmt.Errorf("raise-budget: %w", err))
			}
			r.status.Budget += req.Amount
			r.budgetCh.Send(ctx, req)
			return r.status.Budget, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(raw converter.RawValue) error {
			var req RaiseBudgetRequest
			if err := decodeRaw(raw, &req, r.v2); err != nil {
				return refusal(fmt.Errorf("raise-budget: %w", err))
			}
			if err := r.validateRaise(req); err != nil {
				return refusal(fmt.Errorf("raise-budget refused: %w", err))
			}
			return nil
		}})
}

// maxBudgetRaise bounds one raise-budget (a typo of a few zeros is refused).
const maxBudgetRaise = 1e9

func (r *backfillRun) validateRaise(req RaiseBudgetRequest) error {
	switch {
	case strings.TrimSpace(req.By) == "":
		return errors.New("raise-budget needs by: who raises it")
	case math.IsNaN(req.Amount) || req.Amount <= 0:
		return fmt.Errorf("raise-budget amount must be positive, got %v", req.Amount)
	case req.Amount > maxBudgetRaise:
		return fmt.Errorf("raise-budget amount %v is over the limit of %v for one raise", req.Amount, maxBudgetRaise)
	case strings.TrimSpace(req.Reason) == "":
		return errors.New("raise-budget needs a reason")
	case r.status.Budget == 0:
		return errors.New("this backfill has no budget to raise")
	}
	if r.v2 {
		return opinput.Join(checkPerson("by", req.By, r.people, r.planName), opinput.Text("reason", req.Reason, opinput.MinReason))
	}
	return nil
}

func (r *backfillRun) run(ctx workflow.Context) (*BackfillResult, error) {
	if r.v2 {
		if err := checkInputJSON(ctx, BackfillWorkflowName, r.in.raw, &BackfillInput{}); err != nil {
			return nil, err
		}
	}
	rng, err := window.ParseDates(r.in.From, r.in.To)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	r.status.Range = rng.String()
	r.setPhase(ctx, PhaseLoadingPlan)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})

	var snap plan.Snapshot
	if err := workflow.ExecuteActivity(actx, a.LoadPlan, activities.LoadPlanInput{Ref: r.in.Plan}).Get(ctx, &snap); err != nil {
		return nil, stepError("load plan "+r.in.Plan, err)
	}
	p := snap.Plan
	target, err := resolveTarget(p, r.in.Target, workflow.GetInfo(ctx).WorkflowExecution.RunID)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("bad input: "+err.Error(), activities.ErrTypeBadInput, nil)
	}
	domain := target.domain
	r.people, r.planName = planPeople(p, domain), p.Name
	if domain != nil {
		r.domain = domain.Name
	}
	if r.v2 && r.in.Carry == nil {
		if err := r.checkInput(); err != nil {
			return nil, badInputError("BackfillWorkflow input", err)
		}
	}
	domainName := ""
	if domain != nil {
		domainName = domain.Name
	}
	ctx = costTagged(ctx, p, domainName, cost.PhaseBackfill, true)
	actx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	r.targetID = target.id
	r.status.Target = target.id
	r.configure(domain)
	if domain != nil {
		_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Domain.ValueSet(domain.Name))
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Plan.ValueSet(p.Name))

	claimed := false
	if !r.in.DryRun && workflow.GetVersion(ctx, claimVersion, workflow.DefaultVersion, 1) >= 1 {
		// One execution per target and window, whatever the workflow id.
		if err := workflow.ExecuteActivity(actx, a.ClaimBackfill, activities.ClaimBackfillInput{
			WarehouseConnection: p.Warehouse.Connection, Target: target.id, Range: rng}).Get(ctx, nil); err != nil {
			return nil, stepError("claim "+target.id+" over "+rng.String(), err)
		}
		claimed = true
	}
	res, err := r.execute(ctx, actx, p, domain, target, rng)
	if claimed {
		// Released however the backfill ends (a cancelled one too).
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		rctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
		var canErr *workflow.ContinueAsNewError
		if !errors.As(err, &canErr) {
			if rerr := workflow.ExecuteActivity(rctx, a.ReleaseBackfill, activities.ReleaseBackfillInput{
				WarehouseConnection: p.Warehouse.Connection, Target: target.id}).Get(dctx, nil); rerr != nil {
				workflow.GetLogger(ctx).Warn("backfill claim not released (the next overlapping backfill takes it over)", "target", target.id, "error", rerr)
			}
		}
	}
	return res, err
}

// claimVersion guards the claim of a target's range (one execution per window).
const claimVersion = "backfill-claim"

// execute plans (or takes over the carried state) and runs the chunks.
func (r *backfillRun) execute(ctx, actx workflow.Context, p *plan.Plan, domain *plan.Domain, target backfillTarget, rng window.Window) (*BackfillResult, error) {
	if c := r.in.Carry; c != nil {
		r.pending, r.waiting, r.status.Counters, r.trust = c.Pending, c.Waiting, c.Counters, c.Trust
		if r.trust.Until.IsZero() && domain != nil && domain.Backfill != nil && domain.Backfill.TrustedUntil != "" {
			// Carried by a run from before trust was carried: the plan's period, no override.
			r.trust.Until, _ = time.Parse(window.DateLayout, domain.Backfill.TrustedUntil)
			r.trust.Domain = domain.Name
		}
		if c.Budget > 0 {
			r.status.Budget = c.Budget
		}
	} else {
		res, err := r.plan(ctx, actx, p, domain, rng)
		if err != nil || res != nil {
			return res, err
		}
	}

	r.setPhase(ctx, PhaseBackfilling)
	heartbeat := 30 * time.Second
	if r.in.HeartbeatTimeoutSeconds > 0 {
		heartbeat = time.Duration(r.in.HeartbeatTimeoutSeconds) * time.Second
	}
	chunkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         chunkRetryPolicy,
	})
	continueAsNew, err := r.loop(ctx, chunkCtx, actx, p, target)
	if err != nil {
		return nil, err
	}
	if continueAsNew {
		return nil, r.continueAsNew(ctx)
	}
	if workflow.GetVersion(ctx, verifyCompletionVersion, workflow.DefaultVersion, 1) >= 1 {
		// Completion is checked against the ledger: a chunk whose commit was lost (a
		// database crash right after it) is run again, never counted as done.
		continueAsNew, err := r.verify(ctx, chunkCtx, actx, p, target, rng)
		if err != nil {
			return nil, err
		}
		if continueAsNew {
			return nil, r.continueAsNew(ctx)
		}
	}

	if err := workflow.Await(ctx, func() bool { return r.recording == 0 }); err != nil {
		return nil, err
	}
	var wm activities.BackfillWatermarkResult
	if err := workflow.ExecuteActivity(actx, a.AdvanceBackfillWatermark, activities.WatermarkTarget{
		WarehouseConnection: p.Warehouse.Connection, Target: target.id}).Get(ctx, &wm); err != nil {
		return nil, stepError("advance watermark", err)
	}
	r.status.Watermark = wm.Watermark
	if r.status.Counters.Verified && (wm.Watermark == nil || wm.Watermark.Before(rng.To)) && r.in.Reprocess != backfill.ReprocessChanged {
		// (A backfill of changed logic settles chunks the pipeline runs built, which
		// have no ledger row: the watermark says nothing about them.)
		// Every chunk of the range is in the ledger; the target's watermark stops
		// earlier because of a gap before this range.
		at := "none"
		if wm.Watermark != nil {
			at = wm.Watermark.Format(window.DateLayout)
		}
		r.notice(ctx, "every chunk of %s is settled, but the target's watermark is %s: chunks before this range are missing (a backfill from the earliest date fills them)", rng, at)
	}
	r.setPhase(ctx, PhaseCompleted)
	return &BackfillResult{Target: target.id, Range: rng.String(), Counters: r.status.Counters, Watermark: wm.Watermark}, nil
}

// verifyCompletionVersion guards the completion check against the ledger.
const verifyCompletionVersion = "backfill-verify-completion"

// maxVerifyRounds bounds how often chunks lost after their completion are run again
// before the backfill fails with their list.
const maxVerifyRounds = 3

// verify reads the ledger for the range: every chunk must be done or skipped there.
// Chunks that are not (their completion was reported but their commit was lost) are
// counted as lost, run again, and checked again; after maxVerifyRounds the backfill
// fails listing them. It returns true when the run should continue as new.
func (r *backfillRun) verify(ctx, chunkCtx, actx workflow.Context, p *plan.Plan, target backfillTarget, rng window.Window) (bool, error) {
	if r.in.Carry != nil && r.in.Carry.VerifyRounds > 0 {
		r.verifyRounds = r.in.Carry.VerifyRounds
	}
	for {
		var sel activities.PlanBackfillResult
		verifyIn := activities.PlanBackfillInput{
			WarehouseConnection: p.Warehouse.Connection, Target: r.targetID, Range: rng,
			ChunkSize: r.status.ChunkSize, Reprocess: backfill.ReprocessMissing,
		}
		if r.in.Reprocess == backfill.ReprocessChanged {
			// A backfill of changed logic is complete when no chunk holds a period
			// built by another definition of the target (chunks the pipeline runs
			// built need no ledger row; a stale upstream model is rebuilt by its own
			// runs, not by this backfill; skipped chunks stay skipped).
			verifyIn.Reprocess, verifyIn.Models, verifyIn.Verify = backfill.ReprocessChanged, p.WithUpstream(r.targetID), true
		}
		err := workflow.ExecuteActivity(actx, a.PlanBackfill, verifyIn).Get(ctx, &sel)
		if err != nil {
			return false, stepError("verify chunks against the ledger", err)
		}
		if len(sel.Run) == 0 {
			r.status.Counters.Verified = true
			return false, nil
		}
		ids := make([]string, 0, min(len(sel.Run), 20))
		for _, c := range sel.Run[:min(len(sel.Run), 20)] {
			ids = append(ids, c.ID())
		}
		if r.verifyRounds >= maxVerifyRounds {
			return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%d chunk(s) of %s are still not done in the ledger after %d re-runs (first: %s): the backfill is not complete",
				len(sel.Run), rng, r.verifyRounds, strings.Join(ids, ", ")), ErrTypeIncomplete, nil)
		}
		r.verifyRounds++
		r.status.Counters.Lost += len(sel.Run)
		r.status.Counters.Done = max(0, r.status.Counters.Done-len(sel.Run))
		r.notice(ctx, "verification %d: %d chunk(s) reported done are not in the ledger (a lost commit?); running them again: %s",
			r.verifyRounds, len(sel.Run), strings.Join(ids, ", "))
		r.pending = sel.Run
		continueAsNew, err := r.loop(ctx, chunkCtx, actx, p, target)
		if err != nil || continueAsNew {
			return continueAsNew, err
		}
	}
}

// ErrTypeIncomplete fails a backfill whose chunks the ledger does not hold as done
// after re-runs.
const ErrTypeIncomplete = "Incomplete"

// Bounds of a backfill's input.
const (
	maxConcurrency      = 64
	maxHeartbeatSeconds = 3600
)

// checkInput refuses input values out of range, every problem at once.
func (r *backfillRun) checkInput() error {
	var errs []error
	in := r.in
	if in.Concurrency < 0 || in.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1 to %d (0: the domain's)", in.Concurrency, maxConcurrency))
	}
	if in.HeartbeatTimeoutSeconds < 0 || in.HeartbeatTimeoutSeconds > maxHeartbeatSeconds {
		errs = append(errs, fmt.Errorf("heartbeat_timeout_seconds %d: want 1 to %d (0: 30)", in.HeartbeatTimeoutSeconds, maxHeartbeatSeconds))
	}
	if in.ChunksPerRun < 0 || in.ChunksPerRun > maxChunksPerRun {
		errs = append(errs, fmt.Errorf("chunks_per_run %d: want 1 to %d (0: %d)", in.ChunksPerRun, maxChunksPerRun, maxChunksPerRun))
	}
	switch in.ChunkSize {
	case "", backfill.Day, backfill.Week, backfill.Month:
	default:
		errs = append(errs, fmt.Errorf("chunk_size %q: want day, week or month", opinput.Excerpt(in.ChunkSize, 40)))
	}
	switch in.Reprocess {
	case "", backfill.ReprocessMissing, backfill.ReprocessFailed, backfill.ReprocessAll, backfill.ReprocessChanged:
	default:
		errs = append(errs, fmt.Errorf("reprocess %q: want missing, failed, all or changed", opinput.Excerpt(in.Reprocess, 40)))
	}
	if o := in.OverrideTrusted; o != nil {
		errs = append(errs, checkOverride(o, r.people, r.planName))
	}
	return opinput.Join(errs...)
}

// checkOverride refuses an override without a person of the plan or a real reason.
func checkOverride(o *Override, people []string, planName string) error {
	return opinput.Join(checkPerson("override_trusted.by", o.By, people, planName), opinput.Text("override_trusted.reason", o.Reason, opinput.MinReason))
}

// configure applies the domain's defaults to the input.
func (r *backfillRun) configure(domain *plan.Domain) {
	r.status.ChunkSize, r.status.Concurrency = r.in.ChunkSize, r.in.Concurrency
	if domain != nil && domain.Backfill != nil {
		if r.status.ChunkSize == "" {
			r.status.ChunkSize = domain.Backfill.ChunkSize
		}
		if r.status.Concurrency == 0 {
			r.status.Concurrency = domain.Backfill.Concurrency
		}
	}
	if domain != nil && domain.Budget != nil {
		r.status.Budget = domain.Budget.Backfill
	}
	if r.status.ChunkSize == "" {
		r.status.ChunkSize = backfill.Day
	}
	if r.status.Concurrency <= 0 {
		r.status.Concurrency = 4
	}
}

// plan selects the chunks; for a dry run or a refused trusted period it returns the
// final result or error.
func (r *backfillRun) plan(ctx, actx workflow.Context, p *plan.Plan, domain *plan.Domain, rng window.Window) (*BackfillResult, error) {
	var trustedUntil time.Time
	if domain != nil && domain.Backfill != nil && domain.Backfill.TrustedUntil != "" {
		trustedUntil, _ = time.Parse(window.DateLayout, domain.Backfill.TrustedUntil) // validated with the plan
	}
	var sel activities.PlanBackfillResult
	planIn := activities.PlanBackfillInput{
		WarehouseConnection: p.Warehouse.Connection, Target: r.targetID, Range: rng,
		ChunkSize: r.status.ChunkSize, Reprocess: r.in.Reprocess, TrustedUntil: trustedUntil,
	}
	if r.in.Reprocess == backfill.ReprocessChanged {
		// (A mode no earlier history used: no version marker needed.)
		planIn.Models = p.WithUpstream(r.targetID)
	}
	err := workflow.ExecuteActivity(actx, a.PlanBackfill, planIn).Get(ctx, &sel)
	if err != nil {
		return nil, stepError("plan chunks", err)
	}
	r.pending = sel.Run
	r.status.Counters.Total, r.status.Counters.Settled = sel.Total, sel.Settled
	r.status.Trusted = len(sel.Trusted)
	if r.in.Reprocess == backfill.ReprocessChanged && len(sel.Run) == 0 {
		r.notice(ctx, "no chunk of %s holds a period built by other logic: nothing to run (starter models status lists stale periods)", rng)
	}
	if r.in.DryRun {
		r.setPhase(ctx, PhaseDryRun)
		res := &BackfillResult{Target: r.targetID, Range: rng.String(), Counters: r.status.Counters, DryRun: true}
		for _, c := range sel.Run {
			res.ToRun = append(res.ToRun, c.ID())
		}
		for _, c := range sel.Trusted {
			res.Trusted = append(res.Trusted, c.ID())
		}
		return res, nil
	}
	r.trust = model.Trust{Until: trustedUntil}
	if domain != nil {
		r.trust.Domain = domain.Name
	}
	o := r.in.OverrideTrusted
	if len(sel.Trusted) == 0 && (!r.v2 || o == nil || trustedUntil.IsZero()) {
		return nil, nil
	}
	if o == nil || strings.TrimSpace(o.By) == "" || strings.TrimSpace(o.Reason) == "" {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"bad input: %d chunk(s) of %s fall in the trusted period before %s and were loaded by ELT before (signed off, first %s): pass override_trusted {by, reason} in the input (starter backfill --override-by --override-reason) to rewrite them",
			len(sel.Trusted), rng, trustedUntil.Format(window.DateLayout), sel.Trusted[0].ID()), activities.ErrTypeBadInput, nil)
	}
	var ids []string
	for _, c := range sel.Trusted {
		ids = append(ids, c.ID())
	}
	d := backfill.Decision{Kind: "override-trusted", Target: r.targetID, Subject: rng.String(), By: o.By, Reason: o.Reason,
		Evidence: map[string]any{"trusted_until": trustedUntil.Format(window.DateLayout), "chunks": ids}}
	if domain != nil {
		d.Domain = domain.Name
	}
	if err := workflow.ExecuteActivity(actx, a.RecordDecision, d).Get(ctx, nil); err != nil {
		return nil, stepError("record override", err)
	}
	// Recorded: the chunks may rewrite trusted rows (the database guard lets them).
	r.trust.Override = "override by " + o.By + ": " + o.Reason
	return nil, nil
}

// loop runs the pending chunks with bounded concurrency and serves signals until
// every chunk is settled. It returns true when the run should continue as new.
func (r *backfillRun) loop(ctx, chunkCtx, actx workflow.Context, p *plan.Plan, target backfillTarget) (bool, error) {
	retryCh := workflow.GetSignalChannel(ctx, RetryChunkSignal)
	skipCh := workflow.GetSignalChannel(ctx, SkipChunkSignal)
	sel := workflow.NewSelector(ctx)
	var toSkip []ChunkSignal
	var decisions []backfill.Decision
	sel.AddReceive(retryCh, func(c workflow.ReceiveChannel, _ bool) {
		receiveRaw(ctx, c, func(raw converter.RawValue) bool { return r.onRetry(ctx, raw, &decisions, target.id) })
	})
	sel.AddReceive(skipCh, func(c workflow.ReceiveChannel, _ bool) {
		receiveRaw(ctx, c, func(raw converter.RawValue) bool { return r.onSkip(ctx, raw, &toSkip) })
	})
	sel.AddReceive(r.budgetCh, func(c workflow.ReceiveChannel, _ bool) {
		var req RaiseBudgetRequest
		c.Receive(ctx, &req)
		decisions = append(decisions, backfill.Decision{Kind: "raise-budget", Target: target.id, By: req.By, Reason: req.Reason,
			Evidence: map[string]any{"amount": req.Amount, "new_budget": r.status.Budget, "spent": r.status.Counters.Spent}})
	})

	startedAt := workflow.Now(ctx)
	for {
		// Settle what operators asked for: skips first (a person waits on them; runs
		// before operatorInputVersion recorded the decisions first).
		if r.v2 {
			if err := r.skipAll(ctx, actx, p, toSkip); err != nil {
				return false, err
			}
			toSkip = nil
		}
		for _, d := range decisions {
			if err := workflow.ExecuteActivity(actx, a.RecordDecision, d).Get(ctx, nil); err != nil {
				return false, stepError("record decision", err)
			}
		}
		decisions = nil
		if err := r.skipAll(ctx, actx, p, toSkip); err != nil {
			return false, err
		}
		toSkip = nil

		draining := r.completions >= r.chunksPerRun() || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		paused := false
		for !draining && r.status.Running < r.status.Concurrency && len(r.pending) > 0 {
			if r.overBudget() {
				paused = true
				break
			}
			c := r.pending[0]
			r.pending = r.pending[1:]
			r.status.Running++
			in := activities.RunChunkInput{Chunk: c, WarehouseConnection: p.Warehouse.Connection, Rates: p.CostRates}
			if target.source != nil {
				in.Source, in.Landing, in.RawSchema, in.LoadID = target.source, p.Landing, p.RawSchema(), target.loadID
			} else {
				in.Model, in.Trust = target.model, r.trust
			}
			f := workflow.ExecuteActivity(chunkCtx, a.RunBackfillChunk, in)
			sel.AddFuture(f, func(f workflow.Future) {
				r.status.Running--
				r.completions++
				var res backfill.ChunkResult
				if err := f.Get(ctx, &res); err != nil {
					r.waiting = append(r.waiting, WaitingChunk{Chunk: c, ID: c.ID(), Error: rootMessage(err)})
					return
				}
				r.status.Counters.Done++
				r.status.Counters.Rows += res.Rows
				r.status.Counters.Spent += res.Cost
				r.status.Counters.DurationMS += res.DurationMS
			})
		}
		r.refresh(ctx, startedAt, paused)
		if r.status.Running == 0 {
			switch {
			case draining && (len(r.pending) > 0 || len(r.waiting) > 0):
				// Signals already delivered but not received would be lost with this
				// run: take them now, settle them, then hand over.
				if !r.drainSignals(ctx, retryCh, skipCh, &toSkip, &decisions, target.id) {
					return true, nil
				}
				continue
			case len(r.pending) == 0 && len(r.waiting) == 0:
				return false, nil
			}
		}
		sel.Select(ctx)
	}
}

// drainSignals receives every buffered retry-chunk and skip-chunk signal without
// blocking; it reports whether there was any (the caller settles them and looks again).
func (r *backfillRun) drainSignals(ctx workflow.Context, retryCh, skipCh workflow.ReceiveChannel, toSkip *[]ChunkSignal, decisions *[]backfill.Decision, target string) bool {
	got := false
	for {
		var raw converter.RawValue
		if !retryCh.ReceiveAsync(&raw) {
			break
		}
		got = true
		r.onRetry(ctx, raw, decisions, target)
	}
	for {
		var raw converter.RawValue
		if !skipCh.ReceiveAsync(&raw) {
			break
		}
		got = true
		r.onSkip(ctx, raw, toSkip)
	}
	return got
}

// decodeChunkSignal decodes and checks a retry-chunk or skip-chunk payload; the
// chunk id may be given with or without the target's schema.
func (r *backfillRun) decodeChunkSignal(name string, raw converter.RawValue) (ChunkSignal, error) {
	var s ChunkSignal
	if err := decodeRaw(raw, &s, r.v2); err != nil {
		return s, err
	}
	if !r.v2 {
		return s, nil
	}
	s.By, s.Reason = strings.TrimSpace(s.By), strings.TrimSpace(s.Reason)
	minReason := 0
	if name == SkipChunkSignal {
		minReason = opinput.MinReason
	}
	var errs []error
	if strings.TrimSpace(s.ChunkID) == "" {
		errs = append(errs, fmt.Errorf("chunk_id is required (one of the waiting chunks: %s)", r.waitingIDs()))
	}
	errs = append(errs, checkPerson("by", s.By, r.people, r.planName), opinput.Text("reason", s.Reason, minReason))
	s.ChunkID = r.chunkID(strings.TrimSpace(s.ChunkID))
	return s, opinput.Join(errs...)
}

// chunkID accepts a chunk id written without the target's schema (orders@... for
// raw.orders@...).
func (r *backfillRun) chunkID(id string) string {
	if schema, _, ok := strings.Cut(r.targetID, "."); ok && strings.HasPrefix(r.targetID, schema+".") && !strings.Contains(strings.SplitN(id, "@", 2)[0], ".") {
		if strings.HasPrefix(schema+"."+id, r.targetID+"@") {
			return schema + "." + id
		}
	}
	return id
}

func (r *backfillRun) waitingIDs() string {
	if len(r.waiting) == 0 {
		return "none is waiting"
	}
	ids := make([]string, 0, min(len(r.waiting), 5))
	for _, w := range r.waiting[:min(len(r.waiting), 5)] {
		ids = append(ids, w.ID)
	}
	if len(r.waiting) > 5 {
		ids = append(ids, fmt.Sprintf("and %d more", len(r.waiting)-5))
	}
	return strings.Join(ids, ", ")
}

// onRetry and onSkip return false only in a run from before operatorInputVersion,
// for a payload the SDK could not decode then (dropped, as it was).
func (r *backfillRun) onRetry(ctx workflow.Context, raw converter.RawValue, decisions *[]backfill.Decision, target string) bool {
	s, err := r.decodeChunkSignal(RetryChunkSignal, raw)
	if err != nil && !r.v2 {
		workflow.GetLogger(ctx).Warn("undecodable signal dropped", "signal", RetryChunkSignal, "error", err)
		return false
	}
	if err != nil {
		r.refuse(ctx, RetryChunkSignal, s.By, err, raw)
		return true
	}
	if r.requeue(ctx, s) {
		*decisions = append(*decisions, backfill.Decision{Kind: "retry-chunk", Target: target, Subject: s.ChunkID, By: s.By, Reason: orText(s.Reason, "retry requested")})
		r.notice(ctx, "retry of %s requested by %s", s.ChunkID, s.By)
	}
	return true
}

func (r *backfillRun) onSkip(ctx workflow.Context, raw converter.RawValue, toSkip *[]ChunkSignal) bool {
	s, err := r.decodeChunkSignal(SkipChunkSignal, raw)
	if err != nil && !r.v2 {
		workflow.GetLogger(ctx).Warn("undecodable signal dropped", "signal", SkipChunkSignal, "error", err)
		return false
	}
	if err != nil {
		r.refuse(ctx, SkipChunkSignal, s.By, err, raw)
		return true
	}
	*toSkip = append(*toSkip, s)
	return true
}

// refuse reports a refused signal: a notice in the status and the details, and (at
// most maxRefusalsRecorded per run) a decision-log row.
func (r *backfillRun) refuse(ctx workflow.Context, name, by string, err error, raw converter.RawValue) {
	r.status.RefusedInputs++
	r.notice(ctx, "%s signal refused: %s (payload %s)", name, opinput.Excerpt(err.Error(), 300), rawExcerpt(raw))
	if r.v2 && r.status.RefusedInputs <= maxRefusalsRecorded {
		d := refusedInputDecision("", r.targetID, name, by, err, rawExcerpt(raw))
		if r.domain != "" {
			d.Domain = r.domain
		}
		recordAside(ctx, &r.recording, d, func(ctx workflow.Context, err error) {
			r.notice(ctx, "could not record the refused %s signal: %v", name, err)
		})
	}
}

func (r *backfillRun) notice(ctx workflow.Context, format string, args ...any) {
	msg := appendNotice(ctx, &r.status.Notices, format, args...)
	workflow.GetLogger(ctx).Info("backfill notice", "target", r.targetID, "notice", msg)
	r.details(ctx)
}

func (r *backfillRun) overBudget() bool {
	if r.status.Budget <= 0 {
		return false
	}
	return r.status.Counters.Spent+r.estimate() > r.status.Budget
}

func (r *backfillRun) estimate() float64 {
	if r.status.Counters.Done == 0 {
		return 0
	}
	return r.status.Counters.Spent / float64(r.status.Counters.Done)
}

// requeue moves a waiting chunk back to pending; false when it is not waiting.
func (r *backfillRun) requeue(ctx workflow.Context, s ChunkSignal) bool {
	for i, w := range r.waiting {
		if w.ID == s.ChunkID {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			r.pending = append([]backfill.Chunk{w.Chunk}, r.pending...)
			return true
		}
	}
	if r.v2 {
		r.notice(ctx, "retry-chunk %s by %s ignored: that chunk is not waiting (waiting: %s)", opinput.Excerpt(s.ChunkID, 80), s.By, r.waitingIDs())
	} else {
		workflow.GetLogger(ctx).Warn("retry-chunk for a chunk that is not waiting", "chunk", s.ChunkID)
	}
	return false
}

func (r *backfillRun) skipAll(ctx, actx workflow.Context, p *plan.Plan, toSkip []ChunkSignal) error {
	for _, s := range toSkip {
		if err := r.skip(ctx, actx, p, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *backfillRun) skip(ctx, actx workflow.Context, p *plan.Plan, s ChunkSignal) error {
	for i, w := range r.waiting {
		if w.ID != s.ChunkID {
			continue
		}
		err := workflow.ExecuteActivity(actx, a.SkipBackfillChunk, activities.SkipChunkInput{
			WarehouseConnection: p.Warehouse.Connection, Chunk: w.Chunk, By: orText(s.By, "unknown"), Reason: orText(s.Reason, "skipped by an operator"),
		}).Get(ctx, nil)
		if err != nil {
			return stepError("skip chunk "+s.ChunkID, err)
		}
		r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
		r.status.Counters.Skipped++
		if r.v2 {
			r.notice(ctx, "%s skipped by %s: %s", s.ChunkID, s.By, opinput.Excerpt(s.Reason, 200))
		}
		return nil
	}
	if r.v2 {
		r.notice(ctx, "skip-chunk %s by %s ignored: that chunk is not waiting (waiting: %s)", opinput.Excerpt(s.ChunkID, 80), s.By, r.waitingIDs())
	} else {
		workflow.GetLogger(ctx).Warn("skip-chunk for a chunk that is not waiting", "chunk", s.ChunkID)
	}
	return nil
}

// refresh updates phase, ETA and the UI details.
func (r *backfillRun) refresh(ctx workflow.Context, startedAt time.Time, paused bool) {
	c := r.status.Counters
	left := len(r.pending) + r.status.Running
	if c.Done > 0 && left > 0 {
		elapsed := workflow.Now(ctx).Sub(startedAt)
		per := elapsed / time.Duration(c.Done)
		r.status.ETA = (per * time.Duration(left)).Round(time.Second).String()
	} else {
		r.status.ETA = ""
	}
	r.status.Estimate = r.estimate()
	r.status.Projected = c.Spent + r.status.Estimate*float64(left+len(r.waiting))
	if c.Total > 0 {
		r.status.PercentDone = math.Round(float64(c.Settled+c.Done+c.Skipped)*1000/float64(c.Total)) / 10
	}
	if elapsed := workflow.Now(ctx).Sub(startedAt); c.Done > 0 && elapsed > 0 {
		r.status.ChunksPerMinute = math.Round(float64(c.Done)*600/elapsed.Minutes()) / 10
	}
	phase := PhaseBackfilling
	switch {
	case paused && r.status.Running == 0:
		phase = PhasePausedBudget
	case r.status.Running == 0 && len(r.pending) == 0 && len(r.waiting) > 0:
		phase = PhaseWaitingForOperator
	}
	if phase != r.status.Phase {
		r.setPhase(ctx, phase)
	} else {
		r.details(ctx)
	}
}

func (r *backfillRun) setPhase(ctx workflow.Context, phase string) {
	r.status.Phase = phase
	if r.v2 {
		needs := NeedsNothing
		switch phase {
		case PhaseWaitingForOperator:
			needs = NeedsStuckChunk
		case PhasePausedBudget:
			needs = NeedsBudget
		}
		r.status.NeedsAction = needs
		if phase != r.shownPhase || needs != r.shownNeeds {
			r.shownPhase, r.shownNeeds = phase, needs
			if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Phase.ValueSet(phase), searchattr.NeedsAction.ValueSet(needs)); err != nil {
				workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
			}
		}
	} else if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Phase.ValueSet(phase)); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
	r.details(ctx)
}

func (r *backfillRun) details(ctx workflow.Context) {
	c := r.status.Counters
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · `%s` · %s · %s chunks × %d\n\n", r.status.Phase, r.status.Target, r.status.Range, r.status.ChunkSize, r.status.Concurrency))
	b.WriteString(fmt.Sprintf("done %d · settled before %d · skipped %d · running %d · pending %d · waiting %d of %d\n\n",
		c.Done, c.Settled, c.Skipped, r.status.Running, len(r.pending), len(r.waiting), c.Total))
	if r.v2 && c.Total > 0 {
		b.WriteString(fmt.Sprintf("**%.1f %%** settled", r.status.PercentDone))
		if r.status.ChunksPerMinute > 0 {
			b.WriteString(fmt.Sprintf(" · %.1f chunks/min", r.status.ChunksPerMinute))
		}
		b.WriteString(" · ")
	}
	b.WriteString(fmt.Sprintf("rows %d · spent %.2f", c.Rows, c.Spent))
	if r.status.Budget > 0 {
		b.WriteString(fmt.Sprintf(" of budget %.2f", r.status.Budget))
	}
	if r.status.Projected > c.Spent {
		b.WriteString(fmt.Sprintf(" (projected %.2f)", r.status.Projected))
	}
	if r.status.ETA != "" {
		b.WriteString(" · ETA " + r.status.ETA)
	}
	b.WriteString("\n")
	for _, w := range r.waiting {
		b.WriteString(fmt.Sprintf("\n- waiting: `%s`: %s", w.ID, w.Error))
	}
	if r.status.Phase == PhasePausedBudget {
		b.WriteString("\n\npaused: the next chunk would exceed the budget; send the raise-budget update")
	}
	if n := len(r.status.Notices); n > 0 {
		b.WriteString("\n\nlatest notice: " + r.status.Notices[n-1])
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// chunksPerRun is the number of chunk completions after which the run continues as new.
func (r *backfillRun) chunksPerRun() int {
	if r.in.ChunksPerRun > 0 {
		return r.in.ChunksPerRun
	}
	return maxChunksPerRun
}

// continueAsNew hands the state to a new run once update handlers are done (the loop
// has drained and settled the signals already).
func (r *backfillRun) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && r.recording == 0 }); err != nil {
		return err
	}
	next := r.in
	runs := 1
	if r.in.Carry != nil {
		runs = r.in.Carry.Runs + 1
	}
	next.Carry = &BackfillCarry{Pending: r.pending, Waiting: r.waiting, Counters: r.status.Counters, Budget: r.status.Budget, Runs: runs, VerifyRounds: r.verifyRounds, Trust: r.trust, Refused: r.status.RefusedInputs}
	next.OverrideTrusted = nil // recorded already; the carried chunks were approved
	return workflow.NewContinueAsNewError(ctx, BackfillWorkflowName, next)
}

// backfillTarget is what a backfill reloads: an incremental model, or a source's raw
// table (re-landed from S3).
type backfillTarget struct {
	// id keys the chunk ledger: the model name, or the raw relation of a source.
	id     string
	model  plan.Model
	source *plan.Source
	domain *plan.Domain
	loadID string
}

func resolveTarget(p *plan.Plan, name, runID string) (backfillTarget, error) {
	if m, ok := p.Model(name); ok {
		if m.Materialized != plan.MaterializedIncremental {
			return backfillTarget{}, fmt.Errorf("target %q is a %s model of plan %s: only incremental models (and sources) are backfilled by window; a %s is rebuilt whole by every pipeline run",
				name, m.Materialized, p.Name, m.Materialized)
		}
		return backfillTarget{id: m.Name, model: m, domain: domainOfModel(p, m.Name)}, nil
	}
	if s, ok := p.Source(strings.TrimPrefix(name, p.RawSchema()+".")); ok {
		return backfillTarget{id: p.RawSchema() + "." + s.Name, source: &s, domain: domainOfSource(p, s.Name), loadID: runID + "/backfill/" + s.Name}, nil
	}
	return backfillTarget{}, fmt.Errorf("plan %s has no incremental model or source %q", p.Name, name)
}

func domainOfSource(p *plan.Plan, source string) *plan.Domain {
	for i := range p.Domains {
		for _, s := range p.Domains[i].Sources {
			if s == source {
				return &p.Domains[i]
			}
		}
	}
	return nil
}

func domainOfModel(p *plan.Plan, model string) *plan.Domain {
	for i := range p.Domains {
		for _, m := range p.Domains[i].Models {
			if m == model {
				return &p.Domains[i]
			}
		}
	}
	return nil
}

// rootMessage is the innermost message of an activity error (what went wrong, without
// the wrapping).
func rootMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	for errors.Unwrap(err) != nil {
		err = errors.Unwrap(err)
	}
	return err.Error()
}

func orText(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
