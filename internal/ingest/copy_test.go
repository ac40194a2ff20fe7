package ingest

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIsDecimal(t *testing.T) {
	for _, ok := range []string{"0", "12", "-12.50", "+0.5", ".5", "5.", "1e10", "1.5E-3", "123456789012345678901234567890.123"} {
		require.True(t, isDecimal(ok), ok)
	}
	for _, bad := range []string{"", "-", ".", "12,50", "1 000", "NaN", "Infinity", "1e", "1e1234567", "0x10", "1.2.3", "e5"} {
		require.False(t, isDecimal(bad), bad)
	}
}

// numericField builds the expected binary numeric: ndigits, weight, sign, dscale, digits.
func numericField(weight int16, neg bool, dscale uint16, digits ...uint16) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+2*len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, dscale)
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

func TestAppendNumeric(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
	}{
		{"12345.678", numericField(1, false, 3, 1, 2345, 6780)},
		{"-0.005", numericField(-1, true, 3, 50)},
		{"5e-3", numericField(-1, false, 3, 50)},
		{"1.5e3", numericField(0, false, 0, 1500)},
		{"1.5E+5", numericField(1, false, 0, 15)},
		{"0", numericField(0, false, 0)},
		{"-0.00", numericField(0, false, 2)},
		{"100000000", numericField(2, false, 0, 1)},
		{"0000.5", numericField(-1, false, 1, 5000)},
		{".5", numericField(-1, false, 1, 5000)},
		{"5.", numericField(0, false, 0, 5)},
		{"+12.50", numericField(0, false, 2, 12, 5000)},
		{"0.00001", numericField(-2, false, 5, 1000)},
		{"123456789012345678901234567890.123", numericField(7, false, 3, 12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1230)},
	}
	for _, tt := range tests {
		got, err := appendNumeric(nil, tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "-", "1e", "1.2.3", "1e99999"} {
		_, err := appendNumeric(nil, bad)
		require.Error(t, err, bad)
	}
}

func TestAppendField(t *testing.T) {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// 2026-01-02T02:04:05.0000006Z: 0.6 µs rounds up to 1 µs.
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	micros := (ts.Unix()-pgEpoch)*1_000_000 + 1
	tests := []struct {
		v    any
		typ  string
		want []byte
	}{
		{nil, "text", be32(0xffffffff)},
		{nil, "bigint", be32(0xffffffff)},
		{"", "text", be32(0)},
		{"héllo", "text", cat(be32(6), []byte("héllo"))},
		{int64(-7), "bigint", cat(be32(8), binary.BigEndian.AppendUint64(nil, uint64(0xfffffffffffffff9)))},
		{int32(7), "integer", cat(be32(4), be32(7))},
		{true, "boolean", cat(be32(1), []byte{1})},
		{false, "boolean", cat(be32(1), []byte{0})},
		{ts, "timestamptz", cat(be32(8), binary.BigEndian.AppendUint64(nil, uint64(micros)))},
		{time.Date(2000, 1, 1, 0, 0, 0, 500, time.UTC), "timestamptz", cat(be32(8), make([]byte, 8))}, // a tie rounds to even
		{time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "date", cat(be32(4), be32(0xffffffff))},
		{time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC), "date", cat(be32(4), be32(2))},
	}
	for _, tt := range tests {
		got, err := appendField(nil, valueOf(tt.v), tt.typ)
		require.NoError(t, err, "%#v", tt.v)
		require.Equal(t, tt.want, got, "%#v as %s", tt.v, tt.typ)
	}
	_, err := appendField(nil, textValue("1"), "bigint")
	require.ErrorContains(t, err, "cannot send a string as bigint")
}

// valueOf is the value of a plain Go value (the inverse of value.any).
func valueOf(v any) value {
	switch x := v.(type) {
	case string:
		return textValue(x)
	case int64:
		return value{kind: vInt64, i: x}
	case int32:
		return value{kind: vInt32, i: int64(x)}
	case Decimal:
		return value{kind: vDecimal, s: string(x)}
	case bool:
		if x {
			return value{kind: vBool, i: 1}
		}
		return value{kind: vBool}
	case time.Time:
		return value{kind: vTime, t: x}
	}
	return value{}
}
