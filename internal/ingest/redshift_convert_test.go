package ingest

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
)

// TestRedshiftConversionRulesMatchTheStreamingLoader runs the SQL that judges and
// casts Redshift's text-staged columns (the very strings the load sends) on the local
// PostgreSQL over a table of values, and compares every decision with the streaming
// loader's converters: a value one refuses the other refuses, a value both accept
// casts to the same date, instant or number. The only differences allowed are the
// documented ones: numbers NUMERIC(38,10) cannot hold exactly (more than 10 digits
// after the point, 28 before it) and exponent notation are refused on Redshift.
func TestRedshiftConversionRulesMatchTheStreamingLoader(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "redshift_conv"))
	cases := map[string][]string{
		"date": {"2026-01-01", " 2026-12-31 ", "2024-02-29", "2000-02-29", "1900-02-29", "2023-02-29", "2026-02-30", "2026-04-31", "2026-13-01",
			"2026-00-10", "01/02/2026", "2026-1-1", "20260101", "0000-01-01", "2026-01-01T00:00:00Z", "x", "2026-01-01 "},
		"timestamptz": {"2026-01-01T10:00:00Z", "2026-01-01 10:00:00", "2026-01-01T10:00:00", "2026-01-01 10:00:00+02:00",
			"2026-01-01T10:00:00.123456Z", "2026-01-01T10:00:00.5-05:30", "2024-02-29T23:59:59Z", "2026-01-01", "01/02/2026 10:00",
			"2026-01-01T24:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T10:00:00+0200", "2026-01-01t10:00:00z", "2026-01-01T10:00:60Z",
			" 2026-06-30 23:00:00-01:00 "},
		"numeric": {"12.50", "-0.5", "+3", ".5", "5.", "NaN", "12,50", "abc", "-", ".", " 7 ", "1.1234567890", "1.123456789000000",
			"1234567890123456789012345678", "0000000000000000000000000000001.5"},
	}
	differ := map[string]string{ // accepted by the streaming loader, refused on Redshift
		"1e3":                           "exponent",
		"1.12345678901":                 "11 digits after the point",
		"12345678901234567890123456789": "29 digits before the point",
	}
	for v := range differ {
		cases["numeric"] = append(cases["numeric"], v)
	}
	for typ, values := range cases {
		col := plan.Column{Name: "v", Type: typ}
		conv, err := converterFor(typ)
		require.NoError(t, err)
		reason, cast := invalidReason(col), castStaged(col)
		require.Empty(t, warehouse.RedshiftViolations([]string{`SELECT ` + reason + `, ` + cast + ` FROM "_etl2elt_stage"`}))
		for _, raw := range values {
			t.Run(typ+"/"+raw, func(t *testing.T) {
				var why *string
				var asText *string
				var asTime *time.Time
				sql := `SELECT ` + reason + `, CASE WHEN (` + reason + `) IS NULL THEN CAST(` + cast + ` AS TEXT) END FROM (SELECT CAST($1 AS TEXT) AS "v") AS s`
				dest := []any{&why, &asText}
				if typ == "timestamptz" {
					sql = `SELECT ` + reason + `, CASE WHEN (` + reason + `) IS NULL THEN ` + cast + ` END FROM (SELECT CAST($1 AS TEXT) AS "v") AS s`
					dest = []any{&why, &asTime}
				}
				require.NoError(t, pool.QueryRow(ctx, sql, pgx.QueryExecModeSimpleProtocol, raw).Scan(dest...))
				want, convErr := conv(raw)
				if strings.TrimSpace(raw) == "" {
					require.Nil(t, why, "empty is NULL")
					return
				}
				if convErr != nil {
					require.NotNil(t, why, "the streaming loader refuses %q (%v): so must Redshift", raw, convErr)
					require.True(t, strings.HasPrefix(*why, `column v: "…" is not a`), *why)
					return
				}
				if reasonWhy, ok := differ[raw]; ok {
					require.NotNil(t, why, "%s: refused on Redshift", reasonWhy)
					return
				}
				require.Nil(t, why, "the streaming loader accepts %q: so must Redshift", raw)
				switch typ {
				case "date":
					require.Equal(t, want.t.Format(time.DateOnly), *asText)
				case "timestamptz":
					require.NotNil(t, asTime)
					require.True(t, want.t.Equal(*asTime), "%q: %v on Redshift, %v streaming", raw, *asTime, want.t)
				case "numeric":
					a, _ := new(big.Rat).SetString(*asText)
					b, _ := new(big.Rat).SetString(want.s)
					require.Zero(t, a.Cmp(b), "%q: %s on Redshift, %s streaming", raw, *asText, want.s)
				}
			})
		}
	}
}
