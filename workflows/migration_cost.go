package workflows

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/cost"
	"etl2elt/internal/criteria"
	"etl2elt/internal/opinput"
)

// The cost of a migration's cycles (cycleCostVersion on): every cycle's work is
// metered into the cost ledger, the legacy ETL's run of the cycle is added at the
// plan's legacy_run rate, and the domain's parallel_run and reconciliation budgets
// are checked before each cycle. A cycle that would cross one holds the migration in
// the budget-exceeded state (search attribute Etl2eltPhase, Etl2eltNeedsAction
// budget) until a raise-budget update from a person of the plan, or an abort.

// cycleCostVersion guards the cycle's books: its spend, its row in
// etl2elt.migration_cycles and the executive report.
const cycleCostVersion = "cycle-cost"

// PhaseBudgetExceeded is shown while a budget holds the migration.
const PhaseBudgetExceeded = "budget-exceeded"

// Budgets of a migration that raise-budget can raise.
const (
	BudgetParallelRun    = "parallel_run"
	BudgetReconciliation = "reconciliation"
)

// MigrationRaiseBudgetRequest is the payload of a migration's raise-budget update:
//
//	{"by": "dana", "budget": "parallel_run", "amount": 250, "reason": "two more weeks of dual running agreed with finance"}
type MigrationRaiseBudgetRequest struct {
	By     string  `json:"by"`
	Budget string  `json:"budget"`
	Amount float64 `json:"amount"`
	Reason string  `json:"reason"`
}

// MigrationRaiseBudgetResult is the raised limit.
type MigrationRaiseBudgetResult struct {
	Budget   string  `json:"budget"`
	Limit    float64 `json:"limit"`
	Spent    float64 `json:"spent"`
	Currency string  `json:"currency"`
}

// CostStatus is the migration's spend against its budgets.
type CostStatus struct {
	Currency string `json:"currency,omitempty"`
	// Spent is the ledger since the migration started (backfill, parallel run and
	// watch, reconciliation; by phase and kind).
	Spent cost.Spend `json:"spent"`
	// Limits are the plan's budgets plus the raises (0: no budget).
	Limits BudgetAmounts `json:"limits"`
	Raised BudgetAmounts `json:"raised"`
	// PerCycle is the mean parallel-run spend of a cycle (reconciliation included)
	// and ReconciliationPerCycle the reconciliation part.
	PerCycle               float64 `json:"per_cycle"`
	ReconciliationPerCycle float64 `json:"reconciliation_per_cycle"`
	// RemainingCycles is an estimate: the passing cycles the criteria still need plus
	// the watch cycles left.
	RemainingCycles int `json:"remaining_cycles"`
	// Projection is spend at completion: spent + per cycle × remaining cycles.
	Projection BudgetAmounts `json:"projection"`
	// Exceeded names the budget holding the migration ("" none).
	Exceeded string `json:"exceeded,omitempty"`
	// OverDuringWatch names a budget crossed during the watch (not held: the watch
	// cycles run the rollback triggers).
	OverDuringWatch string `json:"over_during_watch,omitempty"`
	// Cycles counts the cycles the spend covers.
	Cycles int `json:"cycles"`
}

// BudgetAmounts are money per budget.
type BudgetAmounts struct {
	ParallelRun    float64 `json:"parallel_run"`
	Reconciliation float64 `json:"reconciliation"`
}

// budgeted tells whether the domain has a parallel_run or reconciliation budget.
func (m *migration) budgeted() bool {
	b := m.domain.Budget
	return b != nil && (b.ParallelRun > 0 || b.Reconciliation > 0)
}

// refreshLimits sets the limits from the plan's budgets and the raises.
func (m *migration) refreshLimits() {
	c := m.costStatus()
	c.Currency = m.snap.Plan.CostRates.Currency
	c.Limits = BudgetAmounts{}
	if b := m.domain.Budget; b != nil {
		if b.ParallelRun > 0 {
			c.Limits.ParallelRun = b.ParallelRun + c.Raised.ParallelRun
		}
		if b.Reconciliation > 0 {
			c.Limits.Reconciliation = b.Reconciliation + c.Raised.Reconciliation
		}
	}
}

func (m *migration) costStatus() *CostStatus {
	if m.st.Cost == nil {
		m.st.Cost = &CostStatus{}
	}
	return m.st.Cost
}

// overBudget names the budget the next cycle would cross ("" none): spent plus the
// mean cycle's spend over the limit.
func (m *migration) overBudget() string {
	c := m.st.Cost
	if c == nil || !m.budgeted() {
		return ""
	}
	if l := c.Limits.ParallelRun; l > 0 && c.Spent.ParallelRun+c.PerCycle > l {
		return BudgetParallelRun
	}
	if l := c.Limits.Reconciliation; l > 0 && c.Spent.Reconciliation+c.ReconciliationPerCycle > l {
		return BudgetReconciliation
	}
	return ""
}

// withinBudget is the cycle's budget evidence: nil without a budget.
func (m *migration) withinBudget() *bool {
	c := m.st.Cost
	if c == nil || !m.budgeted() {
		return nil
	}
	ok := (c.Limits.ParallelRun == 0 || c.Spent.ParallelRun <= c.Limits.ParallelRun) &&
		(c.Limits.Reconciliation == 0 || c.Spent.Reconciliation <= c.Limits.Reconciliation)
	return &ok
}

// closeBooks records the cycle's legacy run and reads the spend after it.
func (m *migration) closeBooks(ctx workflow.Context, rec CycleRecord) {
	info := workflow.GetInfo(ctx)
	phase := cost.PhaseParallelRun
	if rec.Phase == PhaseWatch {
		phase = cost.PhaseWatch
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	c := m.costStatus()
	c.Cycles++ // the spend read next covers every cycle so far, this one too
	var spend cost.Spend
	fut := workflow.ExecuteActivity(actx, a.CycleSpend, activities.CycleSpendInput{
		PlanName: m.st.Plan, Domain: m.st.Domain, Phase: phase, MigrationID: info.WorkflowExecution.ID, MigrationRun: info.FirstRunID,
		Cycle: rec.N, LegacyRun: m.snap.Plan.CostRates.LegacyRun, Currency: m.snap.Plan.CostRates.Currency, Since: m.st.StartedAt,
	})
	if err := m.await(ctx, fut, &spend); err != nil {
		m.notice(ctx, "cycle %d: the spend could not be read, budgets judged on the last known figures: %v", rec.N, err)
		return
	}
	c.Spent = spend
	if c.Cycles > 0 {
		c.PerCycle = spend.ParallelRun / float64(c.Cycles)
		c.ReconciliationPerCycle = spend.Reconciliation / float64(c.Cycles)
	}
	m.refreshLimits()
	m.project()
}

// project estimates the spend at completion.
func (m *migration) project() {
	c := m.st.Cost
	if c == nil {
		return
	}
	remaining := max(m.st.WatchCyclesGoal-m.st.WatchCycles, 0)
	if sc := m.domain.SwitchingCriteria; m.st.Phase != PhaseWatch && sc != nil {
		remaining += max(sc.ConsecutivePassingCycles-criteria.Streak(m.evidence), sc.MinCycles-len(m.evidence), 0)
	}
	c.RemainingCycles = remaining
	c.Projection = BudgetAmounts{
		ParallelRun:    c.Spent.ParallelRun + c.PerCycle*float64(remaining),
		Reconciliation: c.Spent.Reconciliation + c.ReconciliationPerCycle*float64(remaining),
	}
}

// recordCycle writes the cycle's row and the executive reports in the background
// (settle waits for them): the loop goes on to the rollback triggers and signals
// without waiting for its bookkeeping.
func (m *migration) recordCycle(ctx workflow.Context, rec *CycleRecord) {
	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
	in := activities.RecordCycleInput{
		PlanName: m.st.Plan, Domain: m.st.Domain, MigrationID: info.WorkflowExecution.ID, MigrationRun: info.FirstRunID,
		Cycle: rec.N, Phase: rec.Phase, CycleWorkflowID: rec.WorkflowID, StartedAt: rec.StartedAt, Window: rec.Window,
		Status: rec.Status, Breaches: rec.Breaches, NoData: rec.Evidence.NoData, QualityFailures: rec.Evidence.QualityFailures,
		FreshnessHeld: rec.Evidence.FreshnessHeld, WithinBudget: rec.Evidence.WithinBudget, Report: rec.Report, Criteria: m.st.Criteria,
	}
	if m.st.Cost != nil {
		spend := m.st.Cost.Spent
		in.Spend = &spend
		if m.decisionReports {
			status := *m.st.Cost
			in.CostStatus = &status
			in.MigrationStartedAt = m.st.StartedAt
		}
	}
	if !m.decisionReports {
		// Runs before decisionReportsVersion wrote the row and the report in line.
		if err := workflow.ExecuteActivity(actx, a.RecordCycle, in).Get(ctx, nil); err != nil {
			m.notice(ctx, "cycle %d: its evidence row could not be written: %v", rec.N, err)
			return
		}
		m.writeReport(ctx, rec.N, m.st.Domain)
		return
	}
	m.handlers++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { m.handlers-- }()
		if err := workflow.ExecuteActivity(actx, a.RecordCycle, in).Get(ctx, nil); err != nil {
			m.notice(ctx, "cycle %d: its evidence row could not be written: %v", in.Cycle, err)
			return
		}
		m.writeReport(ctx, in.Cycle, m.st.Domain)
		m.writeReport(ctx, in.Cycle, "") // the whole plan's
	})
}

// decisionReportsVersion: the cycle's books are written in the background, with the
// whole plan's executive report, and both reports are written again after a
// cutover, a rollback, an abort and the completion (the page never reads GO for a
// domain rolled back since its latest cycle).
const decisionReportsVersion = "decision-reports"

// writeReport writes the executive report of domain ("" the whole plan); the
// domain's location goes to the status.
func (m *migration) writeReport(ctx workflow.Context, cycle int, domain string) {
	rctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retryPolicy})
	var loc activities.ReportLocation
	in := activities.ExecutiveReportInput{Plan: m.snap.Plan, PlanHash: m.snap.Hash, Domain: domain, Cycle: cycle}
	if m.decisionReports {
		in.MigrationRun = workflow.GetInfo(ctx).FirstRunID
	}
	if err := workflow.ExecuteActivity(rctx, a.WriteExecutiveReport, in).Get(ctx, &loc); err != nil {
		what := "the executive report"
		if domain == "" {
			what = "the plan's executive report"
		}
		m.notice(ctx, "%s could not be written: %v", what, err)
		return
	}
	if domain != "" {
		m.st.ExecutiveReport = &loc
	}
}

// reportDecision writes both executive reports after a decision, in the background
// (runs from decisionReportsVersion on).
func (m *migration) reportDecision(ctx workflow.Context) {
	if !m.decisionReports || m.st.Cost == nil {
		return
	}
	n := m.st.Cycles
	m.handlers++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { m.handlers-- }()
		m.writeReport(ctx, n, m.st.Domain)
		m.writeReport(ctx, n, "")
	})
}

// await waits for an activity's future while applying signals: a rollback of a
// domain on ELT is done at once, not after the activity.
func (m *migration) await(ctx workflow.Context, fut workflow.Future, out any) error {
	done := false
	var err error
	sel := workflow.NewSelector(ctx)
	m.addSignals(ctx, sel)
	sel.AddFuture(fut, func(f workflow.Future) { err, done = f.Get(ctx, out), true })
	for !done {
		sel.Select(ctx)
		if m.rollbackReq != nil && m.mayBeOnELT() && !m.rollingBack {
			m.rollbackNow(ctx)
		}
	}
	return err
}

// holdForBudget waits while a budget holds the migration: until a raise brings the
// next cycle under it, or an abort, a rollback, a pause or an approval wakes the
// loop. It returns false when no budget holds.
func (m *migration) holdForBudget(ctx workflow.Context) (bool, error) {
	which := m.overBudget()
	c := m.st.Cost
	if which != "" && m.st.Phase == PhaseWatch && m.decisionReports {
		// On ELT the watch goes on over budget: its cycles run the rollback triggers.
		if c.OverDuringWatch != which {
			c.OverDuringWatch = which
			m.notice(ctx, "budget %s crossed during the watch: the watch cycles go on (they run the rollback triggers); raise the budget to record the decision", which)
		}
		which = ""
	}
	if which == "" {
		if c != nil && c.Exceeded != "" {
			c.Exceeded = ""
			m.upsertSearchAttributes(ctx)
			m.details(ctx)
		}
		return false, nil
	}
	if c.Exceeded != which {
		c.Exceeded = which
		spent, limit := c.Spent.ParallelRun, c.Limits.ParallelRun
		per := c.PerCycle
		if which == BudgetReconciliation {
			spent, limit, per = c.Spent.Reconciliation, c.Limits.Reconciliation, c.ReconciliationPerCycle
		}
		m.notice(ctx, "budget %s: spent %.2f %s of %.2f, and a cycle costs %.2f: held before the next cycle; send raise-budget (by, budget, amount, reason) or abort",
			which, spent, c.Currency, limit, per)
		m.upsertSearchAttributes(ctx)
	}
	m.st.NextCycleAt = nil
	m.wake = false
	m.details(ctx)
	err := m.wait(ctx, 0, func() bool {
		return m.wake || m.overBudget() == "" || m.st.Paused != nil || m.aborted != nil || m.rollbackReq != nil
	})
	return true, err
}

// validateRaise refuses a raise that cannot apply (validators only read state).
func (m *migration) validateRaise(req MigrationRaiseBudgetRequest) error {
	errs := []error{checkPerson("by", req.By, m.people, m.st.Plan), opinput.Text("reason", req.Reason, opinput.MinReason)}
	switch {
	case math.IsNaN(req.Amount) || math.IsInf(req.Amount, 0) || req.Amount <= 0:
		errs = append(errs, fmt.Errorf("amount must be a positive number, got %v", req.Amount))
	case req.Amount > maxBudgetRaise:
		errs = append(errs, fmt.Errorf("amount %v is over the limit of %v for one raise", req.Amount, maxBudgetRaise))
	}
	b := m.domain.Budget
	switch req.Budget {
	case BudgetParallelRun:
		if b == nil || b.ParallelRun <= 0 {
			errs = append(errs, fmt.Errorf("domain %s has no parallel_run budget to raise", m.st.Domain))
		}
	case BudgetReconciliation:
		if b == nil || b.Reconciliation <= 0 {
			errs = append(errs, fmt.Errorf("domain %s has no reconciliation budget to raise", m.st.Domain))
		}
	case "backfill":
		errs = append(errs, errors.New(`budget "backfill" is raised on the running backfill workflow (its own raise-budget update)`))
	default:
		errs = append(errs, fmt.Errorf("budget %q: want parallel_run or reconciliation", opinput.Excerpt(req.Budget, 40)))
	}
	if isFinalPhase(m.st.Phase) {
		errs = append(errs, fmt.Errorf("the migration has ended (phase %s)", m.st.Phase))
	}
	return opinput.Join(errs...)
}

// raise applies a validated raise and records it in the decision log.
func (m *migration) raise(ctx workflow.Context, req MigrationRaiseBudgetRequest) (MigrationRaiseBudgetResult, error) {
	m.handlers++
	defer func() { m.handlers-- }()
	c := m.costStatus()
	// Applied first, then recorded (reverted if it cannot be): two raises at once
	// record the limits each of them made.
	m.refreshLimits()
	raised := &c.Raised.ParallelRun
	if req.Budget == BudgetReconciliation {
		raised = &c.Raised.Reconciliation
	}
	limit := func() float64 {
		if req.Budget == BudgetReconciliation {
			return c.Limits.Reconciliation
		}
		return c.Limits.ParallelRun
	}
	spent := c.Spent.ParallelRun
	if req.Budget == BudgetReconciliation {
		spent = c.Spent.Reconciliation
	}
	before := limit()
	*raised += req.Amount
	m.refreshLimits()
	m.project()
	evidence := map[string]any{"budget": req.Budget, "amount": req.Amount, "limit_before": before, "limit_after": limit(),
		"spent": spent, "currency": c.Currency, "projection": c.Projection, "remaining_cycles": c.RemainingCycles}
	if err := m.recordDecision(ctx, "raise-budget", strings.TrimSpace(req.By), strings.TrimSpace(req.Reason), evidence); err != nil {
		*raised -= req.Amount
		m.refreshLimits()
		m.project()
		return MigrationRaiseBudgetResult{}, fmt.Errorf("record the raise: %w", err)
	}
	m.notice(ctx, "budget %s raised by %.2f %s to %.2f by %s: %s", req.Budget, req.Amount, c.Currency, limit(), req.By, req.Reason)
	m.wake = true
	m.wakeCh.SendAsync(true)
	return MigrationRaiseBudgetResult{Budget: req.Budget, Limit: limit(), Spent: spent, Currency: c.Currency}, nil
}

// registerRaiseBudget registers the raise-budget update (payload decoded strictly,
// refusals in one line).
func (m *migration) registerRaiseBudget(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, RaiseBudgetUpdate,
		func(ctx workflow.Context, raw converter.RawValue) (MigrationRaiseBudgetResult, error) {
			var req MigrationRaiseBudgetRequest
			if err := decodeRaw(raw, &req, true); err != nil {
				return MigrationRaiseBudgetResult{}, refusal(fmt.Errorf("raise-budget: %w", err))
			}
			return m.raise(ctx, req)
		},
		workflow.UpdateHandlerOptions{Validator: func(raw converter.RawValue) error {
			var req MigrationRaiseBudgetRequest
			if err := decodeRaw(raw, &req, true); err != nil {
				return refusal(fmt.Errorf("raise-budget: %w", err))
			}
			if err := m.validateRaise(req); err != nil {
				return refusal(fmt.Errorf("raise-budget refused: %w", err))
			}
			return nil
		}})
}

// money prints an amount with two decimals, or two significant digits below 0.01
// (a rehearsal's reconciliation costs fractions of a cent: not "0.00").
func money(v float64) string {
	if v == 0 || math.Abs(v) >= 0.01 {
		return fmt.Sprintf("%.2f", v)
	}
	prec := int(-math.Floor(math.Log10(math.Abs(v)))) + 1
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// costLine is the status details' line on spend.
func (m *migration) costLine() string {
	c := m.st.Cost
	if c == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(fmt.Sprintf("spend since start: parallel run %s", money(c.Spent.ParallelRun)))
	if c.Limits.ParallelRun > 0 {
		b.WriteString(fmt.Sprintf(" of %.2f (projected %.2f)", c.Limits.ParallelRun, c.Projection.ParallelRun))
	}
	b.WriteString(fmt.Sprintf(" · reconciliation %s", money(c.Spent.Reconciliation)))
	if c.Limits.Reconciliation > 0 {
		b.WriteString(fmt.Sprintf(" of %.2f (projected %.2f)", c.Limits.Reconciliation, c.Projection.Reconciliation))
	}
	b.WriteString(fmt.Sprintf(" · backfill %s %s", money(c.Spent.Backfill), c.Currency))
	if c.Exceeded != "" {
		b.WriteString(fmt.Sprintf("\n\n**budget %s exceeded**: send raise-budget `{\"by\": ..., \"budget\": %q, \"amount\": ..., \"reason\": ...}` or abort", c.Exceeded, c.Exceeded))
	}
	return b.String()
}
