package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
)

// landParallel is how many parts of a file are sent at once (each one in memory).
const landParallel = 2

// newLandCommand uploads local files to a source's landing prefix for a day.
func newLandCommand() *cobra.Command {
	var planRef, source, date string
	var dryRun bool
	partSize := byteSize{n: objectstore.DefaultPartSize, min: objectstore.MinPartSize, max: objectstore.MaxPartSize}
	cmd := &cobra.Command{
		Use:   "land --plan PLAN --source SOURCE --date YYYY-MM-DD FILE...",
		Short: "Upload local files to a source's landing prefix for a day (then run the pipeline to land them)",
		Long: `land puts each FILE under the day's prefix of the source, as the plan lays it out
(landing.prefix + the source's layout with {date}), keeping the file's name: the next
pipeline run over that day lands it. A file whose extension does not suit the source's
format is refused (a .gz is a gzip of it). An object already there with the same key is
replaced (the run lands the new version: a new ETag). --dry-run prints the keys only.

A file larger than 64 MiB is sent as a multipart upload, in 64 MiB parts read one at a
time, two in flight; on a failure or Ctrl-C the upload is aborted, so no parts stay
behind. A file that changes while it is sent is refused. On a terminal, stderr shows
each file's progress; every file landed is one line on stdout (key, size, ETag, time).`,
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
				if st.Size() == 0 {
					return &usageError{fmt.Errorf("%s is empty: its load would fail (an object needs at least a header or a row)", f)}
				}
				if !st.Mode().IsRegular() {
					return &usageError{fmt.Errorf("%s is not a regular file: give files", f)}
				}
				name := filepath.Base(f)
				if err := suitsFormat(name, src.Format); err != nil {
					return &usageError{fmt.Errorf("%s: %w", f, err)}
				}
				for _, u := range ups {
					if u.key == prefix+name {
						return &usageError{fmt.Errorf("%s and %s would both land as %s: give files with different names", u.path, f, u.key)}
					}
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
			// Ctrl-C (or SIGTERM) cancels the upload, which aborts a multipart upload; a
			// second Ctrl-C ends the process at once.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			context.AfterFunc(ctx, stop)
			store, err := objectstore.New(ctx, objectstore.Options{PathStyle: cfg.S3PathStyle})
			if err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			tty := isTerminal(errOut)
			for _, u := range ups {
				opts := objectstore.UploadOptions{PartSize: partSize.n, Parallel: landParallel}
				var bar *landProgress
				if tty {
					if st, err := os.Stat(u.path); err == nil {
						bar = newLandProgress(errOut, filepath.Base(u.path), st.Size())
						opts.Progress = bar.update
					}
				}
				began := time.Now()
				up, err := store.UploadFile(ctx, p.Landing.Bucket, u.key, u.path, opts)
				if bar != nil {
					bar.clear()
				}
				if err != nil {
					err = fmt.Errorf("%s: %w", u.path, err)
					if ctx.Err() != nil {
						return &exitError{code: 130, err: err}
					}
					return err
				}
				fmt.Fprintln(out, landedLine(u.path, objectstore.URI(p.Landing.Bucket, u.key), up, time.Since(began)))
			}
			domain := "DOMAIN"
			for _, d := range p.Domains {
				if slices.Contains(d.Sources, source) {
					domain = d.Name
					break
				}
			}
			fmt.Fprintf(out, "landed in S3; the next pipeline run over %s lands them: starter run --plan %s --domain %s --from %s --to %s\n",
				date, planRef, domain, date, day.AddDate(0, 0, 1).Format(time.DateOnly))
			return nil
		},
	}
	cmd.Flags().StringVar(&planRef, "plan", "", "plan file, or a plan reference under ETL2ELT_PLAN_DIR")
	cmd.Flags().StringVar(&source, "source", "", "source name")
	cmd.Flags().StringVar(&date, "date", "", "the day the files belong to (YYYY-MM-DD)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print where each file would go")
	cmd.Flags().Var(&partSize, "part-size", "files larger are uploaded in parts of this size (5MiB to 5GiB)")
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
