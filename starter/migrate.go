package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/searchattr"
	"etl2elt/workflows"
)

// migrationID accepts a workflow id (migration/acme/finance) or its short form
// (acme/finance).
func migrationID(arg string) string {
	if strings.HasPrefix(arg, "migration/") {
		return arg
	}
	return "migration/" + arg
}

// planName reads the plan as the worker would (ETL2ELT_PLAN_DIR or s3://) to learn
// its name: the migration's workflow id starts with it.
func planName(ctx context.Context, s *session, ref string) (string, error) {
	r := plan.FileReader{Dir: s.cfg.PlanDir}
	if strings.HasPrefix(ref, "s3://") {
		store, err := objectstore.New(ctx, objectstore.Options{PathStyle: s.cfg.S3PathStyle})
		if err != nil {
			return "", err
		}
		r.S3, r.IsNotFound = store, func(err error) bool { return errors.Is(err, objectstore.ErrNotFound) }
	}
	snap, err := plan.Load(ctx, r, ref)
	if err != nil {
		return "", fmt.Errorf("read plan %s (to name the workflow; pass --plan-name if the worker alone can read it): %w", ref, err)
	}
	return snap.Plan.Name, nil
}

func newMigrateCommand() *cobra.Command {
	var in workflows.MigrationInput
	var name, overrideBy, overrideReason string
	cmd := &cobra.Command{
		Use:   "migrate --plan REF --domain NAME",
		Short: "Start a domain's MigrationWorkflow (preflight, backfill, parallel run, approval, cutover, watch)",
		Long: `migrate starts MigrationWorkflow for one domain, with workflow id
migration/<plan name>/<domain>: a second start for the same domain is refused while one
runs. Follow it in the Temporal UI (Etl2eltPhase = "awaiting-approval" lists every domain
waiting for approvers) or with:

  starter migration status PLAN/DOMAIN
  starter migration approve PLAN/DOMAIN --approver ID [--comment TEXT] [--override REASON]
  starter migration rollback|pause|resume|abort PLAN/DOMAIN --by ID --reason TEXT

--cadence overrides the plan's parallel_run.cadence (a rehearsal in seconds, e.g. 20s).
A first backfill of the trusted period needs no override; rewriting ELT rows loaded
there before needs --override-by and --override-reason (recorded).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if overrideBy != "" || overrideReason != "" {
				if overrideBy == "" || overrideReason == "" {
					return &usageError{errors.New("a trusted-period override needs both --override-by and --override-reason")}
				}
				in.OverrideTrusted = &workflows.Override{By: overrideBy, Reason: overrideReason}
			}
			if in.Cadence != "" {
				if d, err := plan.ParseDuration(in.Cadence); err != nil || d <= 0 {
					return &usageError{fmt.Errorf("--cadence %q: want a duration such as 30s, 1h, 1d", in.Cadence)}
				}
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			if name == "" {
				if name, err = planName(ctx, s, in.Plan); err != nil {
					return err
				}
			}
			id := workflows.MigrationWorkflowID(name, in.Domain)
			_, err = s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:                                       id,
				TaskQueue:                                s.cfg.TaskQueue,
				WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				StaticSummary:                            fmt.Sprintf("Migration · %s · plan %s", in.Domain, name),
				StaticDetails: fmt.Sprintf("plan `%s`, domain `%s`, cadence %s, skip backfill %t, end after rollback %t",
					in.Plan, in.Domain, orText(in.Cadence, "from the plan"), in.SkipBackfill, in.EndAfterRollback),
				TypedSearchAttributes: temporal.NewSearchAttributes(searchattr.Domain.ValueSet(in.Domain), searchattr.Plan.ValueSet(name), searchattr.Phase.ValueSet(workflows.PhasePreflight)),
			}, workflows.MigrationWorkflowName, in)
			if err != nil {
				var started *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &started) {
					return fmt.Errorf("domain %s of plan %s already has a migration running (workflow %s): see `starter migration status %s/%s`",
						in.Domain, name, id, name, in.Domain)
				}
				return fmt.Errorf("start workflow: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "started %s\n  workflow id: %s\n  web UI:      %s\n  status:      starter migration status %s/%s\n",
				workflows.MigrationWorkflowName, id, workflowURL(s.cfg, s.namespace, id), name, in.Domain)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Plan, "plan", "", "plan reference (as the worker resolves it)")
	f.StringVar(&in.Domain, "domain", "", "domain to migrate")
	f.StringVar(&name, "plan-name", "", "the plan's name (default: read from the plan)")
	f.StringVar(&in.Cadence, "cadence", "", "override the plan's parallel_run.cadence")
	f.IntVar(&in.WatchCycles, "watch-cycles", 0, "override the plan's parallel_run.watch_cycles")
	f.BoolVar(&in.SkipBackfill, "skip-backfill", false, "go from preflight to the parallel run")
	f.BoolVar(&in.EndAfterRollback, "end-after-rollback", false, "end the migration after a rollback instead of returning to the parallel run")
	f.StringVar(&overrideBy, "override-by", "", "who lets the backfill rewrite ELT rows of the trusted period (a person of the plan)")
	f.StringVar(&overrideReason, "override-reason", "", "why (at least 10 characters; recorded)")
	_ = cmd.MarkFlagRequired("plan")
	_ = cmd.MarkFlagRequired("domain")
	return cmd
}

// newMigrationCommand groups the commands that act on a running migration.
func newMigrationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migration",
		Short: "Read or steer a running migration: status, approve, raise-budget, rollback, pause, resume, abort",
	}
	cmd.AddCommand(newMigrationStatusCommand(), newApproveCommand(), newMigrationRaiseBudgetCommand(), newMigrationListCommand())
	for _, sc := range []struct{ verb, signal, short string }{
		{"rollback", workflows.RollbackSignal, "Repoint every consumption view of the domain at legacy in one transaction (after a cutover)"},
		{"pause", workflows.PauseSignal, "Stop starting cycles until resumed (recorded)"},
		{"resume", workflows.ResumeSignal, "Start cycles again (recorded)"},
		{"abort", workflows.AbortSignal, "End the migration where it stands; views stay where they point (recorded)"},
	} {
		cmd.AddCommand(newMigrationSignalCommand(sc.verb, sc.signal, sc.short))
	}
	return cmd
}

func newMigrationSignalCommand(verb, signal, short string) *cobra.Command {
	var sig workflows.MigrationSignal
	cmd := &cobra.Command{
		Use:   verb + " PLAN/DOMAIN --by ID --reason TEXT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(sig.By) == "" || (signal != workflows.ResumeSignal && strings.TrimSpace(sig.Reason) == "") {
				return &usageError{fmt.Errorf("%s needs --by and --reason: both are recorded", verb)}
			}
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := migrationID(args[0])
			if err := s.client.SignalWorkflow(cmd.Context(), id, "", signal, sig); err != nil {
				return fmt.Errorf("signal %s: %w", id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %s to %s; `starter migration status %s` shows its effect\n", signal, id, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&sig.By, "by", "", "who decides (a person id of the plan)")
	cmd.Flags().StringVar(&sig.Reason, "reason", "", "why (recorded)")
	return cmd
}

func newApproveCommand() *cobra.Command {
	var req workflows.ApproveCutoverRequest
	cmd := &cobra.Command{
		Use:   "approve PLAN/DOMAIN --approver ID [--comment TEXT] [--override REASON]",
		Short: "Vote for the cutover (an update: refused with the reason when it cannot count)",
		Long: `approve sends the approve-cutover update. It is refused, with the reason, when the
approver is not listed for the domain, has voted already, the domain is not in its
parallel run, or the switching criteria are not met and no --override reason is given
(an override is recorded as such). When the votes reach the plan's required_approvals,
the cutover starts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := migrationID(args[0])
			var res workflows.ApproveCutoverResult
			if err := s.update(cmd.Context(), id, workflows.ApproveCutoverUpdate, req, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			kind := "approval"
			if res.Override {
				kind = "approval with override"
			}
			fmt.Fprintf(out, "%s by %s recorded: %d of %d\n", kind, req.Approver, res.Approvals, res.Required)
			if res.CutoverStarting {
				fmt.Fprintln(out, "the cutover starts now")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Approver, "approver", "", "approver id (listed in the domain's approvers)")
	cmd.Flags().StringVar(&req.Comment, "comment", "", "comment (recorded)")
	cmd.Flags().StringVar(&req.Override, "override", "", "reason to approve although the switching criteria are not met (recorded as an override)")
	_ = cmd.MarkFlagRequired("approver")
	return cmd
}

func newMigrationRaiseBudgetCommand() *cobra.Command {
	var req workflows.MigrationRaiseBudgetRequest
	var amount string
	cmd := &cobra.Command{
		Use:   "raise-budget PLAN/DOMAIN --by ID --budget parallel_run|reconciliation --amount N --reason TEXT",
		Short: "Raise a budget that holds the migration (an update: recorded in the decision log)",
		Long: `raise-budget sends the raise-budget update. A migration whose next cycle would cross
its parallel_run or reconciliation budget is held (phase budget-exceeded, needs budget)
until the budget is raised or the migration aborted. The raise is refused, with the
reason, when --by is not a person of the plan, the amount is not positive, the budget
is not one the domain has, or the reason is shorter than 10 characters. A backfill's
budget is raised on the backfill workflow itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseFloat(strings.TrimSpace(amount), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				return &usageError{fmt.Errorf("--amount %q: want a positive number such as 250 or 99.50", amount)}
			}
			req.Amount = v
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := migrationID(args[0])
			var res workflows.MigrationRaiseBudgetResult
			if err := s.update(cmd.Context(), id, workflows.RaiseBudgetUpdate, req, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "budget %s raised to %.2f %s by %s (spent %.2f); recorded\n", res.Budget, res.Limit, res.Currency, req.By, res.Spent)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.By, "by", "", "who raises it (a person id of the plan)")
	cmd.Flags().StringVar(&req.Budget, "budget", "", "parallel_run or reconciliation")
	cmd.Flags().StringVar(&amount, "amount", "", "how much to add, in the plan's cost_rates.currency")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (recorded; 10 characters at least)")
	for _, f := range []string{"by", "budget", "amount", "reason"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newMigrationStatusCommand() *cobra.Command {
	var wait string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status PLAN/DOMAIN [--wait PHASE]",
		Short: "Print a migration's phase, criteria, approvals, views and cycles (`starter status ID` prints the JSON)",
		Long: `status queries the migration and prints its phase, the switching criteria (value,
threshold, pass / fail), approvals, where each consumption view points, the latest cycles
with their report locations, and notices. --wait PHASE polls until the migration is in
that phase (exit code 1 when --timeout passes first or the migration ended elsewhere).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := migrationID(args[0])
			query := func() (workflows.MigrationStatus, error) {
				var st workflows.MigrationStatus
				return st, s.status(ctx, id, &st)
			}
			st, err := query()
			if err != nil {
				return err
			}
			deadline := time.Now().Add(timeout)
			for wait != "" && st.Phase != wait && shownPhase(st) != wait {
				if ended(st.Phase) || closed(ctx, s, id) || time.Now().After(deadline) {
					printMigrationStatus(cmd.OutOrStdout(), st)
					return fmt.Errorf("%s is in phase %s, not %s", id, st.Phase, wait)
				}
				time.Sleep(time.Second)
				if st, err = query(); err != nil {
					return err
				}
			}
			printMigrationStatus(cmd.OutOrStdout(), st)
			if st.RunningBackfill != "" {
				var bst workflows.BackfillStatus
				if err := s.status(ctx, st.RunningBackfill, &bst); err == nil {
					printChildBackfill(cmd.OutOrStdout(), st.RunningBackfill, bst)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nweb UI: %s\n", workflowURL(s.cfg, s.namespace, id))
			return nil
		},
	}
	cmd.Flags().StringVar(&wait, "wait", "", "poll until the migration reaches this phase (e.g. awaiting-approval, watch)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long --wait waits")
	return cmd
}

// closed tells whether the workflow has ended (a rolled-back migration may have, or
// may go on with its parallel run).
func closed(ctx context.Context, s *session, id string) bool {
	d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// ended tells the phases a migration does not leave.
// shownPhase is the phase the Web UI shows (Etl2eltPhase): paused or budget-exceeded
// while the migration is held.
func shownPhase(st workflows.MigrationStatus) string {
	switch {
	case ended(st.Phase) || st.Phase == workflows.PhaseRolledBack:
		return st.Phase
	case st.Paused != nil:
		return workflows.PhasePaused
	case st.Cost != nil && st.Cost.Exceeded != "":
		return workflows.PhaseBudgetExceeded
	}
	return st.Phase
}

func ended(phase string) bool {
	return slices.Contains([]string{workflows.PhaseCompleted, workflows.PhaseAborted, workflows.PhaseFailed}, phase)
}

// printChildBackfill prints the running child backfill's progress and what waits for
// a person in it, with the commands that act on it.
func printChildBackfill(out io.Writer, id string, b workflows.BackfillStatus) {
	fmt.Fprintf(out, "\nbackfill running: %s\n  %s %s · %s · %.0f%% (%d of %d chunks settled, %d running, %d pending)\n",
		id, b.Target, b.Range, b.Phase, b.PercentDone, b.Counters.Settled, b.Counters.Total, b.Running, b.Pending)
	if len(b.Waiting) == 0 {
		return
	}
	fmt.Fprintf(out, "  %d chunk(s) WAIT FOR A PERSON (needs action: %s):\n", len(b.Waiting), b.NeedsAction)
	for _, w := range b.Waiting {
		fmt.Fprintf(out, "    %s: %s\n", w.ID, w.Error)
	}
	fmt.Fprintf(out, "  act: starter backfill retry|skip %s CHUNK_ID --by NAME --reason \"...\"\n", id)
}

func printMigrationStatus(out io.Writer, st workflows.MigrationStatus) {
	fmt.Fprintf(out, "domain %s · plan %s · phase %s", st.Domain, st.Plan, st.Phase)
	if shown := shownPhase(st); shown != st.Phase && shown != workflows.PhasePaused {
		fmt.Fprintf(out, " · %s", strings.ToUpper(shown))
	}
	if st.Paused != nil {
		fmt.Fprintf(out, " · PAUSED by %s (%s)", st.Paused.By, st.Paused.Reason)
	}
	fmt.Fprintf(out, "\ncycles %d (evidence %d, watch %d of %d) · cadence %s", st.Cycles, st.CyclesSinceStart, st.WatchCycles, st.WatchCyclesGoal, st.Cadence)
	if st.NextCycleAt != nil {
		fmt.Fprintf(out, " · next %s", st.NextCycleAt.Format(time.RFC3339))
	}
	if c := st.Cost; c != nil {
		fmt.Fprintf(out, "\nspend since start (%s): backfill %.2f · parallel run %.2f%s · reconciliation %.2f%s\n", c.Currency, c.Spent.Backfill,
			c.Spent.ParallelRun, ofBudget(c.Limits.ParallelRun, c.Projection.ParallelRun), c.Spent.Reconciliation, ofBudget(c.Limits.Reconciliation, c.Projection.Reconciliation))
		fmt.Fprintf(out, "  %.2f a cycle, about %d cycles to go (spent + per cycle × cycles to go = projection)\n", c.PerCycle, c.RemainingCycles)
		if c.Exceeded != "" {
			fmt.Fprintf(out, "  HELD: budget %s would be crossed by the next cycle; act: starter migration raise-budget %s/%s --by ID --budget %s --amount N --reason \"...\" (or abort)\n",
				c.Exceeded, st.Plan, st.Domain, c.Exceeded)
		}
	} else {
		fmt.Fprintf(out, "\ncost to date %.2f (%s)\n", st.BackfillCost, st.CostNote)
	}
	if st.ExecutiveReport != nil {
		fmt.Fprintf(out, "executive report: %s\n", st.ExecutiveReport.HTML)
	}

	if len(st.Criteria.Criteria) > 0 {
		fmt.Fprintln(out, "\nswitching criteria:")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CRITERION\tVALUE\tTHRESHOLD\tRESULT")
		for _, c := range st.Criteria.Criteria {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Value, c.Threshold, map[bool]string{true: "pass", false: "FAIL"}[c.Pass])
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(out, "\napprovals %d of %d (approvers: %s)\n", len(st.Approvals), st.RequiredApprovals, strings.Join(st.Approvers, ", "))
	for _, ap := range st.Approvals {
		line := "  " + ap.Approver + " at " + ap.At.Format(time.RFC3339)
		if ap.Override != "" {
			line += " OVERRIDE: " + ap.Override
		}
		fmt.Fprintln(out, line)
	}
	if len(st.Views) > 0 {
		fmt.Fprintln(out, "\nconsumption views:")
		names := make([]string, 0, len(st.Views))
		for v := range st.Views {
			names = append(names, v)
		}
		slices.Sort(names)
		for _, v := range names {
			fmt.Fprintf(out, "  %s → %s\n", v, st.Views[v])
		}
	}
	for _, r := range st.Rollbacks {
		fmt.Fprintf(out, "rollback at %s by %s: %s\n", r.At.Format(time.RFC3339), r.By, r.Reason)
	}
	if n := len(st.History); n > 0 {
		fmt.Fprintln(out, "\nlatest cycles:")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  N\tPHASE\tSTARTED\tSTATUS\tBREACHES\tREPORT")
		for _, c := range st.History[max(0, n-10):] {
			report := c.Error
			if c.Report != nil {
				report = c.Report.HTML
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d\t%s\n", c.N, c.Phase, c.StartedAt.Format(time.RFC3339), c.Status, c.Breaches, report)
		}
		_ = tw.Flush()
	}
	if len(st.Notices) > 0 {
		fmt.Fprintln(out, "\nnotices:")
		for _, n := range st.Notices[max(0, len(st.Notices)-5):] {
			fmt.Fprintln(out, "  "+n)
		}
	}
	if st.Error != "" {
		fmt.Fprintln(out, "\nerror: "+st.Error)
	}
}

func newMigrationListCommand() *cobra.Command {
	var phase, domain string
	var all, needs bool
	cmd := &cobra.Command{
		Use:   "list [--phase PHASE] [--domain NAME] [--needs-action] [--all]",
		Short: "List running migrations (--all: ended ones too), e.g. every domain awaiting approval",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			q := searchattr.Query(workflows.MigrationWorkflowName, phase, domain)
			if !all {
				q += " AND ExecutionStatus = 'Running'"
			}
			if needs {
				q += " AND " + searchattr.NeedsAction.GetName() + " != ''"
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKFLOW ID\tDOMAIN\tPHASE\tNEEDS\tSTATUS\tSTARTED")
			var token []byte
			for {
				resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.namespace, Query: q, NextPageToken: token})
				if err != nil {
					return fmt.Errorf("list migrations: %w", err)
				}
				for _, e := range resp.GetExecutions() {
					sa := e.GetSearchAttributes().GetIndexedFields()
					var d, ph, na string
					_ = converter.GetDefaultDataConverter().FromPayload(sa["Etl2eltDomain"], &d)
					_ = converter.GetDefaultDataConverter().FromPayload(sa["Etl2eltPhase"], &ph)
					_ = converter.GetDefaultDataConverter().FromPayload(sa[searchattr.NeedsAction.GetName()], &na)
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.GetExecution().GetWorkflowId(), d, ph, orText(na, "-"),
						strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), e.GetStartTime().AsTime().UTC().Format(time.RFC3339))
				}
				if token = resp.GetNextPageToken(); len(token) == 0 {
					break
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&phase, "phase", "", "only this phase (e.g. awaiting-approval, watch, parallel-run)")
	cmd.Flags().StringVar(&domain, "domain", "", "only this domain")
	cmd.Flags().BoolVar(&all, "all", false, "ended migrations too")
	cmd.Flags().BoolVar(&needs, "needs-action", false, "only migrations waiting for a person (Etl2eltNeedsAction set)")
	return cmd
}

// ofBudget is " of LIMIT (projected P)" when there is a budget.
func ofBudget(limit, projection float64) string {
	if limit <= 0 {
		return ""
	}
	return fmt.Sprintf(" of %.2f (projected %.2f)", limit, projection)
}
