package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/opinput"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/report"
	"etl2elt/internal/window"
)

// ReportInput is one reconciliation to render.
type ReportInput struct {
	RunID    string        `json:"run_id"`
	PlanName string        `json:"plan_name"`
	PlanHash string        `json:"plan_hash"`
	Domain   string        `json:"domain"`
	Window   window.Window `json:"window"`
	// Metrics are the domain's KPIs (their definition changes are flagged).
	Metrics []string          `json:"metrics,omitempty"`
	Pairs   []ReconcileResult `json:"pairs"`
	// Relations maps an output to its legacy and ELT relations.
	Relations map[string][2]string `json:"relations"`
	// ChecksRunID is the run id of the quality checks that ran with this run ("": none
	// ran; the report says "not measured").
	ChecksRunID string `json:"checks_run_id,omitempty"`
}

// ReportLocation is where a report was uploaded.
type ReportLocation struct {
	Markdown string `json:"markdown"`
	HTML     string `json:"html"`
}

// WriteReport renders the reconciliation as Markdown and a self-contained HTML page,
// with the trend of breaches across the domain's earlier runs and the KPI definition
// changes inside the window, and uploads both to the report bucket.
func (a *Activities) WriteReport(ctx context.Context, in ReportInput) (*ReportLocation, error) {
	if a.ReportBucket == "" {
		return nil, badInputError(errors.New("no report bucket: set ETL2ELT_S3_BUCKET on the worker"))
	}
	pool, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	run := report.Run{
		RunID: in.RunID, Plan: in.PlanName, PlanHash: in.PlanHash, Domain: in.Domain, Window: in.Window.String(),
		GeneratedAt: time.Now().UTC(), Status: "pass",
	}
	for _, p := range in.Pairs {
		// Every compared number, from the control schema (the workflow carries the
		// worst ones only).
		checks := p.Checks
		if p.RunID != "" && p.CheckCount > len(p.Checks) {
			if checks, err = storedChecks(ctx, pool, p.RunID); err != nil {
				return nil, err
			}
		}
		if d := p.RowDiff; d != nil && d.SampleStored > len(d.Sample) && p.RunID != "" {
			// The workflow carries the first keys; the report shows the stored sample.
			whole := *d
			if whole.Sample, err = reconcile.StoredSample(ctx, pool, p.RunID); err != nil {
				return nil, err
			}
			p.RowDiff = &whole
		}
		run.Pairs = append(run.Pairs, ReportPair(p, in.Relations[p.Output][0], in.Relations[p.Output][1], checks))
	}
	statuses := make([]string, len(in.Pairs))
	for i, p := range in.Pairs {
		statuses[i] = p.Status
	}
	run.Status = reconcile.RunStatus(statuses)
	if run.Trend, err = trend(ctx, pool, in.PlanName, in.Domain); err != nil {
		return nil, err
	}
	if run.KPIDefinitionChanges, err = kpiChanges(ctx, pool, in.Metrics, in.Window.From); err != nil {
		return nil, err
	}
	if in.ChecksRunID != "" {
		if run.Quality, err = qualityResults(ctx, pool, in.ChecksRunID); err != nil {
			return nil, err
		}
		run.QualityMeasured = len(run.Quality) > 0
	}
	// The objects this workflow landed (a pipeline run; none for an on-demand
	// reconciliation, whose report then has no landing section).
	if run.Landing, err = landing(ctx, pool, activity.GetInfo(ctx).WorkflowExecution.ID); err != nil {
		return nil, err
	}
	md, err := report.Markdown(run)
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	html, err := report.HTML(run)
	if err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	prefix := fmt.Sprintf("reports/%s/%s/%s/", in.PlanName, in.Domain, in.RunID)
	if err := a.Store.Put(ctx, a.ReportBucket, prefix+"reconciliation.md", md, "text/markdown; charset=utf-8"); err != nil {
		return nil, err
	}
	if err := a.Store.Put(ctx, a.ReportBucket, prefix+"reconciliation.html", html, "text/html; charset=utf-8"); err != nil {
		return nil, err
	}
	loc := &ReportLocation{Markdown: objectstore.URI(a.ReportBucket, prefix+"reconciliation.md"), HTML: objectstore.URI(a.ReportBucket, prefix+"reconciliation.html")}
	activity.GetLogger(ctx).Info("reconciliation report written", "html", loc.HTML)
	return loc, nil
}

// storedChecks reads every check of a reconciliation run.
func storedChecks(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, runID string) ([]reconcile.Check, error) {
	rows, err := pool.Query(ctx, `SELECT segment, measure, metric, coalesce(legacy_value::text, ''), coalesce(elt_value::text, ''),
  coalesce(difference::text, ''), relative_difference, tolerance_absolute, tolerance_relative, status
FROM etl2elt.reconcile_results WHERE run_id = $1 ORDER BY segment, measure, metric`, runID)
	if err != nil {
		return nil, fmt.Errorf("report: checks of %s: %w", runID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (reconcile.Check, error) {
		var c reconcile.Check
		err := row.Scan(&c.Segment, &c.Measure, &c.Metric, &c.Legacy, &c.ELT, &c.Difference, &c.RelativeDifference, &c.ToleranceAbsolute, &c.ToleranceRelative, &c.Status)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("report: checks of %s: %w", runID, err)
	}
	return out, nil
}

// landing reads the load ledger rows that workflow id wrote: the counts, and the
// objects worth a look (failed, skipped, with quarantined rows or undeclared columns),
// at most report.MaxLandingObjects. nil when the workflow landed nothing.
func landing(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, workflowID string) (*report.Landing, error) {
	rows, err := pool.Query(ctx, `SELECT source, object_key, status, rows_loaded, rows_quarantined, COALESCE(extra_columns, '{}'), COALESCE(error, '')
FROM etl2elt.loads WHERE workflow_id = $1 ORDER BY (status = 'loaded'), source, object_key`, workflowID)
	if err != nil {
		return nil, fmt.Errorf("read the load ledger: %w", err)
	}
	var l report.Landing
	var n int
	var o report.LandedObject
	_, err = pgx.ForEachRow(rows, []any{&o.Source, &o.Key, &o.Status, &o.Rows, &o.Quarantined, &o.ExtraColumns, &o.Reason}, func() error {
		n++
		switch o.Status {
		case "loaded":
			l.Loaded++
			l.Rows += o.Rows
			l.Quarantined += o.Quarantined
		case "failed":
			l.Failed++
		case "skipped":
			l.Skipped++
		}
		if o.Status == "loaded" && o.Quarantined == 0 && len(o.ExtraColumns) == 0 {
			return nil
		}
		if len(l.Objects) >= report.MaxLandingObjects {
			l.More++
			return nil
		}
		c := o
		c.ExtraColumns = slices.Clone(o.ExtraColumns)
		c.Reason = opinput.Excerpt(o.Reason, 300)
		l.Objects = append(l.Objects, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the load ledger: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	return &l, nil
}

// qualityResults reads a run's check results.
func qualityResults(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, runID string) ([]report.QualityResult, error) {
	rows, err := pool.Query(ctx, `SELECT check_name, kind, relation, status, coalesce(error, detail, ''), coalesce(value, 0), warn, fail, no_data,
  ARRAY(SELECT jsonb_array_elements_text(examples))
FROM etl2elt.check_results WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("report: check results of %s: %w", runID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (report.QualityResult, error) {
		var q report.QualityResult
		err := row.Scan(&q.Check, &q.Kind, &q.Relation, &q.Status, &q.Detail, &q.Value, &q.Warn, &q.Fail, &q.NoData, &q.Examples)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("report: check results of %s: %w", runID, err)
	}
	return out, nil
}

// trend reads the domain's latest 30 reconciliations (one point per workflow run),
// oldest first.
func trend(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, planName, domain string) ([]report.CyclePoint, error) {
	rows, err := pool.Query(ctx, `
SELECT run, at, checks, breaches FROM (
  SELECT split_part(run_id, '/', 1) AS run, max(finished_at) AS at, sum(checks)::int AS checks, sum(breaches)::int AS breaches
  FROM etl2elt.reconcile_runs WHERE plan_name = $1 AND domain = $2 GROUP BY 1 ORDER BY 2 DESC LIMIT 30) AS latest
ORDER BY at`, planName, domain)
	if err != nil {
		return nil, fmt.Errorf("trend of %s: %w", domain, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.CyclePoint, error) {
		var p report.CyclePoint
		err := r.Scan(&p.RunID, &p.At, &p.Checks, &p.Breaches)
		return p, err
	})
}

// kpiChanges lists version bumps of the metrics recorded since from: comparisons
// across them compare two different definitions.
func kpiChanges(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, metrics []string, from time.Time) ([]report.KPIChange, error) {
	if len(metrics) == 0 {
		return nil, nil
	}
	rows, err := pool.Query(ctx, `
SELECT metric, version, coalesce(changed_by, ''), coalesce(change_reason, ''), recorded_at
FROM etl2elt.metric_versions WHERE metric = ANY($1) AND previous_hash IS NOT NULL AND recorded_at >= $2 ORDER BY recorded_at`, metrics, from)
	if err != nil {
		return nil, fmt.Errorf("KPI changes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.KPIChange, error) {
		var c report.KPIChange
		err := r.Scan(&c.Metric, &c.Version, &c.ChangedBy, &c.Reason, &c.At)
		return c, err
	})
}
