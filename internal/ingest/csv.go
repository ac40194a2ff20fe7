package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"etl2elt/internal/plan"
)

// badRow is a quarantined record.
type badRow struct {
	line   int64
	record string
	err    string
}

// maxBadRowsKept bounds the memory used by quarantined rows of one object; past it
// the load stops and fails (the object stays in S3, the first rows are quarantined).
const maxBadRowsKept = 10_000

// ErrTooManyBadRows stops a load that quarantined maxBadRowsKept rows.
var ErrTooManyBadRows = errors.New("too many bad rows")

// csvSource streams a CSV object as COPY rows (pgx.CopyFromSource).
type csvSource struct {
	r         *csv.Reader
	convs     []converter
	names     []string
	index     []int // plan column i is CSV field index[i]
	nfields   int
	objectKey string
	loadID    string
	loadedAt  time.Time

	values   []any
	line     int64
	good     int64
	bad      []badRow
	badCount int64
	err      error
	progress func(rows int64)
}

// HeaderError reports a header that does not carry the declared columns.
type HeaderError struct {
	ObjectKey string
	Missing   []string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("object %s: header lacks declared column(s) %s", e.ObjectKey, strings.Join(e.Missing, ", "))
}

// BadInput marks the error as non-retryable.
func (e *HeaderError) BadInput() bool { return true }

// newCSVSource reads the header and maps it to the source's columns. Extra columns
// are reported (schema drift) and not loaded; missing columns are a *HeaderError.
func newCSVSource(body io.Reader, src plan.Source, objectKey, loadID string, loadedAt time.Time) (*csvSource, []string, error) {
	r := csv.NewReader(body)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, &EmptyObjectError{ObjectKey: objectKey}
	}
	if err != nil {
		return nil, nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: %w", err)}
	}
	header = slices.Clone(header)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a UTF-8 byte order mark
	}
	pos := map[string]int{}
	for i, h := range header {
		pos[strings.ToLower(strings.TrimSpace(h))] = i
	}
	s := &csvSource{r: r, objectKey: objectKey, loadID: loadID, loadedAt: loadedAt, nfields: len(header), line: 1}
	var missing []string
	for _, c := range src.Columns {
		i, ok := pos[c.Name]
		if !ok {
			missing = append(missing, c.Name)
			continue
		}
		conv, err := converterFor(c.Type)
		if err != nil {
			return nil, nil, err
		}
		s.index = append(s.index, i)
		s.convs = append(s.convs, conv)
		s.names = append(s.names, c.Name)
		delete(pos, c.Name)
	}
	if len(missing) > 0 {
		return nil, nil, &HeaderError{ObjectKey: objectKey, Missing: missing}
	}
	var extra []string
	for _, h := range header {
		if _, ok := pos[strings.ToLower(strings.TrimSpace(h))]; ok {
			extra = append(extra, h)
		}
	}
	s.values = make([]any, len(s.convs)+len(lineageColumns))
	return s, extra, nil
}

// Next reads records until a good one or the end; bad ones are set aside.
func (s *csvSource) Next() bool {
	for {
		rec, err := s.r.Read()
		if err == io.EOF {
			return false
		}
		line, _ := s.r.FieldPos(0)
		s.line = int64(line)
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) && !errors.Is(perr.Err, csv.ErrFieldCount) {
				// A malformed quote breaks the framing: the rest of the object cannot be
				// trusted, so the object fails as a whole.
				s.err = &ParseError{ObjectKey: s.objectKey, Err: err}
				return false
			}
			s.err = fmt.Errorf("read object %s: %w", s.objectKey, err)
			return false
		}
		if msg := s.convert(rec); msg != "" {
			if !s.quarantine(rec, msg) {
				return false
			}
			continue
		}
		s.good++
		if s.progress != nil && s.good%10_000 == 0 {
			s.progress(s.good)
		}
		return true
	}
}

func (s *csvSource) convert(rec []string) string {
	if len(rec) != s.nfields {
		return fmt.Sprintf("expected %d fields, got %d", s.nfields, len(rec))
	}
	for i, conv := range s.convs {
		f := rec[s.index[i]]
		if err := checkUTF8(f); err != nil {
			return fmt.Sprintf("column %s: %v", s.names[i], err)
		}
		v, err := conv(f)
		if err != nil {
			return fmt.Sprintf("column %s: %v", s.names[i], err)
		}
		s.values[i] = v
	}
	n := len(s.convs)
	s.values[n] = s.objectKey
	s.values[n+1] = s.loadID
	s.values[n+2] = s.loadedAt
	s.values[n+3] = s.line
	return ""
}

func (s *csvSource) quarantine(rec []string, msg string) bool {
	s.badCount++
	if len(s.bad) >= maxBadRowsKept {
		s.err = fmt.Errorf("object %s: %w: stopped after quarantining %d rows", s.objectKey, ErrTooManyBadRows, maxBadRowsKept)
		return false
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(rec) // writes to memory cannot fail
	w.Flush()
	raw := strings.ToValidUTF8(strings.TrimRight(b.String(), "\n"), "\ufffd")
	raw = strings.ReplaceAll(raw, "\x00", "\ufffd")
	s.bad = append(s.bad, badRow{line: s.line, record: raw, err: msg})
	return true
}

func (s *csvSource) Values() ([]any, error) { return s.values, nil }
func (s *csvSource) Err() error             { return s.err }
