package reconcile

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

func r(s string) *big.Rat {
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return v
}

func f(v float64) *float64 { return &v }

func TestCompare(t *testing.T) {
	tests := []struct {
		name         string
		legacy, elt  *big.Rat
		tol          plan.Tolerance
		status, diff string
		rel          *float64
	}{
		{"exact", r("100.50"), r("100.50"), plan.Tolerance{}, Pass, "0", f(0)},
		{"no tolerance any difference fails", r("100"), r("100.01"), plan.Tolerance{}, Fail, "0.01", f(0.0001)},
		{"inside absolute", r("100"), r("100.01"), plan.Tolerance{Absolute: f(0.01)}, Pass, "0.01", f(0.0001)},
		{"just outside absolute", r("100"), r("100.02"), plan.Tolerance{Absolute: f(0.01)}, Fail, "0.02", f(0.0002)},
		{"inside relative", r("1000"), r("999"), plan.Tolerance{Relative: f(0.001)}, Pass, "-1", f(0.001)},
		{"outside relative", r("1000"), r("998.9"), plan.Tolerance{Relative: f(0.001)}, Fail, "-1.1", f(0.0011)},
		{"either bound passes", r("1000"), r("990"), plan.Tolerance{Absolute: f(1), Relative: f(0.02)}, Pass, "-10", f(0.01)},
		{"legacy zero only absolute can pass", r("0"), r("0.5"), plan.Tolerance{Relative: f(1)}, Fail, "0.5", nil},
		{"legacy zero within absolute", r("0"), r("0.5"), plan.Tolerance{Absolute: f(1)}, Pass, "0.5", nil},
		{"both null", nil, nil, plan.Tolerance{}, Pass, "", nil},
		{"null vs value", nil, r("1"), plan.Tolerance{Absolute: f(10)}, Fail, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compare("", "revenue", MetricSum, tt.legacy, tt.elt, tt.tol)
			require.Equal(t, tt.status, c.Status)
			require.Equal(t, tt.diff, c.Difference)
			if tt.rel == nil {
				require.Nil(t, c.RelativeDifference)
			} else {
				require.InDelta(t, *tt.rel, *c.RelativeDifference, 1e-12)
			}
		})
	}
}

func TestCompareTotals(t *testing.T) {
	pair := plan.OutputPair{Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Absolute: f(0.05)}}}}
	legacy := Totals{Rows: r("10"), Sums: map[string]*big.Rat{"revenue": r("123.45")}, Nulls: map[string]*big.Rat{"revenue": r("0")}}
	elt := Totals{Rows: r("10"), Sums: map[string]*big.Rat{"revenue": r("123.49")}, Nulls: map[string]*big.Rat{"revenue": r("1")}}
	checks := CompareTotals(pair, legacy, elt)
	require.Len(t, checks, 3)
	require.Equal(t, Pass, checks[0].Status) // row count
	require.Equal(t, Pass, checks[1].Status) // sum within 0.05
	require.Equal(t, Fail, checks[2].Status) // null count differs
	require.Equal(t, 1, Breaches(checks))
}
