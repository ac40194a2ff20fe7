package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// RunMeta identifies a run of a domain's checks.
type RunMeta struct {
	RunID      string
	PlanName   string
	Domain     string
	WorkflowID string
	Window     *window.Window
	// OnDemand is a run of any window an operator asked for (CheckWorkflow): its
	// results are stored, but it neither moves the checks' state nor alerts (an old
	// window's pass would "resolve" a failure of today's).
	OnDemand bool
}

// Alert is a check's state change, queued for one alert target.
type Alert struct {
	ID int64 `json:"id"`
	// RunID is the run that queued it (an earlier run's undelivered alert is retried).
	RunID    string `json:"run_id"`
	Check    string `json:"check"`
	Target   string `json:"target"`
	From     string `json:"from"`
	To       string `json:"to"`
	Message  string `json:"message"`
	Delivery string `json:"delivery"`
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Delivery states of an alert.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryLogged    = "logged"
)

// severity orders statuses for alerting: pass < warn < fail = error.
func severity(status string) int {
	switch status {
	case Warn:
		return 1
	case Fail, Error:
		return 2
	}
	return 0
}

// Alerts reports whether a change from one status to another is alerted on a target
// whose least alerted status is minStatus (warn or fail): the change must cross it,
// going up or coming back ("resolved").
func Alerts(from, to, minStatus string) bool {
	if from == to {
		return false
	}
	least := 1
	if minStatus == Fail {
		least = 2
	}
	return (severity(from) >= least) != (severity(to) >= least) || (severity(from) >= least && severity(to) >= least)
}

// Save writes a run's results and freshness measurements (replacing a retried
// attempt's), moves each check's state, and queues an alert per target for each state
// change worth one, all in one transaction. It returns the run's alerts not delivered
// yet (a retried run gets the ones its first attempt queued).
func Save(ctx context.Context, pool *pgxpool.Pool, m RunMeta, results []Result, fresh []Freshness, targets []plan.AlertTarget) ([]Alert, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("save checks of %s: %w", m.RunID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var from, to *time.Time
	if m.Window != nil {
		from, to = &m.Window.From, &m.Window.To
	}
	now := time.Now().UTC()
	for _, f := range fresh {
		var lag *float64
		if l := f.EventLagSeconds; f.Basis == plan.LagOfEventTime && l != nil {
			v := float64(*l)
			lag = &v
		}
		if l := f.LoadLagSeconds; f.Basis == plan.LagOfLoad && l != nil {
			v := float64(*l)
			lag = &v
		}
		r := Result{Check: f.Name, Kind: "freshness", Relation: f.Relation, Status: f.Status, Detail: f.Detail, Error: f.Error,
			Fail: ptr(float64(f.MaxLagSeconds)), StartedAt: now, FinishedAt: now}
		if lag != nil {
			r.Value = *lag
		} else {
			r.NoData = true // nothing measured: the value is stored as NULL, not a 0 s lag
		}
		if f.WarnSeconds > 0 {
			r.Warn = ptr(float64(f.WarnSeconds))
		}
		results = append(results, r)
	}
	for _, r := range results {
		var value any = r.Value
		if r.Kind == "freshness" && r.NoData {
			value = nil
		}
		examples := r.Examples
		if examples == nil {
			examples = []string{}
		}
		ex, err := json.Marshal(examples)
		if err != nil {
			return nil, fmt.Errorf("save checks of %s: %w", m.RunID, err)
		}
		_, err = tx.Exec(ctx, `
INSERT INTO etl2elt.check_results (run_id, plan_name, domain, check_name, kind, relation, window_from, window_to, value, warn, fail,
  status, no_data, blocks, rows_checked, detail, examples, error, workflow_id, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (run_id, check_name) DO UPDATE SET value = EXCLUDED.value, warn = EXCLUDED.warn, fail = EXCLUDED.fail,
  status = EXCLUDED.status, no_data = EXCLUDED.no_data, rows_checked = EXCLUDED.rows_checked, detail = EXCLUDED.detail,
  examples = EXCLUDED.examples, error = EXCLUDED.error, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at`,
			m.RunID, m.PlanName, m.Domain, r.Check, r.Kind, r.Relation, from, to, value, r.Warn, r.Fail,
			r.Status, r.NoData, r.Blocks, r.Rows, nullText(r.Detail), ex, nullText(r.Error), nullText(m.WorkflowID), r.StartedAt, r.FinishedAt)
		if err != nil {
			return nil, fmt.Errorf("save check %s of %s: %w", r.Check, m.RunID, err)
		}
		if m.OnDemand {
			continue
		}
		if err := moveState(ctx, tx, m, r, targets); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("save checks of %s: %w", m.RunID, err)
	}
	if m.OnDemand {
		return nil, nil // on-demand runs deliver nothing
	}
	return Pending(ctx, pool, m)
}

// moveState moves one check's state for a run and queues the alerts of the change. A
// retried run (the state already moved by this run) judges against the state before
// it (prev_status) and decides its undelivered alerts again, so that a retry whose
// result differs neither leaves a stale alert nor drops the right one.
func moveState(ctx context.Context, tx pgx.Tx, m RunMeta, r Result, targets []plan.AlertTarget) error {
	var status, stateRun string
	var prevStatus *string
	err := tx.QueryRow(ctx, `SELECT status, run_id, prev_status FROM etl2elt.check_state WHERE plan_name = $1 AND domain = $2 AND check_name = $3 FOR UPDATE`,
		m.PlanName, m.Domain, r.Check).Scan(&status, &stateRun, &prevStatus)
	baseline := status
	switch {
	case err == pgx.ErrNoRows:
		baseline = Pass // a new check starts from pass: its first failure is news
		if _, err := tx.Exec(ctx, `INSERT INTO etl2elt.check_state (plan_name, domain, check_name, status, since, run_id)
VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (plan_name, domain, check_name) DO NOTHING`, m.PlanName, m.Domain, r.Check, Pass, m.RunID); err != nil {
			return fmt.Errorf("check state of %s: %w", r.Check, err)
		}
		status = Pass
	case err != nil:
		return fmt.Errorf("check state of %s: %w", r.Check, err)
	case stateRun == m.RunID && prevStatus != nil:
		baseline = *prevStatus // a retry of this run
	}
	if stateRun == m.RunID {
		// A retry: this run's undelivered alerts of the check that no longer hold go.
		keep := r.Status
		if baseline == r.Status {
			keep = ""
		}
		if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.alerts WHERE run_id = $1 AND check_name = $2 AND delivery = 'pending' AND to_status <> $3`,
			m.RunID, r.Check, keep); err != nil {
			return fmt.Errorf("alerts of %s: %w", r.Check, err)
		}
	}
	if baseline == r.Status {
		if status != r.Status { // a retry came back to where the state was before this run
			if _, err := tx.Exec(ctx, `UPDATE etl2elt.check_state SET status = $4, prev_status = NULL WHERE plan_name = $1 AND domain = $2 AND check_name = $3`,
				m.PlanName, m.Domain, r.Check, r.Status); err != nil {
				return fmt.Errorf("check state of %s: %w", r.Check, err)
			}
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE etl2elt.check_state SET status = $4, prev_status = $5, run_id = $6,
  since = CASE WHEN status = $4 THEN since ELSE now() END WHERE plan_name = $1 AND domain = $2 AND check_name = $3`,
		m.PlanName, m.Domain, r.Check, r.Status, baseline, m.RunID); err != nil {
		return fmt.Errorf("check state of %s: %w", r.Check, err)
	}
	for _, t := range targets {
		if !Alerts(baseline, r.Status, t.MinStatus) {
			continue
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO etl2elt.alerts (plan_name, domain, check_name, target, from_status, to_status, message, run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id, check_name, target, to_status) DO NOTHING`,
			m.PlanName, m.Domain, r.Check, t.Name, baseline, r.Status, Message(m, r, baseline), m.RunID); err != nil {
			return fmt.Errorf("queue alert of %s: %w", r.Check, err)
		}
	}
	return nil
}

// Pending lists the alerts to deliver now: the run's own first, then the earlier ones
// of its plan and domain that are still undelivered (not attempted, or failed within the
// last day) and not superseded by a newer alert of the same check and target, newest
// first.
func Pending(ctx context.Context, pool *pgxpool.Pool, m RunMeta) ([]Alert, error) {
	rows, err := pool.Query(ctx, `SELECT id, run_id, check_name, target, from_status, to_status, message, delivery, attempts, coalesce(error, '')
FROM etl2elt.alerts a
WHERE a.plan_name = $2 AND a.domain = $3
  AND ((a.run_id = $1 AND a.delivery = 'pending')
    OR (a.delivery IN ('pending', 'failed') AND a.created_at > now() - interval '1 day' AND a.attempts < 9
        AND NOT EXISTS (SELECT 1 FROM etl2elt.alerts b WHERE b.plan_name = a.plan_name AND b.domain = a.domain
                        AND b.check_name = a.check_name AND b.target = a.target AND b.id > a.id)))
ORDER BY a.run_id = $1 DESC, a.id DESC`, m.RunID, m.PlanName, m.Domain)
	if err != nil {
		return nil, fmt.Errorf("pending alerts of %s: %w", m.RunID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Alert, error) {
		var a Alert
		err := row.Scan(&a.ID, &a.RunID, &a.Check, &a.Target, &a.From, &a.To, &a.Message, &a.Delivery, &a.Attempts, &a.Error)
		return a, err
	})
}

// MarkDelivery records an alert's delivery outcome.
func MarkDelivery(ctx context.Context, pool *pgxpool.Pool, a Alert) error {
	_, err := pool.Exec(ctx, `UPDATE etl2elt.alerts SET delivery = $2, attempts = attempts + $3, error = $4,
  delivered_at = CASE WHEN $2 IN ('delivered', 'logged') THEN now() END WHERE id = $1`,
		a.ID, a.Delivery, a.Attempts, nullText(a.Error))
	if err != nil {
		return fmt.Errorf("record delivery of alert %d: %w", a.ID, err)
	}
	return nil
}

// Message is an alert's one-line text.
func Message(m RunMeta, r Result, from string) string {
	head := fmt.Sprintf("[etl2elt] %s/%s: %s on %s %s → %s", m.PlanName, m.Domain, r.Check, r.Relation, from, r.Status)
	if r.Status == Pass {
		head = fmt.Sprintf("[etl2elt] %s/%s: %s on %s resolved (%s → pass)", m.PlanName, m.Domain, r.Check, r.Relation, from)
	}
	what := r.Detail
	if r.Error != "" {
		what = r.Error
	}
	if what != "" {
		head += ": " + what
	}
	return oneLine(head+" (run "+m.RunID+")", 1000)
}

func ptr[T any](v T) *T { return &v }

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
