package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"etl2elt/internal/plan"
)

const (
	// parquetBatchRows is how many rows are read from a row group at a time.
	parquetBatchRows = 128
	// spoolChunk is how much of a Parquet object is copied between two progress calls.
	spoolChunk = 8 << 20
)

// SchemaError is an object whose schema cannot feed a declared column: a nested or
// repeated Parquet column, an unsupported Parquet type, two columns whose names differ
// only in case.
type SchemaError struct {
	ObjectKey string
	Column    string
	Reason    string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("object %s: column %s: %s", e.ObjectKey, e.Column, e.Reason)
}

// BadInput marks the error as non-retryable.
func (e *SchemaError) BadInput() bool { return true }

// parquetText renders a non-null value of a leaf column as text.
type parquetText func(v parquet.Value) string

// parquetColumn is a declared column read from a leaf column of the file.
type parquetColumn struct {
	name string
	conv converter
	text parquetText
}

// parquetLeaf is how a leaf column shows in the JSON rendering of a bad row.
type parquetLeaf struct {
	key      string // the column's path, dot-separated
	repeated bool
	render   func(v parquet.Value) any
}

// parquetDecoder reads a Parquet object row group by row group, from a temporary copy
// of the body (Parquet needs random access to its footer); only a batch of rows is in
// memory at a time.
type parquetDecoder struct {
	objectKey string
	tmp       *os.File
	groups    []parquet.RowGroup
	cols      []parquetColumn
	byLeaf    []int // leaf column → index in cols, or -1
	leaves    []parquetLeaf
	extra     []string

	group int
	rows  parquet.Rows
	done  bool // rows returned io.EOF: close it before the next group
	batch []parquet.Row
	n, i  int
	row   int64
	cur   []parquet.Value // the current row's value of each declared column
	last  parquet.Row     // the row Decode converted last
	// maxLine bounds a rendered row: a longer one is quarantined as a preview.
	maxLine int
}

// newParquetDecoder spools body to a temporary file, opens its footer and maps its
// top-level columns to the declared ones by name (case-insensitive). progress, if not
// nil, is called with 0 rows after each spoolChunk bytes, so that a long download
// still heartbeats.
func newParquetDecoder(body io.Reader, src plan.Source, objectKey string, progress func(rows int64)) (_ *parquetDecoder, err error) {
	tmp, err := os.CreateTemp("", "etl2elt-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("object %s: temporary file: %w", objectKey, err)
	}
	d := &parquetDecoder{objectKey: objectKey, tmp: tmp, maxLine: int(src.LineLimit())}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	var size int64
	for {
		n, err := io.CopyN(tmp, body, spoolChunk)
		size += n
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read object %s into a temporary file: %w", objectKey, err)
		}
		if progress != nil {
			progress(0)
		}
	}
	if size == 0 {
		return nil, &EmptyObjectError{ObjectKey: objectKey, Format: formatParquet}
	}
	file, err := openParquet(tmp, size)
	if err != nil {
		return nil, &ParseError{ObjectKey: objectKey, Format: formatParquet, Err: err}
	}
	if err := refuseLZ4(file); err != nil {
		return nil, &ParseError{ObjectKey: objectKey, Format: formatParquet, Err: err}
	}
	d.groups = file.RowGroups()
	if err := d.mapColumns(file.Schema(), src); err != nil {
		return nil, err
	}
	d.batch = make([]parquet.Row, parquetBatchRows)
	d.cur = make([]parquet.Value, len(d.cols))
	return d, nil
}

// refuseLZ4 refuses an object with LZ4-compressed column chunks: parquet-go
// v0.32.0's LZ4 decoder grows its output buffer without bound on a corrupt page (32 GB
// asked for a 1 KB object, found by FuzzParquet), which would take the whole worker
// down. Until it is bounded, such an object fails alone, with what to do.
func refuseLZ4(f *parquet.File) error {
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if codec := c.MetaData.Codec; codec == format.Lz4 || codec == format.Lz4Raw {
				return fmt.Errorf("column %s is %s-compressed, which this worker refuses (the Parquet library's LZ4 decoder can exhaust memory on a corrupt page): export it with snappy, gzip or zstd",
					strings.Join(c.MetaData.PathInSchema, "."), codec)
			}
		}
	}
	return nil
}

// openParquet opens the file's footer; parquet-go panics on some malformed footers.
// The footer's length is checked against the file's size first: parquet-go allocates
// the length the file claims before reading it (2 GB for a 12-byte object).
func openParquet(r io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	if size < 12 {
		return nil, fmt.Errorf("%d bytes: too short for a Parquet file", size)
	}
	var tail [8]byte // footer length, then the magic "PAR1"
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return nil, fmt.Errorf("a footer of %d bytes in a file of %d", n, size)
	}
	return parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

// mapColumns maps the declared columns to the file's top-level columns and prepares
// the conversion of each, and the JSON rendering of every leaf column for bad rows.
// parquet-go panics on some malformed schemas (the kind of a leaf annotated MAP): that
// is a malformed object too.
func (d *parquetDecoder) mapColumns(schema *parquet.Schema, src plan.Source) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &ParseError{ObjectKey: d.objectKey, Format: formatParquet, Err: fmt.Errorf("schema: %v", p)}
		}
	}()
	fields := schema.Fields()
	names := make([]string, len(fields))
	seen := map[string]bool{}
	for i, f := range fields {
		names[i] = f.Name()
		lower := strings.ToLower(strings.TrimSpace(f.Name()))
		if seen[lower] {
			return &SchemaError{ObjectKey: d.objectKey, Column: f.Name(), Reason: "two columns have this name (case-insensitive)"}
		}
		seen[lower] = true
	}
	index, extra, err := matchColumns(src, names, d.objectKey, formatParquet)
	if err != nil {
		return err
	}
	convs, err := convertersFor(src)
	if err != nil {
		return err
	}
	paths := schema.Columns()
	d.byLeaf = make([]int, len(paths))
	for i, path := range paths {
		d.byLeaf[i] = -1
		leaf, _ := schema.Lookup(path...)
		text, _ := parquetTextFor(leaf.Node.Type())
		d.leaves = append(d.leaves, parquetLeaf{key: strings.Join(path, "."), repeated: leaf.MaxRepetitionLevel > 0, render: jsonRender(leaf.Node.Type(), text)})
	}
	for i, c := range src.Columns {
		f := fields[index[i]]
		if !f.Leaf() || f.Repeated() {
			return &SchemaError{ObjectKey: d.objectKey, Column: f.Name(), Reason: "nested or repeated: only flat columns load"}
		}
		text, err := parquetTextFor(f.Type())
		if err != nil {
			return &SchemaError{ObjectKey: d.objectKey, Column: f.Name(), Reason: err.Error()}
		}
		leaf, _ := schema.Lookup(f.Name())
		d.byLeaf[leaf.ColumnIndex] = i
		d.cols = append(d.cols, parquetColumn{name: c.Name, conv: convs[i], text: text})
	}
	d.extra = extra
	return nil
}

// Decode converts the next row; its position is its 1-based index in the file.
func (d *parquetDecoder) Decode(vals []value) (pos int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &ParseError{ObjectKey: d.objectKey, Format: formatParquet, Err: fmt.Errorf("row %d: %v", d.row, p)}
		}
	}()
	for d.i >= d.n {
		if err := d.fill(); err != nil {
			return d.row, err
		}
	}
	row := d.batch[d.i]
	d.i++
	d.row++
	clear(d.cur)
	row.Range(func(leaf int, values []parquet.Value) bool {
		if j := d.byLeaf[leaf]; j >= 0 && len(values) > 0 {
			d.cur[j] = values[0]
		}
		return true
	})
	for j, c := range d.cols {
		v := d.cur[j]
		if v.IsNull() {
			vals[j] = value{}
			continue
		}
		text := c.text(v)
		if err := checkUTF8(text); err != nil {
			return d.row, &rowError{rec: d.record(row), msg: fmt.Sprintf("column %s: %v", c.name, err)}
		}
		cv, err := c.conv(text)
		if err != nil {
			return d.row, &rowError{rec: d.record(row), msg: fmt.Sprintf("column %s: %v", c.name, err)}
		}
		vals[j] = cv
	}
	d.last = row
	return d.row, nil
}

// Raw renders the row Decode converted last.
func (d *parquetDecoder) Raw() record { return d.record(d.last) }

// record is a row as the quarantine keeps it: its JSON rendering (a row has no byte
// offset of its own in the file), only its first bytes when longer than max_line_bytes.
func (d *parquetDecoder) record(row parquet.Row) record {
	raw := d.render(row)
	rec := record{raw: []byte(raw), offset: -1, length: int64(len(raw))}
	if len(raw) > d.maxLine {
		rec.raw, rec.long = rec.raw[:longLinePrefix], true
	}
	return rec
}

// fill reads the next batch of rows, moving to the next row group at the end of one.
func (d *parquetDecoder) fill() error {
	for {
		if d.rows != nil && d.done {
			_ = d.rows.Close()
			d.rows, d.done = nil, false
		}
		if d.rows == nil {
			if d.group >= len(d.groups) {
				return io.EOF
			}
			d.rows = d.groups[d.group].Rows()
			d.group++
		}
		n, err := d.rows.ReadRows(d.batch)
		d.n, d.i = n, 0
		switch {
		case err == io.EOF:
			d.done = true
		case err != nil:
			return &ParseError{ObjectKey: d.objectKey, Format: formatParquet, Err: fmt.Errorf("row group %d: %w", d.group, err)}
		}
		if n > 0 {
			return nil
		}
	}
}

// render is a bad row as a JSON object of its leaf columns (dot-separated paths), in
// file order; a repeated column is an array of its non-null values.
func (d *parquetDecoder) render(row parquet.Row) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	write := func(v any) {
		if err := enc.Encode(v); err != nil {
			b.WriteString("null\n")
		}
		b.Truncate(b.Len() - 1) // Encode ends with a newline
	}
	b.WriteByte('{')
	row.Range(func(leaf int, values []parquet.Value) bool {
		l := d.leaves[leaf]
		var v any
		if l.repeated {
			list := []any{}
			for _, x := range values {
				if !x.IsNull() {
					list = append(list, l.render(x))
				}
			}
			v = list
		} else if len(values) > 0 {
			v = l.render(values[0])
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		write(l.key)
		b.WriteByte(':')
		write(v)
		return true
	})
	b.WriteByte('}')
	return b.String()
}

// Extra lists the file's top-level columns that the source does not declare.
func (d *parquetDecoder) Extra() []string { return d.extra }

// Close closes the row group being read and removes the temporary file.
func (d *parquetDecoder) Close() error {
	if d.rows != nil {
		_ = d.rows.Close()
		d.rows = nil
	}
	if d.tmp == nil {
		return nil
	}
	name := d.tmp.Name()
	err := d.tmp.Close()
	if rerr := os.Remove(name); rerr != nil && err == nil {
		err = rerr
	}
	d.tmp = nil
	return err
}

// parquetTextFor is how a leaf column's values become text for the declared type's
// converter: integers and floats in plain decimal notation, DECIMAL exactly with its
// scale, DATE as YYYY-MM-DD, TIMESTAMP and INT96 as RFC 3339 in UTC (a timestamp not
// adjusted to UTC is taken as UTC, like CSV's timestamps without a zone), TIME as
// HH:MM:SS[.frac], UUID in its usual form, strings and other byte arrays as they are.
func parquetTextFor(t parquet.Type) (parquetText, error) {
	if ct := t.ConvertedType(); ct != nil && *ct == deprecated.Interval {
		return nil, fmt.Errorf("type %s is not supported", t)
	}
	var logical format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case nil, *format.StringType, *format.EnumType, *format.JsonType, *format.NullType:
	case *format.DecimalType:
		scale := int(lt.Scale)
		switch t.Kind() {
		case parquet.Int32:
			return func(v parquet.Value) string { return decimalText(big.NewInt(int64(v.Int32())), scale) }, nil
		case parquet.Int64:
			return func(v parquet.Value) string { return decimalText(big.NewInt(v.Int64()), scale) }, nil
		default:
			return func(v parquet.Value) string { return decimalText(twosComplement(v.ByteArray()), scale) }, nil
		}
	case *format.DateType:
		return func(v parquet.Value) string {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02")
		}, nil
	case *format.TimestampType:
		unit := timeUnit(lt.Unit)
		return func(v parquet.Value) string { return timestampText(v.Int64(), unit) }, nil
	case *format.TimeType:
		unit := timeUnit(lt.Unit)
		return func(v parquet.Value) string {
			n := v.Int64()
			if t.Kind() == parquet.Int32 {
				n = int64(v.Int32())
			}
			return time.Unix(0, n*int64(unit)).UTC().Format("15:04:05.999999999")
		}, nil
	case *format.IntType:
		if !lt.IsSigned && t.Kind() == parquet.Int32 {
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(uint32(v.Int32())), 10) }, nil
		}
		if !lt.IsSigned {
			return func(v parquet.Value) string { return strconv.FormatUint(uint64(v.Int64()), 10) }, nil
		}
	case *format.UUIDType:
		return func(v parquet.Value) string { return uuidText(v.ByteArray()) }, nil
	default:
		return nil, fmt.Errorf("type %s is not supported", t)
	}
	switch t.Kind() {
	case parquet.Boolean:
		return func(v parquet.Value) string { return strconv.FormatBool(v.Boolean()) }, nil
	case parquet.Int32:
		return func(v parquet.Value) string { return strconv.FormatInt(int64(v.Int32()), 10) }, nil
	case parquet.Int64:
		return func(v parquet.Value) string { return strconv.FormatInt(v.Int64(), 10) }, nil
	case parquet.Int96:
		return func(v parquet.Value) string { return int96Text(v.Int96()) }, nil
	case parquet.Float:
		return func(v parquet.Value) string { return strconv.FormatFloat(float64(v.Float()), 'f', -1, 32) }, nil
	case parquet.Double:
		return func(v parquet.Value) string { return strconv.FormatFloat(v.Double(), 'f', -1, 64) }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return func(v parquet.Value) string { return string(v.ByteArray()) }, nil
	}
	return nil, fmt.Errorf("type %s is not supported", t)
}

// jsonRender is how a leaf column's values show in the JSON rendering of a bad row:
// booleans and finite numbers without a logical type (or with an INT one) as JSON
// literals, everything else as its text.
func jsonRender(t parquet.Type, text parquetText) func(v parquet.Value) any {
	var logical format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	_, isInt := logical.(*format.IntType)
	literal := logical == nil || isInt
	kind := t.Kind()
	return func(v parquet.Value) any {
		if v.IsNull() {
			return nil
		}
		if text == nil {
			return v.String()
		}
		s := text(v)
		switch {
		case !literal:
		case kind == parquet.Boolean:
			return v.Boolean()
		case kind == parquet.Int32, kind == parquet.Int64, kind == parquet.Float, kind == parquet.Double:
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return json.Number(s)
			}
		}
		return s
	}
}

func timeUnit(u format.TimeUnit) time.Duration {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return time.Millisecond
	case *format.MicroSeconds:
		return time.Microsecond
	}
	return time.Nanosecond
}

func timestampText(n int64, unit time.Duration) string {
	per := int64(time.Second / unit)
	sec, frac := n/per, n%per
	if frac < 0 {
		sec, frac = sec-1, frac+per
	}
	return time.Unix(sec, frac*int64(unit)).UTC().Format(time.RFC3339Nano)
}

// int96Text is a legacy INT96 timestamp (nanoseconds of the day, then the Julian day).
func int96Text(i deprecated.Int96) string {
	nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
	days := int64(i[2]) - 2_440_588 // the Julian day of 1970-01-01
	return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano)
}

// decimalText writes unscaled × 10^-scale in plain decimal notation.
func decimalText(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	sign := ""
	if unscaled.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		return sign + digits + strings.Repeat("0", -scale)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

// twosComplement reads a big-endian two's complement integer (DECIMAL on byte arrays).
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

func uuidText(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
