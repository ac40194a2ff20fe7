package warehouse

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// TestClassifyError on error texts as Redshift and PostgreSQL return them.
func TestClassifyError(t *testing.T) {
	xx := func(msg string) error { return &pgconn.PgError{Severity: "ERROR", Code: "XX000", Message: msg} }
	tests := []struct {
		name string
		err  error
		want ErrorClass
	}{
		{"Redshift 1023", xx("1023"), Conflict},
		{"Redshift serialization conflict", fmt.Errorf("load k: lock: %w", &pgconn.PgError{Code: "XX000", Message: "1023",
			Detail: "Serializable isolation violation on table - 156408, transactions forming the cycle are: 1007546, 1007548 (pid:29587)"}), Conflict},
		{"a number 1023 in another error", xx("Invalid digit, Value '1023x', Pos 4, Type: Long"), BadData},
		{"Redshift serialization conflict, message with detail", xx("1023 DETAIL: Serializable isolation violation on table - 156408, transactions forming the cycle are: 1007546, 1007548 (pid:29587)"), Conflict},
		{"Redshift concurrent transaction", xx("could not complete because of conflict with concurrent transaction"), Conflict},
		{"PostgreSQL serialization failure", &pgconn.PgError{Code: "40001"}, Transient},
		{"PostgreSQL deadlock", &pgconn.PgError{Code: "40P01"}, Transient},
		{"load error", xx("Load into table '_etl2elt_stage' failed.  Check 'stl_load_errors' system table for details."), BadData},
		{"load error, Serverless", xx("Load into table '_etl2elt_stage' failed. Check 'sys_load_error_detail' system table for details."), BadData},
		{"Spectrum", xx("Spectrum Scan Error. File 's3://b/k.parquet' has an incompatible Parquet schema for column 'amount'."), BadData},
		{"invalid digit", xx("Invalid digit, Value 'x', Pos 0, Type: Long"), BadData},
		{"numeric overflow", xx("Numeric data overflow (result precision)"), BadData},
		{"bigint overflow", xx("Overflow (Long valid range -9223372036854775808 to 9223372036854775807)"), BadData},
		{"relation", &pgconn.PgError{Code: "42P01", Message: `relation "raw.orders" does not exist`}, BadData},
		{"value too long", &pgconn.PgError{Code: "22001", Message: "value too long for type character varying(256)"}, BadData},
		{"internal error of unknown cause", xx("Assert"), Transient},
		{"connection", &pgconn.PgError{Code: "08006"}, Transient},
		{"plain", errors.New("connection reset by peer"), Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ClassifyError(tt.err))
		})
	}
}
