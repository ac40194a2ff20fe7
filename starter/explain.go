package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
)

// explainRequest is what `starter explain` records.
type explainRequest struct {
	Domain, Output, Segment, By, Reason string
	// Cycle is the migration cycle the explanation was given for (0: not said).
	Cycle int
}

func newExplainCommand() *cobra.Command {
	var planPath string
	var req explainRequest
	cmd := &cobra.Command{
		Use:   "explain --plan PLAN.yaml --domain DOMAIN --output OUTPUT --segment KEY --by ID --reason TEXT [--cycle N]",
		Short: "Record why a segment breaches (the executive report then shows it explained, not open)",
		Long: `explain records in the decision log (etl2elt.decisions, kind explain) why a segment
of an output differs between legacy and ELT, as a person of the plan states it. The
executive report's worst segments show a breaching segment with an explanation as
"explained by <person>: <reason>" instead of "open"; the latest explanation of a
segment wins. --segment is the segment key exactly as the report prints it
(region=emea, day=2026-01-02|region=amer). It needs no Temporal: the row is written
on the control connection (ETL2ELT_CONTROL_CONNECTION, default warehouse), as
starter report reads it. docs/REPORTS.md describes the convention.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := readPlanArg(cmd, planPath)
			if err != nil {
				return err
			}
			if err := validateExplain(snap.Plan, req); err != nil {
				return &usageError{err}
			}
			pool, closeConns, err := controlPool(cmd)
			if err != nil {
				return err
			}
			defer closeConns()
			id, note, err := recordExplanation(cmd.Context(), pool, snap.Plan.Name, req)
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					return fmt.Errorf("%w (is the control schema there? run `starter init`)", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "recorded explanation #%d by %s of segment %s of output %s (domain %s of plan %s): the executive report shows it explained when it breaches\n",
				id, req.By, req.Segment, req.Output, req.Domain, snap.Plan.Name)
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", note)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&planPath, "plan", "", "plan file (or a plan reference under ETL2ELT_PLAN_DIR)")
	cmd.Flags().StringVar(&req.Domain, "domain", "", "the domain of the output")
	cmd.Flags().StringVar(&req.Output, "output", "", "the output pair (outputs[].name) whose segment breaches")
	cmd.Flags().StringVar(&req.Segment, "segment", "", "the segment key exactly as the report prints it, e.g. region=emea")
	cmd.Flags().StringVar(&req.By, "by", "", "who explains it (a person id of the plan)")
	cmd.Flags().StringVar(&req.Reason, "reason", "", fmt.Sprintf("why the segment differs (at least %d characters, recorded)", opinput.MinReason))
	cmd.Flags().IntVar(&req.Cycle, "cycle", 0, "the migration cycle it was seen in (optional, recorded in the evidence)")
	for _, f := range []string{"plan", "domain", "output", "segment", "by", "reason"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// validateExplain refuses an explanation the report could not attach or that names
// no one of the plan: every problem in one line, each naming its flag.
func validateExplain(p *plan.Plan, req explainRequest) error {
	var errs []error
	d, ok := p.Domain(req.Domain)
	if !ok {
		var names []string
		for _, d := range p.Domains {
			names = append(names, d.Name)
		}
		errs = append(errs, fmt.Errorf("--domain %q: plan %s has no such domain (domains: %s)", opinput.Excerpt(req.Domain, 40), p.Name, strings.Join(names, ", ")))
	} else {
		var out *plan.OutputPair
		var names []string
		for i, o := range d.Outputs {
			names = append(names, o.Name)
			if o.Name == req.Output {
				out = &d.Outputs[i]
			}
		}
		switch {
		case out == nil:
			errs = append(errs, fmt.Errorf("--output %q: domain %s has no such output (outputs: %s)", opinput.Excerpt(req.Output, 40), d.Name, strings.Join(names, ", ")))
		default:
			if err := segmentKey(*out, req.Segment); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, personOf(p, req.By))
	if err := opinput.Text("--reason", req.Reason, opinput.MinReason); err != nil {
		errs = append(errs, err)
	}
	if req.Cycle < 0 {
		errs = append(errs, fmt.Errorf("--cycle %d: want a cycle number (1 or more), or no --cycle", req.Cycle))
	}
	return opinput.Join(errs...)
}

// segmentKey checks that key has the shape of the output's segment keys as the
// reconciliation writes them: <segment>=<value> per segment column of the output, in
// order, joined by | (values are not checked: they are the data's).
func segmentKey(o plan.OutputPair, key string) error {
	if err := opinput.Text("--segment", key, 1); err != nil {
		return err
	}
	if key != strings.TrimSpace(key) {
		return fmt.Errorf("--segment %q has leading or trailing spaces: give the key exactly as the report prints it", opinput.Excerpt(key, 60))
	}
	if len(o.Segments) == 0 {
		return fmt.Errorf("--segment: output %s is reconciled without segments (it has no segments in the plan): there is no segment to explain", o.Name)
	}
	shape := make([]string, len(o.Segments))
	for i, s := range o.Segments {
		shape[i] = s + "=<value>"
	}
	rest := key
	for i, s := range o.Segments {
		prefix := s + "="
		if i > 0 {
			prefix = "|" + prefix
		}
		at := strings.Index(rest, prefix)
		if at < 0 || (i == 0 && at != 0) {
			return fmt.Errorf("--segment %q: want the key as the report prints it, %s (the segments of output %s)", opinput.Excerpt(key, 60), strings.Join(shape, "|"), o.Name)
		}
		rest = rest[at+len(prefix):]
	}
	return nil
}

// recordExplanation writes the decision; note says when no reconciliation of the
// output has compared the segment (a key that does not match is recorded but never
// shown as explained).
func recordExplanation(ctx context.Context, pool *pgxpool.Pool, planName string, req explainRequest) (id int64, note string, err error) {
	evidence := map[string]any{"output": req.Output, "segment": req.Segment}
	if req.Cycle > 0 {
		evidence["cycle"] = req.Cycle
	}
	err = pool.QueryRow(ctx, `
INSERT INTO etl2elt.decisions (kind, domain, target, subject, decided_by, reason, evidence)
VALUES ('explain', $1, $2, $3, $4, $5, $6) RETURNING id`,
		req.Domain, req.Output, req.Segment, req.By, strings.TrimSpace(req.Reason), evidence).Scan(&id)
	if err != nil {
		return 0, "", fmt.Errorf("record the explanation: %w", err)
	}
	var seen bool
	err = pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM etl2elt.reconcile_runs r JOIN etl2elt.reconcile_results x USING (run_id)
  WHERE r.plan_name = $1 AND r.domain = $2 AND r.output = $3 AND x.segment = $4)`, planName, req.Domain, req.Output, req.Segment).Scan(&seen)
	switch {
	case err != nil:
		note = fmt.Sprintf("recorded, but the segment could not be looked up in the reconciliations: %v", err)
	case !seen:
		note = fmt.Sprintf("no reconciliation of output %s has compared segment %q yet: check the key against the report", req.Output, req.Segment)
	}
	return id, note, nil
}
