package quality

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

// recorder keeps the statements a check sends, answering each with an error so that
// the check stops there (examples included: the first query then reports a value).
type recorder struct{ sql []string }

type errRow struct{}

func (errRow) Scan(...any) error { return &pgconn.PgError{Code: "42P01", Message: "recorded"} }

func (r *recorder) QueryRow(_ context.Context, sql string, _ ...any) pgx.Row {
	r.sql = append(r.sql, sql)
	return errRow{}
}

func (r *recorder) Query(_ context.Context, sql string, _ ...any) (pgx.Rows, error) {
	r.sql = append(r.sql, sql)
	return nil, &pgconn.PgError{Code: "42P01", Message: "recorded"}
}

// TestRedshiftSQLUsesTheSharedSubset checks the statement of every kind on the
// Redshift dialect: no FILTER, no generate_series, no ::text (TEXT is VARCHAR(256)
// there and would truncate example values), bounds as parameters.
func TestRedshiftSQLUsesTheSharedSubset(t *testing.T) {
	w, err := window.ParseDates("2026-01-01", "2026-01-08")
	require.NoError(t, err)
	specs := []plan.QualityCheck{
		{Name: "a", Kind: "not_null", Columns: []string{"amount"}},
		{Name: "b", Kind: "null_fraction", Columns: []string{"amount"}},
		{Name: "c", Kind: "unique", Columns: []string{"order_id"}},
		{Name: "d", Kind: "missing_days"},
		{Name: "e", Kind: "row_count_change"},
		{Name: "f", Kind: "late_arrival", AllowedLateness: "1d"},
		{Name: "g", Kind: "out_of_order"},
		{Name: "h", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"id"}}},
		{Name: "i", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer"}},
		{Name: "j", Kind: "range", Columns: []string{"amount"}, Min: fl(0)},
	}
	for _, q := range specs {
		q.Relation, q.TimeColumn, q.Key, q.Fail = "raw.orders", "ordered_at", []string{"order_id"}, fl(0)
		rec := &recorder{}
		r, err := RunWith(context.Background(), rec, "redshift", Spec{QualityCheck: q}, w, Env{Loads: func(context.Context, []int64) (map[int64]LoadOrigin, error) { return nil, nil }})
		require.NoError(t, err)
		require.Equal(t, Error, r.Status, q.Kind)
		require.Len(t, rec.sql, 1, q.Kind)
		sql := rec.sql[0]
		for _, banned := range []string{"FILTER", "generate_series", "::text", "2026-01"} {
			require.NotContains(t, sql, banned, "%s: %s", q.Kind, sql)
		}
		require.Contains(t, sql, `"raw"."orders"`, q.Kind)
		require.Empty(t, warehouse.RedshiftViolations(rec.sql), q.Kind)
		if strings.Contains(sql, "CAST(") && q.Kind == "missing_days" {
			require.Contains(t, sql, "AS VARCHAR(65535)", q.Kind)
		}
	}
}

// TestRedshiftSharedPassUsesTheSharedSubset checks the shared pass's statement on the
// Redshift dialect, then that each check still sends its own statement when the pass
// fails (the recorder fails every statement).
func TestRedshiftSharedPassUsesTheSharedSubset(t *testing.T) {
	w, err := window.ParseDates("2026-01-01", "2026-01-08")
	require.NoError(t, err)
	var specs []Spec
	for _, q := range []plan.QualityCheck{
		{Name: "a", Kind: "not_null", Columns: []string{"amount"}},
		{Name: "b", Kind: "null_fraction", Columns: []string{"amount"}},
		{Name: "f", Kind: "late_arrival", AllowedLateness: "1d"},
		{Name: "g", Kind: "out_of_order"},
		{Name: "h", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"id"}}},
		{Name: "i", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer"}},
		{Name: "j", Kind: "range", Columns: []string{"amount"}, Min: fl(0), Max: fl(10)},
		{Name: "c", Kind: "unique", Columns: []string{"order_id"}},
	} {
		q.Relation, q.TimeColumn, q.Key, q.Fail = "raw.orders", "ordered_at", []string{"order_id"}, fl(0)
		specs = append(specs, Spec{QualityCheck: q, Lookback: 48 * time.Hour})
	}
	rec := &recorder{}
	res, err := RunAll(context.Background(), rec, "redshift", specs, w, Env{Loads: func(context.Context, []int64) (map[int64]LoadOrigin, error) { return nil, nil }})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, Error, r.Status, r.Check)
	}
	require.Len(t, rec.sql, 1+len(specs), "the pass, then each check on its own: %s", strings.Join(rec.sql, "\n"))
	pass := rec.sql[0]
	require.Empty(t, warehouse.RedshiftViolations(rec.sql))
	for _, banned := range []string{"FILTER", "generate_series", "::text", "2026-01", "date_bin", "pg_catalog"} {
		require.NotContains(t, pass, banned)
	}
	for _, want := range []string{
		`FROM "raw"."orders" t LEFT JOIN (SELECT DISTINCT "id" FROM "raw"."customers") x0 ON x0."id" = t."customer_id"`,
		`CAST(p.d AS VARCHAR(65535))`, `CAST(t."ordered_at" AS DATE) AS d`, `t."_etl_load" AS l`, `GROUP BY 1, 2`,
		`count(CASE WHEN `, `CAST(t."region" AS VARCHAR(65535)) NOT IN (CAST($`, `t."amount" < CAST($`, `interval '86400 seconds'`,
		`interval '172800 seconds'`,
	} {
		require.Contains(t, pass, want)
	}
	require.NotContains(t, pass, `AS NUMERIC`, "no numeric band on Redshift: its conversion to double is native")
	for i, sql := range rec.sql[1:] {
		require.Contains(t, sql, `"raw"."orders"`, specs[i].Kind)
		require.NotContains(t, sql, "::text", specs[i].Kind)
	}

	// The kinds that read before the window: the trailing days and the previous
	// window are counts of the same pass.
	specs = nil
	for _, q := range []plan.QualityCheck{
		{Name: "d", Kind: "missing_days", MinFraction: 0.5},
		{Name: "e", Kind: "row_count_change"},
		{Name: "a", Kind: "not_null", Columns: []string{"amount"}},
	} {
		q.Relation, q.TimeColumn, q.Key, q.Fail = "raw.orders", "ordered_at", []string{"order_id"}, fl(0)
		specs = append(specs, Spec{QualityCheck: q})
	}
	rec = &recorder{}
	_, err = RunAll(context.Background(), rec, "redshift", specs, w, Env{})
	require.NoError(t, err)
	require.Len(t, rec.sql, 1+len(specs))
	pass = rec.sql[0]
	for _, banned := range []string{"FILTER", "generate_series", "::text", "2026-01", "date_bin", "pg_catalog"} {
		require.NotContains(t, pass, banned)
	}
	for _, want := range []string{`CAST(p.d AS VARCHAR(65535))`, `CAST(t."ordered_at" AS DATE) AS d`, `GROUP BY 1) p`,
		`count(*) AS n`, `t."ordered_at" < CAST($3 AS TIMESTAMPTZ) THEN 1 END)`} {
		require.Contains(t, pass, want)
	}
}
