// Package model runs a plan's SQL models in the warehouse. Each model is one SELECT,
// materialised as:
//
//   - view: CREATE OR REPLACE VIEW;
//   - table: the table's rows replaced in one transaction (DELETE + INSERT ... SELECT),
//     so that views built on it, such as consumption views, keep working and readers
//     never see it half-built; with a trusted period and an event_time, only the rows
//     from the trusted-until on (see Trust);
//   - incremental: the rows of an event-time window, widened back by the model's
//     lookback for late arrivals, replaced in one transaction: the window's rows and
//     any row whose unique key reappears in the window are deleted, then the window's
//     rows inserted. Duplicate unique keys within a window fail the run.
//
// Every run is recorded in etl2elt.model_runs with the hash of the SQL that ran and,
// for lineage, the landed objects of the pipeline run that fed it
// (etl2elt.model_run_inputs).
package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/cost"
	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// Input is a landed object that fed a model run.
type Input struct {
	Source    string `json:"source"`
	LoadID    string `json:"load_id"`
	ObjectKey string `json:"object_key"`
}

// Request is one model run.
type Request struct {
	Model      plan.Model
	RunID      string
	WorkflowID string
	// Window is the pipeline run's window; incremental models process
	// [Window.From - lookback, Window.To).
	Window window.Window
	Inputs []Input
	// Trust protects the signed-off rows of an incremental model, and of a table
	// model that declares an event_time (see Trust).
	Trust Trust
}

// Result is one model run.
type Result struct {
	Model        string         `json:"model"`
	Relation     string         `json:"relation"`
	Materialized string         `json:"materialized"`
	Rows         int64          `json:"rows"`
	RowsDeleted  int64          `json:"rows_deleted,omitempty"`
	Window       *window.Window `json:"window,omitempty"`
	SQLHash      string         `json:"sql_hash"`
	DurationMS   int64          `json:"duration_ms"`
	// Held is what the run held back instead of changing trusted rows.
	Held *Held `json:"held,omitempty"`
}

// Error is a model whose SQL failed in the warehouse.
type Error struct {
	Model string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("model %s: %v", e.Model, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// DuplicateKeyError is an incremental window whose rows repeat a unique key.
type DuplicateKeyError struct {
	Model   string
	Key     []string
	Example string
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("model %s: unique key (%s) is not unique in the window, e.g. %s", e.Model, strings.Join(e.Key, ", "), e.Example)
}

// BadInput marks the error as a model (SQL or data) problem, not a transient one.
func (e *DuplicateKeyError) BadInput() bool { return true }

// IncrementalWindow is the window an incremental model processes for a run window.
func IncrementalWindow(m plan.Model, w window.Window) (window.Window, error) {
	if m.Lookback == "" {
		return w, nil
	}
	d, err := plan.ParseDuration(m.Lookback)
	if err != nil {
		return window.Window{}, fmt.Errorf("model %s lookback: %w", m.Name, err)
	}
	return window.Window{From: w.From.Add(-d), To: w.To}, nil
}

// Run materialises req.Model and records the run (succeeded or failed).
func Run(ctx context.Context, pool *pgxpool.Pool, req Request) (Result, error) {
	var held Held
	opts := ReplaceOptions{Trust: req.Trust, RunID: req.RunID, WorkflowID: req.WorkflowID}
	res, err := run(ctx, pool, req, materializer{
		whole: func(rel ident.Relation) (int64, error) {
			r, err := materialize(ctx, pool, rel, req.Model, opts)
			held = r.Held
			return r.Inserted, err
		},
		window: func(rel ident.Relation, w window.Window) (int64, int64, error) {
			r, err := incremental(ctx, pool, rel, req.Model, w, opts)
			held = r.Held
			return r.Inserted, r.Deleted, err
		},
	})
	if held.Rows > 0 || held.Kept > 0 {
		res.Held = &held
	}
	return res, err
}

// materializer is how one dialect builds a model: whole (view, table) or an
// incremental window (rows inserted, rows deleted).
type materializer struct {
	whole  func(rel ident.Relation) (int64, error)
	window func(rel ident.Relation, w window.Window) (int64, int64, error)
}

// run validates the model's identifiers, materialises it with mat and records the run
// in control (succeeded or failed): the part every dialect shares.
func run(ctx context.Context, control *pgxpool.Pool, req Request, mat materializer) (Result, error) {
	m := req.Model
	started := time.Now().UTC()
	sum := sha256.Sum256([]byte(m.SQLText))
	rel := ident.Relation{Schema: m.Schema, Name: m.Name}
	res := Result{Model: m.Name, Relation: rel.String(), Materialized: m.Materialized, SQLHash: hex.EncodeToString(sum[:])}
	for _, id := range append([]string{m.Schema, m.Name, m.EventTime}, m.UniqueKey...) {
		if id == "" {
			continue
		}
		if err := ident.Validate(id); err != nil {
			return res, &Error{Model: m.Name, Err: err}
		}
	}
	var runErr error
	switch m.Materialized {
	case plan.MaterializedView, plan.MaterializedTable:
		res.Rows, runErr = mat.whole(rel)
	case plan.MaterializedIncremental:
		var w window.Window
		if w, runErr = IncrementalWindow(m, req.Window); runErr == nil {
			res.Window = &w
			res.Rows, res.RowsDeleted, runErr = mat.window(rel, w)
		}
	default:
		runErr = fmt.Errorf("unknown materialisation %q", m.Materialized)
	}
	res.DurationMS = time.Since(started).Milliseconds()
	if err := record(ctx, control, req, res, started, runErr); err != nil {
		return res, errors.Join(wrapRunErr(m.Name, runErr), err)
	}
	return res, wrapRunErr(m.Name, runErr)
}

func wrapRunErr(model string, err error) error {
	if err == nil {
		return nil
	}
	var dup *DuplicateKeyError
	if errors.As(err, &dup) {
		return err // names the model already
	}
	var cols *ColumnsChangedError
	if errors.As(err, &cols) {
		return fmt.Errorf("model %s: %w", model, err)
	}
	return &Error{Model: model, Err: err}
}

func record(ctx context.Context, pool *pgxpool.Pool, req Request, res Result, started time.Time, runErr error) error {
	status, errText := "succeeded", any(nil)
	if runErr != nil {
		status, errText = "failed", runErr.Error()
	}
	var from, to any
	if res.Window != nil {
		from, to = res.Window.From, res.Window.To
	}
	def := DefinitionOf(req.Model)
	def.Held = res.Held != nil && res.Held.Rows > 0 // trusted rows of earlier logic stay
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
INSERT INTO etl2elt.model_runs (run_id, model, relation, materialized, sql_hash, rows, rows_deleted, status, error, workflow_id,
  window_from, window_to, started_at, finished_at, definition_hash, definition)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, clock_timestamp(), $14, $15) RETURNING id`,
			req.RunID, req.Model.Name, res.Relation, req.Model.Materialized, res.SQLHash, res.Rows, res.RowsDeleted, status, errText,
			req.WorkflowID, from, to, started, def.Hash(), def).Scan(&id) // Hash ignores Held
		if err != nil {
			return fmt.Errorf("record model run %s: %w", req.Model.Name, err)
		}
		if len(req.Inputs) == 0 {
			return nil
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"etl2elt", "model_run_inputs"}, []string{"model_run_id", "source", "load_id", "object_key"},
			pgx.CopyFromSlice(len(req.Inputs), func(i int) ([]any, error) {
				in := req.Inputs[i]
				return []any{id, in.Source, in.LoadID, in.ObjectKey}, nil
			}))
		if err != nil {
			return fmt.Errorf("record lineage of model run %s: %w", req.Model.Name, err)
		}
		return nil
	})
}

// Lock takes the transaction-scoped lock of a model's relation and ensures its
// schema: every writer of the relation (pipeline model runs, backfill chunks) takes
// it, so two writers never interleave.
func Lock(ctx context.Context, tx pgx.Tx, rel ident.Relation) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.model:"+rel.String()); err != nil {
		return fmt.Errorf("lock %s: %w", rel, err)
	}
	if err := EnsureSchema(ctx, tx, rel.Schema); err != nil {
		return fmt.Errorf("schema of %s: %w", rel, err)
	}
	return nil
}

// EnsureSchema creates a schema unless it exists. Two transactions running CREATE
// SCHEMA IF NOT EXISTS at once can fail with a unique violation on pg_namespace (seen
// with concurrent backfill chunks on a fresh warehouse): creators of a missing schema
// take its advisory lock and look again, so the second one sees the first's commit.
// An existing schema costs one catalog lookup and no lock.
func EnsureSchema(ctx context.Context, tx pgx.Tx, schema string) error {
	exists := func() (bool, error) {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL`, ident.Quote(schema)).Scan(&ok)
		return ok, err
	}
	ok, err := exists()
	if err != nil || ok {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.schema:"+schema); err != nil {
		return err
	}
	if ok, err = exists(); err != nil || ok {
		return err
	}
	_, err = tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident.Quote(schema))
	return err
}

// begin opens the run's transaction and takes the target's lock.
func begin(ctx context.Context, pool *pgxpool.Pool, rel ident.Relation) (pgx.Tx, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := Lock(ctx, tx, rel); err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

func materialize(ctx context.Context, pool *pgxpool.Pool, rel ident.Relation, m plan.Model, opts ReplaceOptions) (Replaced, error) {
	tx, err := begin(ctx, pool, rel)
	if err != nil {
		return Replaced{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	// The model's SQL is always a subquery: a data-modifying WITH (DELETE, UPDATE,
	// INSERT ... RETURNING) is refused by the server there.
	query := `SELECT * FROM (` + m.SQLText + `) AS model`
	if m.Materialized == plan.MaterializedView {
		if err := replaceView(ctx, tx, rel, query); err != nil {
			return Replaced{}, err
		}
		return Replaced{}, tx.Commit(ctx)
	}
	exists, err := tableExists(ctx, tx, rel)
	if err != nil {
		return Replaced{}, err
	}
	var r Replaced
	if exists {
		cols, err := sameColumns(ctx, tx, rel, query)
		if err != nil {
			return Replaced{}, err
		}
		if r, err = replaceTable(ctx, tx, rel, m, cols, opts); err != nil {
			return Replaced{}, err
		}
	} else {
		// A table ELT never built has nothing signed off to protect.
		tag, err := execOne(ctx, tx, `CREATE TABLE `+rel.Quoted()+` AS `+query)
		if err != nil {
			return Replaced{}, err
		}
		r.Inserted = tag.RowsAffected()
		if err := guardTable(ctx, tx, rel, m, opts.Trust); err != nil {
			return Replaced{}, err
		}
	}
	return r, tx.Commit(ctx)
}

func incremental(ctx context.Context, pool *pgxpool.Pool, rel ident.Relation, m plan.Model, w window.Window, opts ReplaceOptions) (Replaced, error) {
	tx, err := begin(ctx, pool, rel)
	if err != nil {
		return Replaced{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	r, err := ReplaceWindow(ctx, tx, m, w, opts)
	if err != nil {
		return Replaced{}, err
	}
	return r, tx.Commit(ctx)
}

// ReplaceWindow replaces an incremental model's rows of w inside tx (the caller holds
// Lock): the window's rows, and rows whose unique key reappears in it, are deleted,
// then the model's rows of the window inserted. Duplicate unique keys within the
// window are a *DuplicateKeyError. opts.Trust protects signed-off rows (see Trust):
// without an override, nothing dated before opts.Trust.Until that is there already is
// deleted or changed, and what would change it is held.
func ReplaceWindow(ctx context.Context, tx pgx.Tx, m plan.Model, w window.Window, opts ReplaceOptions) (Replaced, error) {
	inserted, deleted, held, err := replaceWindow(ctx, tx, m, w, opts)
	if err != nil {
		return Replaced{}, err
	}
	return Replaced{Inserted: inserted, Deleted: deleted, Held: held}, nil
}

func replaceWindow(ctx context.Context, tx pgx.Tx, m plan.Model, w window.Window, opts ReplaceOptions) (inserted, deleted int64, held Held, err error) {
	rel := ident.Relation{Schema: m.Schema, Name: m.Name}
	if opts.Trust.Override != "" {
		// The guard lets this transaction rewrite trusted rows: the override is recorded.
		if _, err := tx.Exec(ctx, `SELECT set_config('etl2elt.trusted_override', $1, true)`, opts.Trust.Override); err != nil {
			return 0, 0, held, err
		}
	}
	et := ident.Quote(m.EventTime)
	inWindow := ` WHERE model.` + et + ` >= $1 AND model.` + et + ` < $2`
	batch := ident.Quote("_etl2elt_batch")
	// CREATE TABLE AS takes no parameters: create the shape, then fill it. The model
	// SQL stays a subquery (no data-modifying WITH).
	if _, err := execOne(ctx, tx, `CREATE TEMP TABLE `+batch+` ON COMMIT DROP AS SELECT * FROM (`+m.SQLText+`) AS model WITH NO DATA`); err != nil {
		return 0, 0, held, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+batch+` SELECT * FROM (`+m.SQLText+`) AS model`+inWindow, w.From, w.To); err != nil {
		return 0, 0, held, err
	}
	var keys []string
	for _, k := range m.UniqueKey {
		keys = append(keys, ident.Quote(k))
	}
	keyList := strings.Join(keys, ", ")
	var example string
	err = tx.QueryRow(ctx, `SELECT concat_ws(', ', `+keyList+`) FROM `+batch+` GROUP BY `+keyList+` HAVING count(*) > 1 LIMIT 1`).Scan(&example)
	switch {
	case err == nil:
		return 0, 0, held, &DuplicateKeyError{Model: m.Name, Key: m.UniqueKey, Example: "(" + example + ")"}
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, 0, held, err
	}
	exists, err := tableExists(ctx, tx, rel)
	if err != nil {
		return 0, 0, held, err
	}
	if !exists {
		// The window delete and the key delete need indexes; the unique index makes a
		// double-counted key impossible, whatever happens upstream.
		for _, stmt := range []string{
			`CREATE TABLE ` + rel.Quoted() + ` AS SELECT * FROM ` + batch + ` WITH NO DATA`,
			`CREATE INDEX ` + ident.Quote(rel.Name+"_etl_event_time") + ` ON ` + rel.Quoted() + ` (` + et + `)`,
			`CREATE UNIQUE INDEX ` + ident.Quote(rel.Name+"_etl_unique_key") + ` ON ` + rel.Quoted() + ` (` + keyList + `)`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return 0, 0, held, err
			}
		}
	}
	var match []string
	for _, k := range keys {
		match = append(match, "t."+k+" = b."+k)
	}
	keyMatch := strings.Join(match, " AND ")
	protect := !opts.Trust.Until.IsZero() && opts.Trust.Override == ""
	// Always: a plan that no longer has a trusted period removes the table's (the
	// guard then lets everything through).
	if err := Guard(ctx, tx, rel, m.EventTime, opts.Trust); err != nil {
		return 0, 0, held, err
	}
	from, keyCond := w.From, ""
	if protect {
		if held, err = holdTrusted(ctx, tx, rel, batch, et, keyMatch, opts); err != nil {
			return 0, 0, held, err
		}
		// Trusted rows are neither in the window delete nor in the key delete.
		if from.Before(opts.Trust.Until) {
			from = opts.Trust.Until
		}
		keyCond = ` AND (t.` + et + ` >= $1 OR t.` + et + ` IS NULL)`
	}
	if from.Before(w.To) {
		tag, err := tx.Exec(ctx, `DELETE FROM `+rel.Quoted()+` AS model`+inWindow, from, w.To)
		if err != nil {
			return 0, 0, held, err
		}
		deleted = tag.RowsAffected()
	}
	// Rows whose key now belongs to the window (a late correction moved their event
	// time): replaced, so that a key is never counted twice.
	keyArgs := []any{}
	if keyCond != "" {
		keyArgs = append(keyArgs, opts.Trust.Until)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+rel.Quoted()+` AS t USING `+batch+` AS b WHERE `+keyMatch+keyCond, keyArgs...)
	if err != nil {
		return 0, 0, held, err
	}
	deleted += tag.RowsAffected()
	tag, err = tx.Exec(ctx, `INSERT INTO `+rel.Quoted()+` SELECT * FROM `+batch)
	if err != nil {
		return 0, 0, held, err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+batch); err != nil {
		return 0, 0, held, err
	}
	return tag.RowsAffected(), deleted, held, nil
}

// WindowChecksum fingerprints the rows of rel in [w.From, w.To) on eventTime,
// independently of row order: the row count and an md5 over the sorted md5 of each
// row's text form. Two loads of the same data give the same checksum.
func WindowChecksum(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, rel ident.Relation, eventTime string, w window.Window) (rows int64, checksum string, err error) {
	et := ident.Quote(eventTime)
	err = q.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM (SELECT md5(t::text) AS h FROM `+
		rel.Quoted()+` AS t WHERE t.`+et+` >= $1 AND t.`+et+` < $2) AS rows`, w.From, w.To).Scan(&rows, &checksum)
	if err != nil {
		return 0, "", fmt.Errorf("checksum of %s %s: %w", rel, w, err)
	}
	return rows, checksum, nil
}

// ColumnsChangedError is a table model whose SELECT no longer has the table's columns.
type ColumnsChangedError struct {
	Relation       string
	Added, Removed []string
}

func (e *ColumnsChangedError) Error() string {
	return fmt.Sprintf("the columns of %s changed (added: %s; removed: %s): the table's rows are replaced, not its shape; drop the table (and the views on it) to rebuild it",
		e.Relation, orNone(e.Added), orNone(e.Removed))
}

// BadInput marks the error as a model problem, not a transient one.
func (e *ColumnsChangedError) BadInput() bool { return true }

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// sameColumns checks that the model's query yields the table's columns (by name, in
// any order) and returns them as a quoted list, so rows are inserted by name.
func sameColumns(ctx context.Context, tx pgx.Tx, rel ident.Relation, query string) (string, error) {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, rel.Schema, rel.Name)
	if err != nil {
		return "", err
	}
	tableCols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	res := tx.Conn().PgConn().ExecParams(ctx, query+` LIMIT 0`, nil, nil, nil, nil)
	var queryCols []string
	for _, f := range res.FieldDescriptions() {
		queryCols = append(queryCols, f.Name)
	}
	if _, err := res.Close(); err != nil {
		return "", err
	}
	inQuery := map[string]bool{}
	for _, c := range queryCols {
		inQuery[c] = true
	}
	inTable := map[string]bool{}
	var quoted []string
	var removed []string
	for _, c := range tableCols {
		inTable[c] = true
		if !inQuery[c] {
			removed = append(removed, c)
		}
		quoted = append(quoted, ident.Quote(c))
	}
	var added []string
	for _, c := range queryCols {
		if !inTable[c] {
			added = append(added, c)
		}
	}
	if len(added) > 0 || len(removed) > 0 {
		return "", &ColumnsChangedError{Relation: rel.String(), Added: added, Removed: removed}
	}
	return strings.Join(quoted, ", "), nil
}

// execOne runs a statement that embeds model SQL with the extended protocol, which
// accepts exactly one statement: a model file that smuggles a second statement
// ("select 1; drop table ...") is refused by the server instead of run. (pgx's Exec
// uses the simple protocol, which runs several, when there are no arguments.)
// replaceView creates or replaces a view model. PostgreSQL's CREATE OR REPLACE VIEW
// only appends columns; when the model renames, drops, reorders or retypes one, the
// view is dropped and created again in the same transaction (readers see the old
// view or the new), with the old view's options, comment, grants and owner. If
// other views depend on it, they would have to go too: the run fails with a
// *ViewColumnsError naming them instead.
func replaceView(ctx context.Context, tx pgx.Tx, rel ident.Relation, query string) error {
	if _, err := tx.Exec(ctx, `SAVEPOINT replace_view`); err != nil {
		return err
	}
	_, err := execOne(ctx, tx, `CREATE OR REPLACE VIEW `+rel.Quoted()+` AS `+query)
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "42P16" { // invalid_table_definition
		return err
	}
	if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT replace_view`); rerr != nil {
		return errors.Join(err, rerr)
	}
	// What DROP would lose, as statements to run on the new view: its options, its
	// comment, its grants, then its owner (last: the grants need the worker to own it).
	rows, qerr := tx.Query(ctx, viewPropertiesSQL, rel.Quoted())
	if qerr != nil {
		return qerr
	}
	restore, qerr := pgx.CollectRows(rows, pgx.RowTo[string])
	if qerr != nil {
		return qerr
	}
	if _, derr := tx.Exec(ctx, `DROP VIEW `+rel.Quoted()); derr != nil {
		var dep *pgconn.PgError
		if errors.As(derr, &dep) && dep.Code == "2BP01" { // dependent_objects_still_exist
			return &ViewColumnsError{View: rel.String(), Change: pgErr.Message, Dependents: dep.Detail}
		}
		return derr
	}
	if _, err := execOne(ctx, tx, `CREATE VIEW `+rel.Quoted()+` AS `+query); err != nil {
		return err
	}
	for _, st := range restore {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("view %s re-created: restore %q: %w", rel, st, err)
		}
	}
	return nil
}

// viewPropertiesSQL lists, for the view $1 (a quoted name), the statements that give
// a new view of that name the old one's options, comment, grants and owner, in that
// order (built by the server: format's %I and %L quote). Column comments are not
// carried over (the columns changed).
const viewPropertiesSQL = `
SELECT stmt FROM (
  SELECT 1 AS o, format('ALTER VIEW %s SET (%s)', $1::text, array_to_string(c.reloptions, ', ')) AS stmt
  FROM pg_class AS c WHERE c.oid = to_regclass($1) AND c.reloptions IS NOT NULL
  UNION ALL
  SELECT 2, format('COMMENT ON VIEW %s IS %L', $1::text, d.description)
  FROM pg_description AS d WHERE d.objoid = to_regclass($1) AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
  UNION ALL
  SELECT 3, format('GRANT %s ON %s TO %s%s', a.privilege_type, $1::text,
    CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
    CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_class AS c CROSS JOIN LATERAL aclexplode(c.relacl) AS a WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner
  UNION ALL
  SELECT 4, format('ALTER VIEW %s OWNER TO %I', $1::text, pg_get_userbyid(c.relowner))
  FROM pg_class AS c WHERE c.oid = to_regclass($1) AND pg_get_userbyid(c.relowner) <> current_user
) AS s ORDER BY o`

// ViewColumnsError is a view model whose columns changed in a way PostgreSQL cannot
// apply in place, while other views depend on it.
type ViewColumnsError struct {
	View, Change, Dependents string
}

func (e *ViewColumnsError) Error() string {
	return fmt.Sprintf("view %s: %s; it must be dropped and created again, but other views depend on it (%s): change or drop them first",
		e.View, e.Change, strings.ReplaceAll(e.Dependents, "\n", "; "))
}

// BadInput marks the error as non-retryable (the plan or the warehouse must change).
func (e *ViewColumnsError) BadInput() bool { return true }

// execOne runs one statement with the simple protocol's parameterless path (no
// statement cache); the cost meter gets it by hand, as the tracer does not see it.
func execOne(ctx context.Context, tx pgx.Tx, sql string) (pgconn.CommandTag, error) {
	began := time.Now()
	tag, err := tx.Conn().PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Close()
	cost.Copied(ctx, tx.Conn(), time.Since(began), tag)
	return tag, err
}

func tableExists(ctx context.Context, tx pgx.Tx, rel ident.Relation) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2 AND table_type = 'BASE TABLE')`,
		rel.Schema, rel.Name).Scan(&ok)
	return ok, err
}
