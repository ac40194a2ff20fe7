package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/quality"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

func newCheckCommand() *cobra.Command {
	var in workflows.CheckInput
	var checks string
	cmd := &cobra.Command{
		Use:   "check --plan REF --domain NAME --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Run a domain's quality checks and freshness SLAs now (CheckWorkflow); exit 3 when one fails",
		Long: `check runs CheckWorkflow and waits: every quality check of the domain over the window, pushed
down to the warehouse, and its freshness SLAs, stored in etl2elt.check_results (alerts on state
changes, as pipeline runs do). It prints one line per check and SLA that did not pass, with up to three
examples. On demand, over any window: the results are stored, but the checks' state does
not move and nothing is alerted (pipeline runs do that). Exit code 0 when every check passes
or warns and every SLA holds, 3 otherwise; when nothing was in the window, the checks say
"no data".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := window.ParseDates(in.From, in.To); err != nil {
				return &usageError{err}
			}
			for _, c := range strings.Split(checks, ",") {
				if c = strings.TrimSpace(c); c != "" {
					in.Checks = append(in.Checks, c)
				}
			}
			if checks != "" && len(in.Checks) == 0 {
				return &usageError{fmt.Errorf("--checks %q names no check", checks)}
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			out := cmd.OutOrStdout()
			var res workflows.CheckResult
			if err := s.run(ctx, out, client.StartWorkflowOptions{
				// Unique per request: two checks of one domain and window (other plans,
				// other checks) never share a run.
				ID:                                       fmt.Sprintf("check/%s/%s..%s/%d", in.Domain, in.From, in.To, time.Now().UnixMilli()),
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				StaticSummary:                            fmt.Sprintf("Quality checks · %s · [%s, %s)", in.Domain, in.From, in.To),
			}, workflows.CheckWorkflowName, in, &res, "checks failed to run"); err != nil {
				return err
			}
			printChecks(out, &res)
			if res.Status != workflows.StatusPass {
				return &exitError{code: 3, err: fmt.Errorf("%d failed, %d could not run; freshness held: %s",
					res.Counts[quality.Fail], res.Counts[quality.Error], heldText(res.FreshnessHeld))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Plan, "plan", "", "plan reference (as the worker resolves it)")
	f.StringVar(&in.Domain, "domain", "", "domain")
	f.StringVar(&in.From, "from", "", "window start, inclusive (YYYY-MM-DD)")
	f.StringVar(&in.To, "to", "", "window end, exclusive (YYYY-MM-DD)")
	f.StringVar(&checks, "checks", "", "comma-separated check names (freshness:<source> for an SLA; default: all of the domain's)")
	for _, name := range []string{"plan", "domain", "from", "to"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func heldText(held *bool) string {
	if held == nil {
		return "no SLA"
	}
	return fmt.Sprint(*held)
}

func printChecks(w io.Writer, res *workflows.CheckResult) {
	fmt.Fprintf(w, "\nquality checks · plan %s · domain %s · window %s: %s (%d pass, %d warn, %d fail, %d error; freshness held: %s)\n",
		res.Plan, res.Domain, res.Window, strings.ToUpper(res.Status), res.Counts[quality.Pass], res.Counts[quality.Warn],
		res.Counts[quality.Fail], res.Counts[quality.Error], heldText(res.FreshnessHeld))
	if res.NoData > 0 {
		fmt.Fprintf(w, "%d check(s) had no data to measure (nothing in the window): they pass but prove nothing\n", res.NoData)
	}
	if len(res.NotPassing) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tCHECK\tKIND\tRELATION\tDETAIL")
		for _, c := range res.NotPassing {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(c.Status), c.Check, c.Kind, c.Relation, c.Detail)
			for _, ex := range c.Examples {
				fmt.Fprintf(tw, "\t\t\t\t  e.g. %s\n", ex)
			}
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nevery result, with up to 20 examples each: SELECT * FROM etl2elt.check_results WHERE run_id = '%s'\n", res.RunID)
}
