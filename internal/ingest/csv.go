package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"etl2elt/internal/plan"
)

// csvDecoder reads a CSV object whose header names the columns.
type csvDecoder struct {
	r         *csv.Reader
	feed      *csvFeeder
	convs     []converter
	cols      []plan.Column
	index     []int // plan column i is CSV field index[i]
	nfields   int
	objectKey string
	extra     []string
	rec       []string // the last record read
	// raw is the last record as the object holds it, at offset rawAt.
	raw   []byte
	rawAt int64
	// pending is a record read but not returned yet (a long record before it goes
	// first).
	pending *csvRead
	// at is encoding/csv's offset after the last record read.
	at int64
}

// csvRead is one encoding/csv Read: the record, its line, its error, and where its
// bytes end.
type csvRead struct {
	rec  []string
	line int
	err  error
	from int64
	to   int64
}

// HeaderError reports a header (CSV) or a schema (Parquet) that does not carry the
// declared columns.
type HeaderError struct {
	ObjectKey string
	Missing   []string
	// Duplicate lists declared columns the object names more than once (which one
	// holds the values is ambiguous).
	Duplicate []string
	// Format is the source's format ("" is csv).
	Format string
}

func (e *HeaderError) Error() string {
	what := "header"
	if e.Format == formatParquet {
		what = "schema"
	}
	if len(e.Missing) == 0 {
		return fmt.Sprintf("object %s: %s names declared column(s) %s more than once", e.ObjectKey, what, strings.Join(e.Duplicate, ", "))
	}
	return fmt.Sprintf("object %s: %s lacks declared column(s) %s", e.ObjectKey, what, strings.Join(e.Missing, ", "))
}

// BadInput marks the error as non-retryable.
func (e *HeaderError) BadInput() bool { return true }

// newCSVDecoder reads the header and maps it to the source's columns. Extra columns
// are reported (schema drift) and not loaded; missing columns are a *HeaderError.
func newCSVDecoder(body io.Reader, src plan.Source, objectKey string) (*csvDecoder, error) {
	feed := newCSVFeeder(body, int(src.LineLimit()), objectKey)
	r := csv.NewReader(feed)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if len(feed.longs) > 0 && (err != nil || feed.longs[0].line < int64(fieldLine(r))) {
		l := feed.longs[0]
		return nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: line %d is %d bytes, longer than max_line_bytes %d", l.line, l.length, feed.max)}
	}
	if err == io.EOF {
		return nil, &EmptyObjectError{ObjectKey: objectKey}
	}
	var perr *ParseError
	if errors.As(err, &perr) {
		return nil, err
	}
	if err != nil {
		return nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: %w", err)}
	}
	header = slices.Clone(header)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a UTF-8 byte order mark
	}
	index, extra, err := matchColumns(src, header, objectKey, "")
	if err != nil {
		return nil, err
	}
	convs, err := convertersFor(src)
	if err != nil {
		return nil, err
	}
	return &csvDecoder{r: r, feed: feed, convs: convs, cols: src.Columns, index: index, nfields: len(header), objectKey: objectKey, extra: extra, at: r.InputOffset()}, nil
}

// fieldLine is the line of the first field of the record r read last.
func fieldLine(r *csv.Reader) int {
	line, _ := r.FieldPos(0)
	return line
}

// read reads the next record from encoding/csv.
func (d *csvDecoder) read() *csvRead {
	from := d.at
	rec, err := d.r.Read()
	d.at = d.r.InputOffset()
	rd := &csvRead{rec: rec, err: err, from: from, to: d.at}
	// FieldPos panics after a failed Read: take the line from the parse error then.
	if err == nil {
		rd.line = fieldLine(d.r)
	} else if perr := (*csv.ParseError)(nil); errors.As(err, &perr) {
		rd.line = perr.StartLine
	}
	return rd
}

// Decode reads the next record; its position is its line. A record longer than
// max_line_bytes is a *rowError kept by reference.
func (d *csvDecoder) Decode(vals []value) (int64, error) {
	if d.pending == nil {
		d.pending = d.read()
	}
	rd := d.pending
	if l, ok := d.feed.nextLong(int64(rd.line), rd.err == io.EOF || rd.line == 0); ok {
		return l.line, &rowError{rec: record{raw: l.preview, offset: l.offset, length: l.length, long: true},
			msg: fmt.Sprintf("record of %d bytes, longer than max_line_bytes %d: kept by reference (byte_offset, byte_length)", l.length, d.feed.max)}
	}
	d.pending = nil
	// Bytes before this record are done with.
	d.feed.release(rd.from)
	line, err, rec := rd.line, rd.err, rd.rec
	if err == io.EOF {
		return 0, io.EOF
	}
	if err != nil {
		var perr *csv.ParseError
		var broken *ParseError
		if errors.As(err, &broken) {
			return int64(line), err // corrupt gzip data, an unclosed quote
		}
		if errors.As(err, &perr) && !errors.Is(perr.Err, csv.ErrFieldCount) {
			// A malformed quote breaks the framing: the rest of the object cannot be
			// trusted, so the object fails as a whole.
			if errors.Is(perr.Err, csv.ErrQuote) || errors.Is(perr.Err, csv.ErrBareQuote) {
				err = fmt.Errorf("line %d: a quoted field is never closed, or a quote stands where none may (%w)", perr.StartLine, err)
			}
			return int64(line), &ParseError{ObjectKey: d.objectKey, Err: err}
		}
		return int64(line), fmt.Errorf("read object %s: %w", d.objectKey, err)
	}
	d.raw, d.rawAt = d.feed.span(rd.from, rd.to)
	if msg := d.convert(rec, vals); msg != "" {
		return int64(line), &rowError{rec: record{raw: d.raw, offset: d.rawAt, length: int64(len(d.raw))}, msg: msg}
	}
	d.rec = rec
	return int64(line), nil
}

// Raw is the last record as the object holds it.
func (d *csvDecoder) Raw() record {
	return record{raw: d.raw, offset: d.rawAt, length: int64(len(d.raw))}
}

func (d *csvDecoder) convert(rec []string, vals []value) string {
	if len(rec) != d.nfields {
		return fmt.Sprintf("expected %d fields, got %d", d.nfields, len(rec))
	}
	for i, conv := range d.convs {
		f := rec[d.index[i]]
		// Only text keeps its bytes: every other type's conversion refuses bytes
		// that are not its digits, signs and separators.
		if d.cols[i].Type == "text" {
			if err := checkUTF8(f); err != nil {
				return fmt.Sprintf("column %s: %v", d.cols[i].Name, err)
			}
		}
		v, err := conv(f)
		if err != nil {
			return fmt.Sprintf("column %s: %v", d.cols[i].Name, err)
		}
		vals[i] = v
	}
	return ""
}

// Extra lists the header's columns that the source does not declare.
func (d *csvDecoder) Extra() []string { return d.extra }

// Close does nothing: the body belongs to the caller.
func (d *csvDecoder) Close() error { return nil }
