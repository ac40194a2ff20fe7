package warehouse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedshiftViolations(t *testing.T) {
	tests := []struct {
		name string
		sql  []string
		want []string
	}{
		{"lock first", []string{"BEGIN", `LOCK "raw"."t"`, `DELETE FROM "raw"."t" WHERE a = $1`, "COMMIT"}, nil},
		{"staging on its own, then the lock", []string{`CREATE TEMP TABLE "_etl2elt_stage" (a INT)`, `INSERT INTO "_etl2elt_stage" SELECT 1`, "BEGIN", `LOCK "raw"."t"`, `INSERT INTO "raw"."t" SELECT a, CAST($1 AS BIGINT) FROM "_etl2elt_stage"`, "COMMIT"}, nil},
		{"a new table needs no lock", []string{"BEGIN", `CREATE TABLE "m"."t" AS SELECT 1`, "COMMIT"}, nil},
		{"writes before the lock", []string{"BEGIN", `CREATE TEMP TABLE "_etl2elt_batch" (a INT)`, `INSERT INTO "_etl2elt_batch" SELECT 1`, `LOCK "m"."t"`, `DELETE FROM "m"."t"`, "COMMIT"},
			[]string{`the write transaction at statement 0 does not start with its LOCK (first: CREATE TEMP TABLE "_etl2elt_batch" (a INT))`}},
		{"no lock at all", []string{"BEGIN", `MERGE INTO "m"."t" USING x ON 1 = 1`, "ROLLBACK"}, []string{`the write transaction at statement 0 does not start with its LOCK (first: MERGE INTO "m"."t" USING x ON 1 = 1)`}},
		{"a bare parameter in a select list", []string{`INSERT INTO "raw"."t" (a, b) SELECT a, $1 FROM s`}, []string{`statement 0 has a parameter not cast in a select list: INSERT INTO "raw"."t" (a, b) SELECT a, $1 FROM s`}},
		{"parameters in WHERE need no cast", []string{`SELECT a FROM t WHERE b = $1 AND c < $2`}, nil},
		{"PostgreSQL only", []string{`SELECT pg_advisory_xact_lock(hashtext($1))`}, []string{
			"statement 0 uses pg_advisory, which Redshift does not have: SELECT pg_advisory_xact_lock(hashtext($1))",
			"statement 0 uses hashtext, which Redshift does not have: SELECT pg_advisory_xact_lock(hashtext($1))",
			"statement 0 has a parameter not cast in a select list: SELECT pg_advisory_xact_lock(hashtext($1))"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, RedshiftViolations(tt.sql))
		})
	}
}
