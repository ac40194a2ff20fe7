package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

// csvSource is the COPY source of a CSV object, as the CSV tests drive it.
type csvSource struct{ *rowSource }

func newCSVSource(body io.Reader, src plan.Source, objectKey string) (*csvSource, []string, error) {
	dec, err := newCSVDecoder(body, src, objectKey)
	if err != nil {
		return nil, nil, err
	}
	return &csvSource{newRowSource(dec, src, objectKey)}, dec.Extra(), nil
}

// decoded is what a decoder gave through the shared COPY source.
type decoded struct {
	rows  [][]any // declared columns, then the line
	bad   []BadRow
	extra []string
	err   error
}

// drainDecoder reads every row of dec through a rowSource, as LoadObject does.
func drainDecoder(t *testing.T, dec decoder, src plan.Source, objectKey string) decoded {
	t.Helper()
	s := newRowSource(dec, src, objectKey)
	var out decoded
	for s.Next() {
		var v []any
		for _, x := range s.Values() {
			v = append(v, x.any())
		}
		out.rows = append(out.rows, append(append([]any(nil), v...), s.line))
	}
	out.bad, out.extra, out.err = s.bad.rows(), dec.Extra(), s.Err()
	s.bad.Close() //nolint:errcheck // a temporary file
	require.NoError(t, dec.Close())
	return out
}

// typedSource has a column of every type.
var typedSource = plan.Source{Name: "events", Columns: []plan.Column{
	{Name: "id", Type: "bigint"},
	{Name: "label", Type: "text"},
	{Name: "amount", Type: "numeric"},
	{Name: "at", Type: "timestamptz"},
	{Name: "paid", Type: "boolean"},
	{Name: "qty", Type: "integer"},
	{Name: "day", Type: "date"},
}}

// plain makes converted values comparable: numerics and times as text.
func plain(t *testing.T, row []any) []any {
	t.Helper()
	out := make([]any, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case Decimal:
			out[i] = string(x)
		case pgtype.Numeric:
			s, err := x.Value()
			require.NoError(t, err)
			out[i] = s
		case time.Time:
			out[i] = x.Format(time.RFC3339Nano)
		default:
			out[i] = v
		}
	}
	return out
}

// requireRows checks the declared values of the good rows (made comparable by plain),
// and the positions and reason of the bad ones, which keep their raw record.
func (d decoded) requireRows(t *testing.T, want [][]any, badLines []int64, badMsg string) {
	t.Helper()
	require.NoError(t, d.err)
	var got [][]any
	for _, r := range d.rows {
		got = append(got, plain(t, r[:len(r)-1])) // without the line
	}
	require.Equal(t, want, got)
	require.Equal(t, badLines, d.badLines())
	for _, b := range d.bad {
		require.Contains(t, b.err, Redact(badMsg), "stored without the values")
		require.True(t, b.raw != nil || b.byRef, "the raw record is kept")
	}
}

// badLines are the positions of the bad rows.
func (d decoded) badLines() []int64 {
	var lines []int64
	for _, b := range d.bad {
		lines = append(lines, b.line)
	}
	return lines
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// TestLoadObjectRefusesEmptyObjects fails before any database work: no pool needed.
func TestLoadObjectRefusesEmptyObjects(t *testing.T) {
	tests := []struct {
		format, key string
		body        []byte
		want        string
	}{
		{"", "a.csv", nil, "object a.csv is empty: a CSV object needs at least a header line"},
		{"csv", "a.csv.gz", nil, "object a.csv.gz is empty: a CSV object needs at least a header line"},
		{"csv", "b.csv.gz", gzipped(t, ""), "object b.csv.gz is empty: a CSV object needs at least a header line"},
		{"jsonl", "a.jsonl", nil, "object a.jsonl is empty (zero bytes): not a JSON lines object"},
		{"jsonl", "a.jsonl.gz", nil, "object a.jsonl.gz is empty (zero bytes): not a JSON lines object"},
		{"jsonl", "b.jsonl.gz", gzipped(t, ""), "object b.jsonl.gz is empty (zero bytes): not a JSON lines object"},
		{"parquet", "a.parquet", nil, "object a.parquet is empty (zero bytes): not a Parquet object"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			src := ordersSource
			src.Format = tt.format
			_, _, err := LoadInTx(context.Background(), nil, Request{Source: src, Object: objectstore.Object{Key: tt.key}}, bytes.NewReader(tt.body), nil)
			var empty *EmptyObjectError
			require.ErrorAs(t, err, &empty)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestLoadObjectRefusesABadGzipHeader(t *testing.T) {
	src := ordersSource
	src.Format = formatJSONL
	_, _, err := LoadInTx(context.Background(), nil, Request{Source: src, Object: objectstore.Object{Key: "a.jsonl.gz"}}, strings.NewReader(`{"order_id":1}`), nil)
	var perr *ParseError
	require.ErrorAs(t, err, &perr)
	require.EqualError(t, err, "object a.jsonl.gz: malformed JSON lines: gzip: invalid header")
}

func TestGunzipReaderMakesCorruptDataAParseError(t *testing.T) {
	tests := []struct{ format, content, want string }{
		{"csv", "order_id,region,amount,ordered_at\n" + strings.Repeat("1,emea,1,2026-01-01T00:00:00Z\n", 100), "object a.gz: malformed CSV: gzip: invalid checksum"},
		{"jsonl", strings.Repeat(`{"order_id":1}`+"\n", 100), "object a.gz: malformed JSON lines: gzip: invalid checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			body := gzipped(t, tt.content)
			body[len(body)-8] ^= 0xff // the CRC-32
			src := ordersSource
			src.Format = tt.format
			dec, err := openDecoder(src, "a.gz", bytes.NewReader(body), nil)
			require.NoError(t, err)
			d := drainDecoder(t, dec, src, "a.gz")
			var perr *ParseError
			require.ErrorAs(t, d.err, &perr)
			require.EqualError(t, d.err, tt.want)
			require.Len(t, d.rows, 100, "the checksum is checked at the end; the object fails as a whole")
		})
	}
}

func TestOpenDecoderRefusesAnUnknownFormat(t *testing.T) {
	src := ordersSource
	src.Format = "xml"
	_, err := openDecoder(src, "a.xml", strings.NewReader("<a/>"), nil)
	require.EqualError(t, err, `object a.xml: unsupported format "xml"`)
}
