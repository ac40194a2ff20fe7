package plan

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A table model of a domain with a trusted period is protected only when it declares
// event_time (a table model may); without one, validate warns, naming the model.
func TestTableModelEventTimeAndTrustedWarning(t *testing.T) {
	demoPlan, err := os.ReadFile("../../examples/demo/plan.yaml")
	require.NoError(t, err)
	// The demo plan declares event_time on its table model: protected, no warning.
	const withEventTime = "    materialized: table\n    # A table model with an event time keeps its signed-off days (before the domain's\n    # trusted_until) as they were: docs/OPERATIONS.md \"Trusted rows\".\n    event_time: day\n"
	require.Contains(t, string(demoPlan), withEventTime)
	p, err := Parse("plan.yaml", demoPlan)
	require.NoError(t, err, "event_time is allowed on a table model")
	m, ok := p.Model("fct_daily_revenue")
	require.True(t, ok)
	require.Equal(t, "day", m.EventTime)
	for _, w := range NotActedOn(p) {
		require.NotContains(t, w, "$.models[1]")
	}

	// Without it, validate warns, naming the model.
	data := []byte(strings.Replace(string(demoPlan), withEventTime, "    materialized: table\n", 1))
	p, err = Parse("plan.yaml", data)
	require.NoError(t, err)
	want := "$.models[1]: table model fct_daily_revenue of domain finance has no event_time, so every run rebuilds its rows before trusted_until 2025-07-01 (signed-off days change with late rows): declare event_time (a date or timestamp column of its rows, e.g. its day) to protect them (PostgreSQL only: not built on Redshift yet)"
	var models []string
	for _, w := range NotActedOn(p) {
		if strings.HasPrefix(w, "$.models[") {
			models = append(models, w)
		}
	}
	require.Equal(t, []string{want}, models, "not the view (no rows), not the incremental model (protected)")

	// No trusted period: nothing to protect, no warning.
	noTrust := strings.Replace(string(data), `      trusted_until: "2025-07-01"`+"\n", "", 1)
	require.NotEqual(t, string(data), noTrust)
	p, err = Parse("plan.yaml", []byte(noTrust))
	require.NoError(t, err)
	for _, w := range NotActedOn(p) {
		require.NotContains(t, w, "$.models[")
	}
}
