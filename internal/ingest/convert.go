package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// converter turns a CSV field into the value COPY sends for a column type. An empty
// field is NULL for every type but text, where it stays an empty string.
type converter func(field string) (any, error)

func converterFor(typ string) (converter, error) {
	switch typ {
	case "text":
		return func(s string) (any, error) { return s, nil }, nil
	case "bigint":
		return nullable(func(s string) (any, error) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a bigint", s)
			}
			return v, nil
		}), nil
	case "integer":
		return nullable(func(s string) (any, error) {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			return int32(v), nil
		}), nil
	case "numeric":
		return nullable(func(s string) (any, error) {
			var n pgtype.Numeric
			if err := n.Scan(strings.TrimSpace(s)); err != nil || !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
				return nil, fmt.Errorf("%q is not a number", s)
			}
			return n, nil
		}), nil
	case "boolean":
		return nullable(func(s string) (any, error) {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true", "t", "1", "yes", "y":
				return true, nil
			case "false", "f", "0", "no", "n":
				return false, nil
			}
			return nil, fmt.Errorf("%q is not a boolean", s)
		}), nil
	case "date":
		return nullable(func(s string) (any, error) {
			v, err := time.Parse("2006-01-02", strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
			}
			return v, nil
		}), nil
	case "timestamptz":
		return nullable(parseTimestamp), nil
	}
	return nil, fmt.Errorf("unsupported column type %q", typ)
}

var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// parseTimestamp accepts RFC 3339 and "YYYY-MM-DD HH:MM:SS[.frac][zone]"; a value
// without a zone is UTC.
func parseTimestamp(s string) (any, error) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if v, err := time.Parse(l, s); err == nil {
			return v.UTC(), nil
		}
	}
	return nil, fmt.Errorf("%q is not a timestamp (RFC 3339 or YYYY-MM-DD HH:MM:SS)", s)
}

func nullable(c converter) converter {
	return func(s string) (any, error) {
		if s == "" {
			return nil, nil
		}
		return c(s)
	}
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
