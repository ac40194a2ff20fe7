package model

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
)

// Trust protects an incremental model's signed-off rows. A trusted row is a row whose
// event time is before Until (its domain's backfill.trusted_until); a trusted day is
// a day before Until on which the model already has rows. Without Override, a run:
//   - never deletes or rewrites a trusted row (its window delete starts at Until, its
//     unique-key delete skips trusted rows);
//   - leaves a trusted day as it is: the model's rows for that day that differ from
//     what is there (a late event, a changed value) are held in etl2elt.held_rows and
//     reported, not written;
//   - holds a row whose unique key belongs to a trusted row (a late correction that
//     moved its event time);
//   - loads a day of the trusted period that has no rows yet normally: a period ELT
//     never loaded has nothing to protect.
//
// A table model that declares an event_time is protected the same way (see
// replaceTable): its rebuild replaces only the rows from Until on, keeps its trusted
// rows and holds the rows of a trusted day that differ from them. A table model
// without an event_time has no row to judge and is rebuilt whole.
//
// Guard installs a database guard on the table as well, so that SQL written later
// cannot bypass this (see migration 00009). With Override (a recorded decision: who
// and why), the run rewrites trusted rows like any other.
type Trust struct {
	// Until is the trusted-until instant (zero: nothing is trusted).
	Until time.Time `json:"until,omitzero"`
	// Domain is the model's domain (recorded with the trusted period).
	Domain string `json:"domain,omitempty"`
	// Override is the recorded override for this run ("by: reason"); empty: none.
	Override string `json:"override,omitempty"`
}

// Held is what a run held back instead of changing trusted rows.
type Held struct {
	Rows int64 `json:"rows,omitempty"`
	// Days are the first days (YYYY-MM-DD, at most 20) the held rows belong to; for a
	// table model, the trusted days whose rows differ from the model's (held or kept).
	Days []string `json:"days,omitempty"`
	// Kept counts a table model's trusted rows that its SQL no longer produces: kept
	// as they were (their replacements, if any, are the held rows).
	Kept int64 `json:"kept,omitempty"`
}

// ReplaceOptions are a window replacement's trust and lineage.
type ReplaceOptions struct {
	Trust      Trust
	RunID      string
	WorkflowID string
}

// Replaced is what a window replacement did.
type Replaced struct {
	Inserted int64
	Deleted  int64
	Held     Held
}

// Guard records rel's trusted period and installs the database guard on it (in tx,
// which holds the model's lock). A zero Until removes the trusted period (the guard
// then lets everything through).
func Guard(ctx context.Context, tx pgx.Tx, rel ident.Relation, eventTime string, t Trust) error {
	if t.Until.IsZero() {
		_, err := tx.Exec(ctx, `DELETE FROM etl2elt.trusted_periods WHERE relation = $1`, rel.String())
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO etl2elt.trusted_periods (relation, event_time, trusted_until, domain) VALUES ($1, $2, $3, NULLIF($4, ''))
ON CONFLICT (relation) DO UPDATE SET event_time = EXCLUDED.event_time, trusted_until = EXCLUDED.trusted_until, domain = EXCLUDED.domain, updated_at = now()
WHERE (etl2elt.trusted_periods.event_time, etl2elt.trusted_periods.trusted_until, etl2elt.trusted_periods.domain) IS DISTINCT FROM (EXCLUDED.event_time, EXCLUDED.trusted_until, EXCLUDED.domain)`,
		rel.String(), eventTime, t.Until, t.Domain); err != nil {
		return fmt.Errorf("record the trusted period of %s: %w", rel, err)
	}
	for _, stmt := range []string{
		`CREATE OR REPLACE TRIGGER etl2elt_trusted_delete AFTER DELETE ON ` + rel.Quoted() + ` REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION etl2elt.guard_trusted_rows(` + quoteLiteral(eventTime) + `)`,
		`CREATE OR REPLACE TRIGGER etl2elt_trusted_update AFTER UPDATE ON ` + rel.Quoted() + ` REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION etl2elt.guard_trusted_rows(` + quoteLiteral(eventTime) + `)`,
		`CREATE OR REPLACE TRIGGER etl2elt_trusted_truncate BEFORE TRUNCATE ON ` + rel.Quoted() + ` FOR EACH STATEMENT EXECUTE FUNCTION etl2elt.guard_trusted_rows(` + quoteLiteral(eventTime) + `)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("guard the trusted rows of %s: %w", rel, err)
		}
	}
	return nil
}

// quoteLiteral quotes a validated identifier as a SQL string literal (trigger
// arguments are literals).
func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// holdTrusted moves out of the batch what would change trusted rows and records it in
// etl2elt.held_rows; it returns what was held. keyMatch joins t (the model) and b (the
// batch) on the unique key; et is the quoted event-time column.
func holdTrusted(ctx context.Context, tx pgx.Tx, rel ident.Relation, batch, et, keyMatch string, opts ReplaceOptions) (Held, error) {
	until := opts.Trust.Until
	dayHasRows := `EXISTS (SELECT 1 FROM ` + rel.Quoted() + ` AS d WHERE d.` + et + ` >= date_trunc('day', b.` + et + `) AND d.` + et + ` < date_trunc('day', b.` + et + `) + interval '1 day')`
	keyTrusted := `EXISTS (SELECT 1 FROM ` + rel.Quoted() + ` AS t WHERE ` + keyMatch + ` AND t.` + et + ` < $1)`
	identical := `EXISTS (SELECT 1 FROM ` + rel.Quoted() + ` AS t WHERE ` + keyMatch + ` AND to_jsonb(t) = to_jsonb(b))`
	tag, err := tx.Exec(ctx, `INSERT INTO etl2elt.held_rows (relation, event_time, reason, row_data, run_id, workflow_id)
SELECT $2, b.`+et+`::timestamptz,
       CASE WHEN b.`+et+` < $1 THEN 'dated in a trusted day that has rows already' ELSE 'its unique key belongs to a trusted row' END,
       to_jsonb(b), NULLIF($3, ''), NULLIF($4, '')
FROM `+batch+` AS b
WHERE NOT `+identical+` AND ((b.`+et+` < $1 AND `+dayHasRows+`) OR `+keyTrusted+`)`,
		until, rel.String(), opts.RunID, opts.WorkflowID)
	if err != nil {
		return Held{}, fmt.Errorf("hold rows of trusted days: %w", err)
	}
	held := Held{Rows: tag.RowsAffected()}
	if held.Rows > 0 {
		rows, err := tx.Query(ctx, `SELECT DISTINCT to_char(b.`+et+`, 'YYYY-MM-DD') FROM `+batch+` AS b
WHERE NOT `+identical+` AND ((b.`+et+` < $1 AND `+dayHasRows+`) OR `+keyTrusted+`) ORDER BY 1 LIMIT 20`, until)
		if err != nil {
			return Held{}, fmt.Errorf("days of held rows: %w", err)
		}
		if held.Days, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return Held{}, fmt.Errorf("days of held rows: %w", err)
		}
	}
	// Out of the batch: every row of a trusted day that has rows (identical ones are
	// there already, the others are held) and every row keyed like a trusted row.
	if _, err := tx.Exec(ctx, `DELETE FROM `+batch+` AS b WHERE (b.`+et+` < $1 AND `+dayHasRows+`) OR `+keyTrusted, until); err != nil {
		return Held{}, fmt.Errorf("hold rows of trusted days: %w", err)
	}
	return held, nil
}
