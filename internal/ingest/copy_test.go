package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIsDecimal(t *testing.T) {
	for _, ok := range []string{"0", "12", "-12.50", "+0.5", ".5", "5.", "1e10", "1.5E-3", "123456789012345678901234567890.123"} {
		require.True(t, isDecimal(ok), ok)
	}
	for _, bad := range []string{"", "-", ".", "12,50", "1 000", "NaN", "Infinity", "1e", "1e1234567", "0x10", "1.2.3", "e5"} {
		require.False(t, isDecimal(bad), bad)
	}
}

func TestAppendCSV(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	tests := []struct {
		v    any
		typ  string
		want string
	}{
		{nil, "text", ``},
		{"", "text", `""`},
		{`say "hi", then` + "\nbye", "text", `"say ""hi"", then` + "\nbye\""},
		{Decimal("-12.50"), "numeric", `-12.50`},
		{int64(-7), "bigint", `-7`},
		{int32(7), "integer", `7`},
		{true, "boolean", `t`},
		{false, "boolean", `f`},
		{ts, "timestamptz", `2026-01-02T02:04:05.0000006Z`},
		{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "date", `2026-01-02`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, string(appendCSV(nil, tt.v, tt.typ)), "%#v", tt.v)
	}
}
