package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/warehouse"
)

func newInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create or upgrade the control schema and the landing bucket",
		Long: `init applies the control schema's pending migrations on the control connection
(ETL2ELT_CONTROL_CONNECTION, default warehouse) and creates the bucket named by
ETL2ELT_S3_BUCKET if it is missing. It is idempotent; the worker does the same at start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := config.FromEnv()
			if err != nil {
				return err
			}
			conns := warehouse.NewConnections(cfg.ConnDSN)
			defer conns.Close()
			pool, err := conns.Get(ctx, cfg.ControlConnection)
			if err != nil {
				return err
			}
			applied, err := warehouse.Migrate(ctx, pool)
			if err != nil {
				return err
			}
			v, err := warehouse.SchemaVersion(ctx, pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "control schema %s on connection %q: version %d (applied now: %v)\n",
				warehouse.ControlSchema, cfg.ControlConnection, v, applied)
			if cfg.ReportBucket != "" {
				store, err := objectstore.New(ctx, objectstore.Options{PathStyle: cfg.S3PathStyle})
				if err != nil {
					return err
				}
				if err := store.EnsureBucket(ctx, cfg.ReportBucket); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bucket %s is ready\n", cfg.ReportBucket)
			}
			return nil
		},
	}
}
