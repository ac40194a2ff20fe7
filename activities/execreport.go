package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
}

// WriteExecutiveReport renders the executive evidence report from the control schema
// and uploads it to the report bucket, as
// executive/<plan>/<domain>/cycle-<n>.{html,md} and .../latest.{html,md}
// (<domain> is all-domains for the whole plan). It returns the latest locations.
func (a *Activities) WriteExecutiveReport(ctx context.Context, in ExecutiveReportInput) (*ReportLocation, error) {
	switch {
	case a.ReportBucket == "":
		return nil, badInputError(errors.New("no report bucket: set ETL2ELT_S3_BUCKET on the worker"))
	case in.Plan == nil || in.Plan.Name == "":
		return nil, badInputError(errors.New("executive report: plan is required"))
	case in.Cycle < 0:
		return nil, badInputError(fmt.Errorf("executive report: cycle %d is negative", in.Cycle))
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
	domain := in.Domain
	if domain == "" {
		domain = AllDomains
	}
	prefix := fmt.Sprintf("executive/%s/%s/", in.Plan.Name, domain)
	names := []string{"latest"}
	if in.Cycle > 0 {
		names = append([]string{fmt.Sprintf("cycle-%d", in.Cycle)}, names...)
	}
	for _, name := range names {
		if err := a.Store.Put(ctx, a.ReportBucket, prefix+name+".md", md.Bytes(), "text/markdown; charset=utf-8"); err != nil {
			return nil, err
		}
		if err := a.Store.Put(ctx, a.ReportBucket, prefix+name+".html", html.Bytes(), "text/html; charset=utf-8"); err != nil {
			return nil, err
		}
	}
	loc := &ReportLocation{Markdown: objectstore.URI(a.ReportBucket, prefix+"latest.md"), HTML: objectstore.URI(a.ReportBucket, prefix+"latest.html")}
	activity.GetLogger(ctx).Info("executive report written", "html", loc.HTML, "cycle", in.Cycle)
	return loc, nil
}
