package ingest

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// PostgreSQL's binary COPY format (the "binary" option of COPY): a signature, then
// per row a 16-bit field count and per field a 32-bit length (-1: NULL) followed by
// the value in the type's binary send format. Parsing it costs the server much less
// than text: no digit or date parsing for numbers and timestamps (measured in
// docs/BENCHMARKS.md).
var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyBinaryTrailer ends the data.
var copyBinaryTrailer = []byte{0xff, 0xff}

// pgEpoch is PostgreSQL's epoch for timestamps and dates, 2000-01-01 UTC, in Unix seconds.
const pgEpoch = 946_684_800

// appendField appends one value of a column of type typ (a plan column type) in the
// binary format, length first. A value of a kind the type does not take is a program
// error (the converters produce the type's kind).
func appendField(b []byte, v value, typ string) ([]byte, error) {
	switch {
	case v.kind == vNull:
		return binary.BigEndian.AppendUint32(b, math.MaxUint32), nil // -1: NULL
	case typ == "text" && v.kind == vText:
		b = binary.BigEndian.AppendUint32(b, uint32(len(v.s)))
		return append(b, v.s...), nil
	case typ == "bigint" && (v.kind == vInt64 || v.kind == vInt32):
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(v.i)), nil
	case typ == "integer" && (v.kind == vInt32 || v.kind == vInt64) && v.i >= math.MinInt32 && v.i <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(int32(v.i))), nil
	case typ == "numeric" && v.kind == vDecimal:
		return appendNumeric(b, v.s)
	case typ == "boolean" && v.kind == vBool:
		return append(binary.BigEndian.AppendUint32(b, 1), byte(v.i)), nil
	case typ == "date" && v.kind == vTime:
		y, m, d := v.t.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/86400 - pgEpoch/86400
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(int32(days))), nil
	case typ == "timestamptz" && v.kind == vTime:
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(pgMicros(v.t))), nil
	}
	return b, fmt.Errorf("cannot send a %T as %s", v.any(), typ)
}

// pgMicros is t in microseconds since 2000-01-01 UTC. Converted timestamps are whole
// microseconds already (parseTimestamp rounds finer fractions as PostgreSQL does);
// a finer t is rounded to the nearest microsecond, ties to even.
func pgMicros(t time.Time) int64 {
	ns := int64(t.Nanosecond())
	us, rest := ns/1000, ns%1000
	if rest > 500 || (rest == 500 && us%2 == 1) {
		us++
	}
	return (t.Unix()-pgEpoch)*1_000_000 + us
}

// appendNumeric appends a decimal in text form (validated by isDecimal:
// [+-]digits[.digits][e[+-]digits]) as a binary numeric: digit count, weight, sign,
// display scale, then base-10000 digits. The display scale is what PostgreSQL's text
// input keeps (the fraction's digits minus the exponent, at least 0), so the value and
// its printed form are the same as if the text had been sent.
func appendNumeric(b []byte, s string) ([]byte, error) {
	i, n := 0, len(s)
	neg := false
	if i < n && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var digits [64]byte
	ds := digits[:0] // every digit, integer part then fraction
	intLen, fracLen := 0, 0
	for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
		ds = append(ds, s[i]-'0')
		intLen++
	}
	if i < n && s[i] == '.' {
		for i++; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			ds = append(ds, s[i]-'0')
			fracLen++
		}
	}
	exp := 0
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < n && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == n {
			return b, fmt.Errorf("numeric %q: not a decimal number", s)
		}
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			exp = exp*10 + int(s[i]-'0')
			if exp > 9999 {
				return b, fmt.Errorf("numeric %q: exponent out of range", s)
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n || intLen+fracLen == 0 {
		return b, fmt.Errorf("numeric %q: not a decimal number", s)
	}
	dscale := max(fracLen-exp, 0)
	// The decimal point lies after point digits of ds (negative: zeros between the
	// point and ds[0]; beyond len(ds): zeros after the last digit). Base-10000 groups
	// are aligned on the point: the first starts at the place start in (-4, 0] with
	// start ≡ point (mod 4); places outside ds are zeros.
	point := intLen + exp
	start := ((point%4)+4)%4 - 4
	if start == -4 {
		start = 0
	}
	weight := (point-start)/4 - 1
	var groups [32]int16
	gs := groups[:0]
	for p := start; p < max(len(ds), point); p += 4 {
		var g int16
		for k := p; k < p+4; k++ {
			g *= 10
			if k >= 0 && k < len(ds) {
				g += int16(ds[k])
			}
		}
		gs = append(gs, g)
	}
	// Strip leading and trailing zero groups.
	for len(gs) > 0 && gs[0] == 0 {
		gs = gs[1:]
		weight--
	}
	for len(gs) > 0 && gs[len(gs)-1] == 0 {
		gs = gs[:len(gs)-1]
	}
	// PostgreSQL's limits: weight in 16 bits (131072 digits before the point), display
	// scale at most 0x3FFF (16383 digits after it). Beyond them its text input fails
	// with "value overflows numeric format"; so does this.
	if weight > math.MaxInt16 || weight < math.MinInt16 || dscale > 0x3FFF {
		return b, fmt.Errorf("numeric %.40q…: value overflows numeric format", s)
	}
	sign := uint16(0)
	if len(gs) == 0 {
		weight = 0
	} else if neg {
		sign = 0x4000
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*len(gs)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(gs)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, g := range gs {
		b = binary.BigEndian.AppendUint16(b, uint16(g))
	}
	return b, nil
}
