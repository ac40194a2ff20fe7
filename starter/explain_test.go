package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

// TestExplainRefusals: what explain refuses before it connects anywhere, each problem
// in one line naming its flag (integration/executive_report_test.go records one).
func TestExplainRefusals(t *testing.T) {
	base := map[string]string{"--plan": "../examples/demo/plan.yaml", "--domain": "finance", "--output": "daily_revenue",
		"--segment": "region=emea", "--by": "lee", "--reason": "refunds booked on the order day in legacy"}
	args := func(change map[string]string) []string {
		out := []string{"explain"}
		for k, v := range base {
			if nv, ok := change[k]; ok {
				if nv == "<none>" {
					continue
				}
				v = nv
			}
			out = append(out, k, v)
		}
		for k, v := range change {
			if _, ok := base[k]; !ok {
				out = append(out, k, v)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		want   []string
	}{
		{name: "unknown domain", change: map[string]string{"--domain": "marketing"},
			want: []string{`--domain "marketing": plan acme has no such domain (domains: finance)`}},
		{name: "unknown output", change: map[string]string{"--output": "weekly_revenue"},
			want: []string{`--output "weekly_revenue": domain finance has no such output (outputs: daily_revenue)`}},
		{name: "not a person of the plan", change: map[string]string{"--by": "zed"},
			want: []string{`--by "zed" is not a person of plan acme (people: cfo-office, dana, lee)`}},
		{name: "short reason", change: map[string]string{"--reason": "refunds"},
			want: []string{`--reason "refunds" is too short: at least 10 characters`}},
		{name: "blank reason", change: map[string]string{"--reason": "   "},
			want: []string{`--reason is required`}},
		{name: "segment not of the output's columns", change: map[string]string{"--segment": "regoin=emea"},
			want: []string{`--segment "regoin=emea": want the key as the report prints it, region=<value> (the segments of output daily_revenue)`}},
		{name: "segment with spaces", change: map[string]string{"--segment": " region=emea"},
			want: []string{`--segment " region=emea" has leading or trailing spaces`}},
		{name: "negative cycle", change: map[string]string{"--cycle": "-2"},
			want: []string{`--cycle -2: want a cycle number (1 or more), or no --cycle`}},
		{name: "every problem at once", change: map[string]string{"--by": "zed", "--reason": "short"},
			want: []string{`--by "zed" is not a person of plan acme`, `; --reason "short" is too short`}},
		{name: "missing flag", change: map[string]string{"--by": "<none>"},
			want: []string{`required flag(s) "by" not set`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := execute(args(tc.change)...)
			require.Error(t, err)
			require.True(t, isUsage(err), "a usage error: %v", err)
			require.NotContains(t, err.Error(), "\n", "one line")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSegmentKeyShape(t *testing.T) {
	two := func(key string) error {
		return segmentKey(outputWith("day", "region"), key)
	}
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"day=2026-01-02|region=amer", true},
		{"day=2026-01-02|region=", true},
		{"day=2026-01-02|region=a|b", true}, // a value may hold the separator
		{"region=amer|day=2026-01-02", false},
		{"day=2026-01-02", false},
		{"xday=2026-01-02|region=amer", false},
		{"", false},
	} {
		err := two(tc.key)
		require.Equal(t, tc.ok, err == nil, "%q: %v", tc.key, err)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "--segment"), err.Error())
		}
	}
	require.ErrorContains(t, segmentKey(outputWith(), "region=emea"), "output o is reconciled without segments")
}

func outputWith(segments ...string) plan.OutputPair {
	return plan.OutputPair{Name: "o", Segments: segments}
}
