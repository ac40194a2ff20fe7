// Package dialect generates the SQL whose text differs between the warehouses etl2elt
// writes to: PostgreSQL 15 locally and Amazon Redshift in production. Both speak the
// PostgreSQL wire protocol, so the same pgx connection runs either; what changes is
// the SQL. The package only builds strings: no database, no Temporal, no I/O.
//
// # Choosing a dialect
//
// The plan names it (warehouse.dialect, postgres by default):
//
//	d, err := dialect.For(p.Dialect()) // "postgres" or "redshift"
//
// # A chunk's transaction
//
// A backfill chunk (target, window [from, to)) replaces the window's rows in one
// transaction, so a rerun leaves the table as one run does and readers see the old
// rows or the new ones, never half:
//
//	lock, args, err := d.LockTarget(target)            // serialise writers of target
//	stmts, err := d.ReplaceWindow(target, "ordered_at", cols, modelSQL)
//	tx.Exec(ctx, lock, args...)
//	for _, s := range stmts { tx.Exec(ctx, s, from, to) } // DELETE, then INSERT ... SELECT
//	// ... upsert the ledger row, then commit
//
// On PostgreSQL the lock is a transaction-scoped advisory lock (readers go on
// reading); on Redshift, which has no advisory locks, it is LOCK on the table
// (ACCESS EXCLUSIVE: readers wait until commit, and the table must already exist).
// Never TRUNCATE inside such a transaction: Redshift commits on TRUNCATE.
//
// Merge is the alternative to ReplaceWindow when rows are keyed rather than windowed:
// MERGE INTO target USING source (a staging table with one row per key).
//
// # Loading from S3
//
// Redshift loads S3 objects itself: CopyFromS3 builds COPY ... FROM 's3://...'
// IAM_ROLE '...' for csv, jsonl or parquet. The URI and the role cannot be bound
// parameters there, so they are validated (an s3:// URI with a valid bucket; a role
// ARN arn:aws:iam::<12 digits>:role/<name>) and escaped; anything else is refused with
// an *InputError. PostgreSQL returns ErrUnsupported: the worker streams objects into
// COPY FROM STDIN.
//
// # Reconciliation fingerprints
//
// RowHash fingerprints a row (one MD5 of length-prefixed per-column tokens: NULL
// differs from the empty string, and no separator can be confused with data) and
// AggregateHash sums the first 60 bits of row hashes with a row count:
// order-independent and additive, so checksum bisection can compare key ranges
// between a legacy database and the warehouse. Both give the same values on
// PostgreSQL and Redshift for the same text, so the two sides of a reconciliation can
// run on different engines.
//
// # Safety
//
// Every identifier is validated (ident.Validate) and quoted (ident.Quote); every value
// that can be a bound parameter is one. Input errors are *InputError or wrap
// *ident.Error, and report BadInput() == true: they are not retried.
//
// docs/DIALECTS.md has the generated SQL side by side, the Redshift documentation it
// follows, and the known gaps.
package dialect
