package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"etl2elt/internal/config"
	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
)

// readPlanArg loads a plan given as a file path, or as a reference under the plan
// directory (ETL2ELT_PLAN_DIR) as the workflow commands take it.
func readPlanArg(cmd *cobra.Command, ref string) (*plan.Snapshot, error) {
	path := ref
	if _, err := os.Stat(path); err != nil {
		if pd := os.Getenv("ETL2ELT_PLAN_DIR"); pd != "" {
			if _, err := os.Stat(filepath.Join(pd, ref)); err == nil {
				path = filepath.Join(pd, ref)
			}
		}
	}
	dir, file := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return plan.Load(cmd.Context(), plan.FileReader{Dir: dir}, file)
}

// personOf refuses a --by that is not a person id of the plan.
func personOf(p *plan.Plan, by string) error {
	var ids []string
	for _, person := range p.People {
		ids = append(ids, person.ID)
	}
	switch {
	case strings.TrimSpace(by) == "":
		return fmt.Errorf("--by is required: who explains it (a person of plan %s: %s)", p.Name, strings.Join(ids, ", "))
	case len(ids) == 0:
		return fmt.Errorf("--by %q: plan %s names no people; add them to the plan's people to let them explain", opinput.Excerpt(by, 40), p.Name)
	case !slices.Contains(ids, by):
		return fmt.Errorf("--by %q is not a person of plan %s (people: %s)", opinput.Excerpt(by, 40), p.Name, strings.Join(ids, ", "))
	}
	return nil
}

// controlPool opens the control schema's connection (ETL2ELT_CONTROL_CONNECTION,
// default warehouse) for commands that read or write it without Temporal; the func
// closes it.
func controlPool(cmd *cobra.Command) (*pgxpool.Pool, func(), error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, nil, err
	}
	conns := warehouse.NewConnections(cfg.ConnDSN)
	pool, err := conns.Get(cmd.Context(), cfg.ControlConnection)
	if err != nil {
		conns.Close()
		return nil, nil, err
	}
	return pool, conns.Close, nil
}
