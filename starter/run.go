package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/activities"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

// PipelineRunWorkflowID is the id of a domain's pipeline run over a window: one run
// at a time per domain and window.
func PipelineRunWorkflowID(domain, from, to string) string {
	return fmt.Sprintf("pipeline/%s/%s..%s", domain, from, to)
}

func newRunCommand() *cobra.Command {
	var in workflows.PipelineRunInput
	var wait bool
	cmd := &cobra.Command{
		Use:   "run --plan REF --domain NAME --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Start a PipelineRunWorkflow: land, model and reconcile a domain over a window",
		Long: `run starts PipelineRunWorkflow and prints its id and Web UI link. The plan is a path
under the worker's plan directory (ETL2ELT_PLAN_DIR) or an s3:// URI. With --wait it
waits for the result and prints the reconciliation table; the exit code is then 3
when any check is over tolerance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := window.ParseDates(in.From, in.To); err != nil {
				return &usageError{err}
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := PipelineRunWorkflowID(in.Domain, in.From, in.To)
			run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:                                       id,
				TaskQueue:                                s.cfg.TaskQueue,
				WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				StaticSummary:                            fmt.Sprintf("Pipeline run · %s · [%s, %s)", in.Domain, in.From, in.To),
				StaticDetails:                            fmt.Sprintf("plan `%s`, domain `%s`, window [%s, %s), reload %t", in.Plan, in.Domain, in.From, in.To, in.Reload),
				TypedSearchAttributes: temporal.NewSearchAttributes(
					searchattr.Domain.ValueSet(in.Domain), searchattr.Phase.ValueSet("scheduled")),
			}, workflows.PipelineRunWorkflowName, in)
			if err != nil {
				var started *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &started) {
					return fmt.Errorf("a pipeline run for domain %s over [%s, %s) is already running (workflow %s): watch it with `starter status %s`",
						in.Domain, in.From, in.To, id, id)
				}
				return fmt.Errorf("start workflow: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "started %s\n  workflow id: %s\n  run id:      %s\n  web UI:      %s\n",
				workflows.PipelineRunWorkflowName, run.GetID(), run.GetRunID(), workflowURL(s.cfg, s.namespace, run.GetID()))
			if !wait {
				return nil
			}
			var res workflows.PipelineRunResult
			if err := run.Get(ctx, &res); err != nil {
				return fmt.Errorf("workflow %s failed: %w", id, err)
			}
			printResult(out, &res)
			switch {
			case res.Status == workflows.StatusNoData:
				return &exitError{code: 3, err: fmt.Errorf("no data: no row on either side of any output pair in %s, nothing was compared (not a pass)", res.Window)}
			case res.Quality != nil && len(res.Quality.Blocking) > 0:
				return &exitError{code: 3, err: fmt.Errorf("blocking quality check(s) failed: %s", strings.Join(res.Quality.Blocking, ", "))}
			case res.Status != workflows.StatusPass:
				return &exitError{code: 3, err: fmt.Errorf("%d reconciliation check(s) over tolerance", res.Breaches)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Plan, "plan", "", "plan reference (path under the worker's plan directory, or s3://bucket/key)")
	f.StringVar(&in.Domain, "domain", "", "domain (business area) of the plan")
	f.StringVar(&in.From, "from", "", "window start, inclusive (YYYY-MM-DD)")
	f.StringVar(&in.To, "to", "", "window end, exclusive (YYYY-MM-DD)")
	f.BoolVar(&in.Reload, "reload", false, "land objects again even when the ledger holds them unchanged")
	f.BoolVar(&wait, "wait", false, "wait for the result and print it")
	for _, name := range []string{"plan", "domain", "from", "to"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func checkStatus(q *activities.RunChecksResult) string {
	if q.Passed() {
		return workflows.StatusPass
	}
	return workflows.StatusFail
}

func printResult(w io.Writer, res *workflows.PipelineRunResult) {
	fmt.Fprintf(w, "\nplan %s (hash %.12s) · domain %s · window %s\n\n", res.Plan, res.PlanHash, res.Domain, res.Window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tOBJECTS\tROWS\tQUARANTINED\tLEFT ALONE\tEMPTY DAYS")
	for _, l := range res.Loads {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", l.Source, len(l.Objects), l.Rows, l.Quarantined, l.Skipped, strings.Join(l.EmptyDays, ","))
	}
	tw.Flush()
	printDrift(w, res.Loads)
	if res.Models != nil {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tMATERIALIZED\tROWS\tMS")
		for _, m := range res.Models.Models {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", m.Relation, m.Materialized, m.Rows, m.DurationMS)
		}
		tw.Flush()
	}
	if q := res.Quality; q != nil {
		printChecks(w, &workflows.CheckResult{Plan: res.Plan, Domain: res.Domain, Window: res.Window, Status: checkStatus(q), RunChecksResult: *q})
		if len(q.Blocking) > 0 {
			fmt.Fprintf(w, "blocking checks failed (the watermark stays): %s\n", strings.Join(q.Blocking, ", "))
		}
	}
	for _, rr := range res.Reconciliations {
		fmt.Fprintf(w, "\nreconciliation %s: %s (%d breaches, run %s)\n", rr.Output, strings.ToUpper(rr.Status), rr.Breaches, rr.RunID)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEASURE\tMETRIC\tLEGACY\tELT\tDIFF\tSTATUS")
		for _, c := range rr.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Measure, c.Metric, orDash(c.Legacy), orDash(c.ELT), orDash(c.Difference), c.Status)
		}
		tw.Flush()
	}
	if res.Report != nil {
		fmt.Fprintf(w, "\nreport: %s\n        %s\n", res.Report.HTML, res.Report.Markdown)
	}
	fmt.Fprintf(w, "\nresult: %s\n", strings.ToUpper(res.Status))
}

// printDrift names the objects that carried undeclared columns (loaded without them:
// extra_columns ignore; refused ones are among the failed objects with their reason).
func printDrift(w io.Writer, loads []activities.LoadSourceResult) {
	for _, l := range loads {
		for _, o := range l.Objects {
			if len(o.ExtraColumns) > 0 {
				fmt.Fprintf(w, "schema drift: %s object %s carries undeclared column(s) %s: not loaded (extra_columns: ignore; in etl2elt.loads.extra_columns)\n",
					l.Source, o.ObjectKey, strings.Join(o.ExtraColumns, ", "))
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status WORKFLOW_ID",
		Short: "Print a workflow's status (its status query) as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			var status json.RawMessage
			if err := s.status(ctx, args[0], &status); err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(status); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "web UI: %s\n", workflowURL(s.cfg, s.namespace, args[0]))
			return nil
		},
	}
}
