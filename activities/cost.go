package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"etl2elt/internal/cost"
	"etl2elt/internal/criteria"
)

// CycleSpendInput closes a migration cycle's books: the legacy ETL's run of the
// cycle enters the ledger, then the domain's spend is read.
type CycleSpendInput struct {
	PlanName string `json:"plan_name"`
	Domain   string `json:"domain"`
	// Phase is parallel-run or watch.
	Phase string `json:"phase"`
	// MigrationID, MigrationRun and Cycle name the legacy run's ledger row (one per
	// cycle, whatever the retries).
	MigrationID  string `json:"migration_id"`
	MigrationRun string `json:"migration_run"`
	Cycle        int    `json:"cycle"`
	// LegacyRun is what one run of the legacy ETL costs (0: nothing recorded).
	LegacyRun float64 `json:"legacy_run,omitempty"`
	Currency  string  `json:"currency,omitempty"`
	// Since is when the migration started: spend before it is not its.
	Since time.Time `json:"since"`
}

// CycleSpend records the cycle's legacy run and returns the domain's spend since the
// migration started.
func (a *Activities) CycleSpend(ctx context.Context, in CycleSpendInput) (*cost.Spend, error) {
	pool, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	if in.LegacyRun > 0 {
		if err := cost.Record(ctx, pool, cost.Entry{
			Plan: in.PlanName, Domain: in.Domain, Phase: in.Phase, Kind: cost.KindLegacyRun,
			WorkflowID: in.MigrationID, RunID: in.MigrationRun, Activity: "legacy ETL run",
			ActivityID: fmt.Sprintf("legacy-run/cycle-%d", in.Cycle), Cost: in.LegacyRun, Currency: in.Currency,
		}); err != nil {
			return nil, err
		}
	}
	s, err := cost.SpendOf(ctx, pool, in.PlanName, in.Domain, in.Since)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// RecordCycleInput is one migration cycle's evidence for etl2elt.migration_cycles.
type RecordCycleInput struct {
	PlanName        string          `json:"plan_name"`
	Domain          string          `json:"domain"`
	MigrationID     string          `json:"migration_id"`
	MigrationRun    string          `json:"migration_run"`
	Cycle           int             `json:"cycle"`
	Phase           string          `json:"phase"`
	CycleWorkflowID string          `json:"cycle_workflow_id"`
	StartedAt       time.Time       `json:"started_at"`
	Window          string          `json:"window,omitempty"`
	Status          string          `json:"status"`
	Breaches        int             `json:"breaches"`
	NoData          bool            `json:"no_data,omitempty"`
	QualityFailures *int            `json:"quality_failures,omitempty"`
	FreshnessHeld   *bool           `json:"freshness_held,omitempty"`
	WithinBudget    *bool           `json:"within_budget,omitempty"`
	Report          *ReportLocation `json:"report,omitempty"`
	Criteria        criteria.Result `json:"criteria"`
	Spend           *cost.Spend     `json:"spend,omitempty"`
	// CostStatus is the migration's cost status after the cycle (limits with raises,
	// per-cycle rate, projection), and MigrationStartedAt when its spend counts from.
	CostStatus         any       `json:"cost_status,omitempty"`
	MigrationStartedAt time.Time `json:"migration_started_at,omitzero"`
}

// RecordCycle writes (or, retried, rewrites) the cycle's row.
func (a *Activities) RecordCycle(ctx context.Context, in RecordCycleInput) error {
	pool, err := a.control(ctx)
	if err != nil {
		return err
	}
	crit, err := json.Marshal(in.Criteria)
	if err != nil {
		return fmt.Errorf("record cycle %d: %w", in.Cycle, err)
	}
	var spend []byte
	if in.Spend != nil {
		if spend, err = json.Marshal(in.Spend); err != nil {
			return fmt.Errorf("record cycle %d: %w", in.Cycle, err)
		}
	}
	var status []byte
	if in.CostStatus != nil {
		if status, err = json.Marshal(in.CostStatus); err != nil {
			return fmt.Errorf("record cycle %d: %w", in.Cycle, err)
		}
	}
	var startedAt *time.Time
	if !in.MigrationStartedAt.IsZero() {
		startedAt = &in.MigrationStartedAt
	}
	var html, md *string
	if in.Report != nil {
		html, md = &in.Report.HTML, &in.Report.Markdown
	}
	_, err = pool.Exec(cost.Unmetered(ctx), `
INSERT INTO etl2elt.migration_cycles (plan_name, domain, migration_id, migration_run, cycle, phase, cycle_workflow_id,
  started_at, window_text, status, breaches, no_data, quality_failures, freshness_held, within_budget, report_html, report_markdown, criteria, spend,
  cost_status, migration_started_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (migration_id, migration_run, cycle) DO UPDATE SET
  phase = EXCLUDED.phase, status = EXCLUDED.status, breaches = EXCLUDED.breaches, no_data = EXCLUDED.no_data,
  quality_failures = EXCLUDED.quality_failures, freshness_held = EXCLUDED.freshness_held, within_budget = EXCLUDED.within_budget,
  report_html = EXCLUDED.report_html, report_markdown = EXCLUDED.report_markdown, criteria = EXCLUDED.criteria,
  spend = EXCLUDED.spend, cost_status = EXCLUDED.cost_status, migration_started_at = EXCLUDED.migration_started_at, finished_at = now()`,
		in.PlanName, in.Domain, in.MigrationID, in.MigrationRun, in.Cycle, in.Phase, in.CycleWorkflowID,
		in.StartedAt, in.Window, in.Status, in.Breaches, in.NoData, in.QualityFailures, in.FreshnessHeld, in.WithinBudget,
		html, md, crit, spend, status, startedAt)
	if err != nil {
		return fmt.Errorf("record cycle %d: %w", in.Cycle, err)
	}
	return nil
}
