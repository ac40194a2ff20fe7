package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/activities"
	"etl2elt/internal/reconcile"
	"etl2elt/workflows"
)

func TestReconcileRowDiffFlags(t *testing.T) {
	_, _, err := execute("reconcile", "--plan", "p", "--domain", "d", "--from", "2026-01-01", "--to", "2026-01-02", "--max-rows", "10")
	require.True(t, isUsage(err), "got %v", err)
	require.ErrorContains(t, err, "--max-rows needs --row-diff")

	_, _, err = execute("reconcile", "--plan", "p", "--domain", "d", "--from", "2026-01-01", "--to", "2026-01-02", "--row-diff", "--tolerance", "amount")
	require.True(t, isUsage(err), "got %v", err)
	require.ErrorContains(t, err, `--tolerance "amount": want COLUMN=VALUE`)
}

func TestPrintReconcileRowDiff(t *testing.T) {
	rel := 0.2
	res := &workflows.ReconcileResult{Plan: "acme", Domain: "finance", Window: "[2026-01-01, 2026-01-08)", Status: "fail", RowDifferences: 3,
		Pairs: []activities.ReconcileResult{{Output: "orders", Status: "fail", Checks: []reconcile.Check{
			{Measure: "revenue", Metric: "sum", Legacy: "10", ELT: "12", Difference: "2", RelativeDifference: &rel, Status: "fail"}},
			RowDiff: &reconcile.RowDiffResult{
				MissingInELT: 2, Mismatched: 1, WithinTolerance: 4, RowsFetched: 40,
				Sample: []reconcile.KeyDiff{
					{Key: map[string]string{"region": "emea", "id": "7"}, Kind: reconcile.KindMissingInELT},
					{Key: map[string]string{"region": "emea", "id": "9"}, Kind: reconcile.KindMismatched, Columns: []reconcile.ColumnDiff{
						{Column: "amount", Legacy: "1.00", ELT: "1.50"}, {Column: "qty", Legacy: "1", ELT: "1.001", WithinTolerance: true}}},
				},
			}}}}
	var b bytes.Buffer
	printReconcile(&b, res)
	out := b.String()
	require.Contains(t, out, "row diff (3 row(s) differing beyond tolerance):")
	require.Regexp(t, `orders\s+0\s+2\s+1\s+4\s+0\s+40`, out)
	require.Contains(t, out, "  id=7 region=emea  missing_in_elt\n")
	require.Contains(t, out, "  id=9 region=emea  mismatched  amount: 1.00 -> 1.50\n")
	require.Contains(t, out, "orders: differences by cause\n")
	require.Regexp(t, `Keys missing in ELT \(legacy only\)\s+2 row\(s\)\s+yes\s+id=7, region=emea\n`, out)
	require.Regexp(t, `Values outside tolerance\s+1 check\(s\) · 1 row\(s\)\s+yes\s+total · revenue sum: 10 → 12`, out)
	require.Regexp(t, `Values within tolerance\s+4 row\(s\)\s+no\b`, out)
}
