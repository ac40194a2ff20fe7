package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

func decodeJSONL(t *testing.T, body string, maxLine int) (decoded, error) {
	t.Helper()
	src := typedSource
	src.Format = formatJSONL
	dec, err := newJSONLDecoder(strings.NewReader(body), src, "k.jsonl")
	if err != nil {
		return decoded{}, err
	}
	if maxLine > 0 {
		dec.maxLine = maxLine
	}
	return drainDecoder(t, dec, src, "k.jsonl"), nil
}

func TestJSONLDecoder(t *testing.T) {
	null7 := []any{nil, nil, nil, nil, nil, nil, nil}
	with := func(i int, v any) []any {
		r := append([]any(nil), null7...)
		r[i] = v
		return r
	}
	tests := []struct {
		name     string
		body     string
		maxLine  int
		want     [][]any // declared columns of the good rows
		badLines []int64
		badMsg   string
		badRaw   string
		extra    []string
	}{
		{name: "every type",
			body: `{"id":1,"label":"emea","amount":12.50,"at":"2026-01-01T10:00:00Z","paid":true,"qty":3,"day":"2026-01-02"}` + "\n",
			want: [][]any{{int64(1), "emea", "12.50", "2026-01-01T10:00:00Z", true, int32(3), "2026-01-02T00:00:00Z"}}},
		{name: "strings convert like CSV fields",
			body: `{"id":"7","amount":"3.5","at":"2026-01-01 11:00:00","paid":"f","qty":"-2"}`,
			want: [][]any{{int64(7), nil, "3.5", "2026-01-01T11:00:00Z", false, int32(-2), nil}}},
		{name: "big and precise numbers survive",
			body: `{"id":9007199254740993,"amount":12345678901234567890.123456789012}`,
			want: [][]any{{int64(9007199254740993), nil, "12345678901234567890.123456789012", nil, nil, nil, nil}}},
		{name: "an exponent is expanded",
			body: `{"id":1e3,"amount":-1.5E-3}`,
			want: [][]any{{int64(1000), nil, "-0.0015", nil, nil, nil, nil}}},
		{name: "a number for text keeps its literal text", body: `{"label":12.50}`, want: [][]any{with(1, "12.50")}},
		{name: "a boolean for text", body: `{"label":false}`, want: [][]any{with(1, "false")}},
		{name: "an object for text is compact JSON", body: `{"label":{"b":[1, 2.0], "a":"<x>"}}`, want: [][]any{with(1, `{"a":"<x>","b":[1,2.0]}`)}},
		{name: "null is NULL, text too", body: `{"id":null,"label":null,"paid":null}`, want: [][]any{null7}},
		{name: "a missing key is NULL", body: `{}`, want: [][]any{null7}},
		{name: "an empty string is NULL but for text", body: `{"id":"","label":""}`, want: [][]any{with(1, "")}},
		{name: "keys match case-insensitively", body: `{"ID":5}`, want: [][]any{with(0, int64(5))}},
		{name: "extra keys are reported once",
			body:  `{"id":1,"zeta":1,"note":"x"}` + "\n" + `{"id":2,"note":"y","alpha":true}` + "\n",
			want:  [][]any{with(0, int64(1)), with(0, int64(2))},
			extra: []string{"note", "zeta", "alpha"}},
		{name: "blank lines are skipped, lines keep counting",
			body:     "\n" + `{"id":1}` + "\r\n  \t\r\n\n" + `{"id":"x"}` + "\n\n",
			want:     [][]any{with(0, int64(1))},
			badLines: []int64{5}, badMsg: `column id: "x" is not a bigint`, badRaw: `{"id":"x"}`},
		{name: "CRLF, a byte order mark and no final newline",
			body: "\ufeff" + `{"id":1}` + "\r\n" + `{"id":2}`,
			want: [][]any{with(0, int64(1)), with(0, int64(2))}},
		{name: "invalid JSON is a bad row",
			body:     `{"id":1}` + "\n" + `{"id":2,` + "\n" + `{"id":3}` + "\n",
			want:     [][]any{with(0, int64(1)), with(0, int64(3))},
			badLines: []int64{2}, badMsg: "invalid JSON: unexpected EOF", badRaw: `{"id":2,`},
		{name: "two values on a line", body: `{"id":1} {"id":2}`, badLines: []int64{1}, badMsg: "invalid JSON: more than one value on the line"},
		{name: "not an object", body: `[1,2]`, badLines: []int64{1}, badMsg: "not a JSON object: array"},
		{name: "null line", body: `null`, badLines: []int64{1}, badMsg: "not a JSON object: null"},
		{name: "invalid UTF-8", body: "{\"label\":\"em\xffea\"}\n", badLines: []int64{1}, badMsg: "invalid UTF-8", badRaw: "{\"label\":\"em\ufffdea\"}"},
		{name: "NUL in a string", body: `{"label":"a\u0000b"}`, badLines: []int64{1}, badMsg: "column label: NUL byte"},
		{name: "wrong type: a boolean for a bigint", body: `{"id":true}`, badLines: []int64{1}, badMsg: `column id: "true" is not a bigint`},
		{name: "wrong type: a decimal for a bigint", body: `{"id":1.5}`, badLines: []int64{1}, badMsg: `column id: "1.5" is not a bigint`},
		{name: "wrong type: an object for a numeric", body: `{"amount":{"v":1}}`, badLines: []int64{1}, badMsg: "column amount: a JSON object is not a numeric"},
		{name: "wrong type: an array for a date", body: `{"day":[]}`, badLines: []int64{1}, badMsg: "column day: a JSON array is not a date"},
		{name: "wrong type: an integer out of range", body: `{"qty":3000000000}`, badLines: []int64{1}, badMsg: `column qty: "3000000000" is not an integer`},
		{name: "keys differing only in case", body: `{"id":1,"Id":2}`, badLines: []int64{1}, badMsg: "column id: given twice"},
		{name: "an over-long line is a bad row, the next one loads",
			body:     `{"label":"` + strings.Repeat("x", 40) + `"}` + "\n" + `{"id":2}` + "\n",
			maxLine:  32,
			want:     [][]any{with(0, int64(2))},
			badLines: []int64{1}, badMsg: "line of 52 bytes, longer than max_line_bytes 32: kept by reference", badRaw: `{"label":"` + strings.Repeat("x", 40) + `"}…`},
		{name: "a line of exactly the limit loads", body: `{"id":12345}` + "\r\n", maxLine: len(`{"id":12345}`), want: [][]any{with(0, int64(12345))}},
		{name: "only blank lines load nothing", body: "\n \n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := decodeJSONL(t, tt.body, tt.maxLine)
			require.NoError(t, err)
			d.requireRows(t, tt.want, tt.badLines, tt.badMsg)
			for _, b := range d.bad {
				if tt.badRaw != "" {
					require.Equal(t, tt.badRaw, b.stored())
				}
			}
			require.Equal(t, tt.extra, d.extra)
		})
	}
}

func TestJSONLLineageIsTheLine(t *testing.T) {
	d, err := decodeJSONL(t, "\n"+`{"id":1}`+"\n\n"+`{"id":2}`+"\n", 0)
	require.NoError(t, err)
	require.Len(t, d.rows, 2)
	n := len(typedSource.Columns)
	require.Equal(t, []any{int64(2)}, d.rows[0][n:], "the line")
	require.Equal(t, int64(4), d.rows[1][n])
}

func TestJSONLLongLineKeepsMemoryBounded(t *testing.T) {
	// A line longer than the default limit (1 MiB): skipped, kept by reference (where
	// it is, its length, its first bytes).
	body := "\n" + `{"label":"` + strings.Repeat("x", plan.DefaultMaxLineBytes) + `"}` + "\r\n" + `{"id":1}` + "\n"
	d, err := decodeJSONL(t, body, 0)
	require.NoError(t, err)
	require.Len(t, d.rows, 1)
	require.Equal(t, []int64{2}, d.badLines())
	b := d.bad[0]
	require.True(t, b.byRef)
	require.Nil(t, b.raw, "not copied")
	require.Len(t, b.preview, previewBytes, "1 KiB, the ellipsis included")
	require.Equal(t, int64(1), b.offset, "after the blank first line")
	require.Equal(t, int64(plan.DefaultMaxLineBytes+len(`{"label":""}`)), b.length, "without its end of line")
	require.Equal(t, fmt.Sprintf("line of %d bytes, longer than max_line_bytes 1048576: kept by reference (byte_offset, byte_length)", b.length), b.err)
}

func TestJSONLObjectErrors(t *testing.T) {
	_, err := decodeJSONL(t, "", 0)
	var empty *EmptyObjectError
	require.ErrorAs(t, err, &empty)
	require.EqualError(t, err, "object k.jsonl is empty (zero bytes): not a JSON lines object")
}

func TestJSONLStopsAfterTooManyBadRows(t *testing.T) {
	body := strings.Repeat("{\"id\":\"x\"}\n", maxBadRowsKept+5)
	d, err := decodeJSONL(t, body, 0)
	require.NoError(t, err)
	require.ErrorIs(t, d.err, ErrTooManyBadRows)
	require.Len(t, d.bad, maxBadRowsKept)
}

func TestPlainDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"12": "12", "1e3": "1000", "1E+3": "1000", "1.5e1": "15", "1.25e1": "12.5", "-1.5e-3": "-0.0015",
		"12e-2": "0.12", "0.5e1": "5", "0.05e1": "0.5", "0e0": "0", "1e2000": "1e2000",
	} {
		require.Equal(t, want, plainDecimal(in), in)
	}
}
