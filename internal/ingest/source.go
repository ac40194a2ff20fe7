package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"

	"etl2elt/internal/plan"
)

// Source formats LoadObject reads (plan.Source.Format; empty means csv).
const (
	formatCSV     = "csv"
	formatJSONL   = "jsonl"
	formatParquet = "parquet"
)

// formatName is a format as error messages name it.
func formatName(format string) string {
	switch format {
	case formatJSONL:
		return "JSON lines"
	case formatParquet:
		return "Parquet"
	}
	return "CSV"
}

// decoder reads one object's records and converts each to the source's declared
// columns. There is one per format (CSV, JSON lines, Parquet); rowSource turns any of
// them into the COPY source, with the lineage columns and the quarantine shared.
type decoder interface {
	// Decode converts the next record into vals, one value per declared column in
	// plan order. It returns the record's position in the object (CSV and JSON lines:
	// its line; Parquet: its 1-based row index) and io.EOF at the end, a *rowError for
	// a record to quarantine (decoding goes on), or any other error, which fails the
	// whole object.
	Decode(vals []value) (pos int64, err error)
	// Raw is the record Decode just converted, as the object holds it (a CSV record,
	// a JSON line, a JSON rendering of a Parquet row): for a good record that a later
	// check refuses (an empty primary key). Valid until the next Decode.
	Raw() record
	// Extra lists the object's columns that the source does not declare (schema
	// drift): they are reported, not loaded. It is complete once Decode returned
	// io.EOF (JSON lines discovers keys as it reads).
	Extra() []string
	// Close releases what the decoder holds (Parquet's temporary file).
	Close() error
}

// record is a record's bytes and where the object holds them.
type record struct {
	// raw is the record as read (a CSV record, a JSON line, a JSON rendering of a
	// Parquet row), without its end of line; for a long record, its first bytes only.
	raw []byte
	// offset and length locate it in the object's content (decompressed); -1 when
	// unknown.
	offset, length int64
	// long: the record is longer than the source's max_line_bytes; it is quarantined
	// by reference (raw is a preview).
	long bool
}

// rowError is a record that cannot be loaded: it goes to the quarantine.
type rowError struct {
	rec record
	msg string
}

func (e *rowError) Error() string { return e.msg }

// maxBadRowsKept bounds the rows quarantined for one object; past it the load stops
// and fails (the object stays in S3, the first rows are quarantined).
const maxBadRowsKept = 10_000

// ErrTooManyBadRows stops a load that quarantined maxBadRowsKept rows.
var ErrTooManyBadRows = errors.New("too many bad rows")

// rowSource streams a decoder's good records (the declared columns; copyRows adds
// the lineage columns) and sets the bad ones aside for the quarantine.
type rowSource struct {
	dec       decoder
	names     []string
	objectKey string

	// keys are the indexes of the primary key's columns in the declared columns.
	keys []int

	values   []value
	line     int64
	good     int64
	bad      *Quarantine
	badCount int64
	err      error
	progress func(rows int64)
}

func newRowSource(dec decoder, src plan.Source, objectKey string) *rowSource {
	names := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		names[i] = c.Name
	}
	var keys []int
	for _, k := range src.PrimaryKey {
		if i := slices.Index(names, k); i >= 0 {
			keys = append(keys, i)
		}
	}
	return &rowSource{dec: dec, names: names, objectKey: objectKey, keys: keys, values: make([]value, len(names)), bad: &Quarantine{}}
}

// Next decodes records until a good one or the end; bad ones are set aside. A panic
// in a decoder (it runs in pgx's COPY goroutine, out of reach of Temporal's activity
// recovery) becomes the load's error instead of killing the worker.
func (s *rowSource) Next() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			s.err = fmt.Errorf("object %s: decoder failed at %d: %v", s.objectKey, s.line, p)
			ok = false
		}
	}()
	n := len(s.names)
	for {
		pos, err := s.dec.Decode(s.values[:n])
		if err == io.EOF {
			return false
		}
		s.line = pos
		var rerr *rowError
		if errors.As(err, &rerr) {
			if !s.quarantine(rerr.rec, rerr.msg) {
				return false
			}
			continue
		}
		if err != nil {
			s.err = err
			return false
		}
		if msg := s.emptyKey(); msg != "" {
			if !s.quarantine(s.dec.Raw(), msg) {
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

// emptyKey says which primary key column of the current row is NULL or empty (only
// white space), or "" when none is: such a row cannot be identified, so it is
// quarantined before it reaches COPY.
func (s *rowSource) emptyKey() string {
	for _, i := range s.keys {
		switch v := s.values[i]; {
		case v.kind == vNull:
			return fmt.Sprintf("primary key column %s is empty (NULL)", s.names[i])
		case v.kind == vText && strings.TrimSpace(v.s) == "":
			return fmt.Sprintf("primary key column %s is empty", s.names[i])
		}
	}
	return ""
}

func (s *rowSource) quarantine(rec record, msg string) bool {
	s.badCount++
	if s.bad.Len() >= maxBadRowsKept {
		s.err = fmt.Errorf("object %s: %w: stopped after quarantining %d rows", s.objectKey, ErrTooManyBadRows, maxBadRowsKept)
		return false
	}
	if err := s.bad.add(newBadRow(s.line, rec, msg)); err != nil {
		s.err = fmt.Errorf("object %s: %w", s.objectKey, err)
		return false
	}
	return true
}

// Values returns the current row's declared columns (the record's line is s.line).
func (s *rowSource) Values() []value { return s.values }

// Err is what stopped the rows early, if anything.
func (s *rowSource) Err() error { return s.err }

// matchColumns maps the declared columns to an object's column names (a CSV header,
// Parquet's top-level fields) by name, case-insensitive, spaces trimmed: index[i] is
// the object column of declared column i. Declared columns the object lacks are a
// *HeaderError; extra lists the object's columns that no column declares, in order.
func matchColumns(src plan.Source, names []string, objectKey, format string) (index []int, extra []string, err error) {
	pos := map[string]int{}
	var dup []string
	for i, h := range names {
		k := strings.ToLower(strings.TrimSpace(h))
		if _, seen := pos[k]; seen && declared(src, k) && !slices.Contains(dup, k) {
			dup = append(dup, k)
		}
		pos[k] = i
	}
	if len(dup) > 0 {
		return nil, nil, &HeaderError{ObjectKey: objectKey, Duplicate: dup, Format: format}
	}
	var missing []string
	for _, c := range src.Columns {
		i, ok := pos[c.Name]
		if !ok {
			missing = append(missing, c.Name)
			continue
		}
		index = append(index, i)
		delete(pos, c.Name)
	}
	if len(missing) > 0 {
		return nil, nil, &HeaderError{ObjectKey: objectKey, Missing: missing, Format: format}
	}
	for _, h := range names {
		if _, ok := pos[strings.ToLower(strings.TrimSpace(h))]; ok && len(extra) < maxExtraColumns {
			if len(h) > maxExtraNameBytes {
				h = strings.ToValidUTF8(h[:maxExtraNameBytes], "") + "…"
			}
			extra = append(extra, h)
		}
	}
	return index, extra, nil
}

func declared(src plan.Source, name string) bool {
	return slices.ContainsFunc(src.Columns, func(c plan.Column) bool { return c.Name == name })
}

// maxExtraNameBytes bounds an undeclared column's name in reports (with the count,
// maxExtraColumns, the activity result stays small whatever the object holds).
const maxExtraNameBytes = 128

// convertersFor returns the converter of each declared column.
func convertersFor(src plan.Source) ([]converter, error) {
	convs := make([]converter, len(src.Columns))
	for i, c := range src.Columns {
		conv, err := converterFor(c.Type)
		if err != nil {
			return nil, err
		}
		convs[i] = conv
	}
	return convs, nil
}

// gzipErr names a decompression error as gzip's, once (the gzip package's own
// errors already start with "gzip: ").
func gzipErr(err error) error {
	if strings.HasPrefix(err.Error(), "gzip: ") {
		return err
	}
	return fmt.Errorf("gzip: %w", err)
}

// openDecoder picks the decoder of the source's format. A zero-byte body is an
// *EmptyObjectError whatever the format; CSV and JSON lines are gunzipped when the key
// ends in .gz, Parquet never (it compresses its own pages). progress (may be nil) is
// called while a Parquet object is spooled.
func openDecoder(src plan.Source, objectKey string, body io.Reader, progress func(rows int64)) (decoder, error) {
	format := src.Format
	if format == "" {
		format = formatCSV
	}
	br := bufio.NewReader(body)
	if _, err := br.Peek(1); err == io.EOF {
		return nil, &EmptyObjectError{ObjectKey: objectKey, Format: format}
	} else if err != nil {
		return nil, fmt.Errorf("read object %s: %w", objectKey, err)
	}
	if format == formatParquet {
		return newParquetDecoder(br, src, objectKey, progress)
	}
	var in io.Reader = br
	if strings.HasSuffix(objectKey, ".gz") {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ParseError{ObjectKey: objectKey, Format: format, Err: gzipErr(err)}
		}
		gz.Multistream(false)
		in = &gunzipReader{gz: gz, body: br, objectKey: objectKey, format: format}
	}
	switch format {
	case formatCSV:
		return newCSVDecoder(in, src, objectKey)
	case formatJSONL:
		return newJSONLDecoder(in, src, objectKey)
	}
	return nil, fmt.Errorf("object %s: unsupported format %q", objectKey, src.Format)
}

// gunzipReader turns corrupt gzip data into a *ParseError (not retryable), and so a
// gzip stream cut short by the object's own end (a truncated object: the body ended
// cleanly); errors of the underlying body (a cut connection) pass unchanged. It reads
// the members of a multi-member object (concatenated gzip files) one at a time: gzip's
// own multistream mode ends cleanly, without an error, when the object ends inside a
// later member's file name or comment (klauspost/compress v1.20.1).
type gunzipReader struct {
	gz        *gzip.Reader
	body      *bufio.Reader // a ByteReader: gzip reads no further than a member's end
	objectKey string
	format    string
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	for {
		n, err := g.gz.Read(p)
		if err == io.EOF {
			err = g.nextMember()
			if err == nil && n == 0 {
				continue
			}
		}
		return n, g.classify(err)
	}
}

// nextMember starts the next member after one ended; io.EOF when the object ends there.
func (g *gunzipReader) nextMember() error {
	if _, err := g.body.Peek(1); err != nil {
		return err // io.EOF: the end of the object
	}
	if err := g.gz.Reset(g.body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // a header begun, not ended
		}
		return err
	}
	g.gz.Multistream(false)
	return nil
}

func (g *gunzipReader) classify(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case err == nil || err == io.EOF:
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		if _, perr := g.body.Peek(1); perr != io.EOF {
			return err // the body failed, not the object
		}
		return &ParseError{ObjectKey: g.objectKey, Format: g.format, Err: fmt.Errorf("gzip: truncated: %w", err)}
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt):
		return &ParseError{ObjectKey: g.objectKey, Format: g.format, Err: gzipErr(err)}
	}
	return err
}
