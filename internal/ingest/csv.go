package ingest

import (
	"bytes"
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
	convs     []converter
	cols      []plan.Column
	index     []int // plan column i is CSV field index[i]
	nfields   int
	objectKey string
	extra     []string
	rec       []string // the last record read
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
	r := csv.NewReader(body)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, &EmptyObjectError{ObjectKey: objectKey}
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
	return &csvDecoder{r: r, convs: convs, cols: src.Columns, index: index, nfields: len(header), objectKey: objectKey, extra: extra}, nil
}

// Decode reads the next record; its position is its line.
func (d *csvDecoder) Decode(vals []value) (int64, error) {
	rec, err := d.r.Read()
	if err == io.EOF {
		return 0, io.EOF
	}
	// FieldPos panics after a failed Read: take the line from the parse error then.
	var line int
	if err == nil {
		line, _ = d.r.FieldPos(0)
	} else if perr := (*csv.ParseError)(nil); errors.As(err, &perr) {
		line = perr.StartLine
	}
	if err != nil {
		var perr *csv.ParseError
		var broken *ParseError
		if errors.As(err, &broken) {
			return int64(line), err // corrupt gzip data
		}
		if errors.As(err, &perr) && !errors.Is(perr.Err, csv.ErrFieldCount) {
			// A malformed quote breaks the framing: the rest of the object cannot be
			// trusted, so the object fails as a whole.
			return int64(line), &ParseError{ObjectKey: d.objectKey, Err: err}
		}
		return int64(line), fmt.Errorf("read object %s: %w", d.objectKey, err)
	}
	if msg := d.convert(rec, vals); msg != "" {
		return int64(line), &rowError{raw: csvRecordText(rec), msg: msg}
	}
	d.rec = rec
	return int64(line), nil
}

// Raw is the last record as a CSV line.
func (d *csvDecoder) Raw() string { return csvRecordText(d.rec) }

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

// csvRecordText renders a record back as a CSV line, for the quarantine.
func csvRecordText(rec []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(rec) // writes to memory cannot fail
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// Extra lists the header's columns that the source does not declare.
func (d *csvDecoder) Extra() []string { return d.extra }

// Close does nothing: the body belongs to the caller.
func (d *csvDecoder) Close() error { return nil }
