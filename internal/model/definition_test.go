package model

import (
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

func TestNormalizeSQL(t *testing.T) {
	base := "select order_id, sum(amount) as revenue from raw.orders where region = 'emea' group by 1"
	same := []string{
		"SELECT order_id,sum(amount) AS revenue\nFROM raw.orders\n  WHERE region = 'emea' -- only EMEA\nGROUP BY 1;",
		"select /* the key */ order_id , sum( amount ) as revenue from raw.orders where region='emea' group by 1 ;",
		"\tselect order_id,\r\n\tsum(amount) as revenue from raw.orders where region = 'emea' group by 1",
	}
	for _, s := range same {
		require.Equal(t, NormalizeSQL(base), NormalizeSQL(s), s)
	}
	different := []string{
		"select order_id, sum(amount) as revenue from raw.orders where region = 'EMEA' group by 1",   // a literal's case
		"select order_id, sum(amount) as revenue from raw.orders where region = 'emea ' group by 1",  // a literal's space
		`select "Order_Id", sum(amount) as revenue from raw.orders where region = 'emea' group by 1`, // a quoted identifier
		"select order_id, sum(amount) as revenue from raw.orders where region = 'emea' group by 1, 2",
		"select order_id, sum(amount) as revenue from raw.orders_v2 where region = 'emea' group by 1",
		"select order_id, sum(amount) asrevenue from raw.orders where region = 'emea' group by 1",
	}
	for _, s := range different {
		require.NotEqual(t, NormalizeSQL(base), NormalizeSQL(s), s)
	}
	require.Equal(t, "select'it''s -- not a comment'as x", NormalizeSQL("SELECT 'it''s -- not a comment' AS x"))
	require.Equal(t, "select $$ A  b $$", NormalizeSQL("SELECT $$ A  b $$"))
	require.Equal(t, "select 1", NormalizeSQL("select /* a /* nested */ comment */ 1"))
}

func TestDefinition(t *testing.T) {
	m := plan.Model{Name: "fct", Materialized: "incremental", UniqueKey: []string{"id"}, EventTime: "day", Lookback: "1d", SQLText: "select id, day from raw.t"}
	d := DefinitionOf(m)
	ws := m
	ws.SQLText = "SELECT id,\n  day\nFROM raw.t -- same\n"
	require.Equal(t, d.Hash(), DefinitionOf(ws).Hash(), "whitespace and comments do not count")

	changed := m
	changed.SQLText = "select id, day from raw.t where id > 0"
	require.NotEqual(t, d.Hash(), DefinitionOf(changed).Hash())
	require.Equal(t, []string{"SQL"}, DefinitionOf(changed).Changes(d))

	longer := m
	longer.Lookback = "2d"
	require.NotEqual(t, d.Hash(), DefinitionOf(longer).Hash())
	require.Equal(t, []string{"lookback 1d → 2d"}, DefinitionOf(longer).Changes(d))
	require.Empty(t, d.Changes(d))
}

// TestNormalizeSQLKeepsMeaning: pairs that mean different things in PostgreSQL hash
// differently (found by an independent review).
func TestNormalizeSQLKeepsMeaning(t *testing.T) {
	for _, pair := range [][2]string{
		{`select E'it\'s', 'ABC'`, `select E'it\'s', 'abc'`}, // a backslash escape in an E'' string
		{"select 'foo'\n'bar'", "select 'foo''bar'"},         // a continuation, not a doubled quote
		{"select 1 as Ä", "select 1 as ä"},                   // only ASCII identifiers fold
		{"select a\u00a0b from t", "select a b from t"},      // a no-break space is part of a name
		{`select e'\\' as x, 'Y'`, `select e'\\' as x, 'y'`}, // an escaped backslash ends the literal
	} {
		require.NotEqual(t, NormalizeSQL(pair[0]), NormalizeSQL(pair[1]), "%q vs %q", pair[0], pair[1])
	}
	require.Equal(t, NormalizeSQL("SELECT E'x' AS A"), NormalizeSQL("select e'x' as a"))
	require.Equal(t, NormalizeSQL("select 'foo'   'bar'"), NormalizeSQL("select 'foo''bar'"), "on one line PostgreSQL refuses both alike")
}
