package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/backfill"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

// BackfillWorkflowID is the id of a target's backfill over a range.
func BackfillWorkflowID(target, from, to string) string {
	return fmt.Sprintf("backfill/%s/%s..%s", target, from, to)
}

func newBackfillCommand() *cobra.Command {
	var in workflows.BackfillInput
	var follow bool
	var overrideBy, overrideReason string
	cmd := &cobra.Command{
		Use:   "backfill --plan REF --target MODEL --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Start a BackfillWorkflow (idempotent history reload by chunks); --follow shows progress",
		Long: `backfill starts BackfillWorkflow for an incremental model over [from, to). Chunk size
and concurrency default to the domain's backfill settings. --reprocess missing (default)
runs chunks not done yet, failed only failed ones, all every chunk, changed the chunks
holding periods built by another definition of the model or of a model it reads
(starter models status lists them; none: nothing runs). Windows before the
domain's trusted_until are refused unless --override-by and --override-reason are given
(recorded as a decision). --follow prints a progress bar until the backfill ends; the
exit code is then 0 when every chunk settled, 1 otherwise.

Stuck chunks wait for a person:  starter backfill retry|skip WORKFLOW_ID CHUNK_ID --by NAME
Budget pause:                     starter backfill raise-budget WORKFLOW_ID --by NAME --amount N --reason TEXT`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := window.ParseDates(in.From, in.To); err != nil {
				return &usageError{err}
			}
			switch in.Reprocess {
			case backfill.ReprocessMissing, backfill.ReprocessFailed, backfill.ReprocessAll, backfill.ReprocessChanged:
			default:
				return &usageError{fmt.Errorf("--reprocess %q: want missing, failed, all or changed", in.Reprocess)}
			}
			if overrideBy != "" || overrideReason != "" {
				if overrideBy == "" || overrideReason == "" {
					return &usageError{errors.New("a trusted-period override needs both --override-by and --override-reason")}
				}
				in.OverrideTrusted = &workflows.Override{By: overrideBy, Reason: overrideReason}
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := BackfillWorkflowID(in.Target, in.From, in.To)
			if in.DryRun {
				id += "/dry-run"
			}
			_, err = s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:                                       id,
				TaskQueue:                                s.cfg.TaskQueue,
				WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
				WorkflowExecutionErrorWhenAlreadyStarted: true,
				StaticSummary:                            fmt.Sprintf("Backfill · %s · [%s, %s)", in.Target, in.From, in.To),
				StaticDetails:                            fmt.Sprintf("plan `%s`, target `%s`, reprocess %s, dry run %t", in.Plan, in.Target, orText(in.Reprocess, "missing"), in.DryRun),
				TypedSearchAttributes:                    temporal.NewSearchAttributes(searchattr.Phase.ValueSet("scheduled")),
			}, workflows.BackfillWorkflowName, in)
			if err != nil {
				var started *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &started) {
					return fmt.Errorf("a backfill of %s over [%s, %s) is already running (workflow %s): follow it with `starter backfill follow %s`",
						in.Target, in.From, in.To, id, id)
				}
				return fmt.Errorf("start workflow: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "started %s\n  workflow id: %s\n  web UI:      %s\n", workflows.BackfillWorkflowName, id, workflowURL(s.cfg, s.namespace, id))
			if !follow {
				return nil
			}
			return followBackfill(ctx, s, id, out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Plan, "plan", "", "plan reference (as the worker resolves it)")
	f.StringVar(&in.Target, "target", "", "incremental model to backfill")
	f.StringVar(&in.From, "from", "", "range start, inclusive (YYYY-MM-DD)")
	f.StringVar(&in.To, "to", "", "range end, exclusive (YYYY-MM-DD)")
	f.StringVar(&in.ChunkSize, "chunk-size", "", "day, week or month (default: the domain's)")
	f.IntVar(&in.Concurrency, "concurrency", 0, "chunks in flight (default: the domain's, else 4)")
	f.StringVar(&in.Reprocess, "reprocess", "missing", "missing, failed, all or changed")
	f.BoolVar(&in.DryRun, "dry-run", false, "only report the chunks that would run")
	f.StringVar(&overrideBy, "override-by", "", "who overrides the trusted period")
	f.StringVar(&overrideReason, "override-reason", "", "why the trusted period may be rewritten")
	f.BoolVar(&follow, "follow", false, "show progress until the backfill ends")
	for _, n := range []string{"plan", "target", "from", "to"} {
		_ = cmd.MarkFlagRequired(n)
	}
	cmd.AddCommand(newBackfillFollowCommand(), newChunkSignalCommand("retry", workflows.RetryChunkSignal), newChunkSignalCommand("skip", workflows.SkipChunkSignal), newRaiseBudgetCommand(), newResetWatermarkCommand())
	return cmd
}

func newBackfillFollowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "follow WORKFLOW_ID",
		Short: "Show a running backfill's progress until it ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			return followBackfill(cmd.Context(), s, args[0], cmd.OutOrStdout())
		},
	}
}

func newChunkSignalCommand(verb, signal string) *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:   verb + " WORKFLOW_ID CHUNK_ID --by NAME",
		Short: fmt.Sprintf("Send %s to a backfill for a waiting chunk (recorded with who and why)", signal),
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if signal == workflows.SkipChunkSignal && strings.TrimSpace(reason) == "" {
				return &usageError{errors.New("skipping a chunk needs --reason")}
			}
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			err = s.client.SignalWorkflow(cmd.Context(), args[0], "", signal, workflows.ChunkSignal{ChunkID: args[1], By: by, Reason: reason})
			if err != nil {
				return fmt.Errorf("signal %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %s for chunk %s to %s\n", signal, args[1], args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who decides")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	_ = cmd.MarkFlagRequired("by")
	return cmd
}

func newRaiseBudgetCommand() *cobra.Command {
	var req workflows.RaiseBudgetRequest
	cmd := &cobra.Command{
		Use:   "raise-budget WORKFLOW_ID --by NAME --amount N --reason TEXT",
		Short: "Raise the budget of a backfill paused at its budget (an update: refused with the reason if invalid)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := dial(cmd.Context())
			if err != nil {
				return err
			}
			defer s.client.Close()
			var budget float64
			if err := s.update(cmd.Context(), args[0], workflows.RaiseBudgetUpdate, req, &budget); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "budget of %s is now %.2f\n", args[0], budget)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.By, "by", "", "who raises it")
	cmd.Flags().Float64Var(&req.Amount, "amount", 0, "amount to add, in the plan's currency")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why")
	return cmd
}

// followBackfill polls the status query and draws a progress bar until the workflow
// ends; then it prints the result.
func followBackfill(ctx context.Context, s *session, id string, out io.Writer) error {
	run := s.client.GetWorkflow(ctx, id, "")
	done := make(chan error, 1)
	var res workflows.BackfillResult
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			fmt.Fprintln(out)
			if err != nil {
				return fmt.Errorf("backfill %s failed: %w", id, err)
			}
			b, _ := json.MarshalIndent(res, "", "  ")
			fmt.Fprintf(out, "%s\n", b)
			return nil
		case <-tick.C:
			var st workflows.BackfillStatus
			if s.status(ctx, id, &st) != nil {
				continue // the workflow may be between runs (continue-as-new)
			}
			line := progressLine(st)
			if line != last {
				fmt.Fprintf(out, "\r%s", line)
				last = line
			}
		}
	}
}

// progressLine renders the status as a one-line progress bar.
func progressLine(st workflows.BackfillStatus) string {
	c := st.Counters
	total := max(c.Total, 1)
	settled := c.Settled + c.Done + c.Skipped
	const width = 30
	filled := settled * width / total
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	line := fmt.Sprintf("[%s] %d/%d %s · running %d · waiting %d · rows %d", bar, settled, c.Total, st.Phase, st.Running, len(st.Waiting), c.Rows)
	if st.ETA != "" {
		line += " · ETA " + st.ETA
	}
	if st.Budget > 0 {
		line += fmt.Sprintf(" · spent %.2f/%.2f", c.Spent, st.Budget)
	}
	return line + "   "
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
