package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"etl2elt/internal/backfill"
	"etl2elt/internal/ingest"
	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
)

// newObjectsCommand groups the commands on landing objects a run could not land.
func newObjectsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "objects",
		Short: "List, skip or retry landing objects a run could not land (the load ledger; recorded decisions)",
		Long: `A pipeline run lands every object it can; an object it cannot land (corrupt, empty, a
missing column, too many bad rows) is a failed row of etl2elt.loads with its reason,
tried again by every run. skip marks it skipped (runs leave it alone until it changes in
S3: a new ETag), keeping its ledger row, its reason and its quarantined rows; retry makes
a skipped object failed again, so that the next run tries it. Both are decisions in
etl2elt.decisions with who and why.`,
	}
	var planRef, source, status string
	list := &cobra.Command{
		Use:   "list --plan PLAN --source SOURCE [--status failed|skipped|loaded]",
		Short: "List a source's objects in the load ledger, newest first (failed and skipped by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, pool, closeConns, err := objectsSetup(cmd, planRef, source)
			if err != nil {
				return err
			}
			defer closeConns()
			statuses := []string{"failed", "skipped"}
			if status != "" {
				if !slices.Contains([]string{"failed", "skipped", "loaded"}, status) {
					return &usageError{fmt.Errorf("--status %q: want failed, skipped or loaded", status)}
				}
				statuses = []string{status}
			}
			rows, err := ingest.Objects(cmd.Context(), pool, source, statuses, 200)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(rows) == 0 {
				fmt.Fprintf(out, "source %s of plan %s: no %s object\n", source, p.Name, strings.Join(statuses, " or "))
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "STATUS\tOBJECT\tROWS\tQUARANTINED\tAT\tEXTRA COLUMNS\tREASON")
			for _, o := range rows {
				extra := "-"
				if len(o.ExtraColumns) > 0 {
					extra = opinput.Excerpt(strings.Join(o.ExtraColumns, ","), 60)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", o.Status, o.Key, o.Rows, o.Quarantined, o.FinishedAt.UTC().Format("2006-01-02 15:04"), extra, opinput.Excerpt(o.Error, 200))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&planRef, "plan", "", "plan file, or a plan reference under ETL2ELT_PLAN_DIR")
	list.Flags().StringVar(&source, "source", "", "source name")
	list.Flags().StringVar(&status, "status", "", "failed, skipped or loaded (default: failed and skipped)")
	_ = list.MarkFlagRequired("plan")
	_ = list.MarkFlagRequired("source")
	cmd.AddCommand(list, newObjectDecisionCommand("skip"), newObjectDecisionCommand("retry"))
	return cmd
}

func newObjectDecisionCommand(verb string) *cobra.Command {
	var planRef, source, key, by, reason string
	cmd := &cobra.Command{
		Use:   verb + " --plan PLAN --source SOURCE --key OBJECT_KEY --by ID --reason TEXT",
		Short: map[string]string{"skip": "Skip a failed object: kept with its reason and quarantined rows; runs leave it until it changes (recorded)", "retry": "Make a skipped object failed again: the next run tries it (recorded)"}[verb],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, pool, closeConns, err := objectsSetup(cmd, planRef, source)
			if err != nil {
				return err
			}
			defer closeConns()
			if err := personOf(p, strings.TrimSpace(by)); err != nil {
				return &usageError{err}
			}
			if err := opinput.Text("--reason", reason, opinput.MinReason); err != nil {
				return &usageError{err}
			}
			var o ingest.ObjectRow
			err = pgx.BeginFunc(cmd.Context(), pool, func(tx pgx.Tx) error {
				var err error
				if verb == "skip" {
					o, err = ingest.SkipObject(cmd.Context(), tx, source, key)
				} else {
					o, err = ingest.RetryObject(cmd.Context(), tx, source, key)
				}
				if err != nil {
					return err
				}
				return backfill.RecordDecisionTx(cmd.Context(), tx, backfill.Decision{
					Kind: verb + "-object", Target: source, Subject: key, By: strings.TrimSpace(by), Reason: strings.TrimSpace(reason),
					Evidence: map[string]any{"plan": p.Name, "failed_with": o.Error, "rows_quarantined": o.Quarantined},
				})
			})
			if err != nil {
				return err
			}
			what := "skipped: runs leave it until it changes in S3"
			if verb == "retry" {
				what = "failed again: the next run tries it"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s of source %s %s; recorded (%s-object by %s)\n", key, source, what, verb, strings.TrimSpace(by))
			return nil
		},
	}
	cmd.Flags().StringVar(&planRef, "plan", "", "plan file, or a plan reference under ETL2ELT_PLAN_DIR")
	cmd.Flags().StringVar(&source, "source", "", "source name")
	cmd.Flags().StringVar(&key, "key", "", "the object's key (as starter objects list prints it)")
	cmd.Flags().StringVar(&by, "by", "", "who decides (a person of the plan)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded; 10 characters at least)")
	for _, f := range []string{"plan", "source", "key", "by", "reason"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// objectsSetup reads the plan, checks the source and opens the control schema.
func objectsSetup(cmd *cobra.Command, planRef, source string) (*plan.Plan, *pgxpool.Pool, func(), error) {
	snap, err := readPlanArg(cmd, planRef)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, ok := snap.Plan.Source(source); !ok {
		return nil, nil, nil, &usageError{fmt.Errorf("--source %q: plan %s has no such source", source, snap.Plan.Name)}
	}
	pool, closeConns, err := controlPool(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	return snap.Plan, pool, closeConns, nil
}
