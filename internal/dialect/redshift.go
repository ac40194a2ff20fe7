package dialect

import (
	"strings"

	"etl2elt/internal/ident"
)

// redshift is Amazon Redshift: the PostgreSQL wire protocol, a different SQL.
type redshift struct{}

func (redshift) Name() string { return Redshift }

// LockTarget is LOCK <table>: Redshift has no advisory lock functions. The lock is
// ACCESS EXCLUSIVE until the transaction ends, so readers of the table wait too, and
// the table must exist (create it before locking).
func (redshift) LockTarget(target ident.Relation) (string, []any, error) {
	table, err := quoteTable(Redshift, "LockTarget", "target", target, false)
	if err != nil {
		return "", nil, err
	}
	return "LOCK " + table, nil, nil
}

func (redshift) ReplaceWindow(target ident.Relation, eventTime string, columns []string, selectSQL string) ([]string, error) {
	return replaceWindow(Redshift, target, eventTime, columns, selectSQL)
}

// Merge is Redshift's MERGE: the target takes no alias (its columns are qualified by
// the table name), the source must be a table, both WHEN clauses are required, and,
// as AWS recommends for performance, UPDATE sets every written column (key included)
// with the same expressions as INSERT. That also gives a key-only merge a valid SET.
// REMOVE DUPLICATES is not used: it needs source and target to have the same columns
// in the same order, which a column list cannot promise.
func (redshift) Merge(target, source ident.Relation, key, columns []string) (string, error) {
	p, err := prepareMerge(Redshift, target, source, key, columns)
	if err != nil {
		return "", err
	}
	src := "src"
	if target.Name == src {
		src = "src_" // the target's bare name must stay unambiguous
	}
	tgt, qsrc := ident.Quote(target.Name), ident.Quote(src)
	on := make([]string, len(p.key))
	for i, k := range p.key {
		on[i] = tgt + "." + k + " = " + qsrc + "." + k
	}
	all := append(append([]string{}, p.key...), p.nonKey...)
	set := make([]string, len(all))
	values := make([]string, len(all))
	for i, c := range all {
		set[i] = c + " = " + qsrc + "." + c
		values[i] = qsrc + "." + c
	}
	return "MERGE INTO " + p.target + " USING " + p.source + " AS " + qsrc +
		" ON " + strings.Join(on, " AND ") +
		" WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + strings.Join(all, ", ") + ") VALUES (" + strings.Join(values, ", ") + ")", nil
}

// RowHash casts each column to VARCHAR(65535), Redshift's longest VARCHAR (TEXT is
// VARCHAR(256) there and would cut long text). MD5 is used rather than
// FNV_HASH, a non-cryptographic 64-bit hash that is likely cheaper per value,
// because MD5 gives the same value as PostgreSQL's md5 for the same text, so a
// legacy PostgreSQL output and the Redshift output compare directly; FNV_HASH exists
// only in Redshift and hashes each value's typed binary form (an INTEGER 1 and a
// BIGINT 1 differ).
func (redshift) RowHash(columns []string) (string, error) {
	return rowHash(Redshift, "VARCHAR(65535)", false, lengthPrefixed(columns))
}

// RowHashOf is RowHash with Delimited columns (HashColumn).
func (redshift) RowHashOf(columns []HashColumn) (string, error) {
	return rowHash(Redshift, "VARCHAR(65535)", false, columns)
}

// AggregateHash reads the first 15 hex digits (60 bits) of each row hash with
// STRTOL(..., 16), whose result must fit a signed 64-bit BIGINT (16 digits would
// not), and sums them as NUMERIC(38,0): Redshift's SUM of BIGINT is BIGINT and would
// overflow after a few rows.
func (redshift) AggregateHash(rowHash string) string {
	slice := "CAST(STRTOL(SUBSTRING(" + rowHash + ", 1, 15), 16) AS NUMERIC(38,0))"
	return "COUNT(*) AS " + ident.Quote("row_count") +
		", CAST(COALESCE(SUM(" + slice + "), 0) AS VARCHAR(40)) AS " + ident.Quote("hash_sum")
}
