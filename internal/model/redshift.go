package model

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

// The Redshift materialisations (plan warehouse.dialect: redshift), on one warehouse
// session, with the run recorded in the control database (PostgreSQL):
//
//   - view: CREATE OR REPLACE VIEW (no lock: Redshift cannot LOCK a view);
//   - table: created by CREATE TABLE AS the first time; afterwards, in one
//     transaction, LOCK, DELETE every row, INSERT ... SELECT by the table's column
//     names;
//   - incremental: the window's rows staged in a temporary table first (outside the
//     lock: Redshift's LOCK blocks readers), duplicate unique keys refused, then in
//     the same transaction LOCK, DELETE the window's rows, MERGE the staged rows on
//     the unique key (a key that moved into the window replaces its old row), COMMIT.
//
// The SQL that differs between warehouses comes from internal/dialect (LockTarget,
// ReplaceWindow's DELETE, Merge).

// redshiftBatch is the session's temporary table of an incremental window's rows.
const redshiftBatch = "_etl2elt_batch"

// RunRedshift materialises req.Model on Redshift through s and records the run
// (succeeded or failed) in the control database.
func RunRedshift(ctx context.Context, s warehouse.Session, control *pgxpool.Pool, req Request) (Result, error) {
	return run(ctx, control, req, materializer{
		whole: func(rel ident.Relation) (int64, error) { return materializeRedshift(ctx, s, rel, req.Model) },
		window: func(rel ident.Relation, w window.Window) (int64, int64, error) {
			return incrementalRedshift(ctx, s, rel, req.Model, w)
		},
	})
}

// modelSubquery wraps model SQL as a subquery on lines of its own (a trailing line
// comment cannot swallow the parenthesis; no data-modifying WITH).
func modelSubquery(sqlText string) string {
	body := strings.TrimRight(strings.TrimSpace(sqlText), "; \t\r\n")
	return "(\n" + body + "\n) AS " + ident.Quote("model")
}

// redshiftColumns lists a table's columns in order (none: no such table).
func redshiftColumns(ctx context.Context, s warehouse.Session, rel ident.Relation) ([]string, error) {
	var cols []string
	err := s.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
		[]any{rel.Schema, rel.Name}, func(scan func(...any) error) error {
			var c string
			if err := scan(&c); err != nil {
				return err
			}
			cols = append(cols, c)
			return nil
		})
	return cols, err
}

// inTx runs stmts in one transaction on s (BEGIN ... COMMIT; ROLLBACK on error) and
// returns each statement's affected rows.
func inTx(ctx context.Context, s warehouse.Session, stmts []stmt) ([]int64, error) {
	if _, err := s.Exec(ctx, "BEGIN"); err != nil {
		return nil, err
	}
	out := make([]int64, len(stmts))
	for i, st := range stmts {
		if st.run != nil {
			if err := st.run(); err != nil {
				_, _ = s.Exec(context.WithoutCancel(ctx), "ROLLBACK")
				return nil, err
			}
			continue
		}
		n, err := s.Exec(ctx, st.sql, st.args...)
		if err != nil {
			_, _ = s.Exec(context.WithoutCancel(ctx), "ROLLBACK")
			return nil, err
		}
		out[i] = n
	}
	if _, err := s.Exec(ctx, "COMMIT"); err != nil {
		return nil, err
	}
	return out, nil
}

// stmt is a statement of inTx, or a step (run) such as a check query.
type stmt struct {
	sql  string
	args []any
	run  func() error
}

func materializeRedshift(ctx context.Context, s warehouse.Session, rel ident.Relation, m plan.Model) (int64, error) {
	if _, err := s.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident.Quote(rel.Schema)); err != nil {
		return 0, err
	}
	query := `SELECT * FROM ` + modelSubquery(m.SQLText)
	if m.Materialized == plan.MaterializedView {
		_, err := s.Exec(ctx, `CREATE OR REPLACE VIEW `+rel.Quoted()+` AS `+query)
		return 0, err
	}
	cols, err := redshiftColumns(ctx, s, rel)
	if err != nil {
		return 0, err
	}
	if len(cols) == 0 {
		n, err := inTx(ctx, s, []stmt{{sql: `CREATE TABLE ` + rel.Quoted() + ` AS ` + query}})
		if err != nil {
			return 0, err
		}
		return n[0], nil
	}
	d, _ := dialect.For(dialect.Redshift)
	lock, _, err := d.LockTarget(rel)
	if err != nil {
		return 0, err
	}
	list := quoteAll(cols)
	n, err := inTx(ctx, s, []stmt{
		{sql: lock},
		{sql: `DELETE FROM ` + rel.Quoted()},
		{sql: `INSERT INTO ` + rel.Quoted() + ` (` + list + `) SELECT ` + list + ` FROM ` + modelSubquery(m.SQLText)},
	})
	if err != nil {
		return 0, err
	}
	return n[2], nil
}

func incrementalRedshift(ctx context.Context, s warehouse.Session, rel ident.Relation, m plan.Model, w window.Window) (merged, deleted int64, err error) {
	d, _ := dialect.For(dialect.Redshift)
	if _, err := s.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident.Quote(rel.Schema)); err != nil {
		return 0, 0, err
	}
	cols, err := redshiftColumns(ctx, s, rel)
	if err != nil {
		return 0, 0, err
	}
	et := ident.Quote(m.EventTime)
	if len(cols) == 0 {
		// The shape of the model's rows, sorted on the event time (the window's
		// DELETE reads few blocks). Redshift has no unique index: the duplicate-key
		// check below and MERGE keep one row per key.
		if _, err := s.Exec(ctx, `CREATE TABLE `+rel.Quoted()+` SORTKEY (`+et+`) AS SELECT * FROM `+modelSubquery(m.SQLText)+` WHERE 1 = 0`); err != nil {
			return 0, 0, err
		}
		if cols, err = redshiftColumns(ctx, s, rel); err != nil {
			return 0, 0, err
		}
		if len(cols) == 0 {
			return 0, 0, fmt.Errorf("table %s has no columns after CREATE TABLE AS", rel)
		}
	}
	lock, _, err := d.LockTarget(rel)
	if err != nil {
		return 0, 0, err
	}
	replace, err := d.ReplaceWindow(rel, m.EventTime, cols, `SELECT * FROM `+ident.Quote(redshiftBatch))
	if err != nil {
		return 0, 0, err
	}
	batch := ident.Relation{Name: redshiftBatch}
	merge, err := d.Merge(rel, batch, m.UniqueKey, cols)
	if err != nil {
		return 0, 0, err
	}
	list := quoteAll(cols)
	keys := make([]string, len(m.UniqueKey))
	shown := make([]string, len(m.UniqueKey))
	for i, k := range m.UniqueKey {
		keys[i] = ident.Quote(k)
		shown[i] = `COALESCE(CAST(` + keys[i] + ` AS VARCHAR(65535)), 'NULL')`
	}
	keyList := strings.Join(keys, ", ")
	// The batch is staged first, each statement committing on its own (a temporary
	// table no other session sees), so that the write transaction's first statement
	// is its LOCK: Redshift takes a transaction's snapshot at its first statement, and
	// a window DELETE on a snapshot older than the lock could miss rows another run
	// just committed (duplicates, no error, under SNAPSHOT isolation).
	batchName := ident.Quote(redshiftBatch)
	defer func() {
		_, _ = s.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+batchName)
	}()
	for _, st := range []stmt{
		{sql: `DROP TABLE IF EXISTS ` + batchName},
		{sql: `CREATE TEMP TABLE ` + batchName + ` (LIKE ` + rel.Quoted() + `)`},
		{sql: `INSERT INTO ` + batchName + ` (` + list + `) SELECT ` + list + ` FROM ` + modelSubquery(m.SQLText) +
			` WHERE ` + ident.Quote("model") + `.` + et + ` >= $1 AND ` + ident.Quote("model") + `.` + et + ` < $2`, args: []any{w.From, w.To}},
	} {
		if _, err := s.Exec(ctx, st.sql, st.args...); err != nil {
			return 0, 0, err
		}
	}
	var dup *DuplicateKeyError
	err = s.Query(ctx, `SELECT `+strings.Join(shown, ` || ', ' || `)+` FROM `+batchName+` GROUP BY `+keyList+` HAVING COUNT(*) > 1 LIMIT 1`, nil,
		func(scan func(...any) error) error {
			var example string
			if err := scan(&example); err != nil {
				return err
			}
			dup = &DuplicateKeyError{Model: m.Name, Key: m.UniqueKey, Example: "(" + example + ")"}
			return nil
		})
	if err != nil {
		return 0, 0, err
	}
	if dup != nil {
		return 0, 0, dup
	}
	n, err := inTx(ctx, s, []stmt{
		{sql: lock},
		{sql: replace[0], args: []any{w.From, w.To}},
		{sql: merge},
	})
	if err != nil {
		return 0, 0, err
	}
	return n[2], n[1], nil
}

func quoteAll(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = ident.Quote(c)
	}
	return strings.Join(q, ", ")
}
