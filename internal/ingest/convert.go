package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// value is one converted field. Rows move millions of them: a small tagged struct
// instead of an interface value costs no allocation per field.
type value struct {
	kind valueKind
	s    string    // text; numeric: the validated decimal text
	i    int64     // bigint, integer; boolean: 0 or 1
	t    time.Time // date, timestamptz (UTC)
}

type valueKind uint8

const (
	vNull valueKind = iota
	vText
	vInt64
	vInt32
	vDecimal
	vBool
	vTime
)

func textValue(s string) value { return value{kind: vText, s: s} }

// any is the value as a plain Go value (tests and error messages): nil, string,
// int64, int32, Decimal, bool or time.Time.
func (v value) any() any {
	switch v.kind {
	case vText:
		return v.s
	case vInt64:
		return v.i
	case vInt32:
		return int32(v.i)
	case vDecimal:
		return Decimal(v.s)
	case vBool:
		return v.i == 1
	case vTime:
		return v.t
	}
	return nil
}

// converter turns a text field into the value COPY sends for a column type. An empty
// field is NULL for every type but text, where it stays an empty string.
type converter func(field string) (value, error)

func converterFor(typ string) (converter, error) {
	switch typ {
	case "text":
		return func(s string) (value, error) { return textValue(s), nil }, nil
	case "bigint":
		return nullable(func(s string) (value, error) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return value{}, fmt.Errorf("%s is not a bigint", quoteValue(s))
			}
			return value{kind: vInt64, i: v}, nil
		}), nil
	case "integer":
		return nullable(func(s string) (value, error) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return value{}, fmt.Errorf("%s is not an integer", quoteValue(s))
			}
			return value{kind: vInt32, i: v}, nil
		}), nil
	case "numeric":
		return nullable(func(s string) (value, error) {
			d := strings.TrimSpace(s)
			if !isDecimal(d) {
				return value{}, fmt.Errorf("%s is not a number", quoteValue(s))
			}
			// Up to 1000 characters (with an exponent of at most 4 digits) always
			// fits PostgreSQL's numeric; longer ones are checked in full.
			if len(d) > 1000 {
				if _, err := appendNumeric(nil, d); err != nil {
					return value{}, errNumericRange
				}
			}
			return value{kind: vDecimal, s: d}, nil
		}), nil
	case "boolean":
		return nullable(func(s string) (value, error) {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true", "t", "1", "yes", "y":
				return value{kind: vBool, i: 1}, nil
			case "false", "f", "0", "no", "n":
				return value{kind: vBool}, nil
			}
			return value{}, fmt.Errorf("%s is not a boolean", quoteValue(s))
		}), nil
	case "date":
		return nullable(func(s string) (value, error) {
			v, err := time.Parse("2006-01-02", strings.TrimSpace(s))
			if err != nil || v.Year() < 1 {
				return value{}, fmt.Errorf("%s is not a date (YYYY-MM-DD)", quoteValue(s))
			}
			return value{kind: vTime, t: v}, nil
		}), nil
	case "timestamptz":
		return nullable(parseTimestamp), nil
	}
	return nil, fmt.Errorf("unsupported column type %q", typ)
}

var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// errNumericRange is a number PostgreSQL's numeric cannot hold.
var errNumericRange = errors.New("a number out of the numeric range (131072 digits before the point, 16383 after)")

// parseTimestamp accepts RFC 3339 and "YYYY-MM-DD HH:MM:SS[.frac][zone]"; a value
// without a zone is UTC. A fraction finer than a microsecond is rounded as
// PostgreSQL's own text input rounds it: read as a double, times 10^6, rounded half
// to even (the same value whichever way it reaches the table).
func parseTimestamp(s string) (value, error) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		v, err := time.Parse(l, s)
		if err != nil || v.Year() < 1 { // year 0 is not a year in PostgreSQL
			continue
		}
		if dot := strings.IndexByte(s, '.'); dot >= 0 { // only seconds have a fraction
			end := dot + 1
			for end < len(s) && s[end] >= '0' && s[end] <= '9' {
				end++
			}
			if end-dot-1 > 6 {
				f, _ := strconv.ParseFloat(s[dot:end], 64)
				v = v.Truncate(time.Second).Add(time.Duration(math.RoundToEven(f*1e6)) * time.Microsecond)
			}
		}
		return value{kind: vTime, t: v.UTC()}, nil
	}
	return value{}, fmt.Errorf("%s is not a timestamp (RFC 3339 or YYYY-MM-DD HH:MM:SS)", quoteValue(s))
}

// maxQuotedValue bounds the part of a field a conversion error quotes.
const maxQuotedValue = 64

// quoteValue quotes a field for an error, cut at maxQuotedValue bytes: a 5 MB field
// must not make a 5 MB error (and Redact removes quoted values where the error goes
// out).
func quoteValue(s string) string {
	if len(s) <= maxQuotedValue {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:maxQuotedValue], "") + "…")
}

func nullable(c converter) converter {
	return func(s string) (value, error) {
		if s == "" {
			return value{}, nil
		}
		return c(s)
	}
}

// Decimal is a validated decimal number in text form (what PostgreSQL's numeric input
// accepts): the loader encodes it exactly, so no precision is lost on the way.
type Decimal string

// isDecimal accepts [+-]digits[.digits][e[+-]digits] with at least one digit before
// the exponent: no NaN, no Infinity, no thousands separators, no decimal comma.
func isDecimal(s string) bool {
	i, n := 0, len(s)
	if i < n && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < n && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < n && s[i] == '.' {
		i++
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 || exp > 4 {
			return false
		}
	}
	return i == n
}

func checkUTF8(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("NUL byte")
	}
	return nil
}
