package ident

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"_tmp1", true},
		{"fct_daily_revenue", true},
		{"", false},
		{"Orders", false},
		{"1orders", false},
		{"orders; drop table x", false},
		{`a"b`, false},
		{"a.b", false},
		{"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc", true},
		{"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.name)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Contains(t, err.Error(), "is not a safe SQL identifier")
			}
		})
	}
}

func TestQuote(t *testing.T) {
	require.Equal(t, `"orders"`, Quote("orders"))
	require.Equal(t, `"a""b"`, Quote(`a"b`))
}

func TestParseRelation(t *testing.T) {
	r, err := ParseRelation("raw.orders")
	require.NoError(t, err)
	require.Equal(t, `"raw"."orders"`, r.Quoted())
	require.Equal(t, "raw.orders", r.String())

	_, err = ParseRelation("orders")
	require.ErrorContains(t, err, "schema-qualified")
	_, err = ParseRelation("raw.orders; drop")
	require.ErrorContains(t, err, `"orders; drop" is not a safe SQL identifier`)
}
