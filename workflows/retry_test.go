package workflows

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetryTableIsDocumented: the retry table of docs/OPERATIONS.md is the code's,
// and every policy rides out an outage of at least 2 minutes.
func TestRetryTableIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/OPERATIONS.md")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^\| (activities|backfill chunks) \| (\d+) \| (\S+) \| (\S+) \| (\S+) \|$`)
	documented := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = m[2:]
	}
	table := RetryTable()
	require.Len(t, documented, len(table), "docs/OPERATIONS.md lists every policy")
	for _, r := range table {
		d, ok := documented[r.Name]
		require.True(t, ok, r.Name)
		attempts, err := strconv.Atoi(d[0])
		require.NoError(t, err)
		require.EqualValues(t, r.Attempts, attempts, "%s attempts", r.Name)
		require.Equal(t, r.First.String(), d[1], "%s first backoff", r.Name)
		require.Equal(t, r.Max.String(), d[2], "%s max backoff", r.Name)
		require.Equal(t, r.RideOut.String(), d[3], "%s ride-out", r.Name)
		require.GreaterOrEqual(t, r.RideOut, 2*time.Minute, "%s rides out a 2-minute outage", r.Name)
		require.False(t, strings.Contains(d[3], "-"))
	}
}
