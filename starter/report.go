package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	return cmd
}

func scopeName(planName, domain string) string {
	if domain == "" {
		return "plan " + planName
	}
	return "domain " + domain + " of plan " + planName
}
