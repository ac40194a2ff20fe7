package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"etl2elt/internal/backfill"
	"etl2elt/internal/window"
)

func newResetWatermarkCommand() *cobra.Command {
	var target, to, by, reason string
	cmd := &cobra.Command{
		Use:   "reset-watermark --target TARGET --to YYYY-MM-DD --by NAME --reason TEXT",
		Short: "Move a backfill target's watermark (backwards too); recorded as a decision",
		Long: `reset-watermark is the one way a backfill watermark moves back: for example after a
source correction that invalidates loaded history. TARGET is a model name or raw.<source>.
It writes to the control schema on the control connection and records who and why in
etl2elt.decisions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at, err := time.Parse(window.DateLayout, to)
			if err != nil {
				return &usageError{fmt.Errorf("--to %q is not a date (YYYY-MM-DD)", to)}
			}
			if strings.TrimSpace(by) == "" || strings.TrimSpace(reason) == "" {
				return &usageError{errors.New("a watermark reset needs --by and --reason")}
			}
			pool, closeConns, err := controlPool(cmd)
			if err != nil {
				return err
			}
			defer closeConns()
			if err := backfill.ResetWatermark(cmd.Context(), pool, target, at, by, reason, "starter"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "watermark of %s reset to %s by %s (recorded in etl2elt.decisions)\n", target, to, by)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "model name or raw.<source>")
	cmd.Flags().StringVar(&to, "to", "", "new watermark (YYYY-MM-DD)")
	cmd.Flags().StringVar(&by, "by", "", "who decides")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	for _, n := range []string{"target", "to", "by", "reason"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}
