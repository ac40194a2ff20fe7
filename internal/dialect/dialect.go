package dialect

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"etl2elt/internal/ident"
)

// Names of the dialects, as the plan spells them in warehouse.dialect.
const (
	Postgres = "postgres"
	Redshift = "redshift"
)

// Names lists the dialects For knows, in the order error messages name them.
func Names() []string { return []string{Postgres, Redshift} }

// ErrUnsupported is returned (wrapped) by an operation the dialect has no server-side
// form of, such as CopyFromS3 on PostgreSQL. Test with errors.Is.
var ErrUnsupported = errors.New("not supported by this warehouse dialect")

// Dialect generates the SQL whose text differs between the warehouses. It only builds
// strings: it never connects, and every identifier it writes is validated with
// ident.Validate and quoted with ident.Quote. Values that can be bound parameters are
// ($1, $2 or returned args); the only literals are the ones Redshift's COPY requires,
// which are validated and escaped.
//
// Errors about the input are *InputError or wrap *ident.Error; both report
// BadInput() == true, so the activities classify them as non-retryable.
type Dialect interface {
	// Name is the dialect's name as in the plan: "postgres" or "redshift".
	Name() string

	// LockTarget returns a statement that, run inside a transaction, stops a second
	// writer of the same target until the transaction ends. PostgreSQL: a
	// transaction-scoped advisory lock keyed by the target's name (a bound
	// parameter), which does not block readers and works before the table exists.
	// Redshift has no advisory locks: LOCK <table>, which blocks readers as well and
	// needs the table to exist.
	LockTarget(target ident.Relation) (sql string, args []any, err error)

	// CopyFromS3 returns the server-side load of S3 objects into target (Redshift
	// COPY ... FROM 's3://...' IAM_ROLE '...'). columns, when not empty, is COPY's
	// column list. target may be unqualified: a temporary staging table.
	// PostgreSQL returns an error wrapping ErrUnsupported: the worker
	// streams objects with COPY FROM STDIN instead.
	CopyFromS3(target ident.Relation, columns []string, src S3Source) (string, error)

	// ReplaceWindow returns the statements that, run in order in one transaction
	// (after LockTarget), replace the rows of target whose eventTime is in
	// [$1, $2) with the rows of selectSQL in that window: a DELETE, then an
	// INSERT ... SELECT filtered on the same window, so a rerun leaves the table as
	// one run does. Every statement takes the same two arguments: from, to.
	// columns is the insert list (it must include eventTime); empty means every
	// column of target, in table order, from SELECT *.
	ReplaceWindow(target ident.Relation, eventTime string, columns []string, selectSQL string) ([]string, error)

	// Merge returns a statement that upserts the rows of source into target on the
	// key columns: matched rows get source's values, the others are inserted. The
	// written columns are key followed by the columns not in key. source must hold
	// at most one row per key, and key values must not be NULL (NULL never matches,
	// so such rows would be inserted again on every run). On Redshift source must
	// be a table (not a view or subquery); an empty source Schema names a
	// temporary table.
	Merge(target, source ident.Relation, key, columns []string) (string, error)

	// RowHash returns a SQL expression fingerprinting a row's columns: 32 hex
	// characters, identical on PostgreSQL and Redshift for the same text values.
	// NULL and the empty string differ, and no two different column tuples share
	// an encoding. Include the key columns.
	RowHash(columns []string) (string, error)

	// RowHashOf is RowHash with a token form per column (HashColumn): a Delimited
	// column, whose text the caller knows can never be empty nor contain '|' on
	// either side (a number, a date, a timestamp), is its text and '|' instead of
	// its length, ':' and its text. Cheaper (no LENGTH, no number printed), and as
	// unambiguous: tokens are read in column order, each by its own form.
	RowHashOf(columns []HashColumn) (string, error)

	// AggregateHash returns a select list of two columns aggregating rowHash (an
	// expression or column holding RowHash values) over the rows of a query:
	// row_count (bigint) and hash_sum (text: the exact sum of the first 60 bits of
	// each row hash). It is order-independent and additive over disjoint ranges,
	// for checksum bisection; identical on both dialects for identical rows.
	// rowHash is SQL text, not an identifier: pass RowHash's output.
	AggregateHash(rowHash string) string
}

// For returns the dialect named name ("postgres" or "redshift"). Callers pass
// plan.Plan.Dialect(), which defaults to postgres; an empty or unknown name is an
// *InputError naming the valid ones.
func For(name string) (Dialect, error) {
	switch name {
	case Postgres:
		return postgres{}, nil
	case Redshift:
		return redshift{}, nil
	}
	return nil, &InputError{Op: "warehouse dialect", Reason: fmt.Sprintf("unknown dialect %q: valid dialects are %s", name, strings.Join(Names(), ", "))}
}

// InputError is a request the dialect cannot turn into SQL: a malformed S3 URI or IAM
// role, an option the format does not support, an empty key list... It is the plan's
// or the caller's problem, not a transient one.
type InputError struct {
	// Op is the dialect and operation, e.g. "redshift CopyFromS3".
	Op string
	// Reason says what is wrong and what is accepted.
	Reason string
}

func (e *InputError) Error() string { return e.Op + ": " + e.Reason }

// BadInput marks the error as non-retryable.
func (e *InputError) BadInput() bool { return true }

func inputErr(dialect, op, format string, args ...any) error {
	return &InputError{Op: dialect + " " + op, Reason: fmt.Sprintf(format, args...)}
}

// identErr wraps an *ident.Error with the dialect and operation, keeping it visible
// to errors.As.
func identErr(dialect, op, what string, err error) error {
	return fmt.Errorf("%s %s: %s: %w", dialect, op, what, err)
}

// quoteTable validates and quotes a relation. A relation without schema is accepted
// only when unqualified is true (temporary tables); it is then quoted alone.
func quoteTable(dialect, op, what string, r ident.Relation, unqualified bool) (string, error) {
	if r.Schema == "" && unqualified {
		if err := ident.Validate(r.Name); err != nil {
			return "", identErr(dialect, op, what, err)
		}
		return ident.Quote(r.Name), nil
	}
	if r.Schema == "" {
		return "", inputErr(dialect, op, "%s %q must be schema-qualified", what, r.Name)
	}
	if err := ident.Validate(r.Schema); err != nil {
		return "", identErr(dialect, op, what+" schema", err)
	}
	if err := ident.Validate(r.Name); err != nil {
		return "", identErr(dialect, op, what, err)
	}
	return r.Quoted(), nil
}

// quoteColumns validates column names and returns them quoted, refusing duplicates.
func quoteColumns(dialect, op, what string, columns []string) ([]string, error) {
	out := make([]string, 0, len(columns))
	seen := make(map[string]bool, len(columns))
	for _, c := range columns {
		if err := ident.Validate(c); err != nil {
			return nil, identErr(dialect, op, what, err)
		}
		if seen[c] {
			return nil, inputErr(dialect, op, "%s %q is listed twice", what, c)
		}
		seen[c] = true
		out = append(out, ident.Quote(c))
	}
	return out, nil
}

// lockKey is the advisory-lock key of a target: one key per table, whatever the
// operation, so that a load and a backfill chunk of the same table exclude each other.
func lockKey(target ident.Relation) string { return "etl2elt.target:" + target.String() }

// replaceWindow is the DELETE + INSERT ... SELECT both dialects run: standard SQL with
// bound window bounds. The SELECT is wrapped in a subquery on lines of its own, so
// that a trailing line comment in a model file cannot swallow the closing parenthesis.
func replaceWindow(dialect string, target ident.Relation, eventTime string, columns []string, selectSQL string) ([]string, error) {
	const op = "ReplaceWindow"
	table, err := quoteTable(dialect, op, "target", target, false)
	if err != nil {
		return nil, err
	}
	if err := ident.Validate(eventTime); err != nil {
		return nil, identErr(dialect, op, "event time column", err)
	}
	cols, err := quoteColumns(dialect, op, "column", columns)
	if err != nil {
		return nil, err
	}
	if len(columns) > 0 && !slices.Contains(columns, eventTime) {
		return nil, inputErr(dialect, op, "the columns must include the event time column %q, or rows would land outside the window they replace", eventTime)
	}
	body := strings.TrimRight(strings.TrimSpace(selectSQL), "; \t\r\n")
	if body == "" {
		return nil, inputErr(dialect, op, "the SELECT is empty")
	}
	et := ident.Quote(eventTime)
	insert := "INSERT INTO " + table + " SELECT * FROM (\n"
	if len(cols) > 0 {
		list := strings.Join(cols, ", ")
		insert = "INSERT INTO " + table + " (" + list + ") SELECT " + list + " FROM (\n"
	}
	src := ident.Quote("src")
	return []string{
		"DELETE FROM " + table + " WHERE " + et + " >= $1 AND " + et + " < $2",
		insert + body + "\n) AS " + src + " WHERE " + src + "." + et + " >= $1 AND " + src + "." + et + " < $2",
	}, nil
}

// mergeParts is a validated Merge request, every name quoted.
type mergeParts struct {
	target, source string
	key            []string // quoted
	nonKey         []string // quoted
}

// prepareMerge validates a Merge request: target and source tables (source may be an
// unqualified temporary table), a non-empty key, and the columns outside the key.
func prepareMerge(dialect string, target, source ident.Relation, key, columns []string) (mergeParts, error) {
	const op = "Merge"
	var p mergeParts
	var err error
	if p.target, err = quoteTable(dialect, op, "target", target, false); err != nil {
		return p, err
	}
	if p.source, err = quoteTable(dialect, op, "source", source, true); err != nil {
		return p, err
	}
	if target == source {
		return p, inputErr(dialect, op, "source and target are the same table %s", target)
	}
	if len(key) == 0 {
		return p, inputErr(dialect, op, "the key is empty: name the unique key columns to match on")
	}
	if p.key, err = quoteColumns(dialect, op, "key column", key); err != nil {
		return p, err
	}
	var rest []string
	for _, c := range columns {
		if !slices.Contains(key, c) {
			rest = append(rest, c)
		}
	}
	if p.nonKey, err = quoteColumns(dialect, op, "column", rest); err != nil {
		return p, err
	}
	return p, nil
}

// HashColumn is a column of RowHashOf and its token form.
type HashColumn struct {
	Name string
	// Delimited: the column's text is never empty and never contains '|' (say so
	// only when that holds on both sides compared, e.g. both numbers): its token is
	// the text followed by '|', and a NULL is '|' alone.
	Delimited bool
}

// DelimitedTypes are the information_schema data types whose text (cast to text,
// rounded, or printed by TO_CHAR) is never empty and never contains '|', whatever
// the session's DateStyle: the types a caller may hash as Delimited when both
// sides have one of them.
var DelimitedTypes = map[string]bool{
	"smallint": true, "integer": true, "bigint": true, "numeric": true, "real": true, "double precision": true,
	"date": true, "timestamp with time zone": true, "timestamp without time zone": true,
	"time with time zone": true, "time without time zone": true, "boolean": true, "uuid": true,
}

// rowHash is the fingerprint both dialects compute; only the text type differs.
//
// Each column becomes a token: 'n' when NULL, else the length of its text in
// characters, ':' and the text (length-prefixed). A token starts with a digit or 'n'
// and its length says where it ends, so the concatenation decodes one way only,
// whatever the values contain, and no escape character is needed. The row hash is one
// MD5 of the concatenation: one hash per row, not one per column (2–4× faster on wide
// rows, measured in docs/BENCHMARKS.md). A Delimited column (HashColumn) is instead
// its text followed by '|' ('|' alone when NULL): its text is never empty and never
// contains '|', so the token still ends in one place only. On Redshift the concatenation is a
// VARCHAR(65535): a row whose normalised text is longer fails with an error, never a
// wrong hash.
//
// With concat (PostgreSQL) the same tokens are written as arguments of one variadic
// CONCAT, which skips NULL arguments: per column LENGTH(text) (printed as text), then
// 'n' when the text is NULL and ':' otherwise, then the text (a Delimited column: the
// text, then '|'). NULL gives "n" and a
// value "<length>:<text>": the same bytes, so the same hash, as the || form Redshift
// needs (its CONCAT takes two arguments); tested on PostgreSQL against a Go reference
// and against the Redshift expression. One function call per row instead of two
// concatenations per column and one between tokens: measured 10–25 % less per row
// hashed (docs/BENCHMARKS.md, row-level diff).
func rowHash(dialect, textType string, concat bool, columns []HashColumn) (string, error) {
	const op = "RowHash"
	if len(columns) == 0 {
		return "", inputErr(dialect, op, "no columns to hash")
	}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.Name
	}
	cols, err := quoteColumns(dialect, op, "column", names)
	if err != nil {
		return "", err
	}
	tokens := make([]string, len(cols))
	for i, c := range cols {
		text := "CAST(" + c + " AS " + textType + ")"
		switch {
		case columns[i].Delimited && concat:
			tokens[i] = text + ", '|'"
		case columns[i].Delimited:
			tokens[i] = "COALESCE(" + text + ", '') || '|'"
		case concat:
			tokens[i] = "LENGTH(" + text + "), CASE WHEN " + text + " IS NULL THEN 'n' ELSE ':' END, " + text
		default:
			tokens[i] = "COALESCE(CAST(LENGTH(" + text + ") AS " + textType + ") || ':' || " + text + ", 'n')"
		}
	}
	if concat {
		return "MD5(CONCAT(" + strings.Join(tokens, ", ") + "))", nil
	}
	return "MD5(" + strings.Join(tokens, " || ") + ")", nil
}

// lengthPrefixed is columns hashed with RowHash's form alone.
func lengthPrefixed(columns []string) []HashColumn {
	out := make([]HashColumn, len(columns))
	for i, c := range columns {
		out[i] = HashColumn{Name: c}
	}
	return out
}
