package model

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// EventTimeError is a table model whose event_time cannot judge its rows: not one of
// its columns, or not a date or timestamp.
type EventTimeError struct {
	Relation, Column, Problem string
}

func (e *EventTimeError) Error() string {
	return fmt.Sprintf("%s: event_time %q %s; it must be a date or timestamp column of the model's rows", e.Relation, e.Column, e.Problem)
}

// BadInput marks the error as a plan problem, not a transient one.
func (e *EventTimeError) BadInput() bool { return true }

// protectsTable reports whether a table model's run keeps its trusted rows: the
// domain has a trusted period, the model an event_time, and no override was recorded.
func protectsTable(m plan.Model, t Trust) bool {
	return m.EventTime != "" && !t.Until.IsZero() && t.Override == ""
}

// guardTable records a table model's trusted period and installs the database guard
// (in tx, which holds the model's lock) when the model has an event_time and its
// domain a trusted period; otherwise it removes a trusted period an earlier run
// recorded (the plan dropped event_time or trusted_until): the table is then rebuilt
// whole, as the plan says.
func guardTable(ctx context.Context, tx pgx.Tx, rel ident.Relation, m plan.Model, t Trust) error {
	if m.EventTime == "" || t.Until.IsZero() {
		return Guard(ctx, tx, rel, "", Trust{})
	}
	if err := checkEventTime(ctx, tx, rel, m.EventTime); err != nil {
		return err
	}
	return Guard(ctx, tx, rel, m.EventTime, t)
}

// checkEventTime checks that col is a date or timestamp column of rel.
func checkEventTime(ctx context.Context, tx pgx.Tx, rel ident.Relation, col string) error {
	var dataType string
	err := tx.QueryRow(ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`,
		rel.Schema, rel.Name, col).Scan(&dataType)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &EventTimeError{Relation: rel.String(), Column: col, Problem: "is not one of its columns"}
	case err != nil:
		return fmt.Errorf("event_time of %s: %w", rel, err)
	}
	switch dataType {
	case "date", "timestamp with time zone", "timestamp without time zone":
		return nil
	}
	return &EventTimeError{Relation: rel.String(), Column: col, Problem: "is " + dataType}
}

// replaceTable replaces the rows of an existing table model (in tx, which holds its
// lock; cols is the table's quoted column list). Without a trusted period, or with a
// recorded override (set for the transaction, so that the guard lets it), every row
// is deleted and the model's rows inserted. With a trusted period, the model's
// trusted rows are kept (see rebuildKeepingTrusted).
func replaceTable(ctx context.Context, tx pgx.Tx, rel ident.Relation, m plan.Model, cols string, opts ReplaceOptions) (Replaced, error) {
	// Before any delete: the guard judges the table by the trusted period of this run.
	if err := guardTable(ctx, tx, rel, m, opts.Trust); err != nil {
		return Replaced{}, err
	}
	if protectsTable(m, opts.Trust) {
		return rebuildKeepingTrusted(ctx, tx, rel, m, cols, opts)
	}
	if opts.Trust.Override != "" {
		if _, err := tx.Exec(ctx, `SELECT set_config('etl2elt.trusted_override', $1, true)`, opts.Trust.Override); err != nil {
			return Replaced{}, fmt.Errorf("record the override of %s: %w", rel, err)
		}
	}
	del, err := tx.Exec(ctx, `DELETE FROM `+rel.Quoted())
	if err != nil {
		return Replaced{}, err
	}
	ins, err := execOne(ctx, tx, `INSERT INTO `+rel.Quoted()+` (`+cols+`) SELECT `+cols+` FROM (`+m.SQLText+`) AS model`)
	if err != nil {
		return Replaced{}, err
	}
	return Replaced{Inserted: ins.RowsAffected(), Deleted: del.RowsAffected()}, nil
}

// heldReason is why a table model's row is in etl2elt.held_rows.
const heldReason = "a table model's row for a trusted day that differs from the trusted rows there"

// rebuildKeepingTrusted rebuilds a table model without touching its trusted rows
// (event time before Until). The model's rows are staged with the table's column
// types; then, for the trusted days that have rows, the staged rows and the table's
// rows are compared as multisets of whole rows (by their text form, exact for equal
// column types, and fine for types without an equality operator): the staged rows the
// table lacks are held (etl2elt.held_rows, once per distinct row and relation) and
// counted, the table's rows the model no longer produces are kept and counted, and
// the days of both are reported. Only the rows from Until on (or with a NULL event
// time) are deleted; inserted are the staged rows from Until on, with a NULL event
// time, or of a trusted day that has no rows yet (ELT never had it: nothing signed off
// there).
//
// The exact comparison runs only on the days whose fingerprint (row count and the sum
// of 64-bit row hashes) differs between the two sides: at 1M rows it costs about half
// a full-row comparison. A changed day whose fingerprint collides (about 2^-64) would
// go unreported; its trusted rows stay as they are either way.
func rebuildKeepingTrusted(ctx context.Context, tx pgx.Tx, rel ident.Relation, m plan.Model, cols string, opts ReplaceOptions) (Replaced, error) {
	until := opts.Trust.Until
	et := ident.Quote(m.EventTime)
	batch, days, changed, diff := ident.Quote("_etl2elt_table"), ident.Quote("_etl2elt_table_days"), ident.Quote("_etl2elt_table_changed"), ident.Quote("_etl2elt_table_diff")
	// Day tests are hashed lookups in days listed once: a correlated test on the table
	// would cost a scan of it per row under OR.
	in := func(alias, set string) string {
		return `date_trunc('day', ` + alias + `.` + et + `) IN (SELECT day FROM ` + set + `)`
	}
	for _, st := range []string{
		`CREATE TEMP TABLE ` + batch + ` ON COMMIT DROP AS TABLE ` + rel.Quoted() + ` WITH NO DATA`,
		`INSERT INTO ` + batch + ` (` + cols + `) SELECT ` + cols + ` FROM (` + m.SQLText + `) AS model`,
		`CREATE TEMP TABLE ` + days + ` ON COMMIT DROP AS SELECT date_trunc('day', t.` + et + `) AS day FROM ` + rel.Quoted() + ` AS t WITH NO DATA`,
		`CREATE TEMP TABLE ` + changed + ` ON COMMIT DROP AS TABLE ` + days + ` WITH NO DATA`,
		`CREATE TEMP TABLE ` + diff + ` (from_model boolean NOT NULL, event_time timestamptz, day text, row_data jsonb NOT NULL) ON COMMIT DROP`,
	} {
		if _, err := execOne(ctx, tx, st); err != nil {
			return Replaced{}, err
		}
	}
	// CREATE TABLE AS takes no parameters: the days are filled here.
	if _, err := tx.Exec(ctx, `INSERT INTO `+days+` SELECT DISTINCT date_trunc('day', t.`+et+`) FROM `+rel.Quoted()+` AS t WHERE t.`+et+` < $1`, until); err != nil {
		return Replaced{}, fmt.Errorf("trusted days of %s: %w", rel, err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+changed+`
SELECT day FROM (
  SELECT date_trunc('day', b.`+et+`) AS day, count(*) AS n, sum(hashtextextended(b::text, 0)) AS h FROM `+batch+` AS b WHERE b.`+et+` < $1 AND `+in("b", days)+` GROUP BY 1
) AS f FULL JOIN (
  SELECT date_trunc('day', s.`+et+`) AS day, count(*) AS n, sum(hashtextextended(s::text, 0)) AS h FROM `+rel.Quoted()+` AS s WHERE s.`+et+` < $1 GROUP BY 1
) AS s USING (day)
WHERE (f.n, f.h) IS DISTINCT FROM (s.n, s.h)`, until)
	if err != nil {
		return Replaced{}, fmt.Errorf("compare the trusted days of %s: %w", rel, err)
	}
	var held Held
	if tag.RowsAffected() > 0 {
		// Multiset difference of the changed days' rows: a row's count in the model minus
		// its count in the table; positive: held copies, negative: kept copies. The text
		// form is read back as the table's row type for the JSON.
		if _, err := tx.Exec(ctx, `INSERT INTO `+diff+` (from_model, event_time, day, row_data)
SELECT c.k > 0, (c.r).`+et+`::timestamptz, to_char((c.r).`+et+`, 'YYYY-MM-DD'), to_jsonb(c.r)
FROM (
  SELECT u.t::`+rel.Quoted()+` AS r, sum(u.side) AS k FROM (
    SELECT b::text AS t, 1 AS side FROM `+batch+` AS b WHERE b.`+et+` < $1 AND `+in("b", changed)+`
    UNION ALL
    SELECT s::text, -1 FROM `+rel.Quoted()+` AS s WHERE s.`+et+` < $1 AND `+in("s", changed)+`
  ) AS u GROUP BY u.t HAVING sum(u.side) <> 0
) AS c CROSS JOIN LATERAL generate_series(1, abs(c.k)) AS copy`, until); err != nil {
			return Replaced{}, fmt.Errorf("compare the trusted rows of %s: %w", rel, err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE from_model), count(*) FILTER (WHERE NOT from_model) FROM `+diff).Scan(&held.Rows, &held.Kept); err != nil {
			return Replaced{}, fmt.Errorf("compare the trusted rows of %s: %w", rel, err)
		}
		// A row held by an earlier run (every run rebuilds the table) is not recorded again.
		if _, err := tx.Exec(ctx, `INSERT INTO etl2elt.held_rows (relation, event_time, reason, row_data, run_id, workflow_id)
SELECT $1, h.event_time, $2, h.row_data, NULLIF($3, ''), NULLIF($4, '') FROM `+diff+` AS h
WHERE h.from_model AND NOT EXISTS (SELECT 1 FROM etl2elt.held_rows AS x WHERE x.relation = $1 AND x.row_data = h.row_data)`,
			rel.String(), heldReason, opts.RunID, opts.WorkflowID); err != nil {
			return Replaced{}, fmt.Errorf("hold rows of trusted days of %s: %w", rel, err)
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT day FROM `+diff+` ORDER BY 1 LIMIT 20`)
		if err != nil {
			return Replaced{}, fmt.Errorf("days of held rows of %s: %w", rel, err)
		}
		if held.Days, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return Replaced{}, fmt.Errorf("days of held rows of %s: %w", rel, err)
		}
	}
	del, err := tx.Exec(ctx, `DELETE FROM `+rel.Quoted()+` AS t WHERE t.`+et+` >= $1 OR t.`+et+` IS NULL`, until)
	if err != nil {
		return Replaced{}, err
	}
	ins, err := tx.Exec(ctx, `INSERT INTO `+rel.Quoted()+` (`+cols+`) SELECT `+cols+` FROM `+batch+` AS b
WHERE b.`+et+` >= $1 OR b.`+et+` IS NULL OR NOT `+in("b", days), until)
	if err != nil {
		return Replaced{}, err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+batch+`, `+days+`, `+changed+`, `+diff); err != nil {
		return Replaced{}, err
	}
	return Replaced{Inserted: ins.RowsAffected(), Deleted: del.RowsAffected(), Held: held}, nil
}
