package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/opinput"
	"etl2elt/internal/report"
)

func newReportCommand() *cobra.Command {
	var planPath, domain, out string
	cmd := &cobra.Command{
		Use:   "report --plan PLAN.yaml [--domain DOMAIN] [--out FILE.html|FILE.md]",
		Short: "Render the executive evidence report (verdict, variance, quality, cost, decisions, KPIs) from the control schema",
		Long: `report renders the executive evidence report of one domain (--domain) or of every
domain of the plan, locally, from the control schema on the control connection
(ETL2ELT_CONTROL_CONNECTION, default warehouse): is it safe to switch, what did it cost,
who decided. It needs no Temporal. Without --out it prints Markdown; --out FILE.html
writes the self-contained HTML page (inline CSS and SVG, prints on A4), any other
--out writes Markdown. docs/REPORTS.md says what each section shows and where every
number comes from.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := readPlanArg(cmd, planPath)
			if err != nil {
				return err
			}
			if domain != "" {
				if _, ok := snap.Plan.Domain(domain); !ok {
					return &usageError{fmt.Errorf("--domain %q: plan %s has no such domain", domain, snap.Plan.Name)}
				}
			}
			pool, closeConns, err := controlPool(cmd)
			if err != nil {
				return err
			}
			defer closeConns()
			e, err := report.LoadExecutive(cmd.Context(), pool, snap.Plan, snap.Hash, domain, time.Now().UTC())
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					return fmt.Errorf("%w (is the control schema there? run `starter init`)", err)
				}
				return err
			}
			var b bytes.Buffer
			asHTML := strings.HasSuffix(strings.ToLower(out), ".html") || strings.HasSuffix(strings.ToLower(out), ".htm")
			if asHTML {
				err = report.RenderExecutiveHTML(&b, e)
			} else {
				err = report.RenderExecutiveMarkdown(&b, e)
			}
			if err != nil {
				return err
			}
			if out == "" {
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "executive report of %s written to %s\n", scopeName(snap.Plan.Name, domain), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&planPath, "plan", "", "plan file")
	cmd.Flags().StringVar(&domain, "domain", "", "one domain (default: every domain of the plan)")
	cmd.Flags().StringVar(&out, "out", "", "file to write: .html for the HTML page, else Markdown (default: Markdown on stdout)")
	_ = cmd.MarkFlagRequired("plan")
	cmd.AddCommand(newReportGetCommand())
	return cmd
}

// newReportGetCommand fetches a reconciliation run's reports by the run id they print.
func newReportGetCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "get RUN_ID [--dir DIR]",
		Short: "Save a reconciliation run's Markdown and HTML reports (by the run id the report prints) into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run := strings.TrimSpace(args[0])
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			if cfg.ReportBucket == "" {
				return &usageError{fmt.Errorf("no report bucket: set ETL2ELT_S3_BUCKET as on the worker")}
			}
			pool, closeConns, err := controlPool(cmd)
			if err != nil {
				return err
			}
			defer closeConns()
			var planName, domain string
			err = pool.QueryRow(cmd.Context(), `SELECT plan_name, domain FROM etl2elt.reconcile_runs
WHERE run_id = $1 OR run_id LIKE replace(replace($1, '%', '\%'), '_', '\_') || '/%' ORDER BY started_at DESC LIMIT 1`, run).Scan(&planName, &domain)
			if errors.Is(err, pgx.ErrNoRows) {
				return &usageError{fmt.Errorf("run %q: no reconciliation with that run id in etl2elt.reconcile_runs", opinput.Excerpt(run, 80))}
			}
			if err != nil {
				return fmt.Errorf("find run %s: %w", run, err)
			}
			runDir := strings.SplitN(run, "/", 2)[0]
			prefix := fmt.Sprintf("reports/%s/%s/%s/", planName, domain, runDir)
			if err := saveObjects(cmd.Context(), cfg.S3PathStyle, dir, objectstore.URI(cfg.ReportBucket, prefix+"reconciliation.md"), objectstore.URI(cfg.ReportBucket, prefix+"reconciliation.html")); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reports of run %s (plan %s, domain %s) saved in %s\n", runDir, planName, domain, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to save the reports in")
	return cmd
}

func scopeName(planName, domain string) string {
	if domain == "" {
		return "plan " + planName
	}
	return "domain " + domain + " of plan " + planName
}
