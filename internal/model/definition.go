package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode"

	"etl2elt/internal/plan"
)

// Definition is what a model's results depend on in its own plan entry: its SQL,
// normalised so that whitespace, comments and the case of keywords do not count, and
// its materialisation settings. Every model run and backfill chunk records it; the
// staleness of the periods a model built (Staleness) compares it, and its upstream
// models' definitions at the time, with the current plan.
type Definition struct {
	// SQL is the hash of the normalised SQL.
	SQL          string   `json:"sql"`
	Materialized string   `json:"materialized"`
	UniqueKey    []string `json:"unique_key,omitempty"`
	EventTime    string   `json:"event_time,omitempty"`
	BatchSize    string   `json:"batch_size,omitempty"`
	Lookback     string   `json:"lookback,omitempty"`
}

// DefinitionOf is a model's definition.
func DefinitionOf(m plan.Model) Definition {
	sum := sha256.Sum256([]byte(NormalizeSQL(m.SQLText)))
	return Definition{SQL: hex.EncodeToString(sum[:]), Materialized: m.Materialized, UniqueKey: m.UniqueKey,
		EventTime: m.EventTime, BatchSize: m.BatchSize, Lookback: m.Lookback}
}

// Hash is the definition's fingerprint: one hash of all its parts.
func (d Definition) Hash() string {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Changes names what differs from an earlier definition: "SQL", "lookback 1d → 2d"...
func (d Definition) Changes(before Definition) []string {
	var out []string
	if d.SQL != before.SQL {
		out = append(out, "SQL")
	}
	for _, f := range []struct{ name, was, is string }{
		{"materialized", before.Materialized, d.Materialized},
		{"unique_key", strings.Join(before.UniqueKey, ","), strings.Join(d.UniqueKey, ",")},
		{"event_time", before.EventTime, d.EventTime},
		{"batch_size", before.BatchSize, d.BatchSize},
		{"lookback", before.Lookback, d.Lookback},
	} {
		if f.was != f.is {
			out = append(out, f.name+" "+orDash(f.was)+" → "+orDash(f.is))
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// NormalizeSQL reduces a model's SQL to what changes its meaning: comments dropped,
// whitespace dropped except between two word characters (where one space remains),
// letters outside quotes lower-cased, a trailing semicolon dropped. Quoted strings,
// quoted identifiers and dollar-quoted bodies are kept byte for byte.
func NormalizeSQL(sql string) string {
	var b strings.Builder
	r := []rune(sql)
	n := len(r)
	pendingSpace := false
	word := func(c rune) bool { return c == '_' || c == '$' || unicode.IsLetter(c) || unicode.IsDigit(c) }
	last := func() rune {
		s := b.String()
		if s == "" {
			return 0
		}
		rs := []rune(s[max(0, len(s)-4):])
		return rs[len(rs)-1]
	}
	emit := func(s string) {
		if pendingSpace && s != "" && word(last()) && word([]rune(s)[0]) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteString(s)
	}
	for i := 0; i < n; {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			pendingSpace = true
			i++
		case c == '-' && i+1 < n && r[i+1] == '-':
			for i < n && r[i] != '\n' {
				i++
			}
			pendingSpace = true
		case c == '/' && i+1 < n && r[i+1] == '*':
			depth := 0
			for i < n {
				if r[i] == '/' && i+1 < n && r[i+1] == '*' {
					depth, i = depth+1, i+2
					continue
				}
				if r[i] == '*' && i+1 < n && r[i+1] == '/' {
					depth, i = depth-1, i+2
					if depth == 0 {
						break
					}
					continue
				}
				i++
			}
			pendingSpace = true
		case c == '\'' || c == '"':
			j := i + 1
			for j < n {
				if r[j] == c {
					if j+1 < n && r[j+1] == c { // a doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			emit(string(r[i:min(j+1, n)]))
			i = j + 1
		case c == '$':
			// $tag$ ... $tag$: kept as it is.
			j := i + 1
			for j < n && (r[j] == '_' || unicode.IsLetter(r[j]) || unicode.IsDigit(r[j])) {
				j++
			}
			if j < n && r[j] == '$' && (j == i+1 || !unicode.IsDigit(r[i+1])) {
				tag := string(r[i : j+1])
				end := strings.Index(string(r[j+1:]), tag)
				if end >= 0 {
					body := []rune(string(r[j+1:])[:end])
					emit(tag + string(body) + tag)
					i = j + 1 + len(body) + len([]rune(tag))
					continue
				}
			}
			emit("$")
			i++
		default:
			emit(string(unicode.ToLower(c)))
			i++
		}
	}
	return strings.TrimRight(b.String(), "; ")
}
