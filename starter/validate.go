package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"etl2elt/internal/plan"
)

func newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAN.yaml...",
		Short: "Validate plans offline; every problem is reported with file, line and field",
		Long: `validate parses each plan, checks it (required fields, safe SQL identifiers, unique
names, references between sources, models and domains, dependency cycles) and reads
its model SQL files. It needs no service. Settings that are validated but not acted on
yet are printed as warnings (they do not make a plan invalid). Exit code 0 when every
plan is valid, 1 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			invalid := 0
			for _, arg := range args {
				dir, file := filepath.Split(arg)
				if dir == "" {
					dir = "."
				}
				snap, err := plan.Load(cmd.Context(), plan.FileReader{Dir: dir}, file)
				if err != nil {
					invalid++
					var ve *plan.ValidationError
					if errors.As(err, &ve) {
						ve.File = arg
						fmt.Fprintln(cmd.ErrOrStderr(), ve.Error())
						continue
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", arg, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (plan %s, %d sources, %d models, %d domains, hash %s)\n",
					arg, snap.Plan.Name, len(snap.Plan.Sources), len(snap.Plan.Models), len(snap.Plan.Domains), snap.Hash[:12])
				for _, w := range plan.NotActedOn(snap.Plan) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", arg, w)
				}
			}
			if invalid > 0 {
				return fmt.Errorf("%d of %d plans invalid", invalid, len(args))
			}
			return nil
		},
	}
}
