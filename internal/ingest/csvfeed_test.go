package ingest

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeCSV reads body as ordersSource with records of at most maxLine bytes.
func decodeCSV(t *testing.T, body string, maxLine int64) (decoded, error) {
	t.Helper()
	src := ordersSource
	src.MaxLineBytes = maxLine
	dec, err := newCSVDecoder(strings.NewReader(body), src, "k.csv")
	if err != nil {
		return decoded{}, err
	}
	return drainDecoder(t, dec, src, "k.csv"), nil
}

func TestCSVLongRecordsAreKeptByReference(t *testing.T) {
	long1 := `7,"` + strings.Repeat("a", 50) + "\n" + strings.Repeat("b", 20) + `",1,2026-01-01T00:00:00Z`
	long2 := `9,` + strings.Repeat("c", 80) + `,1,2026-01-01T00:00:00Z`
	bad := "x,em\xffea,1,2026-01-01T00:00:00Z" // a bad row: its bytes as they are
	body := "order_id,region,amount,ordered_at\r\n" +
		"1,emea,1,2026-01-01T00:00:00Z\r\n" + // line 2
		long1 + "\r\n" + // lines 3-4
		bad + "\n" + // line 5
		"\n" + // line 6, blank
		`2,"a ""quoted""` + "\n" + `region",1,2026-01-01T00:00:00Z` + "\n" + // lines 7-8
		long2 // line 9, no end of line
	d, err := decodeCSV(t, body, 48)
	require.NoError(t, err)
	require.NoError(t, d.err)
	require.Len(t, d.rows, 2)
	n := len(ordersSource.Columns)
	require.Equal(t, []any{int64(1), int64(2)}, []any{d.rows[0][0], d.rows[1][0]})
	require.Equal(t, "a \"quoted\"\nregion", d.rows[1][1], "a quoted line break within the limit loads")
	require.Equal(t, []any{int64(2), int64(7)}, []any{d.rows[0][n], d.rows[1][n]}, "lines count across long records")

	require.Equal(t, []int64{3, 5, 9}, d.badLines())
	at := func(s string) int64 { return int64(strings.Index(body, s)) }

	l := d.bad[0]
	require.True(t, l.byRef)
	require.Nil(t, l.raw)
	require.Equal(t, at(long1), l.offset)
	require.Equal(t, int64(len(long1)), l.length, "without its end of line")
	require.Equal(t, long1, body[l.offset:l.offset+l.length])
	require.Contains(t, l.err, "longer than max_line_bytes 48: kept by reference")
	require.True(t, strings.HasPrefix(long1, strings.TrimSuffix(l.preview, "…")))

	b := d.bad[1]
	require.False(t, b.byRef)
	require.Equal(t, []byte(bad), b.raw, "the original bytes, invalid UTF-8 included")
	require.Equal(t, at(bad), b.offset, "an offset in the object despite the long record before")
	require.Equal(t, int64(len(bad)), b.length)
	require.Equal(t, `column order_id: "…" is not a bigint`, b.err)
	require.Equal(t, "x,em\ufffdea,1,2026-01-01T00:00:00Z", b.stored(), "the preview is valid UTF-8")

	l = d.bad[2]
	require.True(t, l.byRef)
	require.Equal(t, at(long2), l.offset)
	require.Equal(t, int64(len(long2)), l.length)
}

func TestCSVLongRecordEdges(t *testing.T) {
	hdr := "order_id,region,amount,ordered_at\n"
	t.Run("an unclosed quote runs to the end: the object fails", func(t *testing.T) {
		_, err := decodeCSV(t, hdr+`1,"never closed`+strings.Repeat("\nz", 40), 32)
		require.NoError(t, err)
		d, _ := decodeCSV(t, hdr+`1,"never closed`+strings.Repeat("\nz", 40), 32)
		var perr *ParseError
		require.ErrorAs(t, d.err, &perr)
		require.Contains(t, d.err.Error(), "line 2: a quoted field is never closed")
	})
	t.Run("a header longer than the limit", func(t *testing.T) {
		_, err := decodeCSV(t, strings.Repeat("h", 40)+"\n1,emea,1,2026-01-01T00:00:00Z\n", 32)
		var perr *ParseError
		require.ErrorAs(t, err, &perr)
		require.Contains(t, err.Error(), "header: line 1 is 40 bytes, longer than max_line_bytes 32")
	})
	t.Run("only long records", func(t *testing.T) {
		d, err := decodeCSV(t, hdr+strings.Repeat("9,"+strings.Repeat("r", 40)+",1,2026-01-01T00:00:00Z\n", 3), 32)
		require.NoError(t, err)
		require.NoError(t, d.err)
		require.Empty(t, d.rows)
		require.Equal(t, []int64{2, 3, 4}, d.badLines())
	})
	t.Run("a record of exactly the limit loads", func(t *testing.T) {
		rec := "1,emea-north-west-1,1,2026-01-01T00:00:00Z"
		d, err := decodeCSV(t, hdr+rec+"\r\n"+rec+"x\n", int64(len(rec)))
		require.NoError(t, err)
		require.Len(t, d.rows, 1)
		require.Equal(t, []int64{3}, d.badLines(), "one byte more is long")
	})
	t.Run("gzipped: offsets are in the decompressed content", func(t *testing.T) {
		long := "5," + strings.Repeat("g", 60) + ",1,2026-01-01T00:00:00Z"
		plain := hdr + "1,emea,1,2026-01-01T00:00:00Z\n" + long + "\n"
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write([]byte(plain))
		require.NoError(t, zw.Close())
		src := ordersSource
		src.MaxLineBytes = 32
		dec, err := openDecoder(src, "k.csv.gz", &zb, nil)
		require.NoError(t, err)
		d := drainDecoder(t, dec, src, "k.csv.gz")
		require.Len(t, d.bad, 1)
		require.Equal(t, int64(strings.Index(plain, long)), d.bad[0].offset)
		require.Equal(t, int64(len(long)), d.bad[0].length)
	})
}

// TestCSVManyLongRecordsStayBounded reads 300 records of 1 MiB + 1 byte (over the
// default limit) and checks that the feeder never held one whole.
func TestCSVManyLongRecordsStayBounded(t *testing.T) {
	row := "1," + strings.Repeat("m", 1<<20) + ",1,2026-01-01T00:00:00Z\n"
	r := &repeatReader{head: "order_id,region,amount,ordered_at\n", body: row, n: 300}
	src := ordersSource
	dec, err := newCSVDecoder(r, src, "k.csv")
	require.NoError(t, err)
	s := newRowSource(dec, src, "k.csv")
	for s.Next() {
	}
	require.NoError(t, s.Err())
	require.Equal(t, 300, s.bad.Len())
	require.Less(t, cap(dec.feed.buf), 1<<20+256<<10, "the feeder holds at most max_line_bytes and a read buffer")
	require.NoError(t, s.bad.Close())
}

// repeatReader yields head, then body n times.
type repeatReader struct {
	head, body string
	n          int
	cur        string
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for r.cur == "" {
		switch {
		case r.head != "":
			r.cur, r.head = r.head, ""
		case r.n > 0:
			r.cur = r.body
			r.n--
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func TestQuarantineSpillsToDisk(t *testing.T) {
	q := &Quarantine{}
	row := bytes.Repeat([]byte{0xff, 'q', 0}, 100<<10) // 300 KiB of bytes that are not text
	for i := range 40 {                                // 12 MiB: past spoolInMemory
		require.NoError(t, q.add(BadRow{line: int64(i + 1), raw: row, err: "bad", offset: int64(i), length: int64(len(row))}))
	}
	require.NoError(t, q.add(BadRow{line: 41, preview: "p…", err: "long", offset: 99, length: 5 << 20, byRef: true}))
	require.NotNil(t, q.f, "spilled")
	name := q.f.Name()
	require.Less(t, q.memBytes, spoolInMemory+len(row))
	for range 2 { // twice: reading does not consume
		rows := q.rows()
		require.Len(t, rows, 41)
		for i, b := range rows[:40] {
			require.Equal(t, int64(i+1), b.line)
			require.Equal(t, row, b.raw)
			require.Equal(t, int64(i), b.offset)
		}
		require.Equal(t, BadRow{line: 41, preview: "p…", err: "long", offset: 99, length: 5 << 20, byRef: true}, rows[40])
	}
	require.NoError(t, q.add(BadRow{line: 42, raw: []byte("after"), err: "x", offset: -1, length: -1}))
	require.Equal(t, []byte("after"), q.rows()[41].raw, "an add after a read appends")
	require.Equal(t, []string{"line 1: bad", "line 2: bad", "line 3: bad"}, q.first("line"))
	require.NoError(t, q.Close())
	_, err := os.Stat(name)
	require.True(t, os.IsNotExist(err), "the spill file is removed")
}

func TestQuarantineKeepsAtMostMaxRawBytesWhole(t *testing.T) {
	q := &Quarantine{}
	defer q.Close()
	row := bytes.Repeat([]byte("r"), 1<<20)
	n := maxRawBytes>>20 + 3
	for i := range n {
		require.NoError(t, q.add(BadRow{line: int64(i + 1), raw: row, err: "bad", offset: int64(i) << 20, length: 1 << 20}))
	}
	rows := q.rows()
	require.Len(t, rows, n)
	for i, b := range rows {
		if i < maxRawBytes>>20 {
			require.False(t, b.byRef, "row %d", i)
			require.Len(t, b.raw, 1<<20)
			continue
		}
		require.True(t, b.byRef, "row %d", i)
		require.Nil(t, b.raw)
		require.Equal(t, int64(i)<<20, b.offset)
		require.Contains(t, b.err, "kept by reference: the object's quarantine holds 256 MiB of records already")
	}
}
