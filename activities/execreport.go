package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/report"
)

// AllDomains names the whole-plan executive report in its S3 keys (domain names are
// identifiers: they never contain a hyphen).
const AllDomains = "all-domains"

// ExecutiveReportInput names the executive report to write: a domain of the plan, or
// the whole plan ("" domain), after a cycle (0: no cycle, only latest is written).
type ExecutiveReportInput struct {
	Plan     *plan.Plan `json:"plan"`
	PlanHash string     `json:"plan_hash"`
	Domain   string     `json:"domain,omitempty"`
	Cycle    int        `json:"cycle,omitempty"`
	// MigrationRun is the migration's first run id, which names a domain's per-cycle
	// report; "" takes the latest migration of the domain from its cycle rows.
	MigrationRun string `json:"migration_run,omitempty"`
}

// WriteExecutiveReport renders the executive evidence report from the control schema
// and uploads it to the report bucket (ExecutiveReportKeys): a domain's after cycle n
// as executive/<plan>/<domain>/<migration run>/cycle-<n>.{html,md}, the whole plan's
// as executive/<plan>/all-domains/<UTC time>.{html,md}, and either as
// .../latest.{html,md}. It returns the latest locations.
func (a *Activities) WriteExecutiveReport(ctx context.Context, in ExecutiveReportInput) (*ReportLocation, error) {
	switch {
	case a.ReportBucket == "":
		return nil, badInputError(errors.New("no report bucket: set ETL2ELT_S3_BUCKET on the worker"))
	case in.Plan == nil || in.Plan.Name == "":
		return nil, badInputError(errors.New("executive report: plan is required"))
	case in.Cycle < 0:
		return nil, badInputError(fmt.Errorf("executive report: cycle %d is negative", in.Cycle))
	case !keySafe(in.MigrationRun):
		return nil, badInputError(fmt.Errorf("executive report: migration_run %q is not a run id", in.MigrationRun))
	}
	if in.Domain != "" {
		if _, ok := in.Plan.Domain(in.Domain); !ok {
			return nil, badInputError(fmt.Errorf("executive report: plan %s has no domain %q", in.Plan.Name, in.Domain))
		}
	}
	pool, err := a.control(ctx)
	if err != nil {
		return nil, err
	}
	e, err := report.LoadExecutive(ctx, pool, in.Plan, in.PlanHash, in.Domain, time.Now().UTC())
	if err != nil {
		return nil, classify(err)
	}
	var html, md bytes.Buffer
	if err := report.RenderExecutiveHTML(&html, e); err != nil {
		return nil, err
	}
	if err := report.RenderExecutiveMarkdown(&md, e); err != nil {
		return nil, err
	}
	run := in.MigrationRun
	if run == "" && in.Domain != "" && len(e.Domains) == 1 {
		run = e.Domains[0].MigrationRun // the migration of the latest cycle row
	}
	prefix, names := ExecutiveReportKeys(in.Plan.Name, in.Domain, run, in.Cycle, e.GeneratedAt)
	for _, name := range names {
		if err := a.Store.Put(ctx, a.ReportBucket, prefix+name+".md", md.Bytes(), "text/markdown; charset=utf-8"); err != nil {
			return nil, err
		}
		if err := a.Store.Put(ctx, a.ReportBucket, prefix+name+".html", html.Bytes(), "text/html; charset=utf-8"); err != nil {
			return nil, err
		}
	}
	loc := &ReportLocation{Markdown: objectstore.URI(a.ReportBucket, prefix+"latest.md"), HTML: objectstore.URI(a.ReportBucket, prefix+"latest.html")}
	activity.GetLogger(ctx).Info("executive report written", "html", loc.HTML, "cycle", in.Cycle, "keys", names)
	return loc, nil
}

// ExecutiveReportKeys are the S3 key prefix of an executive report,
// executive/<plan>/<domain>/ (<domain> all-domains for the whole plan), and the names
// under it (without extension) it is written as, latest last:
//
//   - a domain after cycle n: <migration run>/cycle-<n>, the run being the migration's
//     first run id, so that a later migration of the same domain does not overwrite
//     it (without a known run: <UTC time>/cycle-<n>);
//   - the whole plan after a cycle of any of its domains: <UTC time>, such as
//     20260110T120000.000Z (cycle numbers of different domains do not compare);
//   - always latest.
func ExecutiveReportKeys(planName, domain, migrationRun string, cycle int, at time.Time) (string, []string) {
	scope := domain
	if scope == "" {
		scope = AllDomains
	}
	prefix := fmt.Sprintf("executive/%s/%s/", planName, scope)
	names := []string{"latest"}
	if cycle <= 0 {
		return prefix, names
	}
	stamp := at.UTC().Format("20060102T150405.000Z")
	switch {
	case domain == "":
		names = append([]string{stamp}, names...)
	case migrationRun != "" && keySafe(migrationRun):
		names = append([]string{fmt.Sprintf("%s/cycle-%d", migrationRun, cycle)}, names...)
	default:
		names = append([]string{fmt.Sprintf("%s/cycle-%d", stamp, cycle)}, names...)
	}
	return prefix, names
}

// keySafe tells whether s may be one segment of an S3 key (run ids are UUIDs).
func keySafe(s string) bool {
	return s != "." && s != ".." && !strings.ContainsAny(s, "/\\?#*") && len(s) <= 200
}
