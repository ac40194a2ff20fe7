package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/cost"
	"etl2elt/internal/criteria"
	"etl2elt/internal/cutover"
	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
	"etl2elt/internal/searchattr"
)

// Public names of the migration.
const (
	// MigrationWorkflowName is the workflow type of one domain's migration.
	MigrationWorkflowName = "MigrationWorkflow"
	// ApproveCutoverUpdate is an approver's vote for the cutover (validated).
	ApproveCutoverUpdate = "approve-cutover"
	// RollbackSignal repoints the consumption views at legacy (after a cutover).
	RollbackSignal = "rollback"
	// PauseSignal stops starting cycles; ResumeSignal starts them again.
	PauseSignal  = "pause"
	ResumeSignal = "resume"
	// AbortSignal ends the migration where it stands.
	AbortSignal = "abort"
)

// Phases of a migration (the Etl2eltPhase search attribute).
const (
	PhasePreflight        = "preflight"
	PhaseBackfill         = "backfill"
	PhaseParallelRun      = "parallel-run"
	PhaseAwaitingApproval = "awaiting-approval"
	PhaseCutOver          = "cutover"
	PhaseWatch            = "watch"
	PhaseRolledBack       = "rolled-back"
	PhaseAborted          = "aborted"
	// PhasePaused is shown in Etl2eltPhase while a person's pause holds (the status
	// keeps the phase it paused in, with paused set).
	PhasePaused = "paused"
)

// What a person must do (the Etl2eltNeedsAction search attribute; "" nothing).
const (
	NeedsNothing = ""
	// NeedsApproval: the switching criteria hold; approvers vote (approve-cutover).
	NeedsApproval = "approval"
	// NeedsDecision: enough cycles ran but the criteria do not hold: fix the
	// evidence, or an approver decides on an override.
	NeedsDecision = "decision"
	// NeedsResume: paused by a person.
	NeedsResume = "resume"
	// NeedsRollbackFailing: a rollback keeps failing; the views may point at ELT.
	NeedsRollbackFailing = "rollback-failing"
	// NeedsStuckChunk: a backfill chunk waits for retry-chunk or skip-chunk.
	NeedsStuckChunk = "stuck-chunk"
	// NeedsBudget: a backfill waits for raise-budget.
	NeedsBudget = "budget"
)

// Defaults of a migration.
const (
	DefaultWatchCycles = 24
	// maxCyclesPerRun bounds history: the workflow continues as new after this many
	// cycles (or earlier when the server suggests it).
	defaultMaxCyclesPerRun = 100
	// cycleHistoryShown is how many cycle records the status keeps.
	cycleHistoryShown = 50
)

var maxCyclesPerRun = defaultMaxCyclesPerRun

// MigrationInput starts one domain's migration. Operators paste it in the Temporal UI
// (workflow type MigrationWorkflow, id migration/<plan>/<domain>):
//
//	{"plan": "demo/plan.yaml", "domain": "finance"}
type MigrationInput struct {
	// Plan is a path under the worker's plan directory or an s3:// URI.
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	// SkipBackfill goes from preflight straight to the parallel run (history loaded
	// already, or no backfill wanted).
	SkipBackfill bool `json:"skip_backfill,omitempty"`
	// Cadence overrides the plan's parallel_run.cadence, e.g. "30s" for a rehearsal.
	Cadence string `json:"cadence,omitempty"`
	// WatchCycles overrides the plan's parallel_run.watch_cycles.
	WatchCycles int `json:"watch_cycles,omitempty"`
	// EndAfterRollback ends the migration after a rollback instead of going back to
	// the parallel run.
	EndAfterRollback bool `json:"end_after_rollback,omitempty"`
	// OverrideTrusted lets the backfill rewrite ELT rows of the trusted period (loaded
	// before and signed off); who and why are recorded. Not needed for a first
	// backfill: a period ELT never loaded has nothing to protect yet.
	OverrideTrusted *Override `json:"override_trusted,omitempty"`
	// Carry is the state handed over by continue-as-new (not for operators).
	Carry *MigrationCarry `json:"carry,omitempty"`
	// raw is the payload the input was decoded from (checkInputJSON).
	raw []byte
}

// MigrationResult is how a migration ended.
type MigrationResult struct {
	Plan   string `json:"plan"`
	Domain string `json:"domain"`
	// Phase is completed, rolled-back or aborted.
	Phase  string `json:"phase"`
	Cycles int    `json:"cycles"`
	// Views says where every consumption view points at the end.
	Views     map[string]string `json:"views"`
	Rollbacks []Rollback        `json:"rollbacks,omitempty"`
	Reason    string            `json:"reason,omitempty"`
}

// ApproveCutoverRequest is the payload of approve-cutover. Override is required when
// the switching criteria are not met; it is recorded as an override.
type ApproveCutoverRequest struct {
	Approver string `json:"approver"`
	Comment  string `json:"comment,omitempty"`
	Override string `json:"override,omitempty"`
}

// ApproveCutoverResult is the vote's effect.
type ApproveCutoverResult struct {
	Approvals int  `json:"approvals"`
	Required  int  `json:"required"`
	Override  bool `json:"override"`
	// CutoverStarting is true when this vote completed the approvals.
	CutoverStarting bool            `json:"cutover_starting"`
	Criteria        criteria.Result `json:"criteria"`
}

// MigrationSignal is the payload of rollback, pause, resume and abort.
type MigrationSignal struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Approval is one recorded vote.
type Approval struct {
	Approver string    `json:"approver"`
	Comment  string    `json:"comment,omitempty"`
	Override string    `json:"override,omitempty"`
	At       time.Time `json:"at"`
}

// Rollback is one swap back to legacy.
type Rollback struct {
	By        string    `json:"by"`
	Reason    string    `json:"reason"`
	Automatic bool      `json:"automatic"`
	At        time.Time `json:"at"`
}

// CycleRecord is one parallel-run or watch cycle: a PipelineRunWorkflow (loads,
// models, reconciliation with its report) and the evidence it gave.
type CycleRecord struct {
	N          int                        `json:"n"`
	Phase      string                     `json:"phase"`
	WorkflowID string                     `json:"workflow_id"`
	StartedAt  time.Time                  `json:"started_at"`
	Window     string                     `json:"window,omitempty"`
	Status     string                     `json:"status"`
	Breaches   int                        `json:"breaches"`
	Error      string                     `json:"error,omitempty"`
	Report     *activities.ReportLocation `json:"report,omitempty"`
	Evidence   criteria.Cycle             `json:"evidence"`
	// Quality lists the first checks or SLAs of the cycle that did not pass.
	Quality []activities.CheckBrief `json:"quality,omitempty"`
}

// Cycle outcomes (CycleRecord.Status) besides StatusPass and StatusFail.
const StatusError = "error"

// MigrationCarry is the state a continued run inherits.
type MigrationCarry struct {
	State MigrationStatus `json:"state"`
	// Evidence is every cycle since the parallel run (re)started, oldest first: the
	// switching criteria are evaluated on it.
	Evidence []criteria.Cycle `json:"evidence"`
	// WatchFailedStreak counts consecutive failed watch cycles.
	WatchFailedStreak int `json:"watch_failed_streak,omitempty"`
	// PendingAbort and PendingRollback were received but not acted on yet.
	PendingAbort    *MigrationSignal `json:"pending_abort,omitempty"`
	PendingRollback *MigrationSignal `json:"pending_rollback,omitempty"`
	// PendingRollbackAutomatic marks PendingRollback as fired by a trigger.
	PendingRollbackAutomatic bool `json:"pending_rollback_automatic,omitempty"`
	// Plan is the plan the run worked with. After the cutover the next run keeps it
	// (the views to roll back, the triggers and approvers do not change under a
	// domain on ELT); before, the next run reloads the plan and says when it changed.
	Plan plan.Snapshot `json:"plan"`
}

// MigrationStatus answers the status query: everything an operator or an approver
// needs, without reading history.
type MigrationStatus struct {
	Plan     string           `json:"plan"`
	PlanHash string           `json:"plan_hash,omitempty"`
	Domain   string           `json:"domain"`
	Phase    string           `json:"phase"`
	Paused   *MigrationSignal `json:"paused,omitempty"`
	// Cycles counts every cycle; CyclesSinceStart those since the parallel run
	// (re)started (the criteria's evidence); WatchCycles those after the cutover.
	Cycles           int           `json:"cycles"`
	CyclesSinceStart int           `json:"cycles_since_start"`
	WatchCycles      int           `json:"watch_cycles"`
	WatchCyclesGoal  int           `json:"watch_cycles_goal"`
	Cadence          string        `json:"cadence"`
	NextCycleAt      *time.Time    `json:"next_cycle_at,omitempty"`
	History          []CycleRecord `json:"history,omitempty"`
	// Criteria is the latest evaluation of the switching criteria; Blockers the ones
	// that do not pass.
	Criteria          criteria.Result `json:"criteria"`
	Blockers          []string        `json:"blockers,omitempty"`
	Approvers         []string        `json:"approvers"`
	RequiredApprovals int             `json:"required_approvals"`
	Approvals         []Approval      `json:"approvals,omitempty"`
	// Views says where each consumption view points (schema.name), as last read;
	// ViewsUnknown is set when a switch failed and they could not be read back.
	Views        map[string]string `json:"views,omitempty"`
	ViewsUnknown bool              `json:"views_unknown,omitempty"`
	CutOverAt    *time.Time        `json:"cut_over_at,omitempty"`
	Rollbacks    []Rollback        `json:"rollbacks,omitempty"`
	// Backfills are the child backfills' outcomes; BackfillCost their spend.
	Backfills []BackfillResult `json:"backfills,omitempty"`
	// RunningBackfill is the workflow id of the child backfill running now (its
	// status query shows its chunks, and those waiting for a person).
	RunningBackfill string  `json:"running_backfill,omitempty"`
	BackfillCost    float64 `json:"backfill_cost"`
	// CostNote says what cost to date covers.
	CostNote  string                      `json:"cost_note"`
	Preflight []activities.PreflightCheck `json:"preflight,omitempty"`
	// Notices are things an operator should know (ignored signals, failed cutovers,
	// checks that do not exist yet); the latest last.
	Notices []string `json:"notices,omitempty"`
	Error   string   `json:"error,omitempty"`
	// NeedsAction says what a person must do for the migration to move on (the
	// Etl2eltNeedsAction search attribute): approval, decision, resume,
	// rollback-failing; empty when nothing.
	NeedsAction string `json:"needs_action,omitempty"`
	// RefusedInputs counts signals refused (bad payload, unknown person).
	RefusedInputs int `json:"refused_inputs,omitempty"`
	// StartedAt is when the migration started (its spend is counted from then).
	StartedAt time.Time `json:"started_at,omitempty"`
	// Cost is the spend against the budgets (cycleCostVersion on).
	Cost *CostStatus `json:"cost,omitempty"`
	// ExecutiveReport is the latest executive report (written after every cycle).
	ExecutiveReport *activities.ReportLocation `json:"executive_report,omitempty"`
}

const costNote = "cost: spend from the cost ledger (etl2elt.cost_usage) since the migration started, every activity's statements and S3 calls priced with the plan's cost_rates, one legacy run per cycle; backfill_cost is the child backfills' chunk cost"

type migration struct {
	in       MigrationInput
	st       MigrationStatus
	snap     plan.Snapshot
	domain   plan.Domain
	views    []cutover.View
	cadence  time.Duration
	evidence []criteria.Cycle
	// watchFailed counts consecutive failed watch cycles.
	watchFailed int
	runCycles   int // cycles in this run (continue-as-new trigger)
	aborted     *MigrationSignal
	rollbackReq *MigrationSignal
	wake        bool // something for the main loop to act on now
	wakeCh      workflow.Channel
	handlers    int // updates and decision recordings in flight
	// automatic marks rollbackReq as fired by a trigger; rolledBackDuring says a
	// rollback happened while the current cycle ran.
	automatic, rolledBackDuring bool
	rollbackFailures            int
	abortRecorded               bool
	// ended is set when the migration must end (rolled back with end_after_rollback).
	ended, endReason string
	// voting holds the approvers whose vote is being recorded: the validator counts
	// them, so that two votes arriving together cannot both pass it.
	voting map[string]bool
	// v2 is set for runs started after operator input became strict
	// (operatorInputVersion); people are who may act on the domain.
	v2       bool
	people   []string
	refusals int
	// shownPhase and shownNeeds are the search attributes as last upserted.
	shownPhase, shownNeeds string
	// strict evaluates the criteria with criteria.EvaluateStrict.
	strict bool
	// decisionReports writes the executive reports after decisions too.
	decisionReports bool
	// rollingBack is set while rollbackNow runs (await does not start another).
	rollingBack bool
}

// strictCriteriaVersion: cycles that compared no row are not evidence toward
// min_cycles, and one passing cycle is always required (criteria.EvaluateStrict).
const strictCriteriaVersion = "strict-criteria"

// evaluate judges the switching criteria on cycles.
func (m *migration) evaluate(cycles []criteria.Cycle) criteria.Result {
	if m.strict {
		return criteria.EvaluateStrict(m.domain.SwitchingCriteria, cycles)
	}
	return criteria.Evaluate(m.domain.SwitchingCriteria, cycles)
}

// MigrationWorkflow drives one business-area domain from legacy to ELT: Preflight →
// Backfill (a child BackfillWorkflow per source and incremental model) → ParallelRun
// (a child PipelineRunWorkflow per cycle on the plan's cadence; evidence accumulates
// and the switching criteria are evaluated after each) → AwaitingApproval (the
// approve-cutover update; the plan's number of distinct approvers) → CutOver (every
// consumption view repointed at ELT in one transaction) → Watch (cycles with the
// rollback triggers armed) → Completed. A rollback (signal, or a trigger during the
// watch) repoints the views at legacy in one transaction and returns to the parallel
// run with fresh evidence (or ends, with end_after_rollback). pause / resume / abort
// signals; every decision is recorded in etl2elt.decisions.
func MigrationWorkflow(ctx workflow.Context, in MigrationInput) (*MigrationResult, error) {
	m := &migration{in: in, voting: map[string]bool{}, wakeCh: workflow.NewBufferedChannel(ctx, 1)}
	if in.Carry != nil {
		m.st = in.Carry.State
		m.evidence = in.Carry.Evidence
		m.watchFailed = in.Carry.WatchFailedStreak
		m.aborted, m.rollbackReq, m.automatic = in.Carry.PendingAbort, in.Carry.PendingRollback, in.Carry.PendingRollbackAutomatic
	} else {
		m.st = MigrationStatus{Domain: in.Domain, Phase: PhasePreflight, CostNote: costNote, StartedAt: workflow.Now(ctx).UTC()}
	}
	// The version first: the handlers decode strictly only in runs that have it.
	m.v2 = workflow.GetVersion(ctx, operatorInputVersion, workflow.DefaultVersion, 1) >= 1
	// Runs from strictCriteriaVersion on count only cycles that compared rows.
	m.strict = workflow.GetVersion(ctx, strictCriteriaVersion, workflow.DefaultVersion, 1) >= 1
	m.decisionReports = workflow.GetVersion(ctx, decisionReportsVersion, workflow.DefaultVersion, 1) >= 1
	if m.v2 {
		m.refusals = m.st.RefusedInputs // carried across continue-as-new
	}
	if err := m.registerHandlers(ctx); err != nil {
		return nil, err
	}
	res, err := m.run(ctx)
	if err != nil {
		var canErr *workflow.ContinueAsNewError
		if !errors.As(err, &canErr) && m.st.Phase != PhaseAborted {
			m.st.Error = err.Error()
			m.setPhase(ctx, PhaseFailed)
		}
		return nil, err
	}
	return res, nil
}

func (m *migration) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (MigrationStatus, error) { return m.st, nil }); err != nil {
		return err
	}
	// Signals are received by the main loop's selectors (addSignals), never by
	// long-lived goroutines: what is not received yet stays in its channel, so that
	// draining before continue-as-new sees every one.
	// The update takes its payload raw: a payload that does not decode is refused by
	// the validator with a one-line reason, never by the SDK.
	if err := m.registerRaiseBudget(ctx); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, ApproveCutoverUpdate,
		func(ctx workflow.Context, raw converter.RawValue) (ApproveCutoverResult, error) {
			var req ApproveCutoverRequest
			if err := decodeRaw(raw, &req, m.v2); err != nil {
				return ApproveCutoverResult{}, refusal(fmt.Errorf("approve-cutover: %w", err))
			}
			return m.approve(ctx, req)
		},
		workflow.UpdateHandlerOptions{Validator: func(raw converter.RawValue) error {
			var req ApproveCutoverRequest
			if err := decodeRaw(raw, &req, m.v2); err != nil {
				return refusal(fmt.Errorf("approve-cutover: %w", err))
			}
			if err := m.validateApproval(req); err != nil {
				return refusal(fmt.Errorf("approve-cutover refused: %w", err))
			}
			return nil
		}})
}

type signalHandler struct {
	name  string
	apply func(workflow.Context, MigrationSignal)
}

// signalHandlers in a fixed order.
func (m *migration) signalHandlers() []signalHandler {
	return []signalHandler{{RollbackSignal, m.onRollback}, {PauseSignal, m.onPause}, {ResumeSignal, m.onResume}, {AbortSignal, m.onAbort}}
}

// addSignals makes sel apply any signal, and wake up on a completed approval.
func (m *migration) addSignals(ctx workflow.Context, sel workflow.Selector) {
	for _, h := range m.signalHandlers() {
		sel.AddReceive(workflow.GetSignalChannel(ctx, h.name), func(c workflow.ReceiveChannel, _ bool) {
			receiveRaw(ctx, c, func(raw converter.RawValue) bool { return m.applySignal(ctx, h, raw) })
		})
	}
	sel.AddReceive(m.wakeCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
}

// signalsPending tells whether a signal waits in a channel.
func (m *migration) signalsPending(ctx workflow.Context) bool {
	for _, h := range m.signalHandlers() {
		if workflow.GetSignalChannel(ctx, h.name).Len() > 0 {
			return true
		}
	}
	return false
}

// wait blocks until until() holds or d passes (no timeout when d is 0), applying
// signals as they come.
func (m *migration) wait(ctx workflow.Context, d time.Duration, until func() bool) error {
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timedOut := false
	sel := workflow.NewSelector(ctx)
	m.addSignals(ctx, sel)
	sel.AddReceive(ctx.Done(), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	if d > 0 {
		sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) { timedOut = true })
	}
	for !timedOut && !until() {
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// drainSignals applies every signal delivered but not yet received.
func (m *migration) drainSignals(ctx workflow.Context) {
	for _, s := range m.signalHandlers() {
		ch := workflow.GetSignalChannel(ctx, s.name)
		for {
			var raw converter.RawValue
			if !ch.ReceiveAsync(&raw) {
				break
			}
			m.applySignal(ctx, s, raw) // undecodable in a run from before operatorInputVersion: skipped, as the SDK did
		}
	}
}

// applySignal decodes a signal's raw payload and applies it. A payload that does not
// decode, or names someone who may not act on the domain, is refused: a notice in the
// status and the UI's details, and a decision-log row. Nothing waits on it.
// It returns false only in a run from before operatorInputVersion, for a payload the
// SDK could not decode then (dropped, as it was).
func (m *migration) applySignal(ctx workflow.Context, h signalHandler, raw converter.RawValue) bool {
	var sig MigrationSignal
	err := decodeRaw(raw, &sig, m.v2)
	if err != nil && !m.v2 {
		workflow.GetLogger(ctx).Warn("undecodable signal dropped", "signal", h.name, "error", err)
		return false
	}
	sig.By, sig.Reason = strings.TrimSpace(sig.By), strings.TrimSpace(sig.Reason)
	if err == nil && m.v2 {
		err = m.checkSignal(h.name, sig)
	}
	if err != nil {
		m.refuse(ctx, h.name, sig.By, err, raw)
		return true
	}
	h.apply(ctx, sig)
	return true
}

// checkSignal refuses a signal from someone who is not a person of the plan, or
// whose texts are missing or oversized.
func (m *migration) checkSignal(name string, sig MigrationSignal) error {
	if err := checkPerson("by", sig.By, m.people, m.st.Plan); err != nil {
		return err
	}
	minReason := 0
	if name == RollbackSignal || name == AbortSignal {
		minReason = 1
	}
	return opinput.Text("reason", sig.Reason, minReason)
}

// refuse reports a refused signal: notice, details, and (bounded) a decision row.
func (m *migration) refuse(ctx workflow.Context, name, by string, err error, raw converter.RawValue) {
	m.refusals++
	m.st.RefusedInputs = m.refusals
	m.notice(ctx, "%s signal refused: %s (payload %s)", name, opinput.Excerpt(err.Error(), 300), rawExcerpt(raw))
	if m.v2 && m.refusals <= maxRefusalsRecorded {
		d := refusedInputDecision(m.st.Domain, "", name, by, err, rawExcerpt(raw))
		d.Subject = "migration/" + name
		recordAside(ctx, &m.handlers, d, func(ctx workflow.Context, err error) {
			m.notice(ctx, "could not record the refused %s signal: %v", name, err)
		})
	}
}

func (m *migration) notice(ctx workflow.Context, format string, args ...any) {
	msg := appendNotice(ctx, &m.st.Notices, format, args...)
	workflow.GetLogger(ctx).Info("migration notice", "domain", m.st.Domain, "notice", msg)
	m.details(ctx)
}

func (m *migration) onRollback(ctx workflow.Context, s MigrationSignal) {
	if strings.TrimSpace(s.By) == "" || strings.TrimSpace(s.Reason) == "" {
		m.notice(ctx, "rollback signal ignored: it needs by and reason")
		return
	}
	if !m.mayBeOnELT() && m.st.Phase != PhaseCutOver {
		m.notice(ctx, "rollback by %s ignored: the domain is not cut over (phase %s), the views already point at legacy", s.By, m.st.Phase)
		return
	}
	m.rollbackReq, m.automatic, m.wake = &s, false, true
}

// mayBeOnELT is true unless every consumption view is known to point at legacy: a
// rollback is refused only then.
func (m *migration) mayBeOnELT() bool {
	if m.st.CutOverAt != nil || m.st.Phase == PhaseCutOver || m.st.ViewsUnknown {
		return true
	}
	for _, v := range m.views {
		if at, ok := m.st.Views[v.Name]; ok && at != v.Legacy {
			return true
		}
	}
	return false
}

func (m *migration) onPause(ctx workflow.Context, s MigrationSignal) {
	if strings.TrimSpace(s.By) == "" {
		m.notice(ctx, "pause signal ignored: it needs by")
		return
	}
	m.st.Paused, m.wake = &s, true
	if m.v2 {
		m.upsertSearchAttributes(ctx)
	}
	m.recordDecisionAsync(ctx, "pause", s.By, s.Reason, nil)
	m.notice(ctx, "paused by %s: %s", s.By, s.Reason)
}

func (m *migration) onResume(ctx workflow.Context, s MigrationSignal) {
	if m.st.Paused == nil {
		m.notice(ctx, "resume by %s ignored: not paused", s.By)
		return
	}
	if strings.TrimSpace(s.By) == "" {
		m.notice(ctx, "resume signal ignored: it needs by")
		return
	}
	m.st.Paused, m.wake = nil, true
	if m.v2 {
		m.upsertSearchAttributes(ctx)
	}
	m.recordDecisionAsync(ctx, "resume", s.By, s.Reason, nil)
	m.notice(ctx, "resumed by %s", s.By)
}

func (m *migration) onAbort(ctx workflow.Context, s MigrationSignal) {
	if strings.TrimSpace(s.By) == "" || strings.TrimSpace(s.Reason) == "" {
		m.notice(ctx, "abort signal ignored: it needs by and reason")
		return
	}
	m.aborted, m.wake = &s, true
}

// recordDecisionAsync records a decision from a signal handler's goroutine; the
// main loop is not held up by it.
func (m *migration) recordDecisionAsync(ctx workflow.Context, kind, by, reason string, evidence any) {
	m.handlers++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { m.handlers-- }()
		if err := m.recordDecision(ctx, kind, by, reason, evidence); err != nil {
			m.notice(ctx, "could not record the %s decision: %v", kind, err)
		}
	})
}

func (m *migration) recordDecision(ctx workflow.Context, kind, by, reason string, evidence any) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	return workflow.ExecuteActivity(actx, a.RecordDecision, backfill.Decision{
		Kind: kind, Domain: m.st.Domain, Subject: "migration", By: by, Reason: reason, Evidence: evidence,
	}).Get(ctx, nil)
}

func (m *migration) approvalOpen() bool {
	return m.st.Phase == PhaseParallelRun || m.st.Phase == PhaseAwaitingApproval
}

// validateApproval refuses, with the reason, a vote that cannot count. It only reads
// state (validators must not change it).
func (m *migration) validateApproval(req ApproveCutoverRequest) error {
	approver := strings.TrimSpace(req.Approver)
	switch {
	case approver == "":
		return errors.New("approver is required")
	case m.aborted != nil:
		return errors.New("the migration is being aborted")
	case !m.approvalOpen():
		return fmt.Errorf("the domain is in phase %s: approvals are taken during the parallel run", m.st.Phase)
	case !slices.Contains(m.st.Approvers, approver):
		return fmt.Errorf("%s is not an approver of domain %s (approvers: %s)", approver, m.st.Domain, strings.Join(m.st.Approvers, ", "))
	case m.st.Paused != nil:
		return fmt.Errorf("the migration is paused by %s: resume it first", m.st.Paused.By)
	case len(m.st.Approvals)+len(m.voting) >= m.st.RequiredApprovals:
		return errors.New("the cutover already has its approvals")
	case m.voting[approver]:
		return fmt.Errorf("%s's vote is being recorded: a second vote by the same person does not count", approver)
	}
	for _, ap := range m.st.Approvals {
		if ap.Approver == approver {
			return fmt.Errorf("%s already approved at %s: a second vote by the same person does not count", approver, ap.At.Format(time.RFC3339))
		}
	}
	if !m.st.Criteria.Met && strings.TrimSpace(req.Override) == "" {
		return fmt.Errorf("switching criteria not met: %s; to approve anyway, give an override reason (recorded as an override)", strings.Join(m.st.Blockers, "; "))
	}
	if m.v2 {
		minOverride := 0
		if !m.st.Criteria.Met {
			minOverride = opinput.MinReason
		}
		return opinput.Join(opinput.Text("override", req.Override, minOverride), opinput.Text("comment", req.Comment, 0))
	}
	return nil
}

func (m *migration) approve(ctx workflow.Context, req ApproveCutoverRequest) (ApproveCutoverResult, error) {
	m.handlers++
	defer func() { m.handlers-- }()
	approver := strings.TrimSpace(req.Approver)
	override := ""
	if !m.st.Criteria.Met {
		override = strings.TrimSpace(req.Override)
	}
	kind := "cutover-approval"
	if override != "" {
		kind = "cutover-approval-override"
	}
	reason := req.Comment
	if override != "" {
		reason = override
		if req.Comment != "" {
			reason += " (" + req.Comment + ")"
		}
	}
	if reason == "" {
		reason = "approved"
	}
	m.voting[approver] = true
	err := m.recordDecision(ctx, kind, approver, reason, m.evidenceSnapshot())
	delete(m.voting, approver)
	if err != nil {
		return ApproveCutoverResult{}, fmt.Errorf("record approval: %w", err)
	}
	// The state may have moved while the decision was written.
	if m.aborted != nil {
		return ApproveCutoverResult{}, errors.New("the migration is being aborted: the vote does not count")
	}
	if !m.approvalOpen() {
		return ApproveCutoverResult{}, fmt.Errorf("the domain moved to phase %s while the approval was recorded: it does not count", m.st.Phase)
	}
	m.st.Approvals = append(m.st.Approvals, Approval{Approver: approver, Comment: req.Comment, Override: override, At: workflow.Now(ctx).UTC()})
	res := ApproveCutoverResult{Approvals: len(m.st.Approvals), Required: m.st.RequiredApprovals, Override: override != "", Criteria: m.st.Criteria}
	if len(m.st.Approvals) >= m.st.RequiredApprovals && m.st.Paused == nil {
		res.CutoverStarting, m.wake = true, true
		m.wakeCh.SendAsync(true)
	}
	m.details(ctx)
	return res, nil
}

// evidenceSnapshot is what a decision is taken on: the criteria, the latest cycles and
// reports.
func (m *migration) evidenceSnapshot() map[string]any {
	ev := map[string]any{"criteria": m.st.Criteria, "cycles_since_start": m.st.CyclesSinceStart, "phase": m.st.Phase, "views": m.st.Views}
	if n := len(m.st.History); n > 0 {
		last := m.st.History[n-1]
		ev["last_cycle"] = last.N
		if last.Report != nil {
			ev["report"] = last.Report.HTML
		}
	}
	return ev
}

func (m *migration) setPhase(ctx workflow.Context, phase string) {
	m.st.Phase = phase
	if m.v2 {
		m.upsertSearchAttributes(ctx)
	} else {
		_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Domain.ValueSet(m.st.Domain), searchattr.Phase.ValueSet(phase))
	}
	m.details(ctx)
}

// upsertSearchAttributes shows the phase (paused while paused) and what needs a
// person, when either changed.
func (m *migration) upsertSearchAttributes(ctx workflow.Context) {
	phase := m.st.Phase
	switch {
	case isFinalPhase(phase):
	case m.st.Paused != nil:
		phase = PhasePaused
	case m.st.Cost != nil && m.st.Cost.Exceeded != "":
		phase = PhaseBudgetExceeded
	}
	needs := m.needsAction()
	m.st.NeedsAction = needs
	if phase == m.shownPhase && needs == m.shownNeeds {
		return
	}
	m.shownPhase, m.shownNeeds = phase, needs
	if err := workflow.UpsertTypedSearchAttributes(ctx, searchattr.Domain.ValueSet(m.st.Domain),
		searchattr.Phase.ValueSet(phase), searchattr.NeedsAction.ValueSet(needs)); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

// needsAction says what a person must do for the migration to move on ("" nothing).
func (m *migration) needsAction() string {
	switch {
	case isFinalPhase(m.st.Phase):
		return NeedsNothing
	case m.rollbackFailures > 0:
		return NeedsRollbackFailing
	case m.st.Paused != nil:
		return NeedsResume
	case m.st.Cost != nil && m.st.Cost.Exceeded != "":
		return NeedsBudget
	case m.st.Phase == PhaseAwaitingApproval:
		return NeedsApproval
	case m.st.Phase == PhaseParallelRun && len(m.st.Criteria.Criteria) > 0 && m.st.Criteria.Criteria[0].Pass && !m.st.Criteria.Met:
		// Enough cycles, criteria not met: wait for better evidence, or an approver
		// decides on an override.
		return NeedsDecision
	}
	return NeedsNothing
}

func isFinalPhase(phase string) bool {
	switch phase {
	case PhaseCompleted, PhaseAborted, PhaseFailed, PhaseRolledBack:
		return true
	}
	return false
}

// details keeps the UI's current details (markdown) in step with the status.
func (m *migration) details(ctx workflow.Context) {
	st := &m.st
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** · domain `%s` · plan `%s`", st.Phase, st.Domain, st.Plan))
	if st.Paused != nil {
		b.WriteString(fmt.Sprintf(" · **paused** by %s", st.Paused.By))
	}
	if st.NeedsAction != "" {
		b.WriteString(fmt.Sprintf(" · needs: **%s**", st.NeedsAction))
	}
	b.WriteString(fmt.Sprintf("\n\ncycles: %d (since start %d, watch %d of %d) · cadence %s", st.Cycles, st.CyclesSinceStart, st.WatchCycles, st.WatchCyclesGoal, st.Cadence))
	if st.NextCycleAt != nil {
		b.WriteString(fmt.Sprintf(" · next %s", st.NextCycleAt.Format(time.RFC3339)))
	}
	if len(st.Criteria.Criteria) > 0 {
		b.WriteString("\n\n| criterion | value | threshold | |\n|---|---|---|---|")
		for _, c := range st.Criteria.Criteria {
			mark := "fail"
			if c.Pass {
				mark = "pass"
			}
			b.WriteString(fmt.Sprintf("\n| %s | %s | %s | %s |", c.Name, c.Value, c.Threshold, mark))
		}
	}
	b.WriteString(fmt.Sprintf("\n\napprovals: %d of %d", len(st.Approvals), st.RequiredApprovals))
	for _, ap := range st.Approvals {
		b.WriteString(fmt.Sprintf(" · %s", ap.Approver))
		if ap.Override != "" {
			b.WriteString(" (override)")
		}
	}
	//workflowcheck:ignore sorted
	for _, v := range slices.Sorted(mapKeys(st.Views)) {
		b.WriteString(fmt.Sprintf("\n\n`%s` → `%s`", v, st.Views[v]))
	}
	if n := len(st.History); n > 0 && st.History[n-1].Report != nil {
		b.WriteString(fmt.Sprintf("\n\nlatest report: %s", st.History[n-1].Report.HTML))
	}
	if n := len(st.History); n > 0 && len(st.History[n-1].Quality) > 0 {
		b.WriteString(fmt.Sprintf("\n\ncycle %d quality:", st.History[n-1].N))
		for _, q := range st.History[n-1].Quality {
			b.WriteString(fmt.Sprintf("\n- **%s** `%s`: %s", q.Status, q.Check, q.Detail))
		}
	}
	if line := m.costLine(); line != "" {
		b.WriteString("\n\n" + line)
	}
	if st.ExecutiveReport != nil {
		b.WriteString(fmt.Sprintf("\n\nexecutive report: %s", st.ExecutiveReport.HTML))
	}
	if st.RunningBackfill != "" {
		b.WriteString(fmt.Sprintf("\n\nbackfill running: `%s` (its details list chunks waiting for a person)", st.RunningBackfill))
	}
	if n := len(st.Notices); n > 0 {
		b.WriteString(fmt.Sprintf("\n\nlatest notice: %s", st.Notices[n-1]))
	}
	if st.Error != "" {
		b.WriteString(fmt.Sprintf("\n\nerror: %s", st.Error))
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// mapKeys yields m's keys in no order: callers sort them.
func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		//workflowcheck:ignore the keys are sorted by the caller
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func badInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError("bad input: "+fmt.Sprintf(format, args...), activities.ErrTypeBadInput, nil)
}

func (m *migration) run(ctx workflow.Context) (*MigrationResult, error) {
	if m.v2 {
		if err := checkInputJSON(ctx, MigrationWorkflowName, m.in.raw, &MigrationInput{}); err != nil {
			return nil, err
		}
	}
	carry := m.in.Carry
	if carry != nil && carry.Plan.Plan != nil && m.mayBeOnELT() {
		m.snap = carry.Plan // on ELT: keep the plan the cutover was approved on
	} else {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
		if err := workflow.ExecuteActivity(actx, a.LoadPlan, activities.LoadPlanInput{Ref: m.in.Plan}).Get(ctx, &m.snap); err != nil {
			return nil, stepError("load plan "+m.in.Plan, err)
		}
		if carry != nil && carry.Plan.Hash != "" && carry.Plan.Hash != m.snap.Hash {
			m.notice(ctx, "the plan changed (hash %s → %s): its criteria, approvers and views apply from now on", short(carry.Plan.Hash), short(m.snap.Hash))
		}
	}
	p := m.snap.Plan
	d, ok := p.Domain(m.in.Domain)
	if !ok {
		return nil, badInput("plan %s has no domain %q", p.Name, m.in.Domain)
	}
	if want, id := MigrationWorkflowID(p.Name, d.Name), workflow.GetInfo(ctx).WorkflowExecution.ID; id != want {
		return nil, badInput("workflow id %q: a migration's id must be %q, so that a domain has one migration at a time", id, want)
	}
	m.domain = d
	m.people = planPeople(p, &d)
	ctx = activities.WithCostTags(ctx, activities.TagsForPlan(p, d.Name, cost.PhaseParallelRun))
	if m.st.Cost != nil {
		m.refreshLimits() // the plan's budgets as they are now, plus the raises
	}
	if m.v2 && carry == nil {
		if err := m.checkInput(); err != nil {
			return nil, badInputError("MigrationWorkflow input", err)
		}
	}
	m.views = activities.ConsumptionViews(p, d)
	if err := m.configure(ctx); err != nil {
		return nil, err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, searchattr.Plan.ValueSet(p.Name))

	if carry == nil {
		if err := m.preflight(ctx); err != nil {
			return nil, err
		}
		if res, err := m.backfill(ctx); res != nil || err != nil {
			return res, err
		}
		m.setPhase(ctx, PhaseParallelRun)
	} else {
		m.setPhase(ctx, m.st.Phase)
	}
	return m.loop(ctx)
}

// maxWatchCycles bounds watch_cycles (a typo of a few zeros is refused).
const maxWatchCycles = 10000

// checkInput refuses input values out of range, every problem at once.
func (m *migration) checkInput() error {
	var errs []error
	if n := m.in.WatchCycles; n < 0 || n > maxWatchCycles {
		errs = append(errs, fmt.Errorf("watch_cycles %d: want 1 to %d (0: the plan's)", n, maxWatchCycles))
	}
	if m.in.Cadence != "" {
		if d, err := plan.ParseDuration(m.in.Cadence); err != nil || d < plan.MinCadence || d > plan.MaxCadence {
			errs = append(errs, fmt.Errorf("cadence %q: want a duration from 1s to 31d, such as 30s, 1h, 1d", opinput.Excerpt(m.in.Cadence, 40)))
		}
	}
	if o := m.in.OverrideTrusted; o != nil {
		errs = append(errs, checkOverride(o, m.people, m.snap.Plan.Name))
	}
	return opinput.Join(errs...)
}

// MigrationWorkflowID is the id a domain's migration must have: one per plan and
// domain, so that a second start for the same domain is refused.
func MigrationWorkflowID(planName, domain string) string {
	return "migration/" + planName + "/" + domain
}

func short(hash string) string { return hash[:min(len(hash), 12)] }

// configure reads the plan's parallel run settings (and the input's overrides) into
// the status. A plan change between continued runs is taken as it is now.
func (m *migration) configure(ctx workflow.Context) error {
	p, d := m.snap.Plan, m.domain
	m.st.Plan, m.st.PlanHash, m.st.Domain = p.Name, m.snap.Hash, d.Name
	m.st.Approvers = d.Approvers
	m.st.RequiredApprovals = max(d.RequiredApprovals, 1)
	if len(d.Approvers) == 0 {
		return badInput("domain %s lists no approvers: nobody could approve its cutover", d.Name)
	}
	if len(m.views) == 0 {
		return badInput("domain %s has no output with a consumption view: there is nothing to cut over", d.Name)
	}
	cadence := m.in.Cadence
	if cadence == "" && d.ParallelRun != nil {
		cadence = d.ParallelRun.Cadence
	}
	if cadence == "" {
		return badInput("domain %s has no parallel_run.cadence (and the input gives none)", d.Name)
	}
	dur, err := plan.ParseDuration(cadence)
	if err != nil || dur <= 0 {
		return badInput("cadence %q: want a duration such as 30s, 1h, 1d", cadence)
	}
	m.cadence, m.st.Cadence = dur, cadence
	m.st.WatchCyclesGoal = DefaultWatchCycles
	if d.ParallelRun != nil && d.ParallelRun.WatchCycles > 0 {
		m.st.WatchCyclesGoal = d.ParallelRun.WatchCycles
	}
	if m.in.WatchCycles > 0 {
		m.st.WatchCyclesGoal = m.in.WatchCycles
	}
	if m.st.CostNote == "" {
		m.st.CostNote = costNote
	}
	m.st.Criteria = m.evaluate(m.evidence)
	m.st.Blockers = m.st.Criteria.Blockers()
	return nil
}

func (m *migration) preflight(ctx workflow.Context) error {
	m.setPhase(ctx, PhasePreflight)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retryPolicy})
	var res activities.PreflightResult
	if err := workflow.ExecuteActivity(actx, a.Preflight, activities.PreflightInput{Plan: m.snap.Plan, Domain: m.domain.Name}).Get(ctx, &res); err != nil {
		return stepError("preflight", err)
	}
	m.st.Preflight, m.st.Views = res.Checks, res.Views
	if res.Problems > 0 {
		var probs []string
		for _, c := range res.Checks {
			if !c.OK {
				probs = append(probs, c.Name+": "+c.Detail)
			}
		}
		return badInput("preflight of domain %s found %d problem(s): %s", m.domain.Name, res.Problems, strings.Join(probs, "; "))
	}
	return nil
}

// backfillTargets are the domain's sources, then its incremental models (which read
// the sources' raw tables), in dependency order, and the other models (views,
// tables) the incremental ones need materialised first.
func (m *migration) backfillTargets() (sources []string, prereqs []plan.Model, incremental []string, err error) {
	models, err := plan.ModelOrder(m.snap.Plan, m.domain.Models)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, md := range models {
		if md.Materialized == plan.MaterializedIncremental {
			incremental = append(incremental, md.Name)
		}
	}
	deps, err := plan.ModelOrder(m.snap.Plan, incremental)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, md := range deps {
		if md.Materialized != plan.MaterializedIncremental {
			prereqs = append(prereqs, md)
		}
	}
	return slices.Clone(m.domain.Sources), prereqs, incremental, nil
}

func (m *migration) backfill(ctx workflow.Context) (*MigrationResult, error) {
	b := m.domain.Backfill
	if m.in.SkipBackfill || b == nil {
		reason := "skip_backfill in the input"
		if b == nil {
			reason = "the domain has no backfill"
		}
		m.notice(ctx, "backfill skipped: %s", reason)
		return nil, nil
	}
	m.setPhase(ctx, PhaseBackfill)
	ctx = costTagged(ctx, m.snap.Plan, m.domain.Name, cost.PhaseBackfill, true)
	sources, prereqs, incremental, err := m.backfillTargets()
	if err != nil {
		return nil, badInput("%v", err)
	}
	for _, target := range sources {
		if res, err := m.backfillTarget(ctx, target); res != nil || err != nil {
			return res, err
		}
	}
	if len(prereqs) > 0 {
		// Incremental models read views and tables built on the raw tables: they must
		// exist before the first chunk runs.
		mctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: 10 * time.Minute, RetryPolicy: retryPolicy})
		var mr activities.RunModelsResult
		err := workflow.ExecuteActivity(mctx, a.RunModels, activities.RunModelsInput{
			Models: prereqs, WarehouseConnection: m.snap.Plan.Warehouse.Connection,
			RunID: workflow.GetInfo(ctx).WorkflowExecution.RunID + "/backfill-prerequisites",
		}).Get(ctx, &mr)
		if err != nil {
			return nil, stepError("materialise the models the incremental backfills read", err)
		}
	}
	for _, target := range incremental {
		if res, err := m.backfillTarget(ctx, target); res != nil || err != nil {
			return res, err
		}
	}
	return nil, nil
}

// backfillTarget runs one child backfill; an abort cancels it (chunks done are kept)
// and ends the migration.
func (m *migration) backfillTarget(ctx workflow.Context, target string) (*MigrationResult, error) {
	b := m.domain.Backfill
	var res BackfillResult
	childID := workflow.GetInfo(ctx).WorkflowExecution.ID + "/backfill/" + target
	m.st.RunningBackfill = childID
	m.details(ctx)
	err := m.child(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:    childID,
		StaticSummary: fmt.Sprintf("Backfill of %s for the %s migration", target, m.domain.Name),
	}, BackfillWorkflowName, BackfillInput{Plan: m.in.Plan, Target: target, From: b.From, To: b.To, OverrideTrusted: m.in.OverrideTrusted}, &res)
	m.st.RunningBackfill = ""
	if m.aborted != nil {
		return m.abort(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("backfill of %s: %w (chunks already done are kept: start the migration again to resume)", target, err)
	}
	m.st.Backfills = append(m.st.Backfills, res)
	m.st.BackfillCost += res.Counters.Spent
	m.details(ctx)
	return nil, nil
}

// child runs a child workflow while applying signals. An abort, or a rollback of a
// domain on ELT, cancels the child and waits for it to end (a rollback first
// repoints the views: dashboards do not wait for a pipeline run).
func (m *migration) child(ctx workflow.Context, opts workflow.ChildWorkflowOptions, name string, in, out any) error {
	opts.WaitForCancellation = true
	opts.ParentClosePolicy = enums.PARENT_CLOSE_POLICY_REQUEST_CANCEL
	cctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	fut := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(cctx, opts), name, in)
	done, cancelled := false, false
	var err error
	sel := workflow.NewSelector(ctx)
	m.addSignals(ctx, sel)
	sel.AddFuture(fut, func(f workflow.Future) { err, done = f.Get(ctx, out), true })
	for !done {
		sel.Select(ctx)
		if m.rollbackReq != nil && m.mayBeOnELT() {
			m.rollbackNow(ctx)
		}
		if !cancelled && (m.aborted != nil || m.rollbackReq != nil || m.rolledBackDuring) {
			cancel()
			cancelled = true
		}
	}
	if cancelled && err != nil {
		return temporal.NewCanceledError("cancelled by an abort or a rollback")
	}
	return err
}

// loop runs cycles until the migration completes, rolls back for good, is aborted or
// continues as new.
func (m *migration) loop(ctx workflow.Context) (*MigrationResult, error) {
	for {
		if m.rollbackReq != nil {
			m.rollbackNow(ctx)
			if m.rollbackReq != nil {
				// Failed: try again after a backoff (1 min doubling to 1 h); continue as
				// new with the rollback pending when history grows.
				if m.runCycles >= maxCyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() || m.rollbackFailures > maxCyclesPerRun {
					if err := m.settle(ctx); err != nil {
						return nil, err
					}
					return nil, m.continueAsNew(ctx)
				}
				backoff := min(time.Minute<<min(m.rollbackFailures-1, 6), time.Hour)
				if err := m.wait(ctx, backoff, func() bool { return false }); err != nil {
					return nil, err
				}
				continue
			}
		}
		if m.aborted != nil {
			if res, err := m.abort(ctx); res != nil || err != nil {
				return res, err
			}
			continue
		}
		if m.ended != "" {
			if res, err := m.finish(ctx, m.ended, m.endReason); res != nil || err != nil {
				return res, err
			}
			continue
		}
		if m.approvalOpen() && m.st.Paused == nil && len(m.st.Approvals) >= m.st.RequiredApprovals {
			m.cutover(ctx)
			continue
		}
		if m.st.Phase == PhaseWatch && m.st.WatchCycles >= m.st.WatchCyclesGoal {
			if res, err := m.complete(ctx); res != nil || err != nil {
				return res, err
			}
			continue
		}
		if m.st.Paused != nil {
			m.st.NextCycleAt = nil
			m.details(ctx)
			if err := m.wait(ctx, 0, func() bool { return m.st.Paused == nil || m.aborted != nil || m.rollbackReq != nil }); err != nil {
				return nil, err
			}
			continue
		}
		if m.runCycles >= maxCyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := m.settle(ctx); err != nil {
				return nil, err
			}
			if m.aborted == nil && m.rollbackReq == nil {
				return nil, m.continueAsNew(ctx)
			}
			continue
		}
		if held, err := m.holdForBudget(ctx); err != nil {
			return nil, err
		} else if held {
			continue
		}
		m.cycle(ctx)
		if m.aborted != nil || m.rollbackReq != nil || m.ended != "" {
			continue
		}
		if m.st.Phase == PhaseWatch {
			if reason := m.triggered(); reason != "" {
				m.rollbackReq = &MigrationSignal{By: "etl2elt (rollback trigger)", Reason: reason}
				m.automatic = true
				continue
			}
			if m.st.WatchCycles >= m.st.WatchCyclesGoal {
				continue
			}
		}
		if m.approvalOpen() && len(m.st.Approvals) >= m.st.RequiredApprovals {
			continue
		}
		next := workflow.Now(ctx).Add(m.cadence).UTC()
		m.st.NextCycleAt = &next
		m.wake = false
		m.details(ctx)
		if err := m.wait(ctx, m.cadence, func() bool {
			return m.wake || m.st.Paused != nil || m.aborted != nil || m.rollbackReq != nil
		}); err != nil {
			return nil, err
		}
		m.st.NextCycleAt = nil
	}
}

// cycle runs one PipelineRunWorkflow and folds its outcome into the evidence (during
// the parallel run) or the rollback triggers (during the watch). A cycle cancelled by
// an abort or a rollback is recorded as such and counts for nothing.
func (m *migration) cycle(ctx workflow.Context) {
	m.st.Cycles++
	m.runCycles++
	n := m.st.Cycles
	rec := CycleRecord{N: n, Phase: m.st.Phase, StartedAt: workflow.Now(ctx).UTC(),
		WorkflowID: fmt.Sprintf("%s/cycle-%d", workflow.GetInfo(ctx).WorkflowExecution.ID, n)}
	m.details(ctx)
	m.rolledBackDuring = false
	var res PipelineRunResult
	phase := cost.PhaseParallelRun
	if rec.Phase == PhaseWatch {
		phase = cost.PhaseWatch
	}
	cctx := costTagged(ctx, m.snap.Plan, m.domain.Name, phase, true)
	err := m.child(cctx, workflow.ChildWorkflowOptions{
		WorkflowID:    rec.WorkflowID,
		StaticSummary: fmt.Sprintf("Cycle %d of the %s migration (%s)", n, m.domain.Name, rec.Phase),
	}, PipelineRunWorkflowName, PipelineRunInput{Plan: m.in.Plan, Domain: m.domain.Name}, &res)
	switch {
	case m.aborted != nil || m.rolledBackDuring || m.rollbackReq != nil:
		rec.Status, rec.Error = StatusCancelled, "cancelled by an abort or a rollback"
		m.pushHistory(rec)
		return
	case err != nil:
		rec.Status, rec.Error = StatusError, truncate(err.Error(), 500)
		rec.Evidence = criteria.Cycle{Failed: true}
	default:
		rec.Status, rec.Breaches, rec.Window, rec.Report = res.Status, res.Breaches, res.Window, res.Report
		rec.Evidence = criteria.Cycle{Breaches: res.Breaches}
		// A cycle that compared nothing is not evidence of agreement (version 1 on).
		if res.Status == StatusNoData && workflow.GetVersion(ctx, "no-data-evidence", workflow.DefaultVersion, 1) >= 1 {
			rec.Evidence.NoData = true
		}
		// The cycle's quality checks and freshness SLAs are evidence (version 1 on).
		if q := res.Quality; q != nil && workflow.GetVersion(ctx, "quality-evidence", workflow.DefaultVersion, 1) >= 1 {
			failures := q.Failures
			rec.Evidence.QualityFailures = &failures
			rec.Evidence.FreshnessHeld = q.FreshnessHeld
			rec.Quality = q.NotPassing[:min(len(q.NotPassing), 5)]
		}
	}
	// The cycle's books: spend, budgets, its evidence row, the executive report.
	costed := workflow.GetVersion(ctx, cycleCostVersion, workflow.DefaultVersion, 1) >= 1
	if costed {
		m.closeBooks(ctx, rec)
		rec.Evidence.WithinBudget = m.withinBudget()
		if m.rolledBackDuring || m.aborted != nil {
			// Rolled back (or aborted) while the books were read: the cycle's evidence
			// was for the state before; it is history, not evidence.
			m.pushHistory(rec)
			m.details(ctx)
			return
		}
	}
	m.pushHistory(rec)
	switch m.st.Phase {
	case PhaseWatch:
		m.st.WatchCycles++
		if rec.Evidence.Failed {
			m.watchFailed++
		} else {
			m.watchFailed = 0
		}
	case PhaseParallelRun, PhaseAwaitingApproval:
		m.evidence = append(m.evidence, rec.Evidence)
		m.st.CyclesSinceStart = len(m.evidence)
		m.st.Criteria = m.evaluate(m.evidence)
		m.st.Blockers = m.st.Criteria.Blockers()
		if m.st.Criteria.Met {
			m.setPhase(ctx, PhaseAwaitingApproval)
		} else {
			if m.st.Phase == PhaseAwaitingApproval {
				m.notice(ctx, "cycle %d: the switching criteria no longer hold (%s)", n, strings.Join(m.st.Blockers, "; "))
			}
			m.setPhase(ctx, PhaseParallelRun)
		}
	}
	if costed {
		m.project()
		m.recordCycle(ctx, &rec)
	}
	m.details(ctx)
}

// Cycle outcome of a cycle cancelled by an abort or a rollback.
const StatusCancelled = "cancelled"

func (m *migration) pushHistory(rec CycleRecord) {
	m.st.History = append(m.st.History, rec)
	if len(m.st.History) > cycleHistoryShown {
		m.st.History = m.st.History[len(m.st.History)-cycleHistoryShown:]
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// triggered names the rollback trigger the latest watch cycle fired ("" when none).
func (m *migration) triggered() string {
	t := m.domain.RollbackTriggers
	if t == nil || len(m.st.History) == 0 {
		return ""
	}
	last := m.st.History[len(m.st.History)-1]
	switch {
	case t.VarianceBreach && last.Breaches > 0:
		return fmt.Sprintf("variance breach: cycle %d has %d reconciliation check(s) over tolerance", last.N, last.Breaches)
	case t.FreshnessBreach && last.Evidence.FreshnessHeld != nil && !*last.Evidence.FreshnessHeld:
		return fmt.Sprintf("freshness breach: cycle %d missed a freshness SLA (%s)", last.N, qualityNames(last.Quality, "freshness"))
	case t.QualityFailure && last.Evidence.QualityFailures != nil && *last.Evidence.QualityFailures > 0:
		return fmt.Sprintf("quality failure: cycle %d has %d failing quality check(s) (%s)", last.N, *last.Evidence.QualityFailures, qualityNames(last.Quality, ""))
	case t.FailedCycles > 0 && m.watchFailed >= t.FailedCycles:
		return fmt.Sprintf("%d consecutive failed cycles (trigger: %d); last error: %s", m.watchFailed, t.FailedCycles, last.Error)
	}
	return ""
}

// qualityNames lists the failing checks of kind ("" every kind but freshness).
func qualityNames(briefs []activities.CheckBrief, kind string) string {
	var names []string
	for _, b := range briefs {
		if b.Status != "fail" && b.Status != "error" {
			continue
		}
		if (kind == "" && b.Kind != "freshness") || b.Kind == kind {
			names = append(names, b.Check+": "+b.Detail)
		}
	}
	if len(names) == 0 {
		return "see the cycle's check results"
	}
	return truncate(strings.Join(names, "; "), 300)
}

// cutover repoints every consumption view at ELT in one transaction, when the
// approvals hold: the criteria met now, or an override among the votes. A failed
// switch leaves every view on legacy (one transaction): the approvals are reset and
// the parallel run goes on.
func (m *migration) cutover(ctx workflow.Context) {
	overridden := slices.ContainsFunc(m.st.Approvals, func(ap Approval) bool { return ap.Override != "" })
	if !m.st.Criteria.Met && !overridden {
		m.st.Approvals = nil
		m.notice(ctx, "cutover not started: the switching criteria stopped holding while the votes came in (%s) and no vote overrides them; approvals reset", strings.Join(m.st.Blockers, "; "))
		m.setPhase(ctx, PhaseParallelRun)
		return
	}
	m.setPhase(ctx, PhaseCutOver)
	evidence := m.evidenceSnapshot()
	at, err := m.switchViews(ctx, cutover.ELT)
	if err != nil && m.st.ViewsUnknown {
		// Where the views point is unknown: put them back on legacy, retried until
		// it is known (the rollback machinery), before the parallel run goes on.
		m.st.Approvals = nil
		m.notice(ctx, "cutover failed and the views could not be read back: switching them back to legacy; approvals reset: %v", err)
		m.rollbackReq, m.automatic = &MigrationSignal{By: "etl2elt (failed cutover)", Reason: "cutover failed, views in an unknown state: " + truncate(err.Error(), 300)}, true
		return
	}
	if err != nil {
		m.st.Approvals = nil
		m.notice(ctx, "cutover failed, every view still points at legacy; approvals reset: %v", err)
		m.setPhase(ctx, PhaseParallelRun)
		return
	}
	m.st.CutOverAt, m.st.WatchCycles, m.watchFailed = &at, 0, 0
	var by []string
	for _, ap := range m.st.Approvals {
		by = append(by, ap.Approver)
	}
	evidence["approvals"] = m.st.Approvals
	if err := m.recordDecision(ctx, "cutover", strings.Join(by, ","), "approved by "+strings.Join(by, ", "), evidence); err != nil {
		m.notice(ctx, "could not record the cutover decision: %v", err)
	}
	m.setPhase(ctx, PhaseWatch)
	m.reportDecision(ctx)
}

// rollbackNow acts on m.rollbackReq: every view back on legacy in one transaction.
// On failure the request stays pending (the loop retries it; the migration never
// completes with a rollback outstanding).
func (m *migration) rollbackNow(ctx workflow.Context) {
	m.rollingBack = true
	defer func() { m.rollingBack = false }()
	s, automatic := *m.rollbackReq, m.automatic
	at, err := m.switchViews(ctx, cutover.Legacy)
	if err != nil {
		m.rollbackFailures++
		m.notice(ctx, "ROLLBACK FAILED (attempt %d), retrying; the views may still point at ELT: %v", m.rollbackFailures, err)
		return
	}
	m.rollbackReq, m.automatic, m.rolledBackDuring, m.rollbackFailures = nil, false, true, 0
	m.st.Rollbacks = append(m.st.Rollbacks, Rollback{By: s.By, Reason: s.Reason, Automatic: automatic, At: at})
	kind := "rollback"
	if automatic {
		kind = "rollback-automatic"
	}
	evidence := m.evidenceSnapshot()
	if n := len(m.st.History); n > 0 {
		evidence["last_cycle_record"] = m.st.History[n-1]
	}
	if err := m.recordDecision(ctx, kind, s.By, s.Reason, evidence); err != nil {
		m.notice(ctx, "could not record the rollback decision: %v", err)
	}
	m.notice(ctx, "rolled back by %s: %s", s.By, s.Reason)
	m.setPhase(ctx, PhaseRolledBack)
	m.reportDecision(ctx)
	m.st.CutOverAt = nil
	if m.in.EndAfterRollback {
		m.ended, m.endReason = PhaseRolledBack, s.Reason
		return
	}
	// Back to the parallel run on fresh evidence and fresh approvals.
	m.st.CutOverAt, m.st.Approvals, m.evidence, m.st.CyclesSinceStart, m.st.WatchCycles = nil, nil, nil, 0, 0
	m.st.Criteria = m.evaluate(nil)
	m.st.Blockers = m.st.Criteria.Blockers()
	m.setPhase(ctx, PhaseParallelRun)
}

// switchViews points every view at side. When the switch reports an error, where
// the views point is read back: a switch that committed before its error counts as
// done; views that cannot be read are marked unknown (a rollback is then allowed).
func (m *migration) switchViews(ctx workflow.Context, side string) (time.Time, error) {
	// A switch is one short transaction: a worker lost in the middle of one is
	// noticed after 30 s, not 2 minutes (a rollback must not wait for it).
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retryPolicy})
	in := activities.SwitchViewsInput{WarehouseConnection: m.snap.Plan.Warehouse.Connection, Domain: m.domain.Name, Views: m.views, Side: side}
	var res activities.SwitchViewsResult
	err := workflow.ExecuteActivity(actx, a.SwitchViews, in).Get(ctx, &res)
	if err == nil {
		m.st.Views, m.st.ViewsUnknown = res.Views, false
		return res.SwitchedAt, nil
	}
	var now activities.SwitchViewsResult
	if rerr := workflow.ExecuteActivity(actx, a.ViewTargets, in).Get(ctx, &now); rerr != nil {
		m.st.ViewsUnknown = true
		return time.Time{}, fmt.Errorf("%w (and where the views point could not be read: %v)", err, rerr)
	}
	m.st.Views, m.st.ViewsUnknown = now.Views, false
	all := true
	for _, v := range m.views {
		want := v.Legacy
		if side == cutover.ELT {
			want = v.ELT
		}
		all = all && now.Views[v.Name] == want
	}
	if all {
		return workflow.Now(ctx).UTC(), nil
	}
	return time.Time{}, err
}

// abort ends the migration where it stands. A rollback asked for before or at the
// same time is done first (the loop retries it until it succeeds): nil result then.
func (m *migration) abort(ctx workflow.Context) (*MigrationResult, error) {
	s := *m.aborted
	if !m.abortRecorded {
		m.abortRecorded = true
		if err := m.recordDecision(ctx, "abort", s.By, s.Reason, m.evidenceSnapshot()); err != nil {
			m.notice(ctx, "could not record the abort decision: %v", err)
		}
		m.reportDecision(ctx)
	}
	if err := m.settle(ctx); err != nil || m.rollbackReq != nil {
		return nil, err
	}
	where := "views left where they point"
	if m.mayBeOnELT() {
		where = "the views still point at ELT: dashboards read the ELT relations"
	}
	m.notice(ctx, "aborted by %s: %s (%s)", s.By, s.Reason, where)
	return m.finish(ctx, PhaseAborted, s.Reason)
}

// complete ends a watch without a trigger, unless a rollback or an abort came in
// meanwhile (then the loop goes on with it: nil result).
func (m *migration) complete(ctx workflow.Context) (*MigrationResult, error) {
	if err := m.settle(ctx); err != nil || m.aborted != nil || m.rollbackReq != nil {
		return nil, err
	}
	reason := fmt.Sprintf("%d watch cycles on ELT without a rollback trigger", m.st.WatchCycles)
	if err := m.recordDecision(ctx, "migration-completed", "etl2elt", reason, m.evidenceSnapshot()); err != nil {
		m.notice(ctx, "could not record the completion: %v", err)
	}
	m.reportDecision(ctx)
	if err := m.settle(ctx); err != nil || m.aborted != nil || m.rollbackReq != nil {
		return nil, err
	}
	return m.finish(ctx, PhaseCompleted, reason)
}

func (m *migration) finish(ctx workflow.Context, phase, reason string) (*MigrationResult, error) {
	if err := m.settle(ctx); err != nil || m.rollbackReq != nil {
		return nil, err // a rollback arrived: the loop does it first
	}
	m.setPhase(ctx, phase)
	res := &MigrationResult{Plan: m.st.Plan, Domain: m.st.Domain, Phase: phase, Cycles: m.st.Cycles, Views: m.st.Views, Rollbacks: m.st.Rollbacks, Reason: reason}
	if phase == PhaseAborted && m.v2 {
		// An aborted migration ends as cancelled in the UI, not as a completion; the
		// result travels as the cancellation's details.
		return nil, temporal.NewCanceledError(res)
	}
	return res, nil
}

// settle applies every signal waiting in its channel and waits for the update
// handlers and decision recordings in flight, until nothing is left.
func (m *migration) settle(ctx workflow.Context) error {
	for {
		m.drainSignals(ctx)
		if err := workflow.Await(ctx, func() bool { return m.handlers == 0 && workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		if !m.signalsPending(ctx) {
			return nil
		}
	}
}

// continueAsNew hands the state to a fresh run (called after settle).
func (m *migration) continueAsNew(ctx workflow.Context) error {
	in := m.in
	in.Carry = &MigrationCarry{State: m.st, Evidence: m.evidence, WatchFailedStreak: m.watchFailed,
		PendingAbort: m.aborted, PendingRollback: m.rollbackReq, PendingRollbackAutomatic: m.automatic, Plan: m.snap}
	return workflow.NewContinueAsNewError(ctx, MigrationWorkflowName, in)
}
