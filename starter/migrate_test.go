package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/internal/criteria"
	"etl2elt/workflows"
)

func TestMigrationIDs(t *testing.T) {
	require.Equal(t, "migration/acme/finance", workflows.MigrationWorkflowID("acme", "finance"))
	for _, arg := range []string{"acme/finance", "migration/acme/finance"} {
		require.Equal(t, "migration/acme/finance", migrationID(arg))
	}
}

func TestMigrationUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--plan", "p.yaml", "--domain", "finance", "--cadence", "soon"}, `--cadence "soon": want a duration`},
		{[]string{"migrate", "--plan", "p.yaml"}, `required flag(s) "domain" not set`},
		{[]string{"migration", "rollback", "acme/finance", "--by", "dana"}, "rollback needs --by and --reason: both are recorded"},
		{[]string{"migration", "abort", "acme/finance", "--reason", "x"}, "abort needs --by and --reason"},
		{[]string{"migration", "approve", "acme/finance"}, `required flag(s) "approver" not set`},
	}
	for _, tt := range tests {
		_, _, err := execute(tt.args...)
		require.ErrorContains(t, err, tt.want, tt.args)
		require.True(t, isUsage(err), tt.args)
	}
}

func TestPrintMigrationStatus(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := workflows.MigrationStatus{
		Plan: "acme", Domain: "finance", Phase: workflows.PhaseAwaitingApproval, Cycles: 3, CyclesSinceStart: 3, Cadence: "1h",
		Criteria:  criteria.Result{Met: true, Criteria: []criteria.Criterion{{Name: "cycles", Value: "3", Threshold: "≥ 2", Pass: true}}},
		Approvers: []string{"dana", "lee"}, RequiredApprovals: 2,
		Approvals: []workflows.Approval{{Approver: "dana", Override: "quarter close", At: at}},
		Views:     map[string]string{"reporting.daily_revenue": "legacy_link.daily_revenue"},
		History:   []workflows.CycleRecord{{N: 3, Phase: workflows.PhaseParallelRun, StartedAt: at, Status: "pass", Report: &activities.ReportLocation{HTML: "s3://b/r.html"}}},
	}
	var b bytes.Buffer
	printMigrationStatus(&b, st)
	out := b.String()
	for _, want := range []string{
		"domain finance · plan acme · phase awaiting-approval",
		"cycles     3      ≥ 2        pass",
		"approvals 1 of 2 (approvers: dana, lee)",
		"dana at 2026-01-02T03:04:05Z OVERRIDE: quarter close",
		"reporting.daily_revenue → legacy_link.daily_revenue",
		"s3://b/r.html",
	} {
		require.Contains(t, out, want)
	}
}

func TestRaiseBudgetAmountIsChecked(t *testing.T) {
	for _, amount := range []string{"abc", "NaN", "Inf", "-5", "0", "1e400", ""} {
		_, _, err := execute("migration", "raise-budget", "acme/finance", "--by", "dana", "--budget", "parallel_run", "--amount", amount, "--reason", "two more weeks agreed")
		var usage *usageError
		require.ErrorAs(t, err, &usage, amount)
		require.ErrorContains(t, err, "want a positive number", amount)
	}
}
