package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

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
	// Held is set on a build that held trusted rows back: those keep what earlier
	// logic built (not part of the fingerprint).
	Held bool `json:"held,omitempty"`
}

// DefinitionOf is a model's definition.
func DefinitionOf(m plan.Model) Definition {
	sum := sha256.Sum256([]byte(NormalizeSQL(m.SQLText)))
	return Definition{SQL: hex.EncodeToString(sum[:]), Materialized: m.Materialized, UniqueKey: m.UniqueKey,
		EventTime: m.EventTime, BatchSize: m.BatchSize, Lookback: m.Lookback}
}

// Hash is the definition's fingerprint: one hash of all its parts (Held aside).
func (d Definition) Hash() string {
	d.Held = false
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
// whitespace dropped except between two word characters (where one space remains) and
// between two string literals on different lines (a continuation: kept as a line
// break), ASCII letters outside quotes lower-cased (unquoted identifiers and keywords
// fold to lower case; other letters do not), a trailing semicolon dropped. Quoted
// strings (E” ones with their backslash escapes), quoted identifiers and
// dollar-quoted bodies are kept byte for byte. Only ASCII white space is white space
// (a no-break space is part of an identifier in PostgreSQL).
func NormalizeSQL(sql string) string {
	var b strings.Builder
	r := []rune(sql)
	n := len(r)
	pending, newline := false, false
	isSpace := func(c rune) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	word := func(c rune) bool {
		return c == '_' || c == '$' || c > 127 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
	}
	var last rune
	emit := func(s string) {
		if s == "" {
			return
		}
		first := []rune(s)[0]
		switch {
		case pending && newline && last == '\'' && first == '\'':
			b.WriteByte('\n') // 'a'<newline>'b' is one literal 'ab'; 'a''b' is a'b
		case pending && word(last) && word(first):
			b.WriteByte(' ')
		}
		pending, newline = false, false
		b.WriteString(s)
		rs := []rune(s)
		last = rs[len(rs)-1]
	}
	for i := 0; i < n; {
		c := r[i]
		switch {
		case isSpace(c):
			pending = true
			if c == '\n' {
				newline = true
			}
			i++
		case c == '-' && i+1 < n && r[i+1] == '-':
			for i < n && r[i] != '\n' {
				i++
			}
			pending = true
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
			pending = true
		case (c == 'e' || c == 'E') && i+1 < n && r[i+1] == '\'' && (i == 0 || !word(r[i-1])):
			// E'...': a backslash escapes the next character, the quote included.
			j := i + 2
			for j < n {
				if r[j] == '\\' {
					j += 2
					continue
				}
				if r[j] == '\'' {
					if j+1 < n && r[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			emit("e" + string(r[i+1:min(j+1, n)]))
			i = j + 1
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
			for j < n && (r[j] == '_' || ('a' <= r[j] && r[j] <= 'z') || ('A' <= r[j] && r[j] <= 'Z') || ('0' <= r[j] && r[j] <= '9') || r[j] > 127) {
				j++
			}
			if j < n && r[j] == '$' && (j == i+1 || !('0' <= r[i+1] && r[i+1] <= '9')) {
				tag := string(r[i : j+1])
				if end := strings.Index(string(r[j+1:]), tag); end >= 0 {
					body := string(r[j+1:])[:end]
					emit(tag + body + tag)
					i = j + 1 + len([]rune(body)) + len([]rune(tag))
					continue
				}
			}
			emit("$")
			i++
		case 'A' <= c && c <= 'Z':
			emit(string(c + ('a' - 'A')))
			i++
		default:
			emit(string(c))
			i++
		}
	}
	return strings.TrimRight(b.String(), "; ")
}
