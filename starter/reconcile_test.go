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
	res := &workflows.ReconcileResult{Plan: "acme", Domain: "finance", Window: "[2026-01-01, 2026-01-08)", Status: "fail", RowDifferences: 3,
		Pairs: []activities.ReconcileResult{{Output: "orders", Status: "fail", RowDiff: &reconcile.RowDiffResult{
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
	require.Regexp(t, `orders\s+0\s+2\s+1\s+4\s+40`, out)
	require.Contains(t, out, "  id=7 region=emea  missing_in_elt\n")
	require.Contains(t, out, "  id=9 region=emea  mismatched  amount: 1.00 -> 1.50\n")
}
