package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/workflows"
)

func execute(args ...string) (string, string, error) {
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestValidateCommand(t *testing.T) {
	out, warnings, err := execute("validate", "../examples/demo/plan.yaml")
	require.NoError(t, err)
	require.Contains(t, out, "../examples/demo/plan.yaml: valid (plan acme, 1 sources, 3 models, 1 domains, hash ")
	require.Empty(t, warnings, "the demo plan has no setting that is not acted on")
	noBudget := filepath.Join(t.TempDir(), "nobudget.yaml")
	require.NoError(t, os.CopyFS(filepath.Dir(noBudget), os.DirFS("../examples/demo")))
	demo, err := os.ReadFile("../examples/demo/plan.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(noBudget, []byte(strings.Replace(string(demo), "      parallel_run: 400\n      reconciliation: 100\n", "", 1)), 0o600))
	_, warnings, err = execute("validate", noBudget)
	require.NoError(t, err)
	require.Contains(t, warnings, "$.domains[0].switching_criteria.require_within_budget: the domain has no parallel_run or reconciliation budget, so this criterion cannot be met", "settings not acted on are named")

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("version: 2\nname: Bad Name\n"), 0o600))
	_, errOut, err := execute("validate", "../examples/demo/plan.yaml", bad)
	require.EqualError(t, err, "1 of 2 plans invalid")
	require.Contains(t, errOut, bad+":1:10: $.version: must be 1, got 2")
	require.Contains(t, errOut, bad+`:2:7: $.name: "Bad Name" is not a safe SQL identifier`)
}

func TestUsageErrors(t *testing.T) {
	_, _, err := execute("run", "--plan", "p.yaml", "--domain", "finance", "--from", "2026-02-01", "--to", "2026-01-01")
	var ue *usageError
	require.True(t, errors.As(err, &ue), "got %v", err)
	require.ErrorContains(t, err, "window [2026-02-01, 2026-01-01) is empty")

	_, _, err = execute("run", "--plan", "p.yaml")
	require.ErrorContains(t, err, `required flag(s) "domain", "from", "to" not set`)
	require.True(t, isUsage(err))

	_, _, err = execute("validate")
	require.ErrorContains(t, err, "requires at least 1 arg")
	require.True(t, isUsage(err))

	_, _, err = execute("frobnicate")
	require.True(t, isUsage(err))
	require.False(t, isUsage(errors.New("connect to Temporal at x: refused")))
}

func TestPipelineRunWorkflowID(t *testing.T) {
	require.Equal(t, "pipeline/finance/2026-01-01..2026-01-08", PipelineRunWorkflowID("finance", "2026-01-01", "2026-01-08"))
}

func TestImpactCommand(t *testing.T) {
	out, _, err := execute("impact", "--plan", "../examples/demo/plan.yaml", "stg_orders")
	require.NoError(t, err)
	require.Contains(t, out, "impact of a change to model stg_orders")
	require.Contains(t, out, "marts.fct_daily_revenue, marts.fct_orders, reporting.daily_revenue")
	require.Contains(t, out, "board_pack (looker, owner cfo-office), revenue_daily (metabase, owner lee)")
	require.Contains(t, out, "  lee: owner of metric order_count; owner of dashboard revenue_daily; approver of domain finance")

	_, _, err = execute("impact", "--plan", "../examples/demo/plan.yaml", "nope")
	require.EqualError(t, err, `plan acme has no metric, source, model or relation called "nope"`)
}

func TestPrintChecks(t *testing.T) {
	held := false
	var b strings.Builder
	printChecks(&b, &workflows.CheckResult{Plan: "acme", Domain: "finance", Window: "[2026-01-01, 2026-01-08)", Status: "fail",
		RunChecksResult: activities.RunChecksResult{RunID: "r1/checks", Counts: map[string]int{"pass": 5, "fail": 1}, Failures: 1, FreshnessHeld: &held,
			NotPassing: []activities.CheckBrief{{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: "fail", Detail: "3 keys appear more than once",
				Examples: []string{"order_id=1 ×2"}}}}})
	out := b.String()
	require.Contains(t, out, "quality checks · plan acme · domain finance · window [2026-01-01, 2026-01-08): FAIL (5 pass, 0 warn, 1 fail, 0 error; freshness held: false)")
	require.Contains(t, out, "FAIL    orders_key_unique  unique  raw.orders  3 keys appear more than once")
	require.Contains(t, out, "e.g. order_id=1 ×2")
	require.Contains(t, out, "WHERE run_id = 'r1/checks'")
}

func TestPrintChildBackfillShowsWhatWaits(t *testing.T) {
	var b strings.Builder
	printChildBackfill(&b, "migration/acme/finance/backfill/fct_orders", workflows.BackfillStatus{Target: "fct_orders", Range: "[2025-01-01, 2026-01-01)",
		Phase: "waiting-for-operator", PercentDone: 50, Counters: workflows.BackfillCounters{Total: 365, Settled: 182}, NeedsAction: "stuck-chunk",
		Waiting: []workflows.WaitingChunk{{ID: "fct_orders@2025-03-01..2025-03-02", Error: "column x does not exist"}}})
	out := b.String()
	require.Contains(t, out, "fct_orders [2025-01-01, 2026-01-01) · waiting-for-operator · 50% (182 of 365 chunks settled")
	require.Contains(t, out, "1 chunk(s) WAIT FOR A PERSON (needs action: stuck-chunk)")
	require.Contains(t, out, "fct_orders@2025-03-01..2025-03-02: column x does not exist")
	require.Contains(t, out, "starter backfill retry|skip migration/acme/finance/backfill/fct_orders CHUNK_ID --by NAME")
}

func TestBackfillRefusesAnUnknownReprocessMode(t *testing.T) {
	_, _, err := execute("backfill", "--plan", "demo/plan.yaml", "--target", "fct_orders", "--from", "2026-01-01", "--to", "2026-01-08", "--reprocess", "chnaged")
	require.ErrorContains(t, err, `--reprocess "chnaged": want missing, failed, all or changed`)
	require.True(t, isUsage(err), "refused before any workflow starts")
}
