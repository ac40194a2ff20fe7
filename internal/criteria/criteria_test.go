package criteria

import (
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

func yes() *bool { v := true; return &v }
func no() *bool  { v := false; return &v }

func clean(n int) []Cycle {
	out := make([]Cycle, n)
	for i := range out {
		out[i] = Cycle{FreshnessHeld: yes(), WithinBudget: yes()}
	}
	return out
}

func ptr(v int) *int { return &v }

// withQuality sets each cycle's quality failures.
func withQuality(cycles []Cycle, failures ...int) []Cycle {
	for i := range cycles {
		cycles[i].QualityFailures = ptr(failures[i])
	}
	return cycles
}

func TestEvaluate(t *testing.T) {
	demo := &plan.SwitchingCriteria{MinCycles: 4, ConsecutivePassingCycles: 2, MaxBreaches: 0, RequireFreshness: true, MaxFailedRuns: 0, RequireWithinBudget: true}
	tests := []struct {
		name     string
		sc       *plan.SwitchingCriteria
		cycles   []Cycle
		met      bool
		blockers []string
	}{
		{"no criteria needs one passing cycle", nil, nil, false, []string{"cycles is 0 (needs ≥ 1)"}},
		{"no criteria, one cycle", nil, clean(1), true, nil},
		{"all held", demo, clean(4), true, nil},
		{"too few cycles", demo, clean(3), false, []string{"cycles is 3 (needs ≥ 4)"}},
		{"a recent breach breaks the streak", demo, append(clean(3), Cycle{Breaches: 2, FreshnessHeld: yes(), WithinBudget: yes()}), false,
			[]string{"consecutive passing cycles is 0 (needs ≥ 2)", "breaches over tolerance (recent cycles) is 2 (needs ≤ 0)"}},
		{"an old breach outside the streak is tolerated", demo, append([]Cycle{{Breaches: 5, FreshnessHeld: yes(), WithinBudget: yes()}}, clean(3)...), true, nil},
		{"a failed cycle counts over the whole run", demo, append([]Cycle{{Failed: true, FreshnessHeld: yes(), WithinBudget: yes()}}, clean(4)...), false,
			[]string{"failed cycles is 1 (needs ≤ 0)"}},
		{"freshness breached", demo, append(clean(3), Cycle{FreshnessHeld: no(), WithinBudget: yes()}), false,
			[]string{"freshness held is 1 of 2 (needs every recent cycle)"}},
		{"a cycle that compared nothing is not a passing cycle", demo, append(clean(3), Cycle{NoData: true, FreshnessHeld: yes(), WithinBudget: yes()}), false,
			[]string{"consecutive passing cycles is 0 (needs ≥ 2)"}},
		{"cycles from before the checks are not held against them", demo, append(clean(3), withQuality(clean(1), 0)...), true, nil},
		{"quality checks all passing", demo, withQuality(clean(4), 0, 0, 0, 0), true, nil},
		{"a failing quality check blocks", demo, withQuality(clean(4), 0, 0, 0, 2), false,
			[]string{"quality check failures (recent cycles) is 2 (needs ≤ 0)"}},
		{"quality failures within the plan's limit", &plan.SwitchingCriteria{MinCycles: 2, MaxQualityFailures: ptr(3)}, withQuality(clean(2), 1, 2), true, nil},
		{"quality required but never checked", &plan.SwitchingCriteria{MinCycles: 2, MaxQualityFailures: ptr(0)}, clean(2), false,
			[]string{"quality check failures (recent cycles) is 0 (2 of 2 cycles not checked) (needs ≤ 0)"}},
		{"freshness never checked is not held", demo, []Cycle{{}, {}, {}, {}}, false,
			[]string{"freshness held is 0 of 2 (2 not checked) (needs every recent cycle)", "within budget is 0 of 2 (2 not checked) (needs every recent cycle)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Evaluate(tt.sc, tt.cycles)
			require.Equal(t, tt.met, res.Met)
			require.Equal(t, tt.blockers, res.Blockers())
			for _, c := range res.Criteria {
				require.NotEmpty(t, c.Value)
				require.NotEmpty(t, c.Threshold)
			}
		})
	}
}

func TestEvaluateStrictNeedsCyclesThatComparedRows(t *testing.T) {
	noData := Cycle{NoData: true}
	pass := Cycle{}
	tests := []struct {
		name   string
		sc     *plan.SwitchingCriteria
		cycles []Cycle
		met    bool
		values []string
	}{
		{"no criteria, a no-data cycle", nil, []Cycle{noData}, false, []string{"cycles=0 (1 with no data not counted)", "passing cycles=0"}},
		{"min 3, three no-data cycles", &plan.SwitchingCriteria{MinCycles: 3}, []Cycle{noData, noData, noData}, false, []string{"cycles=0 (3 with no data not counted)", "passing cycles=0"}},
		{"min 3, two passing and a no-data one", &plan.SwitchingCriteria{MinCycles: 3}, []Cycle{pass, noData, pass}, false, []string{"cycles=2 (1 with no data not counted)", "passing cycles=2"}},
		{"min 2, two passing", &plan.SwitchingCriteria{MinCycles: 2}, []Cycle{pass, pass}, true, []string{"cycles=2", "passing cycles=2"}},
		{"consecutive given: its own criterion", &plan.SwitchingCriteria{MinCycles: 2, ConsecutivePassingCycles: 2}, []Cycle{pass, pass}, true, []string{"cycles=2", "consecutive passing cycles=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := EvaluateStrict(tt.sc, tt.cycles)
			require.Equal(t, tt.met, res.Met, "%+v", res)
			var got []string
			for _, c := range res.Criteria {
				got = append(got, c.Name+"="+c.Value)
			}
			for _, v := range tt.values {
				require.Contains(t, got, v)
			}
		})
	}
	// The lenient evaluation, kept for running migrations, is met on no data.
	require.True(t, Evaluate(&plan.SwitchingCriteria{MinCycles: 3}, []Cycle{noData, noData, noData}).Met)
}
