package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"etl2elt/internal/plan"
)

func newImpactCommand() *cobra.Command {
	var planPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "impact --plan PLAN.yaml NAME",
		Short: "List the dashboards, metrics, domains and people affected by a change to a metric, view, table, model or source",
		Long: `impact reads a plan offline and follows its lineage downstream from NAME (a metric,
a schema.name relation, a model or a source): relations built from it, metrics
computed on them, dashboards that show them, domains that own them, and who to tell.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, file := filepath.Split(planPath)
			if dir == "" {
				dir = "."
			}
			snap, err := plan.Load(cmd.Context(), plan.FileReader{Dir: dir}, file)
			if err != nil {
				return err
			}
			imp, err := plan.ImpactOf(snap.Plan, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(imp)
			}
			printImpact(cmd.OutOrStdout(), imp)
			return nil
		},
	}
	cmd.Flags().StringVar(&planPath, "plan", "", "plan file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("plan")
	return cmd
}

func printImpact(w io.Writer, imp *plan.Impact) {
	fmt.Fprintf(w, "impact of a change to %s %s\n\n", imp.Kind, imp.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "downstream relations\t%s\n", orNone(strings.Join(imp.Relations, ", ")))
	var metrics []string
	for _, m := range imp.Metrics {
		metrics = append(metrics, fmt.Sprintf("%s v%d (owner %s)", m.Name, m.Version, m.Owner))
	}
	fmt.Fprintf(tw, "metrics\t%s\n", orNone(strings.Join(metrics, ", ")))
	var dashboards []string
	for _, d := range imp.Dashboards {
		dashboards = append(dashboards, fmt.Sprintf("%s (%s, owner %s)", d.Name, orNone(d.Tool), d.Owner))
	}
	fmt.Fprintf(tw, "dashboards\t%s\n", orNone(strings.Join(dashboards, ", ")))
	var domains []string
	for _, d := range imp.Domains {
		domains = append(domains, d.Name)
	}
	fmt.Fprintf(tw, "domains\t%s\n", orNone(strings.Join(domains, ", ")))
	tw.Flush()
	if len(imp.People) > 0 {
		fmt.Fprintln(w, "\ntell:")
		var people []string
		for p := range imp.People {
			people = append(people, p)
		}
		slices.Sort(people)
		for _, p := range people {
			fmt.Fprintf(w, "  %s: %s\n", p, strings.Join(imp.People[p], "; "))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
