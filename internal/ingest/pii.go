package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"etl2elt/internal/plan"
)

// PII policies of source columns, applied by the loader on the way into raw: the S3
// object stays the as-landed copy, and the warehouse never holds the value in clear.
//
//   - keep (default): loaded as is;
//   - hash: HMAC-SHA256 of the value with the worker's key (ETL2ELT_PII_HASH_KEY), hex:
//     equal values still join and count, the value cannot be read back;
//   - mask: every character but the last four replaced by '*';
//   - drop: not loaded at all (the raw table has no such column).

// PIIKeyError is a source that hashes a column on a worker without a key.
type PIIKeyError struct{ Source, Column string }

func (e *PIIKeyError) Error() string {
	return fmt.Sprintf("source %s column %s: pii hash needs a key: set ETL2ELT_PII_HASH_KEY on the worker", e.Source, e.Column)
}

// BadInput marks the error as non-retryable (a configuration problem).
func (e *PIIKeyError) BadInput() bool { return true }

// loadedColumns are the source's columns that reach the raw table (drop excluded).
func loadedColumns(src plan.Source) []plan.Column {
	var out []plan.Column
	for _, c := range src.Columns {
		if c.PII != "drop" {
			out = append(out, c)
		}
	}
	return out
}

// piiTransforms returns, per source column, the transform its policy applies (nil:
// keep), checking that a hash key is there when needed.
func piiTransforms(src plan.Source, key []byte) ([]func(value) value, error) {
	tf := make([]func(value) value, len(src.Columns))
	for i, c := range src.Columns {
		switch c.PII {
		case "hash":
			if len(key) == 0 {
				return nil, &PIIKeyError{Source: src.Name, Column: c.Name}
			}
			tf[i] = func(v value) value {
				if v.kind != vText {
					return v
				}
				m := hmac.New(sha256.New, key)
				m.Write([]byte(v.s))
				return textValue(hex.EncodeToString(m.Sum(nil)))
			}
		case "mask":
			tf[i] = func(v value) value {
				if v.kind != vText {
					return v
				}
				r := []rune(v.s)
				for j := 0; j < len(r)-4; j++ {
					r[j] = '*'
				}
				return textValue(string(r))
			}
		}
	}
	return tf, nil
}
