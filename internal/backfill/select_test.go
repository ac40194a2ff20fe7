package backfill

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/window"
)

func TestSelectStale(t *testing.T) {
	chunks, err := Split("m", window.Window{From: d("2026-01-01"), To: d("2026-01-06")}, Day)
	require.NoError(t, err)
	ledger := map[string]Row{chunks[0].ID(): {Status: StatusDone}, chunks[3].ID(): {Status: StatusDone}}
	ids := func(s Selection) []string {
		var out []string
		for _, c := range s.Run {
			out = append(out, c.Window.From.Format("01-02"))
		}
		return out
	}
	tests := []struct {
		name    string
		stale   []window.Window
		whole   bool
		trusted time.Time
		want    []string
		settled int
		nTrust  int
	}{
		{"nothing stale", nil, false, time.Time{}, nil, 5, 0},
		{"a range over two days, ends exclusive", []window.Window{{From: d("2026-01-02"), To: d("2026-01-04")}}, false, time.Time{}, []string{"01-02", "01-03"}, 3, 0},
		{"a range inside a day", []window.Window{{From: d("2026-01-04").Add(6 * time.Hour), To: d("2026-01-04").Add(7 * time.Hour)}}, false, time.Time{}, []string{"01-04"}, 4, 0},
		{"the whole relation", nil, true, time.Time{}, []string{"01-01", "01-02", "01-03", "01-04", "01-05"}, 0, 0},
		{"done chunks of the trusted period are marked", []window.Window{{From: d("2025-12-01"), To: d("2026-01-05")}}, false, d("2026-01-03"), []string{"01-01", "01-02", "01-03", "01-04"}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SelectStale(chunks, ledger, tt.stale, tt.whole, tt.trusted)
			require.Equal(t, tt.want, ids(s))
			require.Equal(t, tt.settled, s.Settled)
			require.Len(t, s.Trusted, tt.nTrust)
		})
	}
}
