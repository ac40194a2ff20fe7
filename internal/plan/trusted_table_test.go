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
	data, err := os.ReadFile("../../examples/demo/plan.yaml")
	require.NoError(t, err)
	p, err := Parse("plan.yaml", data)
	require.NoError(t, err)
	want := "$.models[1]: table model fct_daily_revenue of domain finance has no event_time, so every run rebuilds its rows before trusted_until 2025-07-01 (signed-off days change with late rows): declare event_time (a date or timestamp column of its rows, e.g. its day) to protect them (PostgreSQL only: not built on Redshift yet)"
	var models []string
	for _, w := range NotActedOn(p) {
		if strings.HasPrefix(w, "$.models[") {
			models = append(models, w)
		}
	}
	require.Equal(t, []string{want}, models, "not the view (no rows), not the incremental model (protected)")

	const table = "    materialized: table\n    depends_on: [stg_orders]\n"
	require.Contains(t, string(data), table)
	withEventTime := strings.Replace(string(data), table, "    materialized: table\n    event_time: day\n    depends_on: [stg_orders]\n", 1)
	p, err = Parse("plan.yaml", []byte(withEventTime))
	require.NoError(t, err, "event_time is allowed on a table model")
	m, ok := p.Model("fct_daily_revenue")
	require.True(t, ok)
	require.Equal(t, "day", m.EventTime)
	for _, w := range NotActedOn(p) {
		require.NotContains(t, w, "$.models[1]")
	}

	// No trusted period: nothing to protect, no warning.
	noTrust := strings.Replace(string(data), `      trusted_until: "2025-07-01"`+"\n", "", 1)
	require.NotEqual(t, string(data), noTrust)
	p, err = Parse("plan.yaml", []byte(noTrust))
	require.NoError(t, err)
	for _, w := range NotActedOn(p) {
		require.NotContains(t, w, "$.models[")
	}
}
