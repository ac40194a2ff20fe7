package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/window"
	"etl2elt/workflows"
)

func newReconcileCommand() *cobra.Command {
	var in workflows.ReconcileInput
	var outputs string
	cmd := &cobra.Command{
		Use:   "reconcile --plan REF --domain NAME --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Reconcile a domain's legacy and ELT outputs now (ReconcileWorkflow); exit 3 when anything is over tolerance",
		Long: `reconcile runs ReconcileWorkflow and waits: totals and segmented aggregates of each
output pair, stored in the control schema, with a Markdown and HTML report uploaded to S3. It prints a summary table and
the report locations. Exit code 0 when every check is within tolerance, 3 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := window.ParseDates(in.From, in.To); err != nil {
				return &usageError{err}
			}
			if outputs != "" {
				in.Outputs = strings.Split(outputs, ",")
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:            fmt.Sprintf("reconcile/%s/%s..%s", in.Domain, in.From, in.To),
				TaskQueue:     s.cfg.TaskQueue,
				StaticSummary: fmt.Sprintf("Reconcile · %s · [%s, %s)", in.Domain, in.From, in.To),
			}, workflows.ReconcileWorkflowName, in)
			if err != nil {
				return fmt.Errorf("start workflow: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "started %s %s\n  web UI: %s\n", workflows.ReconcileWorkflowName, run.GetID(), workflowURL(s.cfg, s.namespace, run.GetID()))
			var res workflows.ReconcileResult
			if err := run.Get(ctx, &res); err != nil {
				return fmt.Errorf("reconciliation failed: %w", err)
			}
			printReconcile(out, &res)
			if res.Status != workflows.StatusPass {
				return &exitError{code: 3, err: fmt.Errorf("%d check(s) over tolerance", res.Breaches)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Plan, "plan", "", "plan reference (as the worker resolves it)")
	f.StringVar(&in.Domain, "domain", "", "domain")
	f.StringVar(&in.From, "from", "", "window start, inclusive (YYYY-MM-DD)")
	f.StringVar(&in.To, "to", "", "window end, exclusive (YYYY-MM-DD)")
	f.StringVar(&outputs, "outputs", "", "comma-separated output pairs (default: all of the domain's)")
	for _, n := range []string{"plan", "domain", "from", "to"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func printReconcile(w io.Writer, res *workflows.ReconcileResult) {
	fmt.Fprintf(w, "\nplan %s (hash %.12s) · domain %s · window %s: %s\n\n", res.Plan, res.PlanHash, res.Domain, res.Window, strings.ToUpper(res.Status))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tSTATUS\tCHECKS\tBREACHES\tONLY IN LEGACY\tONLY IN ELT")
	for _, p := range res.Pairs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", p.Output, strings.ToUpper(p.Status), len(p.Checks), p.Breaches, len(p.OnlyInLegacy), len(p.OnlyInELT))
	}
	tw.Flush()
	var breaches []string
	for _, p := range res.Pairs {
		for _, c := range p.Checks {
			if c.Status != "pass" && len(breaches) < 20 {
				seg := c.Segment
				if seg == "" {
					seg = "(total)"
				}
				breaches = append(breaches, fmt.Sprintf("%s\t%s\t%s/%s\t%s\t%s\t%s", p.Output, seg, c.Measure, c.Metric, orDash(c.Legacy), orDash(c.ELT), orDash(c.Difference)))
			}
		}
	}
	if len(breaches) > 0 {
		fmt.Fprintln(w, "\nover tolerance (first 20):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OUTPUT\tSEGMENT\tMEASURE\tLEGACY\tELT\tDIFF")
		for _, b := range breaches {
			fmt.Fprintln(tw, b)
		}
		tw.Flush()
	}
	if res.Report != nil {
		fmt.Fprintf(w, "\nreport: %s\n        %s\n", res.Report.HTML, res.Report.Markdown)
	}
}
