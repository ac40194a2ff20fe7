package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/config"
	"etl2elt/internal/plan"
	"etl2elt/internal/schedules"
)

func newScheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Manage the Temporal Schedule that runs a domain's pipeline on the plan's cadence",
	}
	var planRef, domain, cadence string
	var paused, now bool
	create := &cobra.Command{
		Use:   "create --plan REF --domain NAME [--cadence 1h]",
		Short: "Create the schedule of PipelineRunWorkflow for a domain (incremental runs from the watermark)",
		Long: `create makes a Temporal Schedule that starts PipelineRunWorkflow for the domain every
cadence, without dates: each run covers the time since the domain's watermark and
advances it. The cadence is the domain's parallel_run.cadence, read from the plan in
ETL2ELT_PLAN_DIR, unless --cadence is given. A run still going when the next is due is
not doubled (overlap policy: skip).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			every, err := scheduleCadence(cmd, s.cfg, planRef, domain, cadence)
			if err != nil {
				return err
			}
			id := schedules.PipelineID(domain)
			_, err = s.client.ScheduleClient().Create(ctx, schedules.PipelineOptions(schedules.PipelineRequest{
				PlanRef: planRef, Domain: domain, TaskQueue: s.cfg.TaskQueue, Every: every, Paused: paused, Now: now,
			}))
			if err != nil {
				var exists *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &exists) || errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
					return fmt.Errorf("schedule %s already exists: delete it first (starter schedule delete --domain %s)", id, domain)
				}
				return fmt.Errorf("create schedule %s: %w", id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created schedule %s: PipelineRunWorkflow every %s (paused: %t)\n  web UI: %s/namespaces/%s/schedules/%s\n",
				id, every, paused, s.cfg.TemporalUI, s.namespace, id)
			return nil
		},
	}
	create.Flags().StringVar(&planRef, "plan", "", "plan reference (as the worker resolves it)")
	create.Flags().StringVar(&domain, "domain", "", "domain")
	create.Flags().StringVar(&cadence, "cadence", "", "interval between runs, e.g. 1h (default: the domain's parallel_run.cadence)")
	create.Flags().BoolVar(&paused, "paused", false, "create the schedule paused")
	create.Flags().BoolVar(&now, "now", false, "also start a run immediately")
	_ = create.MarkFlagRequired("plan")
	_ = create.MarkFlagRequired("domain")

	var delDomain string
	del := &cobra.Command{
		Use:   "delete --domain NAME",
		Short: "Delete a domain's pipeline schedule (running workflows are not affected)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			id := schedules.PipelineID(delDomain)
			if err := s.client.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
				return fmt.Errorf("delete schedule %s: %w", id, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted schedule %s\n", id)
			return nil
		},
	}
	del.Flags().StringVar(&delDomain, "domain", "", "domain")
	_ = del.MarkFlagRequired("domain")
	cmd.AddCommand(create, del)
	return cmd
}

// scheduleCadence is --cadence, or the domain's parallel_run.cadence read from the
// plan in ETL2ELT_PLAN_DIR.
func scheduleCadence(cmd *cobra.Command, cfg config.Config, planRef, domain, cadence string) (time.Duration, error) {
	if cadence == "" {
		snap, err := plan.Load(cmd.Context(), plan.FileReader{Dir: cfg.PlanDir}, planRef)
		if err != nil {
			return 0, fmt.Errorf("read the cadence from the plan (or pass --cadence): %w", err)
		}
		d, ok := snap.Plan.Domain(domain)
		if !ok {
			return 0, &usageError{fmt.Errorf("plan %s has no domain %q", snap.Plan.Name, domain)}
		}
		if d.ParallelRun == nil || d.ParallelRun.Cadence == "" {
			return 0, &usageError{fmt.Errorf("domain %s has no parallel_run.cadence: pass --cadence", domain)}
		}
		cadence = d.ParallelRun.Cadence
	}
	every, err := plan.ParseDuration(cadence)
	if err != nil || every < time.Second {
		return 0, &usageError{fmt.Errorf("cadence %q: want a duration of at least 1s, e.g. 1h", cadence)}
	}
	return every, nil
}
