package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"etl2elt/activities"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/reconcile"
	"etl2elt/internal/report"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

func newReconcileCommand() *cobra.Command {
	var in workflows.ReconcileInput
	var outputs string
	var rowDiff bool
	var rd workflows.RowDiffOptions
	var numericScale int
	var tolerances []string
	var reportDir string
	cmd := &cobra.Command{
		Use:   "reconcile --plan REF --domain NAME --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Reconcile a domain's legacy and ELT outputs now (ReconcileWorkflow); exit 3 when anything is over tolerance",
		Long: `reconcile runs ReconcileWorkflow and waits: totals and segmented aggregates of each
output pair, stored in the control schema, with a Markdown and HTML report uploaded to S3. It prints a summary table and
the report locations. With --row-diff, every pair with keys is also diffed row by row (bounded by --max-rows
and --max-seconds; a bounded diff does not pass) and the summary lists the counts and the first differing keys.
Exit code 0 when every check is within tolerance and no row differs, 3 otherwise
(also when the window holds no row on either side: "no data" is never a pass).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := window.ParseDates(in.From, in.To); err != nil {
				return &usageError{err}
			}
			if outputs != "" {
				in.Outputs = strings.Split(outputs, ",")
			}
			if err := rowDiffOptions(cmd, rowDiff, &rd, numericScale, tolerances); err != nil {
				return &usageError{err}
			}
			if rowDiff {
				in.RowDiff = &rd
			}
			ctx := cmd.Context()
			s, err := dial(ctx)
			if err != nil {
				return err
			}
			defer s.client.Close()
			out := cmd.OutOrStdout()
			var res workflows.ReconcileResult
			if err := s.run(ctx, out, client.StartWorkflowOptions{
				ID:            fmt.Sprintf("reconcile/%s/%s..%s", in.Domain, in.From, in.To),
				StaticSummary: fmt.Sprintf("Reconcile · %s · [%s, %s)", in.Domain, in.From, in.To),
			}, workflows.ReconcileWorkflowName, in, &res, "reconciliation failed"); err != nil {
				return err
			}
			printReconcile(out, &res)
			if len(tolerances) > 0 {
				fmt.Fprintf(out, "--tolerance overrides the absolute bound of the plan's measure tolerance for %s in this run (the relative bound still applies)\n", strings.Join(tolerances, ", "))
			}
			if reportDir != "" && res.Report != nil {
				if err := saveObjects(ctx, s.cfg.S3PathStyle, reportDir, res.Report.Markdown, res.Report.HTML); err != nil {
					return err
				}
				fmt.Fprintf(out, "reports saved in %s\n", reportDir)
			}
			if res.Status == workflows.StatusNoData {
				return &exitError{code: 3, err: fmt.Errorf("no data: no row on either side in %s, nothing was compared (not a pass)", res.Window)}
			}
			if res.Status != workflows.StatusPass {
				return &exitError{code: 3, err: fmt.Errorf("%d check(s) over tolerance, %d row(s) differing", res.Breaches, res.RowDifferences)}
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
	f.BoolVar(&rowDiff, "row-diff", false, "also diff the rows by key of every pair with keys (exit 3 when rows differ beyond tolerance)")
	f.Int64Var(&rd.MaxRowsFetched, "max-rows", 0, "row diff: most rows fetched from both sides per pair (0: no bound)")
	f.IntVar(&rd.MaxSeconds, "max-seconds", 0, "row diff: most seconds per pair (0: no bound)")
	f.IntVar(&rd.SampleSize, "sample", 0, "row diff: differing keys kept per pair (default 20)")
	f.StringArrayVar(&tolerances, "tolerance", nil, "row diff: absolute numeric tolerance of a column, COLUMN=VALUE (repeatable)")
	f.IntVar(&numericScale, "numeric-scale", -1, "row diff: round numbers to this many decimals before comparing (default: as stored)")
	f.BoolVar(&rd.TimestampsUTC, "timestamps-utc", false, "row diff: compare timestamps as UTC instants")
	f.BoolVar(&rd.TrimStrings, "trim", false, "row diff: trim spaces around text values")
	f.BoolVar(&rd.CaseInsensitive, "case-insensitive", false, "row diff: compare text values lowercased")
	f.BoolVar(&rd.NullEqualsEmpty, "null-equals-empty", false, "row diff: NULL and '' compare equal")
	f.StringVar(&reportDir, "report-dir", "", "save the run's Markdown and HTML reports into this directory")
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
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", p.Output, strings.ToUpper(p.Status), p.Compared(), p.Breaches, max(p.OnlyInLegacyCount, len(p.OnlyInLegacy)), max(p.OnlyInELTCount, len(p.OnlyInELT)))
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
	printCauses(w, res)
	printRowDiffs(w, res)
	if res.Report != nil {
		fmt.Fprintf(w, "\nreport: %s\n        %s\n", res.Report.HTML, res.Report.Markdown)
	}
}

// rowDiffOptions checks the row diff flags and fills o; they need --row-diff.
func rowDiffOptions(cmd *cobra.Command, rowDiff bool, o *workflows.RowDiffOptions, numericScale int, tolerances []string) error {
	if !rowDiff {
		for _, n := range []string{"max-rows", "max-seconds", "sample", "tolerance", "numeric-scale", "timestamps-utc", "trim", "case-insensitive", "null-equals-empty"} {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s needs --row-diff", n)
			}
		}
		return nil
	}
	if o.MaxRowsFetched < 0 || o.MaxSeconds < 0 {
		return fmt.Errorf("--max-rows and --max-seconds must be >= 0")
	}
	if cmd.Flags().Changed("numeric-scale") {
		if numericScale < 0 || numericScale > 37 {
			return fmt.Errorf("--numeric-scale %d: must be 0..37", numericScale)
		}
		o.NumericScale = &numericScale
	}
	for _, t := range tolerances {
		col, v, ok := strings.Cut(t, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || col == "" || err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("--tolerance %q: want COLUMN=VALUE with a number >= 0", t)
		}
		if o.NumericTolerance == nil {
			o.NumericTolerance = map[string]float64{}
		}
		o.NumericTolerance[col] = f
	}
	return nil
}

// printRowDiffs prints each pair's row diff counts and up to 5 differing keys.
func printRowDiffs(w io.Writer, res *workflows.ReconcileResult) {
	var found bool
	for _, p := range res.Pairs {
		found = found || p.RowDiff != nil
	}
	if !found {
		return
	}
	fmt.Fprintf(w, "\nrow diff (%d row(s) differing beyond tolerance):\n", res.RowDifferences)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tMISSING IN LEGACY\tMISSING IN ELT\tMISMATCHED\tWITHIN TOLERANCE\tNORMALISATION-ONLY\tROWS FETCHED\tNOTE")
	for _, p := range res.Pairs {
		d := p.RowDiff
		if d == nil {
			continue
		}
		note := ""
		if d.Bounded {
			note = fmt.Sprintf("stopped early (%s): lower bounds, %d rows unexamined", d.BoundReason, d.UnexaminedRows)
		}
		norm := strconv.FormatInt(d.NormalisationOnly, 10)
		if d.NormalisationOnlyBounded {
			norm = ">= " + norm
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", p.Output, d.MissingInLegacy, d.MissingInELT, d.Mismatched, d.WithinTolerance, norm, d.RowsFetched, note)
	}
	tw.Flush()
	for _, p := range res.Pairs {
		if p.RowDiff == nil || len(p.RowDiff.Sample) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: sample, stratified across causes and segments\n", p.Output)
		for i, k := range p.RowDiff.Sample {
			if i == 5 {
				more := max(len(p.RowDiff.Sample), p.RowDiff.SampleStored) - 5
				fmt.Fprintf(w, "  ... %d more in the report and in etl2elt.row_diffs (run_id '%s')\n", more, p.RunID)
				break
			}
			names := make([]string, 0, len(k.Key))
			for n := range k.Key {
				names = append(names, n)
			}
			sort.Strings(names)
			parts := make([]string, len(names))
			for j, n := range names {
				parts[j] = n + "=" + k.Key[n]
			}
			line := fmt.Sprintf("  %s  %s", strings.Join(parts, " "), k.Kind)
			if k.Segment != "" {
				line += "  [" + k.Segment + "]"
			}
			for _, c := range k.Columns {
				if !c.WithinTolerance || k.Kind == reconcile.KindWithinTolerance {
					line += fmt.Sprintf("  %s: %s -> %s", c.Column, quoteEmpty(c.Legacy, c.LegacyNull), quoteEmpty(c.ELT, c.ELTNull))
				}
			}
			fmt.Fprintln(w, line)
		}
	}
}

// quoteEmpty shows an empty text value as two single quotes (a NULL reads <null>).
func quoteEmpty(v string, null bool) string {
	if v == "" && !null {
		return "''"
	}
	return v
}

// printCauses prints each pair's differences by cause with its worst example (from
// what the workflow carries: the counts are of every check; the report has more
// examples).
func printCauses(w io.Writer, res *workflows.ReconcileResult) {
	for _, p := range res.Pairs {
		causes := report.Causes(activities.ReportPair(p, "", "", p.Checks))
		if len(causes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: differences by cause\n", p.Output)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CAUSE\tCOUNT\tFAILS\tWORST EXAMPLE")
		for _, c := range causes {
			fails, example := "no", ""
			if c.Fails {
				fails = "yes"
			}
			if len(c.Examples) > 0 {
				example = reconcile.CutText(c.Examples[0], 120)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Title, c.Count(), fails, example)
		}
		tw.Flush()
	}
}

// saveObjects downloads objects (s3:// URIs) into dir under their base names.
func saveObjects(ctx context.Context, pathStyle bool, dir string, uris ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: pathStyle})
	if err != nil {
		return err
	}
	for _, uri := range uris {
		if uri == "" {
			continue
		}
		bucket, key, err := objectstore.ParseURI(uri)
		if err != nil {
			return err
		}
		b, err := store.ReadAll(ctx, bucket, key)
		if err != nil {
			return fmt.Errorf("fetch %s: %w", uri, err)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(key)), b, 0o644); err != nil {
			return fmt.Errorf("save %s: %w", uri, err)
		}
	}
	return nil
}
