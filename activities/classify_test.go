package activities

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		nonRetryable bool
	}{
		{"identifier", fmt.Errorf("ctx: %w", &ident.Error{Name: "X", Reason: "r"}), true},
		{"empty object", &ingest.EmptyObjectError{ObjectKey: "k"}, true},
		{"missing object", fmt.Errorf("get: %w", objectstore.ErrNotFound), true},
		{"undefined table", fmt.Errorf("q: %w", &pgconn.PgError{Code: "42P01", Message: "relation does not exist"}), true},
		{"division by zero", &pgconn.PgError{Code: "22012"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"connection", &pgconn.PgError{Code: "08006"}, false},
		{"Redshift load error", &pgconn.PgError{Code: "XX000", Message: "Load into table 'x' failed.  Check 'stl_load_errors' system table for details."}, true},
		{"Redshift internal error of unknown cause", &pgconn.PgError{Code: "XX000", Message: "Assert"}, false},
		{"plain", errors.New("connection reset by peer"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			var appErr *temporal.ApplicationError
			if tt.nonRetryable {
				require.True(t, errors.As(got, &appErr))
				require.True(t, appErr.NonRetryable())
				require.Equal(t, ErrTypeBadInput, appErr.Type())
				require.Contains(t, got.Error(), tt.err.Error())
			} else {
				require.Equal(t, tt.err, got)
			}
		})
	}
	require.NoError(t, classify(nil))

	// Redshift's serialization conflicts: retried, after a longer wait than the usual
	// backoff.
	for _, conflict := range []error{
		&pgconn.PgError{Code: "XX000", Message: "could not complete because of conflict with concurrent transaction"},
		&pgconn.PgError{Code: "XX000", Message: "1023", Detail: "Serializable isolation violation on table - 156408, transactions forming the cycle are: 1007546, 1007548 (pid:29587)"},
	} {
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, classify(conflict), &appErr)
		require.False(t, appErr.NonRetryable())
		require.Equal(t, ErrTypeWarehouseConflict, appErr.Type())
		require.GreaterOrEqual(t, appErr.NextRetryDelay(), 30*time.Second)
		require.LessOrEqual(t, appErr.NextRetryDelay(), 3*time.Minute)
	}
	already := temporal.NewApplicationError("x", "Other")
	require.Equal(t, already, classify(already), "classified errors pass through")
}
