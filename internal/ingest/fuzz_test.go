package ingest

// Fuzz targets of the decoders (CSV, JSON lines, Parquet, and gzip in front of the
// first two), through openDecoder and rowSource as LoadObject uses them, with no
// database: the COPY step is replaced by appendField, the binary encoding it runs on
// every good value. Seeds are in testdata/fuzz/<FuzzName>/ (small, textual) and in
// the f.Add calls below (large or generated ones: a 1 MB line, Parquet files written
// with parquet-go); `go test` runs all of them. To fuzz one target:
//
//	go test -run XXX -fuzz FuzzCSV -fuzztime 120s ./internal/ingest/
//
// Properties checked for every input, beyond "no panic":
//   - every record ends as a good row or as a bad row with a non-empty reason: the
//     counts match an independent count of the records (encoding/csv, a line split,
//     Parquet's row-group metadata), and the positions are the records' own;
//   - good values are of their column's kind, text is valid UTF-8 without NUL, and
//     every value encodes for binary COPY (a value that does not would fail the whole
//     object instead of being quarantined);
//   - bad rows keep their record and a reason that the quarantine can store (valid
//     UTF-8, no NUL); the reason, redacted as errors show it, is bounded and carries no
//     field value of the record; an object-level error is bounded and carries no field
//     value either;
//   - gzip: the gzipped input decodes exactly as the plain one; a truncated gzip body
//     ends in an error, never in a clean end with fewer rows; arbitrary gzip bytes
//     decode as the standard library's gzip reads them, or fail.
//   - no hang: inputs over 1 MB are skipped, and one decode taking over 10 s fails.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	stdgzip "compress/gzip"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"etl2elt/internal/plan"
)

const (
	// fuzzMaxInput bounds the inputs the fuzz targets try.
	fuzzMaxInput = 1 << 20
	// fuzzMaxReason bounds a bad row's reason once redacted, and fuzzMaxError an
	// object-level error (the object key is short here).
	fuzzMaxReason = 512
	fuzzMaxError  = 1024
	// fuzzSlow is how long one decode may take.
	fuzzSlow = 10 * time.Second
)

// fuzzHeader is the CSV header of typedSource's columns.
const fuzzHeader = "id,label,amount,at,paid,qty,day"

// fuzzResult is what one object gave through rowSource.
type fuzzResult struct {
	openErr error
	good    [][]any // declared values of the good rows
	outcome []bool  // per record, in order: true good, false bad
	pos     []int64 // per record, its position
	bad     []BadRow
	badSeen int64 // bad rows counted (past maxBadRowsKept, more than len(bad))
	extra   []string
	err     error
}

func (r fuzzResult) failed() bool { return r.openErr != nil || r.err != nil }

// fuzzDrain opens body as src's format under key and reads every record as LoadObject
// does, checking what holds for any format. tweak (may be nil) adjusts the decoder
// before the first record.
func fuzzDrain(t *testing.T, src plan.Source, key string, body io.Reader, tweak func(decoder)) fuzzResult {
	t.Helper()
	start := time.Now()
	defer func() {
		if d := time.Since(start); d > fuzzSlow {
			t.Errorf("decoding %s took %s", key, d)
		}
	}()
	var res fuzzResult
	dec, err := openDecoder(src, key, body, nil)
	if err != nil {
		checkObjectError(t, err)
		res.openErr = err
		return res
	}
	if tweak != nil {
		tweak(dec)
	}
	s := newRowSource(dec, src, key)
	for {
		nbad := s.bad.Len()
		ok := s.Next()
		for _, b := range s.bad.rows()[nbad:] {
			res.outcome = append(res.outcome, false)
			res.pos = append(res.pos, b.line)
		}
		if !ok {
			break
		}
		row := make([]any, len(src.Columns))
		for i, v := range s.Values() {
			checkGoodValue(t, src.Columns[i], v)
			row[i] = v.any()
		}
		res.good = append(res.good, row)
		res.outcome = append(res.outcome, true)
		res.pos = append(res.pos, s.line)
	}
	res.bad, res.badSeen, res.extra, res.err = s.bad.rows(), s.badCount, dec.Extra(), s.Err()
	s.bad.Close() //nolint:errcheck // a temporary file
	if cerr := dec.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	for i := 1; i < len(res.pos); i++ {
		if res.pos[i] <= res.pos[i-1] {
			t.Fatalf("positions do not increase: %v", res.pos)
		}
	}
	if len(res.pos) > 0 && res.pos[0] < 1 {
		t.Fatalf("position %d before the first record", res.pos[0])
	}
	if res.err != nil {
		checkObjectError(t, res.err)
		if errors.Is(res.err, ErrTooManyBadRows) && len(res.bad) != maxBadRowsKept {
			t.Fatalf("stopped for too many bad rows after %d", len(res.bad))
		}
	} else if res.badSeen != int64(len(res.bad)) {
		t.Fatalf("%d bad rows counted, %d kept", res.badSeen, len(res.bad))
	}
	for _, b := range res.bad {
		checkBadRow(t, src, b)
	}
	return res
}

// checkGoodValue: a good value is of its column's kind and encodes for binary COPY.
func checkGoodValue(t *testing.T, c plan.Column, v value) {
	t.Helper()
	want := map[string]valueKind{"text": vText, "bigint": vInt64, "integer": vInt32, "numeric": vDecimal,
		"boolean": vBool, "date": vTime, "timestamptz": vTime}[c.Type]
	if v.kind != vNull && v.kind != want {
		t.Fatalf("column %s (%s): a value of kind %d", c.Name, c.Type, v.kind)
	}
	if v.kind == vText && (!utf8.ValidString(v.s) || strings.IndexByte(v.s, 0) >= 0) {
		t.Fatalf("column %s: text %q is not valid UTF-8 without NUL: COPY would fail the object", c.Name, v.s)
	}
	if v.kind == vTime && v.t.Location() != time.UTC {
		t.Fatalf("column %s: time %v not in UTC", c.Name, v.t)
	}
	if _, err := appendField(nil, v, c.Type); err != nil {
		t.Fatalf("column %s: a good value does not encode (the whole COPY would fail): %v", c.Name, err)
	}
}

// checkBadRow: a bad row has a position, its record and a reason that the quarantine
// stores, bounded and without the record's values once redacted.
func checkBadRow(t *testing.T, src plan.Source, b BadRow) {
	t.Helper()
	if b.err == "" {
		t.Fatalf("bad row at %d without a reason", b.line)
	}
	if b.line < 1 {
		t.Fatalf("bad row at position %d", b.line)
	}
	if b.raw == nil && !b.byRef {
		t.Fatalf("bad row at %d: no record kept", b.line)
	}
	for what, s := range map[string]string{"record": b.stored(), "reason": b.err} {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("bad row at %d: its %s %q cannot be stored in the quarantine", b.line, what, s)
		}
	}
	red := b.err // stored redacted
	if len(red) > fuzzMaxReason {
		t.Fatalf("bad row at %d: a reason of %d bytes once redacted: %.200s…", b.line, len(red), red)
	}
	for _, v := range recordValues(string(b.raw)) {
		if leaks(red, v) {
			t.Fatalf("bad row at %d: the redacted reason %q shows the value %q", b.line, red, v)
		}
	}
}

// checkObjectError: an error that fails the object is bounded.
func checkObjectError(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); len(msg) > fuzzMaxError {
		t.Fatalf("an error of %d bytes: %.300s…", len(msg), msg)
	}
}

// checkNoValues: the error names none of the values (of a record, as recordValues).
func checkNoValues(t *testing.T, err error, values []string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, v := range values {
		if leaks(msg, v) {
			t.Fatalf("the error %q shows the value %q", msg, v)
		}
	}
}

// fuzzVocabulary is the text of the reasons and errors themselves: a value that is a
// piece of it (a column name, "number") is not told apart from the message.
var fuzzVocabulary = strings.ToLower(strings.Join([]string{
	"id label amount at paid qty day dec32 dec64 decbig nanos micros legacy float flag small unsign text astext",
	"column expected fields, got invalid UTF-8 NUL byte is not a bigint integer number boolean",
	"date (YYYY-MM-DD) timestamp (RFC 3339 or YYYY-MM-DD HH:MM:SS) given twice (keys that differ only in case)",
	"invalid JSON: more than one value on the line not a JSON object: null object array string boolean number",
	"a JSON line longer than bytes", errNumericRange.Error(),
	"invalid character looking for beginning of value after object key:value pair after array element",
	"looking for beginning of object key string in string literal in literal true (expecting 'r') false null",
	"in numeric literal after top-level value in \\u hexadecimal character escape in string escape code unexpected EOF",
	"object k.csv k.jsonl k.parquet .gz malformed CSV JSON lines Parquet header schema lacks declared column(s)",
	"read object gzip: invalid checksum header flate: corrupt input before offset truncated",
	"parse error on line extraneous or missing \" in quoted-field bare \" in non-quoted-field wrong number of fields",
	"row group decoder failed too many bad rows stopped after quarantining",
}, " "))

// leaks tells whether msg shows value v: a value of at least 4 bytes, not all digits
// (counts and positions are in messages), not a piece of the messages' own text.
func leaks(msg, v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 4 || strings.Trim(v, "0123456789+-.") == "" {
		return false
	}
	if strings.Contains(fuzzVocabulary, strings.ToLower(v)) {
		return false
	}
	return strings.Contains(msg, v)
}

// recordValues are a bad row's values: the fields of a CSV line, or the strings and
// numbers of a JSON line (a Parquet row is quarantined as JSON too); what does not
// parse is taken as one value.
func recordValues(record string) []string {
	if strings.HasPrefix(strings.TrimSpace(record), "{") || strings.HasPrefix(strings.TrimSpace(record), "[") {
		var out []string
		dec := json.NewDecoder(strings.NewReader(record))
		dec.UseNumber()
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			switch x := tok.(type) {
			case string:
				out = append(out, x)
			case json.Number:
				out = append(out, string(x))
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	r := csv.NewReader(strings.NewReader(record))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if rec, err := r.Read(); err == nil {
		return rec
	}
	return []string{record}
}

// gz compresses b.
func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// sameResult: the gzipped object decoded as the plain one (errors alike in kind).
func sameResult(t *testing.T, what string, plain, other fuzzResult) {
	t.Helper()
	if (plain.openErr == nil) != (other.openErr == nil) || (plain.err == nil) != (other.err == nil) {
		t.Fatalf("%s: errors differ: plain (%v, %v), %s (%v, %v)", what, plain.openErr, plain.err, what, other.openErr, other.err)
	}
	if reflect.TypeOf(plain.openErr) != reflect.TypeOf(other.openErr) {
		t.Fatalf("%s: errors differ: plain %T %v, %s %T %v", what, plain.openErr, plain.openErr, what, other.openErr, other.openErr)
	}
	if !reflect.DeepEqual(plain.good, other.good) || !reflect.DeepEqual(plain.pos, other.pos) || !reflect.DeepEqual(plain.bad, other.bad) {
		t.Fatalf("%s: %d good, %d bad rows; plain: %d good, %d bad", what, len(other.good), len(other.bad), len(plain.good), len(plain.bad))
	}
	if !reflect.DeepEqual(plain.extra, other.extra) {
		t.Fatalf("%s: extra %v, plain %v", what, other.extra, plain.extra)
	}
}

// checkTruncatedGzip: the gzipped body cut at cut bytes (of len(z)) fails, and the
// records read before are the plain object's first ones.
func checkTruncatedGzip(t *testing.T, src plan.Source, key string, z []byte, cut int, plain fuzzResult, tweak func(decoder)) {
	t.Helper()
	cut %= len(z) // len(z) - 1 at most: the trailer is cut at least
	short := fuzzDrain(t, src, key, bytes.NewReader(z[:cut]), tweak)
	if !short.failed() {
		t.Fatalf("gzip cut at %d of %d bytes: a clean end after %d good and %d bad rows (plain: %d and %d)",
			cut, len(z), len(short.good), len(short.bad), len(plain.good), len(plain.bad))
	}
	if len(short.outcome) > len(plain.outcome) || !slices.Equal(short.pos, plain.pos[:len(short.pos)]) ||
		!slices.EqualFunc(short.good, plain.good[:len(short.good)], func(a, b []any) bool { return reflect.DeepEqual(a, b) }) {
		t.Fatalf("gzip cut at %d: the rows read before the error are not the object's first ones", cut)
	}
	// The object fails as bad input (not retried): mostly a *ParseError, or what the
	// bytes before the cut make of it (a header that lacks the declared columns).
	var bad interface{ BadInput() bool }
	for _, err := range []error{short.openErr, short.err} {
		if err != nil && !(errors.As(err, &bad) && bad.BadInput()) && !errors.Is(err, ErrTooManyBadRows) {
			t.Fatalf("gzip cut at %d: %T %v, not a malformed object", cut, err, err)
		}
	}
}

func fuzzCSVSource() plan.Source { s := typedSource; s.Format = formatCSV; return s }

func fuzzJSONLSource() plan.Source { s := typedSource; s.Format = formatJSONL; return s }

// csvRecords reads data as the CSV decoder frames it: the header, then every record
// and its line until the end or the first framing error.
func csvRecords(data []byte) (header []string, recs [][]string, lines []int64, err error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err = r.Read()
	if err != nil {
		return nil, nil, nil, err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return header, recs, lines, nil
		}
		if err != nil {
			return header, recs, lines, err
		}
		line, _ := r.FieldPos(0)
		recs, lines = append(recs, rec), append(lines, int64(line))
	}
}

func FuzzCSV(f *testing.F) {
	f.Fuzz(fuzzCSV)
}

// fuzzCSV checks one CSV object (and its gzipped form, cut at cut bytes too).
func fuzzCSV(t *testing.T, data []byte, cut uint16) {
	if len(data) > fuzzMaxInput {
		t.Skip()
	}
	src := fuzzCSVSource()
	plain := fuzzDrain(t, src, "k.csv", bytes.NewReader(data), nil)

	header, recs, lines, ferr := csvRecords(data)
	switch {
	case len(data) == 0 || errors.Is(ferr, io.EOF):
		var empty *EmptyObjectError
		if !errors.As(plain.openErr, &empty) {
			t.Fatalf("no header: %v", plain.openErr)
		}
	case header == nil:
		var perr *ParseError
		if !errors.As(plain.openErr, &perr) {
			t.Fatalf("a broken header (%v): %v", ferr, plain.openErr)
		}
	case plain.openErr != nil:
		var hdr *HeaderError
		var serr *SchemaError
		if !errors.As(plain.openErr, &hdr) && !errors.As(plain.openErr, &serr) {
			t.Fatalf("header %q: %T %v", header, plain.openErr, plain.openErr)
		}
	default:
		checkCSVRecords(t, plain, header, recs, lines, ferr)
	}
	var values []string
	for _, r := range recs {
		values = append(values, r...)
	}
	checkNoValues(t, plain.openErr, values)
	checkNoValues(t, plain.err, values)

	z := gz(t, data)
	zipped := fuzzDrain(t, src, "k.csv.gz", bytes.NewReader(z), nil)
	sameResult(t, "gzip", plain, zipped)
	checkTruncatedGzip(t, src, "k.csv.gz", z, int(cut), plain, nil)
}

// checkCSVRecords: every record (as encoding/csv frames them) is a good or a bad row,
// at its line; a good row's fields are the record's.
func checkCSVRecords(t *testing.T, res fuzzResult, header []string, recs [][]string, lines []int64, ferr error) {
	t.Helper()
	if errors.Is(res.err, ErrTooManyBadRows) {
		if int64(len(res.good))+res.badSeen > int64(len(recs)) {
			t.Fatalf("%d good and %d bad rows of %d records", len(res.good), res.badSeen, len(recs))
		}
		return
	}
	if ferr != nil {
		var perr *ParseError
		if !errors.As(res.err, &perr) {
			t.Fatalf("broken framing (%v) after %d records: %v", ferr, len(recs), res.err)
		}
	} else if res.err != nil {
		t.Fatalf("%d records: %v", len(recs), res.err)
	}
	if len(res.outcome) != len(recs) {
		t.Fatalf("%d records, %d good and %d bad rows", len(recs), len(res.good), len(res.bad))
	}
	if !reflect.DeepEqual(res.pos, lines) {
		t.Fatalf("positions %v, lines %v", res.pos, lines)
	}
	label := -1 // the header's field of the text column
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		if strings.ToLower(strings.TrimSpace(h)) == "label" {
			label = i
		}
	}
	g, b := 0, 0
	for k, good := range res.outcome {
		if !good {
			// The quarantine keeps the record's own bytes: they read as the record.
			cr := csv.NewReader(bytes.NewReader(res.bad[b].raw))
			cr.FieldsPerRecord = -1
			if got, err := cr.Read(); err != nil || !reflect.DeepEqual(got, recs[k]) {
				t.Fatalf("line %d: quarantined as %q (%v), read %q", lines[k], res.bad[b].raw, err, recs[k])
			}
			b++
			continue
		}
		if len(recs[k]) != len(header) {
			t.Fatalf("line %d: a good row of %d fields, the header has %d", lines[k], len(recs[k]), len(header))
		}
		if got := res.good[g][1]; label >= 0 && recs[k][label] != got {
			t.Fatalf("line %d: label %q, field %q", lines[k], got, recs[k][label])
		}
		g++
	}
}

// jsonlRecords splits data as the JSON lines decoder does: the position and the text
// of every line that is a record (not blank, or longer than maxLine).
func jsonlRecords(data []byte, maxLine int) (lines []int64, texts [][]byte) {
	var n int64
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		n++
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) <= maxLine {
			if n == 1 {
				line = bytes.TrimPrefix(line, []byte("\ufeff"))
			}
			if len(bytes.Trim(line, " \t\r")) == 0 {
				continue
			}
		}
		lines, texts = append(lines, n), append(texts, line)
	}
	return lines, texts
}

func FuzzJSONL(f *testing.F) {
	f.Fuzz(fuzzJSONL)
}

// fuzzJSONL checks one JSON lines object (and its gzipped form, cut at cut bytes too)
// read with lines of at most maxLine bytes (0: the default).
func fuzzJSONL(t *testing.T, data []byte, cut uint16, maxLine uint8) {
	if len(data) > fuzzMaxInput {
		t.Skip()
	}
	src := fuzzJSONLSource()
	limit := plan.DefaultMaxLineBytes
	var tweak func(decoder)
	if maxLine > 0 {
		limit = int(maxLine)
		tweak = func(d decoder) { d.(*jsonlDecoder).maxLine = limit }
	}
	plain := fuzzDrain(t, src, "k.jsonl", bytes.NewReader(data), tweak)
	if len(data) == 0 {
		var empty *EmptyObjectError
		if !errors.As(plain.openErr, &empty) {
			t.Fatalf("empty: %v", plain.openErr)
		}
		return
	}
	if plain.openErr != nil {
		t.Fatalf("open: %v", plain.openErr)
	}
	lines, texts := jsonlRecords(data, limit)
	checkJSONLRecords(t, plain, lines, texts, limit)
	if len(plain.extra) > maxExtraColumns {
		t.Fatalf("%d extra keys reported", len(plain.extra))
	}
	var values []string
	for _, l := range texts {
		values = append(values, recordValues(string(l))...)
	}
	checkNoValues(t, plain.err, values)

	z := gz(t, data)
	zipped := fuzzDrain(t, src, "k.jsonl.gz", bytes.NewReader(z), tweak)
	sameResult(t, "gzip", plain, zipped)
	checkTruncatedGzip(t, src, "k.jsonl.gz", z, int(cut), plain, tweak)
}

// TestFuzzLargeSeeds runs the fuzz checks on inputs too large to seed the fuzzers
// with (mutating and minimizing megabytes stalls them): 1 MB lines and fields, a
// quoted field of many lines, thousands of rows, more bad rows than are kept.
func TestFuzzLargeSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	csvRow := "1,a,1,2026-01-01T00:00:00Z,t,1,2026-01-01\n"
	t.Run("csv 1 MB field", func(t *testing.T) {
		fuzzCSV(t, []byte(fuzzHeader+"\n"+strings.Repeat("x", 1<<20-len(fuzzHeader)-40)+csvRow[1:]), 7)
	})
	t.Run("csv quoted lines", func(t *testing.T) {
		fuzzCSV(t, []byte(fuzzHeader+"\n1,\""+strings.Repeat("a\n", 1<<15)+"\",1,2026-01-01T00:00:00Z,t,1,2026-01-01\n"), 0)
	})
	t.Run("csv rows", func(t *testing.T) { fuzzCSV(t, []byte(fuzzHeader+"\n"+strings.Repeat(csvRow, 2000)), 1000) })
	t.Run("csv too many bad rows", func(t *testing.T) {
		fuzzCSV(t, []byte(fuzzHeader+"\n"+strings.Repeat("x"+csvRow[1:], maxBadRowsKept+1)), 99)
	})
	long := `{"label":"` + strings.Repeat("x", 1<<20-20) + `"}` + "\n" + `{"id":1}`
	t.Run("jsonl 1 MB line", func(t *testing.T) { fuzzJSONL(t, []byte(long), 3, 0) })
	t.Run("jsonl 1 MB line over the limit", func(t *testing.T) { fuzzJSONL(t, []byte(long), 3, 200) })
	t.Run("jsonl rows", func(t *testing.T) {
		fuzzJSONL(t, []byte(strings.Repeat(`{"id":1,"label":"a","amount":1e3,"at":"2026-01-01T00:00:00Z","paid":true,"qty":1,"day":"2026-01-01"}`+"\n", 2000)), 5000, 0)
	})
	t.Run("jsonl too many bad rows", func(t *testing.T) {
		fuzzJSONL(t, []byte(strings.Repeat(`{"id":"x"}`+"\n", maxBadRowsKept+1)), 77, 0)
	})
	t.Run("jsonl many extra keys", func(t *testing.T) {
		var many strings.Builder
		many.WriteString("{")
		for i := range 300 {
			fmt.Fprintf(&many, `"k%d":%d,`, i, i)
		}
		many.WriteString(`"id":1}`)
		fuzzJSONL(t, []byte(many.String()), 1, 0)
	})
}

// checkJSONLRecords: every record line is a good or a bad row, at its line; a good
// row's text column is the line's label.
func checkJSONLRecords(t *testing.T, res fuzzResult, lines []int64, texts [][]byte, maxLine int) {
	t.Helper()
	if errors.Is(res.err, ErrTooManyBadRows) {
		if int64(len(res.good))+res.badSeen > int64(len(lines)) {
			t.Fatalf("%d good and %d bad rows of %d records", len(res.good), res.badSeen, len(lines))
		}
		return
	}
	if res.err != nil {
		t.Fatalf("%d records: %v", len(lines), res.err)
	}
	if !reflect.DeepEqual(res.pos, lines) {
		t.Fatalf("positions %v, records at lines %v", res.pos, lines)
	}
	g := 0
	for k, good := range res.outcome {
		if !good {
			continue
		}
		if len(texts[k]) > maxLine {
			t.Fatalf("line %d: a good row of %d bytes, over %d", lines[k], len(texts[k]), maxLine)
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(texts[k]))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("line %d: a good row of invalid JSON: %v", lines[k], err)
		}
		for key, v := range obj {
			if strings.ToLower(key) != "label" {
				continue
			}
			var want any
			switch x := v.(type) {
			case string:
				want = x
			case json.Number:
				want = string(x)
			case bool:
				want = fmt.Sprint(x)
			default:
				continue
			}
			if got := res.good[g][1]; got != want {
				t.Fatalf("line %d: label %#v, the line has %#v", lines[k], got, want)
			}
		}
		g++
	}
}

// FuzzGzip feeds arbitrary bytes as a gzipped CSV or JSON lines object: it decodes as
// the standard library's gzip reader reads them, or fails as malformed gzip; what the
// standard library refuses, it refuses too.
func FuzzGzip(f *testing.F) {
	for _, s := range []string{fuzzHeader + "\n1,a,1,2026-01-01T00:00:00Z,t,1,2026-01-01\n", `{"id":1,"label":"a"}` + "\n" + `{"id":"x"}`} {
		var b bytes.Buffer
		w := stdgzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		f.Add(b.Bytes(), strings.HasPrefix(s, "{"))
		f.Add(append(b.Bytes(), b.Bytes()...), strings.HasPrefix(s, "{")) // two members
	}
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		src, key := fuzzCSVSource(), "k.csv.gz"
		if jsonl {
			src, key = fuzzJSONLSource(), "k.jsonl.gz"
		}
		// What the standard library reads, bounded (a small object can unzip to a lot).
		var content []byte
		stdErr := errors.New("empty")
		if zr, err := stdgzip.NewReader(bytes.NewReader(data)); err == nil {
			content, stdErr = io.ReadAll(io.LimitReader(zr, 4<<20+1))
			if len(content) > 4<<20 {
				t.Skip()
			}
		} else if err != io.EOF {
			stdErr = err
		}
		got := fuzzDrain(t, src, key, bytes.NewReader(data), nil)
		if stdErr != nil {
			if !got.failed() {
				t.Fatalf("compress/gzip fails (%v), the decoder read %d good and %d bad rows", stdErr, len(got.good), len(got.bad))
			}
			return
		}
		want := fuzzDrain(t, src, strings.TrimSuffix(key, ".gz"), bytes.NewReader(content), nil)
		// Stricter than compress/gzip is fine (reserved header flags set): the object
		// then fails as malformed gzip.
		var perr *ParseError
		for _, err := range []error{got.openErr, got.err} {
			if errors.As(err, &perr) && strings.Contains(perr.Err.Error(), "gzip") {
				return
			}
		}
		sameResult(t, "gzip", want, got)
	})
}

// parquetSources are the declared columns a fuzzed Parquet object is read with (the
// fuzz input picks one): typedSource for parquetEvent, the columns of parquetTypes,
// and one text column.
var parquetSources = []plan.Source{
	typedSource,
	{Name: "types", Columns: []plan.Column{
		{Name: "dec32", Type: "numeric"}, {Name: "dec64", Type: "numeric"}, {Name: "decbig", Type: "numeric"},
		{Name: "nanos", Type: "timestamptz"}, {Name: "micros", Type: "timestamptz"}, {Name: "legacy", Type: "timestamptz"},
		{Name: "float", Type: "numeric"}, {Name: "day", Type: "date"}, {Name: "flag", Type: "boolean"},
		{Name: "small", Type: "integer"}, {Name: "unsign", Type: "numeric"}, {Name: "text", Type: "text"}, {Name: "astext", Type: "text"},
	}},
	{Name: "one", Columns: []plan.Column{{Name: "label", Type: "text"}}},
}

// fuzzParquetSeeds are Parquet objects written with parquet-go: rows of every type,
// nulls, values that fail conversion, several row groups, compression, dictionaries,
// and objects that must fail (truncated, wrong schema).
func fuzzParquetSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	add := func(name string, b []byte, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seeds[name] = b
	}
	odd := event(2)
	odd.Label, odd.Paid = nil, nil
	odd.Qty = 3_000_000_000
	odd.Amount = math.NaN()
	inf := event(3)
	inf.Amount = math.Inf(-1)
	inf.Note = "a\x00b"
	badText := event(4)
	badText.Label = ptr("em\xffea\x00")
	negZero := event(5)
	negZero.Amount = math.Copysign(0, -1)
	negZero.At = time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)
	negZero.Day = math.MinInt32
	events := []parquetEvent{event(1), odd, inf, badText, negZero}
	types := parquetTypes{Dec32: -1250, Dec64: math.MinInt64, DecBig: [13]byte{0x80}, Nanos: math.MaxInt64, Micros: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		Float: float32(math.Inf(1)), Day: math.MaxInt32, Flag: true, Small: math.MinInt32, Unsign: math.MaxUint64, Text: []byte("\xff"), AsText: math.MaxInt64}
	b, err := fuzzWrite(events)
	add("events", b, err)
	b, err = fuzzWrite(append(events, events...), parquet.MaxRowsPerRowGroup(2))
	add("events, row groups", b, err)
	b, err = fuzzWrite(events, parquet.Compression(&parquet.Zstd))
	add("events, zstd", b, err)
	b, err = fuzzWrite(events, parquet.Compression(&parquet.Snappy), parquet.PageBufferSize(64))
	add("events, snappy", b, err)
	b, err = fuzzWrite([]parquetEvent{})
	add("no rows", b, err)
	b, err = fuzzWrite([]parquetTypes{types, {}})
	add("types", b, err)
	// A schema without the declared columns, one with a nested column of a declared
	// name, one of other types, and one with two names that differ only in case.
	b, err = fuzzWrite([]struct {
		A string `parquet:"a"`
	}{{"x"}})
	add("other schema", b, err)
	b, err = fuzzWrite([]struct {
		ID    int64 `parquet:"id"`
		Label struct {
			X string `parquet:"x"`
		} `parquet:"label"`
	}{{ID: 1}})
	add("nested label", b, err)
	b, err = fuzzWrite([]struct {
		ID     string  `parquet:"id"`
		Label  float64 `parquet:"label"`
		Amount string  `parquet:"amount"`
		At     string  `parquet:"at"`
		Paid   string  `parquet:"paid"`
		Qty    float32 `parquet:"qty"`
		Day    string  `parquet:"day"`
	}{{"1e400", 1e300, "-0", "2026-01-01T00:00:00+23:59", "yes", 1.5, "0000-01-01"}, {"NaN", math.NaN(), "1e400", "2026-13-01", "x", -0, "2026-02-30"}})
	add("wrong types", b, err)
	b, err = fuzzWrite([]struct {
		Label string `parquet:"label"`
		LABEL string `parquet:"LABEL"`
	}{{"a", "b"}})
	add("case twins", b, err)
	whole := seeds["events"]
	seeds["truncated footer"] = whole[:len(whole)-10]
	seeds["truncated data"] = append(append([]byte{}, whole[:len(whole)/3]...), whole[len(whole)-8:]...)
	seeds["magic only"] = []byte("PAR1PAR1")
	seeds["huge footer length"] = []byte("PAR1\xff\xff\xff\x7fPAR1")
	return seeds
}

// fuzzWrite writes rows as a Parquet object.
func fuzzWrite[T any](rows []T, opts ...parquet.WriterOption) ([]byte, error) {
	var b bytes.Buffer
	err := parquet.Write(&b, rows, opts...)
	return b.Bytes(), err
}

// parquetRows is the number of rows the object's metadata announces, or -1 when
// parquet-go cannot open it; lz4 tells whether a column chunk is LZ4-compressed.
func parquetRows(data []byte) (n int64, lz4 bool) {
	f, err := openParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return -1, false
	}
	for _, g := range f.RowGroups() {
		n += g.NumRows()
	}
	for _, g := range f.Metadata().RowGroups {
		for _, c := range g.Columns {
			lz4 = lz4 || c.MetaData.Codec == format.Lz4 || c.MetaData.Codec == format.Lz4Raw
		}
	}
	return n, lz4
}

func FuzzParquet(f *testing.F) {
	seeds := fuzzParquetSeeds(f)
	for _, name := range []string{"events", "events, row groups", "events, zstd", "events, snappy", "no rows", "types",
		"other schema", "nested label", "wrong types", "case twins", "truncated footer", "truncated data", "magic only", "huge footer length"} {
		for which := range len(parquetSources) {
			f.Add(seeds[name], uint8(which))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		src := parquetSources[int(which)%len(parquetSources)]
		src.Format = formatParquet
		n, lz4 := parquetRows(data)
		if lz4 {
			// Known, not fixed here: parquet-go's LZ4 decoder doubles its buffer
			// without bound on a corrupt page (see TestParquetCorruptLZ4PageGrowsMemory).
			t.Skip("LZ4")
		}
		res := fuzzDrain(t, src, "k.parquet", bytes.NewReader(data), nil)
		if len(data) == 0 {
			var empty *EmptyObjectError
			if !errors.As(res.openErr, &empty) {
				t.Fatalf("empty: %v", res.openErr)
			}
			return
		}
		if res.openErr != nil {
			var perr *ParseError
			var hdr *HeaderError
			var serr *SchemaError
			if !errors.As(res.openErr, &perr) && !errors.As(res.openErr, &hdr) && !errors.As(res.openErr, &serr) {
				t.Fatalf("open: %T %v", res.openErr, res.openErr)
			}
			return
		}
		// A row group that cannot be read fails the object; else every row the
		// metadata announces is a good or a bad row, numbered 1, 2, 3…
		if res.err != nil {
			var perr *ParseError
			if !errors.As(res.err, &perr) && !errors.Is(res.err, ErrTooManyBadRows) {
				t.Fatalf("%T %v", res.err, res.err)
			}
			if int64(len(res.outcome)) > n {
				t.Fatalf("%d rows read, %d announced", len(res.outcome), n)
			}
		} else if int64(len(res.outcome)) != n {
			t.Fatalf("%d rows announced, %d good and %d bad rows", n, len(res.good), len(res.bad))
		}
		for i, p := range res.pos {
			if p != int64(i+1) {
				t.Fatalf("row %d at position %d", i+1, p)
			}
		}
	})
}

// TestParquetCorruptLZ4PageIsRefused: a 1 KB object whose page is marked LZ4 and does
// not decompress made parquet-go's lz4 codec double its output buffer until memory
// ran out (32 GB asked within a second, found by FuzzParquet). LZ4-compressed objects
// are refused at open, before any page is read: the object fails alone, as malformed.
func TestParquetCorruptLZ4PageIsRefused(t *testing.T) {
	b, err := os.ReadFile("testdata/parquet_corrupt_lz4_page.bin")
	if err != nil {
		t.Fatal(err)
	}
	src := parquetSources[2]
	src.Format = formatParquet
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = openDecoder(src, "k.parquet", bytes.NewReader(b), nil)
	runtime.ReadMemStats(&after)
	var perr *ParseError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "LZ4") {
		t.Fatalf("want a malformed-object error naming LZ4, got %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Fatalf("%d bytes allocated", n)
	}
}

// TestParquetFooterLengthIsChecked: a 12-byte object claiming a 2 GB footer fails
// without parquet-go allocating the claimed length (found by FuzzParquet).
func TestParquetFooterLengthIsChecked(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := openParquet(bytes.NewReader([]byte("PAR1\xff\xff\xff\x7fPAR1")), 12)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "footer") {
		t.Fatalf("got %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("%d bytes allocated", n)
	}
}
