package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
)

// newLandCommand uploads local files to a source's landing prefix for a day.
func newLandCommand() *cobra.Command {
	var planRef, source, date string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "land --plan PLAN --source SOURCE --date YYYY-MM-DD FILE...",
		Short: "Upload local files to a source's landing prefix for a day (then run the pipeline to land them)",
		Long: `land puts each FILE under the day's prefix of the source, as the plan lays it out
(landing.prefix + the source's layout with {date}), keeping the file's name: the next
pipeline run over that day lands it. A file whose extension does not suit the source's
format is refused (a .gz is a gzip of it). An object already there with the same key is
replaced (the run lands the new version: a new ETag). --dry-run prints the keys only.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			snap, err := readPlanArg(cmd, planRef)
			if err != nil {
				return err
			}
			p := snap.Plan
			src, ok := p.Source(source)
			if !ok {
				return &usageError{fmt.Errorf("--source %q: plan %s has no such source", source, p.Name)}
			}
			day, err := time.Parse(time.DateOnly, date)
			if err != nil {
				return &usageError{fmt.Errorf("--date %q: want a day as YYYY-MM-DD", date)}
			}
			prefix := ingest.DayPrefix(p.Landing.Prefix, src, day)
			type upload struct{ path, key string }
			var ups []upload
			for _, f := range files {
				st, err := os.Stat(f)
				if err != nil {
					return &usageError{fmt.Errorf("%s: %w", f, err)}
				}
				if st.IsDir() {
					return &usageError{fmt.Errorf("%s is a directory: give files", f)}
				}
				name := filepath.Base(f)
				if err := suitsFormat(name, src.Format); err != nil {
					return &usageError{fmt.Errorf("%s: %w", f, err)}
				}
				ups = append(ups, upload{f, prefix + name})
			}
			out := cmd.OutOrStdout()
			if dryRun {
				for _, u := range ups {
					fmt.Fprintf(out, "%s → %s\n", u.path, objectstore.URI(p.Landing.Bucket, u.key))
				}
				return nil
			}
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			store, err := objectstore.New(cmd.Context(), objectstore.Options{PathStyle: cfg.S3PathStyle})
			if err != nil {
				return err
			}
			for _, u := range ups {
				f, err := os.Open(u.path)
				if err != nil {
					return err
				}
				st, _ := f.Stat()
				err = store.PutFile(cmd.Context(), p.Landing.Bucket, u.key, f, "")
				f.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s → %s (%d bytes)\n", u.path, objectstore.URI(p.Landing.Bucket, u.key), st.Size())
			}
			fmt.Fprintf(out, "landed in S3; the next pipeline run over %s lands them: starter run --plan %s --domain ... --from %s --to %s\n",
				date, planRef, date, day.AddDate(0, 0, 1).Format(time.DateOnly))
			return nil
		},
	}
	cmd.Flags().StringVar(&planRef, "plan", "", "plan file, or a plan reference under ETL2ELT_PLAN_DIR")
	cmd.Flags().StringVar(&source, "source", "", "source name")
	cmd.Flags().StringVar(&date, "date", "", "the day the files belong to (YYYY-MM-DD)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print where each file would go")
	for _, f := range []string{"plan", "source", "date"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// suitsFormat refuses a file name whose extension does not match the source's format.
func suitsFormat(name, format string) error {
	base := strings.TrimSuffix(strings.ToLower(name), ".gz")
	want := map[string][]string{"csv": {".csv"}, "jsonl": {".jsonl", ".json", ".ndjson"}, "parquet": {".parquet"}}[format]
	for _, ext := range want {
		if strings.HasSuffix(base, ext) {
			if format == "parquet" && strings.HasSuffix(strings.ToLower(name), ".gz") {
				return fmt.Errorf("a Parquet file is compressed inside: do not gzip it")
			}
			return nil
		}
	}
	return fmt.Errorf("the source's format is %s: want a file ending in %s (optionally .gz)", format, strings.Join(want, ", "))
}
