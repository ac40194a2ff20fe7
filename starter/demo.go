package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/demo"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func newDemoCommand() *cobra.Command {
	demoCmd := &cobra.Command{
		Use:   "demo",
		Short: "Demo helpers (seed the demo data); not for production use",
	}
	var from, to, prefix, bucket string
	var perDay, lateDuplicates int
	seed := &cobra.Command{
		Use:   "seed",
		Short: "Land a week of demo orders in S3 and write the legacy ETL's output to the legacy DB",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := window.ParseDates(from, to)
			if err != nil {
				return &usageError{err}
			}
			ctx := cmd.Context()
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			if bucket == "" {
				bucket = cfg.ReportBucket
			}
			if bucket == "" {
				return &usageError{fmt.Errorf("no bucket: pass --bucket or set ETL2ELT_S3_BUCKET")}
			}
			store, err := objectstore.New(ctx, objectstore.Options{PathStyle: cfg.S3PathStyle})
			if err != nil {
				return err
			}
			if err := store.EnsureBucket(ctx, bucket); err != nil {
				return err
			}
			conns := warehouse.NewConnections(cfg.ConnDSN)
			defer conns.Close()
			legacy, err := conns.Get(ctx, "legacy")
			if err != nil {
				return err
			}
			sum, err := demo.Seed(ctx, store, legacy, demo.Options{Bucket: bucket, Prefix: prefix, Window: w, OrdersPerDay: perDay, Seed: 42, LateDuplicates: lateDuplicates})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "seeded %d orders (%d malformed rows to be quarantined) in %d objects:\n", sum.Orders, sum.BadRows, len(sum.Objects))
			for _, o := range sum.Objects {
				fmt.Fprintf(out, "  %s\n", o)
			}
			fmt.Fprintf(out, "legacy.daily_revenue: %d rows, revenue %d.%02d\n", sum.LegacyRows, sum.RevenueCent/100, sum.RevenueCent%100)
			if sum.Redelivered != "" {
				fmt.Fprintf(out, "planted defect: %d orders of %s delivered again a day late in %s (duplicate keys, out of order): the quality checks must name it\n",
					lateDuplicates, w.From.Format(time.DateOnly), sum.Redelivered)
			}
			return nil
		},
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	seed.Flags().StringVar(&from, "from", today.AddDate(0, 0, -7).Format(time.DateOnly), "first day (YYYY-MM-DD; default: a week ago)")
	seed.Flags().StringVar(&to, "to", today.Format(time.DateOnly), "end day, exclusive (YYYY-MM-DD; default: today)")
	seed.Flags().StringVar(&prefix, "prefix", "landing/", "landing prefix (the plan's landing.prefix)")
	seed.Flags().StringVar(&bucket, "bucket", "", "bucket (default ETL2ELT_S3_BUCKET)")
	seed.Flags().IntVar(&perDay, "orders-per-day", 200, "orders per day")
	seed.Flags().IntVar(&lateDuplicates, "late-duplicates", 0, "re-deliver this many orders of the first day a day late (a defect for the quality checks)")
	link := &cobra.Command{
		Use:   "link-legacy",
		Short: "Make the legacy output readable from the warehouse (postgres_fdw foreign table legacy_link.daily_revenue)",
		Long: `link-legacy does locally what a platform team does in production (a Redshift federated
query or external schema): it creates a postgres_fdw server for the legacy database and
the foreign table legacy_link.daily_revenue in the warehouse, which the demo plan's
consumption view points at until the cutover. Idempotent. Needs a role allowed to create
the postgres_fdw extension (the local superuser).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			legacyDSN, err := cfg.ConnDSN("legacy")
			if err != nil {
				return err
			}
			conns := warehouse.NewConnections(cfg.ConnDSN)
			defer conns.Close()
			wh, err := conns.Get(cmd.Context(), "warehouse")
			if err != nil {
				return err
			}
			if err := demo.LinkLegacy(cmd.Context(), wh, legacyDSN); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "the warehouse reads legacy.daily_revenue as %s.daily_revenue\n", demo.LinkSchema)
			return nil
		},
	}
	demoCmd.AddCommand(seed, link)
	return demoCmd
}
