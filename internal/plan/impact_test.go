package plan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func demoPlan(t *testing.T) *Plan {
	t.Helper()
	snap, err := Load(context.Background(), FileReader{Dir: "../../examples"}, "demo/plan.yaml")
	require.NoError(t, err)
	return snap.Plan
}

func names[T any](items []T, name func(T) string) []string {
	var out []string
	for _, i := range items {
		out = append(out, name(i))
	}
	return out
}

func TestImpactOf(t *testing.T) {
	p := demoPlan(t)
	metricName := func(m Metric) string { return m.Name }
	dashName := func(d Dashboard) string { return d.Name }
	domainName := func(d Domain) string { return d.Name }
	tests := []struct {
		name       string
		kind       string
		relations  []string
		metrics    []string
		dashboards []string
		domains    []string
	}{
		{"orders", "source", []string{"marts.fct_daily_revenue", "marts.fct_orders", "reporting.daily_revenue", "staging.stg_orders"}, []string{"daily_revenue", "order_count"}, []string{"board_pack", "revenue_daily"}, []string{"finance"}},
		{"raw.orders", "relation", []string{"marts.fct_daily_revenue", "marts.fct_orders", "reporting.daily_revenue", "staging.stg_orders"}, []string{"daily_revenue", "order_count"}, []string{"board_pack", "revenue_daily"}, []string{"finance"}},
		{"stg_orders", "model", []string{"marts.fct_daily_revenue", "marts.fct_orders", "reporting.daily_revenue"}, []string{"daily_revenue", "order_count"}, []string{"board_pack", "revenue_daily"}, []string{"finance"}},
		{"legacy.daily_revenue", "relation", []string{"reporting.daily_revenue"}, []string{"daily_revenue", "order_count"}, []string{"board_pack", "revenue_daily"}, []string{"finance"}},
		{"order_count", "metric", nil, []string{"order_count"}, []string{"revenue_daily"}, []string{"finance"}},
		{"reporting.daily_revenue", "relation", nil, []string{"daily_revenue", "order_count"}, []string{"board_pack", "revenue_daily"}, []string{"finance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp, err := ImpactOf(p, tt.name)
			require.NoError(t, err)
			require.Equal(t, tt.kind, imp.Kind)
			require.Equal(t, tt.relations, imp.Relations)
			require.Equal(t, tt.metrics, names(imp.Metrics, metricName))
			require.Equal(t, tt.dashboards, names(imp.Dashboards, dashName))
			require.Equal(t, tt.domains, names(imp.Domains, domainName))
		})
	}
	imp, err := ImpactOf(p, "order_count")
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"lee":        {"owner of metric order_count", "owner of dashboard revenue_daily", "approver of domain finance"},
		"cfo-office": {"owner of domain finance"},
		"dana":       {"approver of domain finance"},
	}, imp.People)

	_, err = ImpactOf(p, "marts.nope")
	require.EqualError(t, err, `plan acme has no metric, source, model or relation called "marts.nope"`)
}

func TestMentions(t *testing.T) {
	require.True(t, mentions("select * from raw.orders", "raw.orders"))
	require.True(t, mentions(`select * from "raw"."orders" o`, "raw.orders"))
	require.True(t, mentions("from RAW.ORDERS\n", "raw.orders"))
	require.False(t, mentions("select * from raw.orders_archive", "raw.orders"))
	require.False(t, mentions("select * from myraw.orders", "raw.orders"))
}
