package ingest

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

// parquetEvent fills typedSource: the names differ in case, the types are Parquet's.
type parquetEvent struct {
	ID     int64     `parquet:"ID"`
	Label  *string   `parquet:"label,optional"`
	Amount float64   `parquet:"amount"`
	At     time.Time `parquet:"at,timestamp(millisecond)"`
	Paid   *bool     `parquet:"paid,optional"`
	Qty    int64     `parquet:"qty"`
	Day    int32     `parquet:"day,date"`
	Note   string    `parquet:"note"`
	Tags   []string  `parquet:"tags,list"`
}

func ptr[T any](v T) *T { return &v }

func writeParquet[T any](t *testing.T, rows []T, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var b bytes.Buffer
	w := parquet.NewGenericWriter[T](&b, opts...)
	_, err := w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func decodeParquet(t *testing.T, body []byte, src plan.Source) (decoded, error) {
	t.Helper()
	src.Format = formatParquet
	dec, err := newParquetDecoder(bytes.NewReader(body), src, "k.parquet", nil)
	if err != nil {
		return decoded{}, err
	}
	return drainDecoder(t, dec, src, "k.parquet"), nil
}

var day1 = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

func event(id int64) parquetEvent {
	return parquetEvent{ID: id, Label: ptr("emea"), Amount: 12.5, At: time.Date(2026, 1, 2, 10, 30, 0, 123e6, time.UTC),
		Paid: ptr(true), Qty: 3, Day: int32(day1.Unix() / 86400), Note: "n", Tags: []string{"a", "b"}}
}

func TestParquetDecoder(t *testing.T) {
	good := []any{int64(1), "emea", "12.5", "2026-01-02T10:30:00.123Z", true, int32(3), "2026-01-02T00:00:00Z"}
	nulls := event(2)
	nulls.Label, nulls.Paid = nil, nil
	overflow := event(3)
	overflow.Qty = 3_000_000_000
	badText := event(4)
	badText.Label = ptr("em\xffea")
	nan := event(5)
	nan.Amount = math.NaN()
	tests := []struct {
		name     string
		rows     []parquetEvent
		opts     []parquet.WriterOption
		want     [][]any
		badLines []int64
		badMsg   string
		badRaw   string
	}{
		{name: "typed columns", rows: []parquetEvent{event(1)}, want: [][]any{good}},
		{name: "a null is NULL, text too", rows: []parquetEvent{nulls},
			want: [][]any{{int64(2), nil, "12.5", "2026-01-02T10:30:00.123Z", nil, int32(3), "2026-01-02T00:00:00Z"}}},
		{name: "a value that fails conversion is quarantined as JSON", rows: []parquetEvent{event(1), overflow},
			want: [][]any{good}, badLines: []int64{2}, badMsg: `column qty: "3000000000" is not an integer`,
			badRaw: `{"ID":3,"label":"emea","amount":12.5,"at":"2026-01-02T10:30:00.123Z","paid":true,"qty":3000000000,"day":"2026-01-02","note":"n","tags.list.element":["a","b"]}`},
		{name: "a NaN is not a numeric", rows: []parquetEvent{nan}, badLines: []int64{1}, badMsg: `column amount: "NaN" is not a number`,
			badRaw: `{"ID":5,"label":"emea","amount":"NaN","at":"2026-01-02T10:30:00.123Z","paid":true,"qty":3,"day":"2026-01-02","note":"n","tags.list.element":["a","b"]}`},
		{name: "invalid UTF-8 in a string", rows: []parquetEvent{badText}, badLines: []int64{1}, badMsg: "column label: invalid UTF-8"},
		{name: "row numbers run across row groups",
			rows: []parquetEvent{event(1), event(1), event(1), overflow, event(1)}, opts: []parquet.WriterOption{parquet.MaxRowsPerRowGroup(2)},
			want: [][]any{good, good, good, good}, badLines: []int64{4}, badMsg: "column qty"},
		{name: "no rows", rows: []parquetEvent{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decodeParquet(t, writeParquet(t, tt.rows, tt.opts...), typedSource)
			require.NoError(t, err)
			d.requireRows(t, tt.want, tt.badLines, tt.badMsg)
			for _, b := range d.bad {
				if tt.badRaw != "" {
					require.JSONEq(t, tt.badRaw, string(b.raw))
				}
			}
			require.Equal(t, []string{"note", "tags"}, d.extra)
		})
	}
}

// parquetTypes covers the logical types the decoder converts.
type parquetTypes struct {
	Dec32  int32            `parquet:"dec32,decimal(2:9)"`
	Dec64  int64            `parquet:"dec64,decimal(4:18)"`
	DecBig [13]byte         `parquet:"decbig,decimal(3:30)"`
	Nanos  int64            `parquet:"nanos,timestamp(nanosecond:local)"`
	Micros time.Time        `parquet:"micros,timestamp(microsecond)"`
	Legacy deprecated.Int96 `parquet:"legacy"`
	Float  float32          `parquet:"float"`
	Day    int32            `parquet:"day,date"`
	Flag   bool             `parquet:"flag"`
	Small  int32            `parquet:"small"`
	Unsign uint64           `parquet:"unsign,uint(64)"`
	Text   []byte           `parquet:"text"`
	AsText int64            `parquet:"astext,decimal(2:18)"`
}

func TestParquetLogicalTypes(t *testing.T) {
	at := time.Date(2026, 1, 2, 10, 30, 0, 123456789, time.UTC)
	julian := uint32(at.Unix()/86400 + 2_440_588)
	ofDay := uint64(at.Sub(at.Truncate(24 * time.Hour)))
	row := parquetTypes{
		Dec32: -1250, Dec64: 12345678, DecBig: [13]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x85}, // -123 with scale 3
		Nanos: at.UnixNano(), Micros: at, Legacy: deprecated.Int96{uint32(ofDay), uint32(ofDay >> 32), julian},
		Float: 0.1, Day: int32(day1.Unix() / 86400), Flag: true, Small: -7, Unsign: 1 << 63, Text: []byte("plain bytes"), AsText: 5,
	}
	src := plan.Source{Name: "types", Columns: []plan.Column{
		{Name: "dec32", Type: "numeric"}, {Name: "dec64", Type: "numeric"}, {Name: "decbig", Type: "numeric"},
		{Name: "nanos", Type: "timestamptz"}, {Name: "micros", Type: "timestamptz"}, {Name: "legacy", Type: "timestamptz"},
		{Name: "float", Type: "numeric"}, {Name: "day", Type: "date"}, {Name: "flag", Type: "boolean"},
		{Name: "small", Type: "integer"}, {Name: "unsign", Type: "numeric"}, {Name: "text", Type: "text"}, {Name: "astext", Type: "text"},
	}}
	d, err := decodeParquet(t, writeParquet(t, []parquetTypes{row}), src)
	require.NoError(t, err)
	d.requireRows(t, [][]any{{"-12.50", "1234.5678", "-0.123",
		"2026-01-02T10:30:00.123457Z", "2026-01-02T10:30:00.123456Z", "2026-01-02T10:30:00.123457Z", // nanoseconds rounded to the microseconds PostgreSQL keeps
		"0.1", "2026-01-02T00:00:00Z", true, int32(-7), "9223372036854775808", "plain bytes", "0.05"}}, nil, "")
	require.Empty(t, d.extra)
}

func TestParquetObjectErrors(t *testing.T) {
	_, err := decodeParquet(t, nil, typedSource)
	var empty *EmptyObjectError
	require.ErrorAs(t, err, &empty)
	require.EqualError(t, err, "object k.parquet is empty (zero bytes): not a Parquet object")

	_, err = decodeParquet(t, []byte("order_id\n1\n"), typedSource)
	var perr *ParseError
	require.ErrorAs(t, err, &perr)
	require.ErrorContains(t, err, "object k.parquet: malformed Parquet: ")

	src := typedSource
	src.Columns = append(append([]plan.Column{}, src.Columns...), plan.Column{Name: "region", Type: "text"}, plan.Column{Name: "channel", Type: "text"})
	_, err = decodeParquet(t, writeParquet(t, []parquetEvent{event(1)}), src)
	var hdr *HeaderError
	require.ErrorAs(t, err, &hdr)
	require.EqualError(t, err, "object k.parquet: schema lacks declared column(s) region, channel")

	src.Columns = []plan.Column{{Name: "tags", Type: "text"}}
	_, err = decodeParquet(t, writeParquet(t, []parquetEvent{event(1)}), src)
	var serr *SchemaError
	require.ErrorAs(t, err, &serr)
	require.EqualError(t, err, "object k.parquet: column tags: nested or repeated: only flat columns load")
}

func TestParquetRemovesItsTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	d, err := decodeParquet(t, writeParquet(t, []parquetEvent{event(1)}), typedSource)
	require.NoError(t, err)
	require.Len(t, d.rows, 1)
	_, err = decodeParquet(t, []byte("not parquet"), typedSource)
	require.Error(t, err)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestParquetSpoolReportsProgress(t *testing.T) {
	var calls int
	_, err := newParquetDecoder(bytes.NewReader(make([]byte, spoolChunk+1)), typedSource, "k.parquet", func(rows int64) {
		require.Zero(t, rows)
		calls++
	})
	var perr *ParseError
	require.ErrorAs(t, err, &perr, "zeros are not Parquet")
	require.Equal(t, 1, calls, "one call per full chunk copied")
}
