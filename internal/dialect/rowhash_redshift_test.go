package dialect_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/dialect"
	"etl2elt/internal/warehouse"
)

// The Redshift row hash and its aggregate stay Redshift SQL: no PostgreSQL-only token
// (hashtext, bit strings...), and no CONCAT, whose Redshift form takes two arguments
// (the PostgreSQL row hash is a variadic CONCAT of the same tokens).
func TestRedshiftRowHashIsRedshiftSQL(t *testing.T) {
	d, err := dialect.For(dialect.Redshift)
	require.NoError(t, err)
	rh, err := d.RowHash([]string{"order_id", "region", "amount", "ordered_at"})
	require.NoError(t, err)
	typed, err := d.RowHashOf([]dialect.HashColumn{{Name: "order_id", Delimited: true}, {Name: "region"}, {Name: "ordered_at", Delimited: true}})
	require.NoError(t, err)
	sql := "SELECT " + d.AggregateHash(rh) + ", " + d.AggregateHash(typed) + ` FROM "marts"."orders" WHERE "order_id" >= $1 AND "order_id" < $2`
	require.Empty(t, warehouse.RedshiftViolations([]string{sql}))
	require.NotContains(t, strings.ToUpper(sql), "CONCAT")
	require.NotRegexp(t, regexp.MustCompile(`(?i)hashtext|bit\(|::`), sql)
}
