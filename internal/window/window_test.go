package window

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDates(t *testing.T) {
	tests := []struct {
		from, to string
		days     int
		err      string
	}{
		{"2026-01-01", "2026-01-08", 7, ""},
		{"2026-02-28", "2026-03-01", 1, ""},
		{"2026-01-08", "2026-01-01", 0, "is empty"},
		{"2026-01-01", "2026-01-01", 0, "is empty"},
		{"01/01/2026", "2026-01-02", 0, `from "01/01/2026" is not a date`},
		{"2026-01-01", "tomorrow", 0, `to "tomorrow" is not a date`},
	}
	for _, tt := range tests {
		t.Run(tt.from+"_"+tt.to, func(t *testing.T) {
			w, err := ParseDates(tt.from, tt.to)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, w.Days(), tt.days)
			require.Equal(t, "["+tt.from+", "+tt.to+")", w.String())
		})
	}
}

func TestDaysPartialStart(t *testing.T) {
	w := Window{From: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
	require.Equal(t, []time.Time{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}, w.Days())
}
