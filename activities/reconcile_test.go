package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

func TestNullCountColumns(t *testing.T) {
	pair := plan.OutputPair{Keys: []string{"order_id"}, Segments: []string{"region"}, TimeColumn: "ordered_at",
		Measures: []plan.Measure{{Name: "revenue", Column: "amount"}, {Name: "qty"}}}
	shared := []string{"order_id", "region", "amount", "qty", "ordered_at", "note", "status", "revenue"}
	tests := []struct {
		name string
		edit func(*plan.OutputPair)
		want []string
	}{
		{name: "the shared columns but keys, segments, time column and measures (by column and by name)", want: []string{"note", "status"}},
		{name: "ignore leaves a column out", edit: func(p *plan.OutputPair) { p.Ignore = []string{"status"} }, want: []string{"note"}},
		{name: "a compare list replaces the shared columns", edit: func(p *plan.OutputPair) { p.Compare = []string{"status", "amount", "order_id"} }, want: []string{"status"}},
		{name: "nothing else to count", edit: func(p *plan.OutputPair) { p.Compare = []string{"amount"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pair
			if tt.edit != nil {
				tt.edit(&p)
			}
			require.Equal(t, tt.want, NullCountColumns(p, shared))
		})
	}
}

func TestRowDiffSpecSegments(t *testing.T) {
	w := window.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	pair := plan.OutputPair{Keys: []string{"day", "account"}, Segments: []string{"account", "region", "channel"}}
	spec := RowDiffSpec(pair, w, RowDiffOptions{}, []string{"region", "amount"})
	require.Equal(t, []string{"account", "region"}, spec.Segments, "the segments the diff reads (a key, a compared column), not the others")
}
