// Package opinput decodes what a person types into a workflow: workflow inputs pasted
// in the Temporal UI, signal and update payloads sent with the `temporal` CLI. The
// decoding is strict and the errors are one line each, written for that person:
// unknown keys are refused naming the nearest valid key, wrong types name the field
// and the type wanted, a string or null where an object goes says so, and an
// oversized payload is refused before it is parsed. Every problem of a payload is
// reported at once.
//
// Callers decode a payload with Decode (nested structs are decoded the same way,
// strictly); Options lets some keys through as encoding/json would (internal state)
// or refuses keys a person may not give.
//
// The package has no Temporal imports.
package opinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxProblems bounds the problems reported for one payload.
const maxProblems = 10

// Options adjust Decode.
type Options struct {
	// Lenient keys are decoded with encoding/json as they are (internal state).
	Lenient []string
	// Refused keys are refused with the reason given, as if unknown.
	Refused map[string]string
}

// MaxBytes bounds one payload: inputs, signals and updates are small JSON documents.
const MaxBytes = 64 << 10

// MaxText bounds one text field (a reason, a comment): the decision log keeps it
// verbatim, the status shows it.
const MaxText = 2000

// MinReason is the shortest reason accepted where a reason justifies an exception
// (overrides, skips, budget raises): "ok" or "x" explains nothing to an auditor.
const MinReason = 10

// Error is a refused payload: every problem, each one line.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

// Problems returns the problems of err when it is an *Error, else err's message.
func Problems(err error) []string {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return []string{err.Error()}
}

// Decode decodes the JSON object data into v, a pointer to a struct, strictly: data
// must be one JSON object of at most MaxBytes; every key must be a field's json name
// (exact case); every value must have its field's type. Nested values of types with
// their own UnmarshalJSON (calling Decode) are checked the same way, and their
// problems are prefixed with the key they sit under.
func Decode(data []byte, v any) error { return DecodeWith(data, v, Options{}) }

// DecodeWith is Decode with options.
func DecodeWith(data []byte, v any, o Options) error {
	problems := decode(data, v, o)
	if len(problems) == 0 {
		return nil
	}
	if len(problems) > maxProblems {
		more := len(problems) - maxProblems
		problems = append(problems[:maxProblems:maxProblems], fmt.Sprintf("and %d more problem(s)", more))
	}
	return &Error{Problems: problems}
}

func decode(data []byte, v any, o Options) []string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return []string{fmt.Sprintf("opinput.Decode needs a pointer to a struct, got %T", v)}
	}
	st := rv.Elem()
	fields := jsonFields(st.Type())
	if len(data) > MaxBytes {
		return []string{fmt.Sprintf("payload of %d bytes is over the limit of %d bytes", len(data), MaxBytes)}
	}
	trimmed := bytes.TrimSpace(data)
	if got := kindOf(trimmed); got != "an object" {
		return []string{fmt.Sprintf("want a JSON object with keys %s, got %s", keyList(fields, o), describe(trimmed, got))}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return []string{syntaxProblem(err)}
	}
	problems := duplicateKeys(trimmed)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	valid := make([]string, 0, len(fields))
	for _, f := range fields {
		if _, refused := o.Refused[f.name]; !refused {
			valid = append(valid, f.name)
		}
	}
	for _, k := range keys {
		if why, refused := o.Refused[k]; refused {
			problems = append(problems, fmt.Sprintf("key %q is not accepted here: %s", Excerpt(k, 60), why))
			continue
		}
		f, ok := findField(fields, k)
		if !ok {
			problems = append(problems, UnknownKey(k, valid))
			continue
		}
		val := raw[k]
		fv := st.FieldByIndex(f.index)
		if bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
			// null leaves the field at its zero value, as omitting it would.
			fv.Set(reflect.Zero(fv.Type()))
			continue
		}
		if nested := structTarget(fv); nested.IsValid() && !slices.Contains(o.Lenient, k) {
			// Nested objects are decoded as strictly as the payload.
			for _, p := range decode(val, nested.Addr().Interface(), Options{}) {
				problems = append(problems, k+": "+p)
			}
			continue
		}
		if err := json.Unmarshal(val, fv.Addr().Interface()); err != nil {
			problems = append(problems, fieldProblem(k, f.typ, val, err)...)
		}
	}
	return problems
}

// structTarget returns the struct a field decodes into (allocating a nil pointer),
// or an invalid value when the field is not a struct or a pointer to one. Types with
// their own JSON decoding (time.Time...) are left to encoding/json.
func structTarget(fv reflect.Value) reflect.Value {
	t := fv.Type()
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return reflect.Value{}
	}
	switch {
	case t.Kind() == reflect.Struct:
		return fv
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && !t.Implements(reflect.TypeFor[json.Unmarshaler]()):
		if fv.IsNil() {
			fv.Set(reflect.New(t.Elem()))
		}
		return fv.Elem()
	}
	return reflect.Value{}
}

// duplicateKeys names the keys given twice in a JSON object (encoding/json keeps the
// last one silently).
func duplicateKeys(obj []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		key, _ := tok.(string)
		if seen[key] {
			out = append(out, fmt.Sprintf("key %q is given twice: give it once", Excerpt(key, 60)))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return out
		}
	}
	return out
}

type field struct {
	name  string
	index []int
	typ   reflect.Type
}

func jsonFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name: name, index: sf.Index, typ: sf.Type})
	}
	return out
}

func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	return field{}, false
}

func keyList(fields []field, o Options) string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		if _, refused := o.Refused[f.name]; refused || f.name == "carry" { // internal: continue-as-new state
			continue
		}
		names = append(names, f.name)
	}
	return "{" + strings.Join(names, ", ") + "}"
}

// UnknownKey names an unknown key and the nearest valid one, or lists the valid keys.
func UnknownKey(key string, valid []string) string {
	best, bestDist := "", len(key)+1
	for _, v := range valid {
		if strings.EqualFold(key, v) {
			best, bestDist = v, 0
			break
		}
		if d := Distance(key, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	shown := Excerpt(key, 60)
	if best != "" && bestDist <= max(2, len(key)/3) {
		return fmt.Sprintf("unknown key %q: did you mean %q?", shown, best)
	}
	sorted := slices.Clone(valid)
	sorted = slices.DeleteFunc(sorted, func(s string) bool { return s == "carry" })
	slices.Sort(sorted)
	return fmt.Sprintf("unknown key %q: valid keys are %s", shown, strings.Join(sorted, ", "))
}

// Distance is the optimal-string-alignment distance: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1.
func Distance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// fieldProblem turns a decoding error of the value under key into one-line problems.
func fieldProblem(key string, typ reflect.Type, val json.RawMessage, err error) []string {
	var nested *Error
	if errors.As(err, &nested) {
		out := make([]string, 0, len(nested.Problems))
		for _, p := range nested.Problems {
			out = append(out, fmt.Sprintf("%s: %s", key, p))
		}
		return out
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := key
		if te.Field != "" && te.Field != key {
			where = key + "." + te.Field
		}
		got := describe(bytes.TrimSpace(val), kindOf(bytes.TrimSpace(val)))
		if k := kindOf(bytes.TrimSpace(val)); (k == "an object" || k == "a list") && te.Value != "" {
			got = "a " + te.Value // the nested value that does not fit
		}
		if num, isNum := strings.CutPrefix(te.Value, "number "); isNum {
			if w := want(te.Type); w == "a number" || (w == "a whole number" && !strings.ContainsAny(num, ".eE")) {
				return []string{fmt.Sprintf("%s: %s is out of range for %s", where, Excerpt(num, 40), w)}
			}
		}
		return []string{fmt.Sprintf("%s: want %s, got %s", where, want(te.Type), got)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return []string{fmt.Sprintf("%s: want an RFC 3339 time such as \"2026-01-02T15:04:05Z\", got %q", key, Excerpt(pe.Value, 60))}
	}
	return []string{fmt.Sprintf("%s: want %s: %s", key, want(typ), Excerpt(err.Error(), 200))}
}

func syntaxProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return "not valid JSON: " + Excerpt(err.Error(), 200)
}

// kindOf says what a JSON value is, from its first byte.
func kindOf(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch c := b[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "a list"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "true or false"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "something that is not JSON"
}

func describe(b []byte, kind string) string {
	switch kind {
	case "a string", "a number", "true or false":
		return kind + " " + Excerpt(string(b), 60)
	case "nothing":
		return "an empty payload"
	}
	return kind
}

// want names the JSON a Go type takes.
func want(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time"
	}
	if t == reflect.TypeFor[time.Duration]() {
		return "a number of nanoseconds"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return want(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(want(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(strings.TrimPrefix(want(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct:
		if fs := jsonFields(t); len(fs) > 0 {
			return "an object " + keyList(fs, Options{})
		}
		return "an object"
	}
	return t.String()
}

// Excerpt shortens s to at most n runes, marking the cut, and replaces control
// characters, so that a person's input never floods a message or a log line.
func Excerpt(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf) {
			r = ' '
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// Text checks a free-text field: required (when min > 0) with at least min
// characters after trimming, at most MaxText, and no control character but tab and
// line breaks (a NUL cannot even be stored: PostgreSQL refuses it). field names it in
// the problem.
func Text(field, s string, minLen int) error {
	t := strings.TrimSpace(s)
	n := utf8.RuneCountInString(t)
	for i, r := range t {
		if r != '\t' && r != '\n' && r != '\r' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			return fmt.Errorf("%s holds a control character (U+%04X at byte %d): plain text only", field, r, i)
		}
		if r == utf8.RuneError {
			return fmt.Errorf("%s is not valid UTF-8 text", field)
		}
	}
	switch {
	case minLen > 0 && n == 0:
		return fmt.Errorf("%s is required", field)
	case n < minLen:
		return fmt.Errorf("%s %q is too short: at least %d characters, so that the decision log explains it", field, Excerpt(t, 40), minLen)
	case n > MaxText:
		return fmt.Errorf("%s is %d characters: at most %d", field, n, MaxText)
	}
	return nil
}

// Join makes one error of several problems (nil when there are none).
func Join(errs ...error) error {
	var problems []string
	for _, err := range errs {
		if err != nil {
			problems = append(problems, Problems(err)...)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Problems: problems}
}
