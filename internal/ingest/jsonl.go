package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"etl2elt/internal/plan"
)

const (
	// longLinePrefix is what the quarantine keeps of a record longer than the
	// source's max_line_bytes (it is kept by reference: object, offset, length).
	longLinePrefix = previewBytes
	// maxExtraColumns bounds the undeclared keys a JSON lines object reports.
	maxExtraColumns = 100
)

// jsonlDecoder reads a JSON lines object: one JSON object per line, its keys matched
// to the declared columns by name (case-insensitive).
type jsonlDecoder struct {
	r         *bufio.Reader
	objectKey string
	cols      []plan.Column
	convs     []converter
	index     map[string]int // lower-case key → declared column
	maxLine   int

	buf       []byte
	cur       []byte // the last line converted (in buf)
	curAt     int64  // its offset in the object
	offset    int64  // bytes read so far
	line      int64
	found     []bool
	raw       []any // the current line's decoded JSON values, per declared column
	keys      []string
	extra     []string
	extraSeen map[string]bool
}

func newJSONLDecoder(body io.Reader, src plan.Source, objectKey string) (*jsonlDecoder, error) {
	convs, err := convertersFor(src)
	if err != nil {
		return nil, err
	}
	d := &jsonlDecoder{r: bufio.NewReaderSize(body, 64<<10), objectKey: objectKey, cols: src.Columns, convs: convs,
		index: map[string]int{}, maxLine: int(src.LineLimit()), found: make([]bool, len(src.Columns)), extraSeen: map[string]bool{}}
	for i, c := range src.Columns {
		d.index[c.Name] = i
	}
	// A gzipped object can be empty once decompressed.
	if _, err := d.r.Peek(1); err == io.EOF {
		return nil, &EmptyObjectError{ObjectKey: objectKey, Format: formatJSONL}
	} else if err != nil {
		return nil, d.readError(err)
	}
	return d, nil
}

func (d *jsonlDecoder) readError(err error) error {
	var perr *ParseError
	if errors.As(err, &perr) {
		return err
	}
	return fmt.Errorf("read object %s: line %d: %w", d.objectKey, d.line+1, err)
}

// Decode reads lines until a non-blank one; its position is its line.
func (d *jsonlDecoder) Decode(vals []value) (int64, error) {
	for {
		at := d.offset
		line, long, size, err := d.readLine()
		if err == io.EOF {
			return d.line, io.EOF
		}
		if err != nil {
			return d.line, d.readError(err)
		}
		d.line++
		if d.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff")) // a UTF-8 byte order mark
		}
		rec := record{raw: line, offset: at, length: size}
		if long {
			rec.long = true
			return d.line, &rowError{rec: rec, msg: fmt.Sprintf("line of %d bytes, longer than max_line_bytes %d: kept by reference (byte_offset, byte_length)", size, d.maxLine)}
		}
		if len(bytes.Trim(line, " \t\r")) == 0 {
			continue // a blank line
		}
		if msg := d.convert(line, vals); msg != "" {
			return d.line, &rowError{rec: rec, msg: msg}
		}
		d.cur, d.curAt = line, at
		return d.line, nil
	}
}

// readLine returns the next line without its end of line, whether it was longer than
// maxLine (then only its first longLinePrefix bytes are returned, the rest is
// skipped) and its length without the end of line. Memory stays within maxLine
// whatever the line.
func (d *jsonlDecoder) readLine() (line []byte, long bool, size int64, err error) {
	d.buf = d.buf[:0]
	var total int64
	var last, beforeLast byte // the line's last two bytes
	for {
		frag, err := d.r.ReadSlice('\n')
		total += int64(len(frag))
		switch n := len(frag); {
		case n >= 2:
			beforeLast, last = frag[n-2], frag[n-1]
		case n == 1:
			beforeLast, last = last, frag[0]
		}
		switch {
		case long:
		case len(d.buf)+len(frag) > d.maxLine+2: // room for "\r\n"
			long = true
			d.buf = append(d.buf, frag[:min(len(frag), max(0, longLinePrefix-len(d.buf)))]...)
			d.buf = d.buf[:min(len(d.buf), longLinePrefix)]
		default:
			d.buf = append(d.buf, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(d.buf) > 0 || long) {
			break // the last line has no end of line
		}
		if err != nil {
			return nil, false, 0, err
		}
		break
	}
	d.offset += total
	// The line's length without its end of line.
	size = total
	if long {
		// The skipped tail is gone: its end of line is what ReadSlice ended on.
		if last == '\n' {
			size--
			if beforeLast == '\r' {
				size--
			}
		}
	} else {
		size = int64(len(bytes.TrimSuffix(bytes.TrimSuffix(d.buf, []byte("\n")), []byte("\r"))))
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(d.buf, []byte("\n")), []byte("\r"))
	if !long && len(line) > d.maxLine {
		long, line = true, line[:min(len(line), longLinePrefix)]
	}
	return line, long, size, nil
}

// convert decodes one line into vals, or says why it cannot.
func (d *jsonlDecoder) convert(line []byte, vals []value) string {
	if !utf8.Valid(line) {
		return "invalid UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "invalid JSON: more than one value on the line"
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("not a JSON object: %s", jsonKind(v))
	}
	clear(vals)
	if len(d.raw) != len(vals) {
		d.raw = make([]any, len(vals))
	}
	clear(d.raw)
	clear(d.found)
	d.keys = d.keys[:0]
	for k, fv := range obj {
		i, ok := d.index[strings.ToLower(k)]
		if !ok {
			d.keys = append(d.keys, k)
			continue
		}
		if d.found[i] {
			return fmt.Sprintf("column %s: given twice (keys that differ only in case)", d.cols[i].Name)
		}
		d.found[i] = true
		d.raw[i] = fv
	}
	d.noteExtra(d.keys)
	for i, c := range d.cols {
		if !d.found[i] {
			continue // a missing key is NULL
		}
		cv, err := jsonValue(d.convs[i], c.Type, d.raw[i])
		if err != nil {
			return fmt.Sprintf("column %s: %v", c.Name, err)
		}
		vals[i] = cv
	}
	return ""
}

// noteExtra records undeclared keys once each, in the order rows show them (sorted
// within a row, as a JSON object's keys have no order), up to maxExtraColumns.
func (d *jsonlDecoder) noteExtra(keys []string) {
	slices.Sort(keys)
	for _, k := range keys {
		if len(d.extra) >= maxExtraColumns {
			return
		}
		if !d.extraSeen[k] {
			d.extraSeen[k] = true
			d.extra = append(d.extra, k)
		}
	}
}

// jsonValue converts a decoded JSON value to a column's COPY value: null is NULL; a
// string, a number or a boolean goes through the column type's converter as text (a
// number keeps its literal text; an exponent is expanded for the other types); an
// object or an array is only text, as compact JSON.
func jsonValue(conv converter, typ string, v any) (value, error) {
	switch x := v.(type) {
	case nil:
		return value{}, nil
	case string:
		if err := checkUTF8(x); err != nil {
			return value{}, err
		}
		return conv(x)
	case json.Number:
		if typ == "text" {
			return textValue(string(x)), nil
		}
		return conv(plainDecimal(string(x)))
	case bool:
		return conv(strconv.FormatBool(x))
	}
	if typ != "text" {
		return value{}, fmt.Errorf("a JSON %s is not a %s", jsonKind(v), typ)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return value{}, err
	}
	return textValue(strings.TrimSuffix(b.String(), "\n")), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}

// plainDecimal rewrites a JSON number with an exponent (1.5e-3) as the same number in
// plain decimal notation (0.0015), exactly: the numeric and integer converters do not
// read exponents. An exponent beyond ±1000 is left as it is (and fails conversion).
func plainDecimal(num string) string {
	i := strings.IndexAny(num, "eE")
	if i < 0 {
		return num
	}
	exp, err := strconv.Atoi(num[i+1:])
	if err != nil || exp > 1000 || exp < -1000 {
		return num
	}
	mant, sign := num[:i], ""
	if strings.HasPrefix(mant, "-") {
		mant, sign = mant[1:], "-"
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // where the decimal point falls in digits
	switch {
	case point <= 0:
		digits = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		digits += strings.Repeat("0", point-len(digits))
	default:
		digits = digits[:point] + "." + digits[point:]
	}
	for len(digits) > 1 && digits[0] == '0' && digits[1] != '.' {
		digits = digits[1:] // leading zeros of the integer part
	}
	return sign + digits
}

// Raw is the last line converted.
func (d *jsonlDecoder) Raw() record {
	return record{raw: d.cur, offset: d.curAt, length: int64(len(d.cur))}
}

// Extra lists the undeclared keys seen so far.
func (d *jsonlDecoder) Extra() []string { return d.extra }

// Close does nothing: the body belongs to the caller.
func (d *jsonlDecoder) Close() error { return nil }
