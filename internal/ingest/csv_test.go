package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

var ordersSource = plan.Source{Name: "orders", Columns: []plan.Column{
	{Name: "order_id", Type: "bigint"},
	{Name: "region", Type: "text"},
	{Name: "amount", Type: "numeric"},
	{Name: "ordered_at", Type: "timestamptz"},
}}

// drain reads every good row and returns them with the source.
func drain(t *testing.T, body string) ([][]any, *csvSource, []string, error) {
	t.Helper()
	s, extra, err := newCSVSource(strings.NewReader(body), ordersSource, "k.csv")
	if err != nil {
		return nil, nil, nil, err
	}
	var rows [][]any
	for s.Next() {
		var v []any
		for _, x := range s.Values() {
			v = append(v, x.any())
		}
		rows = append(rows, append(append([]any(nil), v...), s.line))
	}
	return rows, s, extra, s.Err()
}

func TestCSVGoodRowsAndLineage(t *testing.T) {
	rows, s, extra, err := drain(t, "order_id,region,amount,ordered_at\n1,emea,12.50,2026-01-01T10:00:00Z\n2,,3,2026-01-01 11:00:00\n")
	require.NoError(t, err)
	require.Empty(t, extra)
	require.Len(t, rows, 2)
	require.Zero(t, s.bad.Len())
	require.Equal(t, int64(1), rows[0][0])
	require.Equal(t, "emea", rows[0][1])
	require.Equal(t, "", rows[1][1], "an empty text field stays an empty string")
	require.Equal(t, Decimal("12.50"), rows[0][2], "a decimal keeps its digits")
	require.Equal(t, time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC), rows[1][3], "a timestamp without zone is UTC")
	require.Equal(t, int64(2), rows[0][4], "line of the first data row")
	require.Equal(t, int64(3), rows[1][4])
}

func TestCSVEdgeCases(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		good       int
		badLines   []int64
		badMessage string
		extra      []string
	}{
		{"byte order mark", "\ufefforder_id,region,amount,ordered_at\n1,emea,1,2026-01-01T00:00:00Z\n", 1, nil, "", nil},
		{"header case and spaces", "ORDER_ID, Region ,amount,ordered_at\n1,emea,1,2026-01-01T00:00:00Z\n", 1, nil, "", nil},
		{"quoted newline", "order_id,region,amount,ordered_at\n1,\"em\nea\",1,2026-01-01T00:00:00Z\n2,x,1,2026-01-01T00:00:00Z\n", 2, nil, "", nil},
		{"columns in another order plus an extra one", "amount,ordered_at,note,region,order_id\n1,2026-01-01T00:00:00Z,hi,emea,1\n", 1, nil, "", []string{"note"}},
		{"decimal comma", "order_id,region,amount,ordered_at\n1,emea,\"12,50\",2026-01-01T00:00:00Z\n2,emea,1,2026-01-01T00:00:00Z\n", 1, []int64{2}, `column amount: "…" is not a number`, nil},
		{"too few fields", "order_id,region,amount,ordered_at\n1,emea,1\n", 0, []int64{2}, "expected 4 fields, got 3", nil},
		{"bad bigint", "order_id,region,amount,ordered_at\nx1,emea,1,2026-01-01T00:00:00Z\n", 0, []int64{2}, `column order_id: "…" is not a bigint`, nil},
		{"bad timestamp", "order_id,region,amount,ordered_at\n1,emea,1,01/02/2026\n", 0, []int64{2}, `column ordered_at: "…" is not a timestamp`, nil},
		{"invalid utf-8", "order_id,region,amount,ordered_at\n1,em\xffea,1,2026-01-01T00:00:00Z\n", 0, []int64{2}, "column region: invalid UTF-8", nil},
		{"NaN is not a number", "order_id,region,amount,ordered_at\n1,emea,NaN,2026-01-01T00:00:00Z\n", 0, []int64{2}, `column amount: "…" is not a number`, nil},
		{"header only", "order_id,region,amount,ordered_at\n", 0, nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, s, extra, err := drain(t, tt.body)
			require.NoError(t, err)
			require.Len(t, rows, tt.good)
			require.Equal(t, tt.extra, extra)
			var lines []int64
			for _, b := range s.bad.rows() {
				lines = append(lines, b.line)
				require.Contains(t, b.err, tt.badMessage)
				require.NotEmpty(t, b.raw, "the raw record is kept")
			}
			require.Equal(t, tt.badLines, lines)
		})
	}
}

func TestCSVObjectErrors(t *testing.T) {
	_, _, _, err := drain(t, "")
	var empty *EmptyObjectError
	require.ErrorAs(t, err, &empty)
	require.EqualError(t, err, "object k.csv is empty: a CSV object needs at least a header line")

	_, _, _, err = drain(t, "order_id,amount\n1,2\n")
	var hdr *HeaderError
	require.ErrorAs(t, err, &hdr)
	require.EqualError(t, err, "object k.csv: header lacks declared column(s) region, ordered_at")

	_, _, _, err = drain(t, "order_id,region,amount,ordered_at\n1,\"emea,1,2026-01-01T00:00:00Z\n")
	var perr *ParseError
	require.True(t, errors.As(err, &perr), "got %v", err)
	require.ErrorContains(t, err, "object k.csv: malformed CSV")

	// A declared column named twice (case aside): which one holds the values is
	// ambiguous, so the object is refused rather than loading the last silently.
	_, _, _, err = drain(t, "order_id,region,amount,ordered_at,REGION\n1,emea,2,2026-01-01T00:00:00Z,apac\n")
	require.ErrorAs(t, err, &hdr)
	require.EqualError(t, err, "object k.csv: header names declared column(s) region more than once")
}

func TestCSVUndeclaredColumnsAreCapped(t *testing.T) {
	var header, row strings.Builder
	header.WriteString("order_id,region,amount,ordered_at")
	row.WriteString("1,emea,2,2026-01-01T00:00:00Z")
	for i := range 300 {
		fmt.Fprintf(&header, ",extra_%d_%s", i, strings.Repeat("x", 200))
		row.WriteString(",v")
	}
	dec, err := newCSVDecoder(strings.NewReader(header.String()+"\n"+row.String()+"\n"), ordersSource, "k.csv")
	require.NoError(t, err)
	require.Len(t, dec.Extra(), 100, "at most 100 undeclared columns reported")
	for _, e := range dec.Extra() {
		require.LessOrEqual(t, len(e), 128+len("…"))
	}
}

func TestCSVStopsAfterTooManyBadRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("order_id,region,amount,ordered_at\n")
	for i := 0; i < maxBadRowsKept+5; i++ {
		b.WriteString("x,emea,1,2026-01-01T00:00:00Z\n")
	}
	_, s, _, err := drain(t, b.String())
	require.ErrorIs(t, err, ErrTooManyBadRows)
	require.Equal(t, maxBadRowsKept, s.bad.Len())
}
