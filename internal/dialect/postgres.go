package dialect

import (
	"fmt"
	"strings"

	"etl2elt/internal/ident"
)

// postgres is PostgreSQL 15 (the local warehouse and the default dialect).
type postgres struct{}

func (postgres) Name() string { return Postgres }

// LockTarget takes a transaction-scoped advisory lock on hashtext of the target's
// key. Two different targets may hash alike (32 bits): they then serialise, which is
// slower, never wrong.
func (postgres) LockTarget(target ident.Relation) (string, []any, error) {
	if _, err := quoteTable(Postgres, "LockTarget", "target", target, false); err != nil {
		return "", nil, err
	}
	return "SELECT pg_advisory_xact_lock(hashtext($1))", []any{lockKey(target)}, nil
}

// CopyFromS3 is not a PostgreSQL statement: the worker streams objects from S3 into
// COPY FROM STDIN (internal/ingest).
func (postgres) CopyFromS3(ident.Relation, []string, S3Source) (string, error) {
	return "", fmt.Errorf("postgres CopyFromS3: %w: PostgreSQL cannot read S3; stream the object into COPY FROM STDIN", ErrUnsupported)
}

func (postgres) ReplaceWindow(target ident.Relation, eventTime string, columns []string, selectSQL string) ([]string, error) {
	return replaceWindow(Postgres, target, eventTime, columns, selectSQL)
}

// Merge is PostgreSQL 15's MERGE with the target aliased tgt and the source src.
// The key is not updated (it matched); with no other column, matched rows are left
// alone (DO NOTHING).
func (postgres) Merge(target, source ident.Relation, key, columns []string) (string, error) {
	p, err := prepareMerge(Postgres, target, source, key, columns)
	if err != nil {
		return "", err
	}
	tgt, src := ident.Quote("tgt"), ident.Quote("src")
	on := make([]string, len(p.key))
	for i, k := range p.key {
		on[i] = tgt + "." + k + " = " + src + "." + k
	}
	matched := "DO NOTHING"
	if len(p.nonKey) > 0 {
		set := make([]string, len(p.nonKey))
		for i, c := range p.nonKey {
			set[i] = c + " = " + src + "." + c
		}
		matched = "UPDATE SET " + strings.Join(set, ", ")
	}
	all := append(append([]string{}, p.key...), p.nonKey...)
	values := make([]string, len(all))
	for i, c := range all {
		values[i] = src + "." + c
	}
	return "MERGE INTO " + p.target + " AS " + tgt + " USING " + p.source + " AS " + src +
		" ON " + strings.Join(on, " AND ") +
		" WHEN MATCHED THEN " + matched +
		" WHEN NOT MATCHED THEN INSERT (" + strings.Join(all, ", ") + ") VALUES (" + strings.Join(values, ", ") + ")", nil
}

// RowHash casts each column to text: numbers keep their scale (1.50 stays 1.50),
// timestamptz follows the session's TimeZone (run reconciliation sessions in UTC).
// The tokens are CONCAT's arguments (rowHash): the bytes Redshift's || form hashes.
func (postgres) RowHash(columns []string) (string, error) {
	return rowHash(Postgres, "text", true, lengthPrefixed(columns))
}

// RowHashOf is RowHash with Delimited columns (HashColumn).
func (postgres) RowHashOf(columns []HashColumn) (string, error) {
	return rowHash(Postgres, "text", true, columns)
}

// AggregateHash reads the first 15 hex digits (60 bits) of each row hash as a bigint
// ('x' || hex cast to bit(60), then to bigint) and sums them exactly: PostgreSQL's
// SUM of bigint accumulates in 128-bit integers and returns numeric, the same text as
// Redshift's sum of NUMERIC(38,0). (Casting each value to numeric before the sum, as
// this did before, gives the same result with a numeric addition per row, and a
// numeric state per group that a hash aggregate of many groups spills to disk.)
func (postgres) AggregateHash(rowHash string) string {
	slice := "CAST(CAST('x' || SUBSTRING(" + rowHash + ", 1, 15) AS bit(60)) AS bigint)"
	return "COUNT(*) AS " + ident.Quote("row_count") +
		", CAST(COALESCE(SUM(" + slice + "), 0) AS text) AS " + ident.Quote("hash_sum")
}
