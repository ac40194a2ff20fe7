package activities

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"

	"etl2elt/internal/plan"
	"etl2elt/internal/quality"
	"etl2elt/internal/window"
)

// RunChecksInput runs a domain's quality checks and freshness SLAs.
type RunChecksInput struct {
	PlanName string `json:"plan_name"`
	Domain   string `json:"domain"`
	// RunID keys the stored results: a retried attempt replaces them.
	RunID               string                  `json:"run_id"`
	Window              *window.Window          `json:"window,omitempty"`
	WarehouseConnection string                  `json:"warehouse_connection"`
	Dialect             string                  `json:"dialect"`
	Checks              []quality.Spec          `json:"checks,omitempty"`
	Freshness           []quality.FreshnessSpec `json:"freshness,omitempty"`
	Alerts              []plan.AlertTarget      `json:"alerts,omitempty"`
	// OnDemand runs (CheckWorkflow, pipeline runs of a given window) store their
	// results but neither move the checks' state nor alert.
	OnDemand bool `json:"on_demand,omitempty"`
	// LandingPrefix is the plan's landing prefix: out_of_order reads an object's day
	// from its key after it.
	LandingPrefix string `json:"landing_prefix,omitempty"`
	// CompleteTo ends the window's complete days (a scheduled run's window includes
	// today, still landing): missing_days and row_count_change stop there.
	CompleteTo *time.Time `json:"complete_to,omitempty"`
}

// CheckBrief is one check's outcome as workflows carry it (the whole result, with
// its examples, is in etl2elt.check_results).
type CheckBrief struct {
	Check    string   `json:"check"`
	Kind     string   `json:"kind"`
	Relation string   `json:"relation"`
	Status   string   `json:"status"`
	Value    float64  `json:"value"`
	Blocks   bool     `json:"blocks,omitempty"`
	NoData   bool     `json:"no_data,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Examples []string `json:"examples,omitempty"`
}

// RunChecksResult sums up a run of the checks.
type RunChecksResult struct {
	RunID string `json:"run_id"`
	// Counts per status (pass, warn, fail, error), quality checks and SLAs together.
	Counts map[string]int `json:"counts"`
	// Failures counts quality checks that failed or could not run.
	Failures int `json:"failures"`
	// NoData counts checks that had nothing to measure (an empty window): they pass
	// but prove nothing.
	NoData int `json:"no_data,omitempty"`
	// Blocking names the failed checks the plan says block the pipeline.
	Blocking []string `json:"blocking,omitempty"`
	// NotPassing lists the checks and SLAs that did not pass (at most 20).
	NotPassing []CheckBrief `json:"not_passing,omitempty"`
	// FreshnessHeld is nil when the domain has no SLA; else whether every SLA held.
	FreshnessHeld *bool               `json:"freshness_held,omitempty"`
	Freshness     []quality.Freshness `json:"freshness,omitempty"`
	// Alerts sent (delivered or logged) and failed this run.
	AlertsSent   int `json:"alerts_sent,omitempty"`
	AlertsFailed int `json:"alerts_failed,omitempty"`
}

// alertBudget bounds the time a run spends delivering webhook alerts.
const alertBudget = time.Minute

// Passed reports whether no check failed or could not run and every SLA held.
func (r *RunChecksResult) Passed() bool {
	return r.Failures == 0 && (r.FreshnessHeld == nil || *r.FreshnessHeld)
}

// maxBriefs bounds RunChecksResult.NotPassing.
const maxBriefs = 20

// RunChecks runs every check and SLA on the warehouse (heartbeating the one it is
// on), stores the results, and delivers the alerts of state changes. A check that
// cannot run is recorded with status error; an alert that cannot be delivered is
// recorded as failed and logged: neither fails the activity.
func (a *Activities) RunChecks(ctx context.Context, in RunChecksInput) (*RunChecksResult, error) {
	wh, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	control, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	hb := startHeartbeat(ctx, "starting")
	defer hb.stop()
	log := activity.GetLogger(ctx)
	res := &RunChecksResult{RunID: in.RunID, Counts: map[string]int{}}
	w := window.Window{}
	if in.Window != nil {
		w = *in.Window
	}
	hb.set(fmt.Sprintf("%d checks", len(in.Checks)))
	results, err := quality.RunAll(ctx, wh, in.Dialect, in.Checks, w, quality.Env{Loads: loadLookup(control, in.LandingPrefix), CompleteTo: in.CompleteTo})
	if err != nil {
		return nil, classify(err)
	}
	for _, r := range results {
		res.Counts[r.Status]++
		if r.NoData {
			res.NoData++
		}
		if r.Status == quality.Fail || r.Status == quality.Error {
			res.Failures++
			if r.Blocks { // a blocking check that cannot run blocks too (fail closed)
				res.Blocking = append(res.Blocking, r.Check)
			}
		}
		if r.Status != quality.Pass {
			log.Warn("quality check did not pass", "plan", in.PlanName, "domain", in.Domain, "check", r.Check,
				"relation", r.Relation, "status", r.Status, "value", r.Value, "detail", r.Detail, "error", r.Error)
			res.brief(CheckBrief{Check: r.Check, Kind: r.Kind, Relation: r.Relation, Status: r.Status, Value: r.Value, Blocks: r.Blocks,
				NoData: r.NoData, Detail: clip(firstNonEmpty(r.Error, r.Detail), 300), Examples: r.Examples[:min(len(r.Examples), 3)]})
		}
	}
	held := true
	now := time.Now().UTC()
	for _, s := range in.Freshness {
		hb.set("freshness of " + s.Relation)
		f, err := quality.MeasureFreshness(ctx, wh, control, s, now)
		if err != nil {
			return nil, classify(err)
		}
		res.Freshness = append(res.Freshness, f)
		res.Counts[f.Status]++
		held = held && f.Held()
		if f.Status != quality.Pass {
			log.Warn("freshness SLA not met", "plan", in.PlanName, "domain", in.Domain, "sla", f.Name, "status", f.Status, "detail", f.Detail, "error", f.Error)
			res.brief(CheckBrief{Check: f.Name, Kind: "freshness", Relation: f.Relation, Status: f.Status, Detail: clip(firstNonEmpty(f.Error, f.Detail), 300)})
		}
	}
	if len(in.Freshness) > 0 {
		res.FreshnessHeld = &held
	}
	hb.set("saving results")
	meta := quality.RunMeta{RunID: in.RunID, PlanName: in.PlanName, Domain: in.Domain, WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID, Window: in.Window, OnDemand: in.OnDemand}
	pending, err := quality.Save(ctx, control, meta, results, res.Freshness, in.Alerts)
	if err != nil {
		return nil, err
	}
	targets := map[string]plan.AlertTarget{}
	for _, t := range in.Alerts {
		targets[t.Name] = t
	}
	// Earlier runs' undelivered alerts are retried for the checks the plan still has
	// only. Log targets first (they cannot wait on a webhook), then this run's webhooks,
	// then the retries, within a time budget: a dead receiver costs at most alertBudget
	// per run, never the run, and never starves this run's news.
	current := map[string]bool{}
	for _, r := range results {
		current[r.Check] = true
	}
	for _, f := range res.Freshness {
		current[f.Name] = true
	}
	kept := pending[:0]
	for _, al := range pending {
		if al.RunID == in.RunID || current[al.Check] {
			kept = append(kept, al)
		}
	}
	pending = kept
	rank := func(al quality.Alert) int {
		switch {
		case targets[al.Target].Kind != "webhook":
			return 0
		case al.RunID == in.RunID:
			return 1
		}
		return 2
	}
	sort.SliceStable(pending, func(i, j int) bool { return rank(pending[i]) < rank(pending[j]) })
	dctx, cancel := context.WithTimeout(ctx, alertBudget)
	defer cancel()
	for _, al := range pending {
		hb.set("alert " + al.Check + " to " + al.Target)
		t, ok := targets[al.Target]
		if !ok {
			t = plan.AlertTarget{Name: al.Target, Kind: "log"} // a target since removed from the plan
		}
		var sent quality.Alert
		if dctx.Err() != nil && t.Kind == "webhook" {
			sent = al
			sent.Delivery, sent.Error = quality.DeliveryFailed, fmt.Sprintf("alert target %s: not attempted: this run's alert delivery budget (%s) was spent", t.Name, alertBudget)
		} else {
			sent = a.Alerts.Deliver(dctx, t, al, map[string]any{"plan": in.PlanName, "domain": in.Domain, "check": al.Check,
				"from": al.From, "to": al.To, "run_id": in.RunID})
		}
		if err := quality.MarkDelivery(ctx, control, sent); err != nil {
			return nil, err
		}
		if sent.Delivery == quality.DeliveryFailed {
			res.AlertsFailed++
			log.Error("alert not delivered", "target", al.Target, "check", al.Check, "error", sent.Error)
			continue
		}
		res.AlertsSent++
		log.Warn("alert", "target", al.Target, "check", al.Check, "from", al.From, "to", al.To, "message", al.Message)
	}
	return res, nil
}

// loadLookup resolves raw-table load numbers to their objects in the control schema.
func loadLookup(control *pgxpool.Pool, landingPrefix string) quality.LoadLookup {
	return func(ctx context.Context, ids []int64) (map[int64]quality.LoadOrigin, error) {
		rows, err := control.Query(ctx, `SELECT id, object_key FROM etl2elt.object_loads WHERE id = ANY($1)`, ids)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[int64]quality.LoadOrigin{}
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				return nil, err
			}
			out[id] = quality.LoadOrigin{ObjectKey: key, Partition: quality.PartitionOf(strings.TrimPrefix(key, landingPrefix))}
		}
		return out, rows.Err()
	}
}

func (r *RunChecksResult) brief(b CheckBrief) {
	if len(r.NotPassing) < maxBriefs {
		r.NotPassing = append(r.NotPassing, b)
	}
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
