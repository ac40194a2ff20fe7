package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

// lineageColumns end every raw table (PostgreSQL): the number of the object load that
// landed the row (etl2elt.object_loads.id: object key, ETag, load id and workflow are
// stored there once, not on every row), the load's time, and the record's line.
var lineageColumns = []string{"_etl_load", "_etl_loaded_at", "_etl_line"}

// Request describes one object to land.
type Request struct {
	// PIIKey is the HMAC key of pii: hash columns (ETL2ELT_PII_HASH_KEY).
	PIIKey     []byte
	Source     plan.Source
	Table      ident.Relation
	Object     objectstore.Object
	LoadID     string
	WorkflowID string
}

// Result is what a load did.
type Result struct {
	ObjectKey    string   `json:"object_key"`
	Rows         int64    `json:"rows"`
	Quarantined  int64    `json:"quarantined"`
	Bytes        int64    `json:"bytes"`
	ExtraColumns []string `json:"extra_columns,omitempty"`
	// Skipped is true when the ledger already holds this object with the same ETag.
	Skipped bool `json:"skipped,omitempty"`
	// Primary key checks (sources with a primary_key, keys.go), counted before the
	// duplicates policy acts. DuplicateKeys: distinct keys of this object held more
	// than once, in the object or by live rows of the source's other objects;
	// DuplicateRows: their surplus rows (per key, its rows in the object and in the
	// other objects, minus one); KeysInOtherObjects: of DuplicateKeys, those other
	// objects hold.
	DuplicateKeys      int64 `json:"duplicate_keys,omitempty"`
	DuplicateRows      int64 `json:"duplicate_rows,omitempty"`
	KeysInOtherObjects int64 `json:"keys_in_other_objects,omitempty"`
	// Superseded counts this object's rows that keep_last moved to the quarantine (a
	// later row of the key replaces them): they are in Quarantined, and are not bad
	// rows. Replaced counts the live rows of other objects it deleted (a copy of each
	// is quarantined under its own object).
	Superseded int64 `json:"superseded,omitempty"`
	Replaced   int64 `json:"replaced,omitempty"`
}

// EmptyObjectError is a zero-byte object: not even a header.
type EmptyObjectError struct {
	ObjectKey string
	// Format is the source's format ("" is csv).
	Format string
}

func (e *EmptyObjectError) Error() string {
	if e.Format == "" || e.Format == formatCSV {
		return fmt.Sprintf("object %s is empty: a CSV object needs at least a header line", e.ObjectKey)
	}
	return fmt.Sprintf("object %s is empty (zero bytes): not a %s object", e.ObjectKey, formatName(e.Format))
}

// BadInput marks the error as non-retryable.
func (e *EmptyObjectError) BadInput() bool { return true }

// ParseError is an object whose framing is broken (e.g. an unterminated quote, corrupt
// gzip data, a file that is not Parquet).
type ParseError struct {
	ObjectKey string
	// Format is the source's format ("" is csv).
	Format string
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("object %s: malformed %s: %v", e.ObjectKey, formatName(e.Format), e.Err)
}
func (e *ParseError) Unwrap() error { return e.Err }

// BadInput marks the error as non-retryable.
func (e *ParseError) BadInput() bool { return true }

// SchemaDriftError is an object that carries columns the source does not declare,
// refused because the source says extra_columns: fail.
type SchemaDriftError struct {
	ObjectKey string
	Extra     []string
}

func (e *SchemaDriftError) Error() string {
	return fmt.Sprintf("object %s: schema drift: undeclared column(s) %s (the source says extra_columns: fail; declare them, or set extra_columns: ignore)",
		e.ObjectKey, strings.Join(e.Extra, ", "))
}

// BadInput marks the error as non-retryable.
func (e *SchemaDriftError) BadInput() bool { return true }

// checkExtra refuses an object with undeclared columns when the source says
// extra_columns: fail.
func checkExtra(src plan.Source, objectKey string, extra []string) error {
	if src.ExtraColumns == plan.ExtraColumnsFail && len(extra) > 0 {
		return &SchemaDriftError{ObjectKey: objectKey, Extra: slices.Clone(extra)}
	}
	return nil
}

// BadDataError is a load whose share of bad rows is over the source's limit.
type BadDataError struct {
	ObjectKey   string
	Rows        int64
	Bad         int64
	MaxFraction float64
	First       []string
}

func (e *BadDataError) Error() string {
	total := e.Rows + e.Bad
	return fmt.Sprintf("object %s: %d of %d rows (%.2f%%) are bad, over max_bad_fraction %g; they are in etl2elt.quarantine; first: %s",
		e.ObjectKey, e.Bad, total, 100*float64(e.Bad)/float64(max(total, 1)), e.MaxFraction, strings.Join(e.First, "; "))
}

// BadInput marks the error as non-retryable.
func (e *BadDataError) BadInput() bool { return true }

// EnsureTable creates the raw schema and table of a source, and adds columns the plan
// declares that an existing table lacks (additive schema drift). When the table and
// its columns exist already, it issues no DDL (no lock on the table at all). A column
// whose type in the table is not the plan's is a *ColumnTypeError (binary COPY would
// otherwise store wrong values). A table made by an earlier version (object key and
// load id as text on every row) is upgraded in place: each distinct (object key,
// load id) becomes an etl2elt.object_loads row and _etl_load is filled from it (a
// one-time rewrite of every row; the ALTER TABLE holds an ACCESS EXCLUSIVE lock until
// the upgrade commits, so readers and loads of that table wait: run the first load
// after an upgrade at a quiet time). The old columns stay, nullable and no longer
// written: views that read them still compile, and read NULL for new rows. A source
// with a primary key gets an index on the key and _etl_load (ensureKeyIndex), which
// the duplicate checks use; building it on a large existing table takes a while, and
// writes to the table wait for it.
func EnsureTable(ctx context.Context, pool *pgxpool.Pool, table ident.Relation, src plan.Source) error {
	present, err := tableColumns(ctx, pool, table)
	if err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	if err := checkColumnTypes(table, src, present); err != nil {
		return err
	}
	if len(present) > 0 && len(missingColumns(src, present)) == 0 && present["_etl_load"] != "" {
		indexed, err := hasKeyIndex(ctx, pool, table, src)
		if err != nil {
			return fmt.Errorf("ensure table %s: %w", table, err)
		}
		if indexed {
			return nil
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	for _, st := range []string{`SET LOCAL lock_timeout = '30s'`, `SELECT pg_advisory_xact_lock(hashtext('etl2elt.ddl'))`} {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("ensure table %s: %w", table, err)
		}
	}
	// Again under the lock: another worker may have created or upgraded it meanwhile.
	if present, err = tableColumns(ctx, tx, table); err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	if err := checkColumnTypes(table, src, present); err != nil {
		return err
	}
	var cols []string
	for _, c := range loadedColumns(src) {
		cols = append(cols, ident.Quote(c.Name)+" "+c.Type)
	}
	cols = append(cols,
		"_etl_load bigint NOT NULL",
		"_etl_loaded_at timestamptz NOT NULL DEFAULT now()",
		"_etl_line bigint NOT NULL")
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + ident.Quote(table.Schema),
		`CREATE TABLE IF NOT EXISTS ` + table.Quoted() + ` (` + strings.Join(cols, ", ") + `)`,
	}
	for _, c := range missingColumns(src, present) {
		stmts = append(stmts, `ALTER TABLE `+table.Quoted()+` ADD COLUMN IF NOT EXISTS `+ident.Quote(c.Name)+" "+c.Type)
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("ensure table %s: %w", table, err)
		}
	}
	if len(present) > 0 && present["_etl_load"] == "" {
		if err := upgradeLineage(ctx, tx, table, src.Name); err != nil {
			return fmt.Errorf("ensure table %s: upgrade lineage columns: %w", table, err)
		}
	}
	// BRIN: rows are appended load after load, so each block range holds few load
	// numbers; the index costs next to nothing to maintain and finds an object's rows.
	if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+ident.Quote(table.Name+"_etl_load")+` ON `+table.Quoted()+` USING brin (_etl_load)`); err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	// A btree on the primary key (and _etl_load): the duplicate checks of every load
	// probe it with the object's keys instead of scanning the table.
	if err := ensureKeyIndex(ctx, tx, table, src); err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	return nil
}

// missingColumns are the source's loaded columns the table (its columns: present)
// lacks.
func missingColumns(src plan.Source, present map[string]string) []plan.Column {
	var missing []plan.Column
	for _, c := range loadedColumns(src) {
		if present[c.Name] == "" {
			missing = append(missing, c)
		}
	}
	return missing
}

// ColumnTypeError is a raw table column whose type is not the one the plan declares
// (or the lineage column's): the binary COPY sends values in the plan's type, so the
// load refuses rather than have the server read them as another type.
type ColumnTypeError struct {
	Table, Column, TableType, PlanType string
}

func (e *ColumnTypeError) Error() string {
	return fmt.Sprintf("table %s column %s is %s but the plan declares %s: change the plan, or the column (ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s)",
		e.Table, e.Column, e.TableType, e.PlanType, e.Table, ident.Quote(e.Column), e.PlanType, ident.Quote(e.Column), e.PlanType)
}

// BadInput marks the error as non-retryable.
func (e *ColumnTypeError) BadInput() bool { return true }

// checkColumnTypes compares the existing columns (name → format_type) with the plan's
// types and the lineage columns'.
func checkColumnTypes(table ident.Relation, src plan.Source, present map[string]string) error {
	want := map[string]string{"_etl_load": "bigint", "_etl_loaded_at": "timestamptz", "_etl_line": "bigint"}
	var names []string
	for _, c := range loadedColumns(src) {
		want[c.Name] = c.Type
		names = append(names, c.Name)
	}
	names = append(names, lineageColumns...)
	for _, name := range names {
		got := present[name]
		if got == "" || sameType(want[name], got) {
			continue
		}
		return &ColumnTypeError{Table: table.String(), Column: name, TableType: got, PlanType: want[name]}
	}
	return nil
}

// sameType tells whether a column of PostgreSQL type got (format_type) is the plan
// type. Only the exact type: a length or precision limit (varchar(n), numeric(p,s))
// would make the server refuse a whole COPY for one value past it, where the loader
// must quarantine that row, and an array takes another binary form.
func sameType(plan, got string) bool {
	if plan == "timestamptz" {
		return got == "timestamp with time zone"
	}
	return got == plan
}

// upgradeLineage moves a table with text lineage on every row to _etl_load (see
// EnsureTable), in the caller's transaction.
func upgradeLineage(ctx context.Context, tx pgx.Tx, table ident.Relation, source string) error {
	t := table.Quoted()
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`LOCK TABLE ` + t + ` IN SHARE ROW EXCLUSIVE MODE`, nil},
		{`ALTER TABLE ` + t + ` ADD COLUMN _etl_load bigint`, nil},
		{`INSERT INTO etl2elt.object_loads (source, target, object_key, etag, load_id, loaded_at)
SELECT $1, $2, r._etl_object_key, coalesce(max(l.etag), ''), r._etl_load_id, min(r._etl_loaded_at)
FROM ` + t + ` AS r LEFT JOIN etl2elt.loads AS l ON l.source = $1 AND l.object_key = r._etl_object_key AND l.load_id = r._etl_load_id
GROUP BY r._etl_object_key, r._etl_load_id ORDER BY min(r._etl_loaded_at), r._etl_object_key`, []any{source, table.String()}},
		{`UPDATE ` + t + ` AS r SET _etl_load = o.id FROM etl2elt.object_loads AS o
WHERE o.target = $1 AND o.object_key = r._etl_object_key AND o.load_id = r._etl_load_id`, []any{table.String()}},
		{`ALTER TABLE ` + t + ` ALTER COLUMN _etl_load SET NOT NULL,
  ALTER COLUMN _etl_object_key DROP NOT NULL, ALTER COLUMN _etl_object_key DROP DEFAULT,
  ALTER COLUMN _etl_load_id DROP NOT NULL, ALTER COLUMN _etl_load_id DROP DEFAULT,
  ALTER COLUMN _etl_loaded_at SET DEFAULT now()`, nil},
		{`DROP INDEX IF EXISTS ` + ident.Quote(table.Schema) + `.` + ident.Quote(table.Name+"_etl_object_key"), nil},
	} {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// tableColumns maps table's columns to their types (format_type); empty when the
// table does not exist.
func tableColumns(ctx context.Context, q Queryer, table ident.Relation) (map[string]string, error) {
	rows, err := q.Query(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, table.Quoted())
	if err != nil {
		return nil, err
	}
	present := map[string]string{}
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		present[name] = typ
		return nil
	})
	return present, err
}

// Queryer is what the lineage helpers need of a transaction or pool.
type Queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadsOfObject returns the numbers (_etl_load) of the loads of one object into
// target whose rows are still there (normally one; more after a parallel load
// interrupted between its commits).
func loadsOfObject(ctx context.Context, q Queryer, target ident.Relation, key string) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT id FROM etl2elt.object_loads WHERE target = $1 AND object_key = $2 AND rows_removed_at IS NULL`, target.String(), key)
	if err != nil {
		return nil, fmt.Errorf("loads of %s into %s: %w", key, target, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("loads of %s into %s: %w", key, target, err)
	}
	return ids, nil
}

// LoadsUnder returns the numbers (_etl_load) of the loads into target whose rows
// are still there, of the objects whose keys start with one of the prefixes, except
// the keys in except. One indexed lookup per prefix (a LIKE with a fixed prefix uses
// the text_pattern_ops index).
func LoadsUnder(ctx context.Context, q Queryer, target ident.Relation, prefixes, except []string) ([]int64, error) {
	var ids []int64
	for _, p := range prefixes {
		rows, err := q.Query(ctx, `SELECT id FROM etl2elt.object_loads WHERE target = $1 AND object_key LIKE $2 AND rows_removed_at IS NULL AND NOT (object_key = ANY($3))`,
			target.String(), LikePrefix(p), append([]string{}, except...))
		if err != nil {
			return nil, fmt.Errorf("loads under %s into %s: %w", p, target, err)
		}
		more, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("loads under %s into %s: %w", p, target, err)
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// DeleteLoads deletes the rows of target that the given loads landed (the BRIN index
// on _etl_load finds them), marks the loads as removed, and returns how many rows
// it deleted.
func DeleteLoads(ctx context.Context, q Queryer, target ident.Relation, loads []int64) (int64, error) {
	if len(loads) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `DELETE FROM `+target.Quoted()+` WHERE _etl_load = ANY($1)`, loads)
	if err != nil {
		return 0, fmt.Errorf("delete rows of %d load(s) from %s: %w", len(loads), target, err)
	}
	if _, err := q.Exec(ctx, `UPDATE etl2elt.object_loads SET rows_removed_at = now() WHERE id = ANY($1)`, loads); err != nil {
		return 0, fmt.Errorf("mark %d load(s) of %s removed: %w", len(loads), target, err)
	}
	return tag.RowsAffected(), nil
}

// recordLoad adds the etl2elt.object_loads row of one object load and returns its
// number (_etl_load).
func recordLoad(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, req Request, started time.Time) (int64, error) {
	var load int64
	err := q.QueryRow(ctx, `INSERT INTO etl2elt.object_loads (source, target, object_key, etag, load_id, workflow_id, loaded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, req.Source.Name, req.Table.String(), req.Object.Key, req.Object.ETag, req.LoadID, req.WorkflowID, started).Scan(&load)
	if err != nil {
		return 0, fmt.Errorf("load %s: record the load: %w", req.Object.Key, err)
	}
	return load, nil
}

// LikePrefix is the LIKE pattern (PostgreSQL, default escape \) of the strings
// that start with prefix.
func LikePrefix(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
}

// RemoveVanished deletes, in one transaction under the table's load lock, the rows,
// quarantined rows and ledger rows of objects under dayPrefix that S3 no longer lists
// (a day re-delivered under new object names must not count twice). Callers only call
// it for days that still have objects: a day whose objects all expired keeps its
// rows. It returns the raw rows removed.
func RemoveVanished(ctx context.Context, pool *pgxpool.Pool, source string, table ident.Relation, dayPrefix string, listed []string) (int64, error) {
	like := LikePrefix(dayPrefix)
	var removed int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.load:"+table.String()); err != nil {
			return err
		}
		loads, err := LoadsUnder(ctx, tx, table, []string{dayPrefix}, listed)
		if err != nil {
			return err
		}
		if removed, err = DeleteLoads(ctx, tx, table, loads); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.quarantine WHERE source = $1 AND object_key LIKE $2 AND NOT (object_key = ANY($3))`, source, like, listed); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM etl2elt.loads WHERE source = $1 AND object_key LIKE $2 AND NOT (object_key = ANY($3))`, source, like, listed)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("remove vanished objects of %s under %s: %w", table, dayPrefix, err)
	}
	return removed, nil
}

// AlreadyLoaded tells whether the ledger holds the object as loaded into target with
// this ETag, or as skipped by an operator with this ETag (a new raw schema or table
// loads everything again; a skipped object that changes is tried again).
func AlreadyLoaded(ctx context.Context, pool *pgxpool.Pool, source string, target ident.Relation, obj objectstore.Object) (bool, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.loads WHERE source = $1 AND object_key = $2 AND etag = $3 AND target = $4 AND status IN ('loaded', 'skipped')`,
		source, obj.Key, obj.ETag, target.String()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("load ledger: %w", err)
	}
	return n > 0, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ParallelMinBytes is the stored size from which LoadObject splits an object's rows
// across ParallelStreams COPY streams on as many connections (one server backend per
// COPY). Below it, or with ParallelStreams < 2 (the default: the worker sets it from
// ETL2ELT_LOAD_STREAMS), one COPY runs in one transaction. Variables so that tests
// can run every object through the parallel path. docs/BENCHMARKS.md has what it
// measured.
var (
	ParallelMinBytes int64 = 8 << 20
	ParallelStreams        = 1
)

// helperWait bounds the wait for a helper connection.
const helperWait = 250 * time.Millisecond

// testHookAfterHelpers, when set (tests), runs after the helpers committed and
// before the main transaction writes the ledger: an error stands for a worker that
// died between the commits.
var testHookAfterHelpers func() error

// LoadObject lands one object's rows in req.Table, replacing the rows a previous load
// of the same object wrote, and records the load in the ledger, all in one
// transaction. body is the object's content, read as req.Source.Format says (csv by
// default, jsonl, parquet); CSV and JSON lines are gunzipped here when the key ends in
// .gz.
//
// An object of ParallelMinBytes or more is copied over ParallelStreams connections,
// each in its own transaction: the main one (lock, previous rows deleted, its share
// of the rows, quarantine, ledger) and helpers (their share of the rows only). They
// commit only when every COPY succeeded and the bad-row check passed, helpers first:
// each helper also marks the object's ledger row 'failed' (not loaded) before it
// commits, then the main transaction writes the ledger row 'loaded' and commits. If the main
// commit fails after a helper committed, the helper's rows stay but the ledger does
// not say 'loaded', so the next attempt loads the object again and its first step
// deletes the rows of every earlier load of the object (the first helper records the
// load in etl2elt.object_loads, so it commits with the helper's rows): one copy in
// the end. Readers can see the
// helpers' rows a moment before the main commit (a few milliseconds: the ledger
// write and one commit, and the duplicate count of a source with a primary key); the
// single-connection path has no such moment. Sources whose duplicates policy is not
// report always load on one connection (their policy acts on the object's rows
// before anything commits).
func LoadObject(ctx context.Context, pool *pgxpool.Pool, req Request, body io.Reader, progress func(rows int64)) (Result, error) {
	started := time.Now().UTC()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return Result{ObjectKey: req.Object.Key}, fmt.Errorf("load %s: %w", req.Object.Key, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if err := LockTable(ctx, tx, req.Table); err != nil {
		return Result{ObjectKey: req.Object.Key}, fmt.Errorf("load %s: %w", req.Object.Key, err)
	}
	var helpers []pgx.Tx
	// Duplicate policies that change rows run on the main transaction's view of every
	// row of the object before anything commits: those sources load on one stream.
	if ParallelStreams > 1 && req.Object.Size >= ParallelMinBytes && duplicatesPolicy(req.Source) == plan.DuplicatesReport {
		for range ParallelStreams - 1 {
			// A helper connection is a bonus: when the pool has none free soon, the
			// load goes on with fewer streams rather than hold one connection while
			// waiting for another (loads holding their main connection could then
			// wait for each other forever).
			hctx, cancel := context.WithTimeout(ctx, helperWait)
			h, err := pool.Begin(hctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return Result{ObjectKey: req.Object.Key}, fmt.Errorf("load %s: %w", req.Object.Key, ctx.Err())
				}
				break
			}
			defer h.Rollback(ctx) //nolint:errcheck // no-op after commit
			helpers = append(helpers, h)
		}
	}
	commitHelpers := func() error {
		for _, h := range helpers {
			if _, err := h.Exec(ctx, `UPDATE etl2elt.loads SET status = 'failed', error = $3 WHERE source = $1 AND object_key = $2`,
				req.Source.Name, req.Object.Key, "parallel load interrupted between commits: loaded again by the next run"); err != nil {
				return fmt.Errorf("load %s: mark reloading: %w", req.Object.Key, err)
			}
			if err := h.Commit(ctx); err != nil {
				return fmt.Errorf("load %s: commit helper: %w", req.Object.Key, err)
			}
		}
		if testHookAfterHelpers != nil {
			return testHookAfterHelpers()
		}
		return nil
	}
	res, bad, err := loadInTx(ctx, tx, helpers, req, body, progress, commitHelpers)
	var badData *BadDataError
	if errors.As(err, &badData) {
		// The rows are not loaded; the bad ones are kept in quarantine and the ledger
		// says why, in a transaction of their own.
		_ = tx.Rollback(ctx)
		for _, h := range helpers {
			_ = h.Rollback(ctx)
		}
		rerr := RecordFailure(ctx, pool, req, bad, res, started, err)
		bad.Close() //nolint:errcheck // a temporary file
		if rerr != nil {
			return res, errors.Join(err, rerr)
		}
		return res, err
	}
	if err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("load %s: commit: %w", req.Object.Key, err)
	}
	return res, nil
}

// LockTable takes the transaction-scoped lock every loader of table takes.
func LockTable(ctx context.Context, tx pgx.Tx, table ident.Relation) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.load:"+table.String()); err != nil {
		return fmt.Errorf("lock %s: %w", table, err)
	}
	return nil
}

// LoadInTx lands one object inside tx, whose caller holds LockTable: the object's
// previous rows and quarantined rows are replaced, the good rows copied, the bad ones
// quarantined, the primary key's duplicates counted and handled (keys.go) and the
// ledger row upserted. Over the source's bad-row limit it returns a *BadDataError
// with the bad rows (for RecordFailure after the caller rolls back); a source with
// duplicates: fail and duplicate keys gets a *ParseError (ErrDuplicateKeys).
//
// The returned *Quarantine (nil unless the error is a *BadDataError) belongs to the
// caller, who must Close it.
func LoadInTx(ctx context.Context, tx pgx.Tx, req Request, body io.Reader, progress func(rows int64)) (Result, *Quarantine, error) {
	return loadInTx(ctx, tx, nil, req, body, progress, nil)
}

// loadInTx is LoadInTx with helper transactions that copy a share of the rows too;
// beforeLedger (may be nil) runs after the rows are copied and checked, before the
// quarantine and ledger are written in tx.
func loadInTx(ctx context.Context, tx pgx.Tx, helpers []pgx.Tx, req Request, body io.Reader, progress func(rows int64), beforeLedger func() error) (_ Result, _ *Quarantine, err error) {
	started := time.Now().UTC()
	res := Result{ObjectKey: req.Object.Key}
	counted := &countingReader{r: body}
	dec, err := openDecoder(req.Source, req.Object.Key, counted, progress)
	if err != nil {
		return res, nil, err
	}
	defer dec.Close()
	// CSV and Parquet know their columns before any row (JSON lines once read).
	if err := checkExtra(req.Source, req.Object.Key, dec.Extra()); err != nil {
		return res, nil, err
	}
	src := newRowSource(dec, req.Source, req.Object.Key)
	src.progress = progress
	// The bad rows go to the caller with a *BadDataError; otherwise they are written
	// here, and the spill file goes.
	defer func() {
		var bad *BadDataError
		if !errors.As(err, &bad) {
			src.bad.Close() //nolint:errcheck // a temporary file
		}
	}()

	prev, err := loadsOfObject(ctx, tx, req.Table, req.Object.Key)
	if err == nil {
		_, err = DeleteLoads(ctx, tx, req.Table, prev)
	}
	if err != nil {
		return res, nil, fmt.Errorf("load %s: replace previous rows: %w", req.Object.Key, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.quarantine WHERE source = $1 AND object_key = $2`, req.Source.Name, req.Object.Key); err != nil {
		return res, nil, fmt.Errorf("load %s: replace previous quarantine: %w", req.Object.Key, err)
	}
	txs := append([]pgx.Tx{tx}, helpers...)
	// The load's number. With helpers, the first helper records it: it commits first,
	// so rows that a helper committed always have their object_loads row (a reload
	// then finds and replaces them, see LoadObject).
	recorder := tx
	if len(helpers) > 0 {
		recorder = helpers[0]
	}
	load, err := recordLoad(ctx, recorder, req, started)
	if err != nil {
		return res, nil, err
	}
	// Declared columns (but dropped PII), then the lineage columns. Hashed and masked
	// columns are transformed on the way.
	transforms, err := piiTransforms(req.Source, req.PIIKey)
	if err != nil {
		return res, nil, err
	}
	var columns, types []string
	var send []int
	var tf []func(value) value
	for i, c := range req.Source.Columns {
		if c.PII == "drop" {
			continue
		}
		columns, types, send, tf = append(columns, c.Name), append(types, c.Type), append(send, i), append(tf, transforms[i])
	}
	n, err := copyRows(ctx, txs, req.Table, columns, types, send, tf, lineageFields(load, started), src)
	res.ExtraColumns = dec.Extra()
	if err == nil && src.Err() == nil {
		if err := checkExtra(req.Source, req.Object.Key, res.ExtraColumns); err != nil {
			return res, nil, err
		}
	}
	if serr := src.Err(); serr != nil {
		// The source stopped the COPY: pgx returns the server's "COPY from stdin
		// failed"; the source's own error says why (bad data, broken framing).
		err = serr
	}
	if err != nil && !errors.Is(err, ErrTooManyBadRows) {
		var obj interface{ BadInput() bool }
		if errors.As(err, &obj) {
			return res, nil, err // it names the object and what is wrong with it
		}
		return res, nil, fmt.Errorf("load %s: copy into %s: %w", req.Object.Key, req.Table, err)
	}
	res.Rows, res.Quarantined, res.Bytes = n, src.badCount, counted.n
	// Drain what is left so that the byte count covers the whole object.
	if _, derr := io.Copy(io.Discard, counted); derr == nil {
		res.Bytes = counted.n
	}
	if errors.Is(err, ErrTooManyBadRows) || (src.badCount > 0 && float64(src.badCount)/float64(n+src.badCount) > req.Source.MaxBadFraction) {
		res.Rows = 0
		return res, src.bad, &BadDataError{ObjectKey: req.Object.Key, Rows: n, Bad: src.badCount, MaxFraction: req.Source.MaxBadFraction, First: firstBad(src.bad, req.Source.Format)}
	}
	if beforeLedger != nil {
		if err := beforeLedger(); err != nil {
			return res, nil, err
		}
	}
	// The primary key's duplicates, after the helpers committed (report is the only
	// policy with helpers: the main transaction now sees their rows too).
	kc, err := checkKeys(ctx, tx, req, load, src.bad)
	if err != nil {
		return res, nil, err
	}
	res.DuplicateKeys, res.DuplicateRows, res.KeysInOtherObjects = kc.keys, kc.rows, kc.elsewhere
	res.Superseded, res.Replaced = kc.superseded, kc.replaced
	bad := src.bad
	badCount := src.badCount + kc.badCount
	res.Rows = n - kc.superseded - kc.badCount
	res.Quarantined = badCount + kc.superseded
	if kc.badCount > 0 && (kc.dropped > 0 || float64(badCount)/float64(res.Rows+badCount) > req.Source.MaxBadFraction) {
		// Duplicates the quarantine policy moved took the object over its bad-row
		// limit (or past the rows the quarantine keeps): nothing is loaded.
		rows := res.Rows
		res.Rows, res.Quarantined = 0, badCount
		return res, bad, &BadDataError{ObjectKey: req.Object.Key, Rows: rows, Bad: badCount, MaxFraction: req.Source.MaxBadFraction, First: firstBad(bad, req.Source.Format)}
	}
	if err := writeQuarantine(ctx, tx, req, bad); err != nil {
		return res, nil, err
	}
	if err := upsertLedger(ctx, tx, req, res, "loaded", "", started); err != nil {
		return res, nil, err
	}
	return res, nil, nil
}

// firstBad names the first bad records by position: the line (CSV, JSON lines) or the
// row (Parquet), with their reasons.
func firstBad(q *Quarantine, format string) []string {
	what := "line"
	if format == formatParquet {
		what = "row"
	}
	return q.first(what)
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// Redact replaces the quoted values in a bad-row reason with "…": the reason goes
// into errors, workflow history and logs, where field values (possibly PII) must
// not. etl2elt.quarantine keeps the record's bytes beside a redacted reason.
func Redact(reason string) string { return quoted.ReplaceAllString(reason, `"…"`) }

// RecordFailure keeps the evidence of a load refused for bad data, in its own
// transaction: the bad rows in quarantine, the ledger row marked failed with why.
func RecordFailure(ctx context.Context, pool *pgxpool.Pool, req Request, bad *Quarantine, res Result, started time.Time, cause error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("record failed load %s: %w", req.Object.Key, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.quarantine WHERE source = $1 AND object_key = $2`, req.Source.Name, req.Object.Key); err != nil {
		return fmt.Errorf("record failed load %s: %w", req.Object.Key, err)
	}
	if err := writeQuarantine(ctx, tx, req, bad); err != nil {
		return err
	}
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	if err := upsertLedger(ctx, tx, req, res, "failed", msg, started); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record failed load %s: %w", req.Object.Key, err)
	}
	return nil
}

func upsertLedger(ctx context.Context, tx pgx.Tx, req Request, res Result, status, errMsg string, started time.Time) error {
	var errArg any
	if errMsg != "" {
		errArg = errMsg
	}
	_, err := tx.Exec(ctx, `
INSERT INTO etl2elt.loads (source, object_key, etag, size_bytes, target, load_id, status, rows_loaded, rows_quarantined, error, workflow_id, started_at, finished_at,
  duplicate_keys, duplicate_rows, rows_replaced, extra_columns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, clock_timestamp(), $13, $14, $15, $16)
ON CONFLICT (source, object_key) DO UPDATE SET
  etag = EXCLUDED.etag, size_bytes = EXCLUDED.size_bytes, target = EXCLUDED.target, load_id = EXCLUDED.load_id,
  status = EXCLUDED.status, rows_loaded = EXCLUDED.rows_loaded, rows_quarantined = EXCLUDED.rows_quarantined,
  error = EXCLUDED.error, workflow_id = EXCLUDED.workflow_id, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
  duplicate_keys = EXCLUDED.duplicate_keys, duplicate_rows = EXCLUDED.duplicate_rows, rows_replaced = EXCLUDED.rows_replaced,
  extra_columns = EXCLUDED.extra_columns`,
		req.Source.Name, req.Object.Key, req.Object.ETag, req.Object.Size, req.Table.String(), req.LoadID,
		status, res.Rows, res.Quarantined, errArg, req.WorkflowID, started, res.DuplicateKeys, res.DuplicateRows, res.Replaced, extraArg(res.ExtraColumns))
	if err != nil {
		return fmt.Errorf("load %s: ledger: %w", req.Object.Key, err)
	}
	return nil
}

// extraArg is the undeclared columns as the ledger stores them: NULL for none.
func extraArg(extra []string) any {
	if len(extra) == 0 {
		return nil
	}
	return extra
}

// DayPrefix is the S3 prefix of one day's objects of a source.
func DayPrefix(landingPrefix string, src plan.Source, day time.Time) string {
	return landingPrefix + strings.ReplaceAll(src.Layout, "{date}", day.Format("2006-01-02"))
}

// RecordObjectFailure records in the load ledger an object that failed whole (it
// could not be read, decoded or loaded: no row of it is in the table), with the
// reason. A failure already recorded with its bad rows (RecordFailure) is kept.
func RecordObjectFailure(ctx context.Context, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, req Request, cause error) error {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	var drift []string
	if d := (*SchemaDriftError)(nil); errors.As(cause, &d) {
		drift = d.Extra
	}
	_, err := q.Exec(ctx, `
INSERT INTO etl2elt.loads (source, object_key, etag, size_bytes, target, load_id, status, error, workflow_id, started_at, finished_at, extra_columns)
VALUES ($1, $2, $3, $4, $5, $6, 'failed', $7, $8, clock_timestamp(), clock_timestamp(), $9)
ON CONFLICT (source, object_key) DO UPDATE SET
  etag = EXCLUDED.etag, size_bytes = EXCLUDED.size_bytes, target = EXCLUDED.target, load_id = EXCLUDED.load_id,
  status = 'failed', error = COALESCE(CASE WHEN etl2elt.loads.load_id = EXCLUDED.load_id AND etl2elt.loads.status = 'failed' THEN etl2elt.loads.error END, EXCLUDED.error),
  workflow_id = EXCLUDED.workflow_id, finished_at = clock_timestamp(),
  extra_columns = COALESCE(EXCLUDED.extra_columns, CASE WHEN etl2elt.loads.load_id = EXCLUDED.load_id THEN etl2elt.loads.extra_columns END)`,
		req.Source.Name, req.Object.Key, req.Object.ETag, req.Object.Size, req.Table.String(), req.LoadID, msg, req.WorkflowID, extraArg(drift))
	if err != nil {
		return fmt.Errorf("record the failure of %s: %w", req.Object.Key, err)
	}
	return nil
}
