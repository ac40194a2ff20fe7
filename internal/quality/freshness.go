package quality

import (
	"context"
	"fmt"
	"time"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// FreshnessSpec is an SLA as a domain measures it: the relation whose newest event
// time is read and, for a source, its name in the load ledger.
type FreshnessSpec struct {
	plan.FreshnessSLA
	// Relation and TimeColumn give the newest event time.
	Relation   string `json:"relation"`
	TimeColumn string `json:"time_column"`
}

// Name is the SLA's check name in results and alerts: freshness:<source or output>.
func (f FreshnessSpec) Name() string {
	if f.Source != "" {
		return "freshness:" + f.Source
	}
	return "freshness:" + f.Output
}

// Basis is what the SLA judges: event_time or load.
func (f FreshnessSpec) Basis() string {
	if f.LagOf == "" {
		return plan.LagOfEventTime
	}
	return f.LagOf
}

// FreshnessSpecs resolves a domain's SLAs: a source's raw table and event time, an
// output's ELT relation and time column.
func FreshnessSpecs(p *plan.Plan, domain string) []FreshnessSpec {
	d, _ := p.Domain(domain)
	var out []FreshnessSpec
	for _, f := range p.FreshnessOf(domain) {
		s := FreshnessSpec{FreshnessSLA: f}
		if f.Source != "" {
			src, _ := p.Source(f.Source)
			s.Relation, s.TimeColumn = p.RawSchema()+"."+src.Name, src.EventTime
		}
		for _, o := range d.Outputs {
			if f.Output != "" && o.Name == f.Output {
				s.Relation, s.TimeColumn = o.ELT.Relation, o.TimeColumn
			}
		}
		out = append(out, s)
	}
	return out
}

// Freshness is one SLA's measurement. Lags are whole seconds.
type Freshness struct {
	Name     string `json:"name"`
	Relation string `json:"relation"`
	Basis    string `json:"basis"`
	// Newest is the newest event time; LastLoad the source's last successful load.
	Newest   *time.Time `json:"newest,omitempty"`
	LastLoad *time.Time `json:"last_load,omitempty"`
	// EventLagSeconds and LoadLagSeconds are now minus each (nil: nothing yet).
	EventLagSeconds *int64 `json:"event_lag_seconds,omitempty"`
	LoadLagSeconds  *int64 `json:"load_lag_seconds,omitempty"`
	WarnSeconds     int64  `json:"warn_seconds,omitempty"`
	MaxLagSeconds   int64  `json:"max_lag_seconds"`
	Status          string `json:"status"`
	Detail          string `json:"detail"`
	Error           string `json:"error,omitempty"`
}

// Held reports whether the SLA is met (pass or warn).
func (f Freshness) Held() bool { return f.Status == Pass || f.Status == Warn }

// MeasureFreshness reads the newest event time on the warehouse wh and, for a source,
// its last successful load in the control schema's ledger, and judges the SLA's basis
// against warn and max_lag at now. Nothing yet (an empty relation, no load) misses
// the SLA.
func MeasureFreshness(ctx context.Context, wh, control Queryer, s FreshnessSpec, now time.Time) (Freshness, error) {
	f := Freshness{Name: s.Name(), Relation: s.Relation, Basis: s.Basis()}
	maxLag, err := plan.ParseDuration(s.MaxLag)
	if err != nil {
		f.Status, f.Error = Error, fmt.Sprintf("max_lag %q: %v", s.MaxLag, err)
		return f, nil
	}
	f.MaxLagSeconds = int64(maxLag.Seconds())
	if s.Warn != "" {
		if w, err := plan.ParseDuration(s.Warn); err == nil {
			f.WarnSeconds = int64(w.Seconds())
		}
	}
	rel, err := ident.ParseRelation(s.Relation)
	if err == nil {
		err = ident.Validate(s.TimeColumn)
	}
	if err != nil {
		f.Status, f.Error = Error, err.Error()
		return f, nil
	}
	var newest *time.Time
	if err := wh.QueryRow(ctx, fmt.Sprintf("SELECT CAST(max(%s) AS TIMESTAMPTZ) FROM %s", ident.Quote(s.TimeColumn), rel.Quoted())).Scan(&newest); err != nil {
		if definitive(err) {
			f.Status, f.Error = Error, oneLine(fmt.Sprintf("%s: %v", s.Relation, err), 500)
			return f, nil
		}
		return f, fmt.Errorf("freshness of %s: %w", s.Relation, err)
	}
	if newest != nil {
		t := newest.UTC()
		f.Newest = &t
		lag := int64(now.Sub(t).Seconds())
		f.EventLagSeconds = &lag
	}
	if s.Source != "" {
		var last *time.Time
		// The loads into this raw table (another plan's source of the same name lands
		// elsewhere): etl2elt.object_loads has one row per committed load.
		if err := control.QueryRow(ctx, `SELECT max(loaded_at) FROM etl2elt.object_loads WHERE target = $1`, s.Relation).Scan(&last); err != nil {
			return f, fmt.Errorf("freshness of %s: last load: %w", s.Source, err)
		}
		if last != nil {
			t := last.UTC()
			f.LastLoad = &t
			lag := int64(now.Sub(t).Seconds())
			f.LoadLagSeconds = &lag
		}
	}
	judged := f.EventLagSeconds
	what := "newest event"
	if f.Basis == plan.LagOfLoad {
		judged, what = f.LoadLagSeconds, "last successful load"
	}
	if judged == nil {
		f.Status = Fail
		f.Detail = fmt.Sprintf("no %s yet in %s: the SLA (max lag %s) is missed", what, s.Relation, s.MaxLag)
		return f, nil
	}
	var warn *float64
	if f.WarnSeconds > 0 {
		w := float64(f.WarnSeconds)
		warn = &w
	}
	failAt := float64(f.MaxLagSeconds)
	f.Status = Judge(float64(*judged), warn, &failAt)
	f.Detail = fmt.Sprintf("%s %s (max lag %s)", what, ago(*judged), s.MaxLag)
	if f.Basis == plan.LagOfLoad && f.EventLagSeconds != nil {
		f.Detail += fmt.Sprintf("; newest event %s", ago(*f.EventLagSeconds))
	}
	if f.Basis == plan.LagOfEventTime && f.LoadLagSeconds != nil {
		f.Detail += fmt.Sprintf("; last load %s", ago(*f.LoadLagSeconds))
	}
	return f, nil
}

// ago says how long ago: "3h 5m ago", or "2h 0m in the future" for a negative lag
// (an event time ahead of the clock).
func ago(sec int64) string {
	if sec < 0 {
		return Age(-sec) + " in the future"
	}
	return Age(sec) + " ago"
}

// Age renders seconds as "3d 4h", "2h 5m", "40s".
func Age(sec int64) string {
	if sec < 0 {
		return "-" + Age(-sec)
	}
	d := time.Duration(sec) * time.Second
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", d/time.Minute, (d%time.Minute)/time.Second)
	}
	return fmt.Sprintf("%ds", sec)
}
