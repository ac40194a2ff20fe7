package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"etl2elt/internal/model"
	"etl2elt/internal/plan"
)

// newModelsCommand groups the model commands: status (change tracking).
func newModelsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "Change tracking of the plan's models: which logic built each period, which periods are stale",
	}
	var planRef, domain string
	status := &cobra.Command{
		Use:   "status --plan PLAN [--domain DOMAIN]",
		Short: "Per model: its current definition, what changed since its last build, and the stale periods with their rows",
		Long: `status compares each model's definition in the plan (its SQL, normalised so that
whitespace, comments and keyword case do not count, and its materialisation settings)
with the definitions recorded by the model runs and backfill chunks that built each
period. A period is stale when the definition that built it differs from the plan's,
or when an upstream model's definition then differed from the plan's (a change
upstream makes its downstream periods stale too). Rebuild stale periods with a
backfill of their range, or the next pipeline run for the newest ones. Exit code 3
when a period is stale.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := readPlanArg(cmd, planRef)
			if err != nil {
				return err
			}
			p := snap.Plan
			models := p.Models
			if domain != "" {
				d, ok := p.Domain(domain)
				if !ok {
					return &usageError{fmt.Errorf("--domain %q: plan %s has no such domain", domain, p.Name)}
				}
				models = domainModels(p, d)
			}
			pool, closeConns, err := controlPool(cmd)
			if err != nil {
				return err
			}
			defer closeConns()
			st, err := model.Staleness(cmd.Context(), pool, p, models)
			if err != nil {
				return err
			}
			stale := printModelStatus(cmd.OutOrStdout(), st)
			if stale > 0 {
				return &exitError{code: 3, err: fmt.Errorf("%d stale period(s) holding rows: rebuild them (views and table models: the next pipeline run; incremental models: starter backfill --reprocess changed over their range, once the models they read are rebuilt)", stale)}
			}
			return nil
		},
	}
	status.Flags().StringVar(&planRef, "plan", "", "plan file, or a plan reference under ETL2ELT_PLAN_DIR")
	status.Flags().StringVar(&domain, "domain", "", "only the models of this domain")
	_ = status.MarkFlagRequired("plan")
	cmd.AddCommand(status)
	return cmd
}

// domainModels are the models a domain names and the models they read (in the plan's
// order), or every model when it names none.
func domainModels(p *plan.Plan, d plan.Domain) []plan.Model {
	if len(d.Models) == 0 {
		return p.Models
	}
	return p.WithUpstream(d.Models...)
}

// printModelStatus prints one line per model, then its stale ranges, and returns how
// many stale ranges hold rows (a range of no rows, or a view's, needs nothing rebuilt
// but a view's definition: those count too, except empty ones).
func printModelStatus(w io.Writer, st []model.Status) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tMATERIALIZED\tDEFINITION\tLAST BUILT BY\tCHANGED\tSTALE")
	stale := 0
	for _, s := range st {
		built, changed, state := short(s.Built), strings.Join(s.Changes, ", "), "none"
		switch {
		case s.Builds == 0:
			built, state = "never built", "-"
		case s.Built == "":
			built = "unrecorded"
		}
		if len(s.Stale) > 0 {
			state = fmt.Sprintf("%d range(s)", len(s.Stale))
		}
		if changed == "" {
			changed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Model, s.Materialized, short(s.Current), built, changed, state)
		for _, r := range s.Stale {
			if r.Rows != 0 {
				stale++
			}
		}
	}
	tw.Flush()
	for _, s := range st {
		for _, r := range s.Stale {
			period := "the whole relation"
			if r.From != nil && r.To != nil {
				period = r.From.Format("2006-01-02") + " .. " + r.To.Format("2006-01-02") + " (end excluded)"
			}
			rows := ""
			if r.Rows >= 0 {
				rows = fmt.Sprintf(", %d rows", r.Rows)
			}
			fmt.Fprintf(w, "stale: %s %s%s: %s\n", s.Model, period, rows, strings.Join(r.Why, "; "))
		}
	}
	return stale
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
