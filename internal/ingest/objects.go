package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ObjectRow is a landing object as the load ledger holds it.
type ObjectRow struct {
	Source, Key, Status, Error string
	Rows, Quarantined          int64
	FinishedAt                 time.Time
	// ExtraColumns are the undeclared columns the object carried (schema drift).
	ExtraColumns []string
}

// Objects lists a source's ledger rows with one of the statuses (every status when
// none), newest first, at most limit.
func Objects(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, source string, statuses []string, limit int) ([]ObjectRow, error) {
	rows, err := q.Query(ctx, `SELECT source, object_key, status, COALESCE(error, ''), rows_loaded, rows_quarantined, finished_at, COALESCE(extra_columns, '{}')
FROM etl2elt.loads WHERE source = $1 AND (cardinality($2::text[]) = 0 OR status = ANY($2))
ORDER BY finished_at DESC, object_key LIMIT $3`, source, statuses, limit)
	if err != nil {
		return nil, fmt.Errorf("list the objects of %s: %w", source, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ObjectRow, error) {
		var o ObjectRow
		err := r.Scan(&o.Source, &o.Key, &o.Status, &o.Error, &o.Rows, &o.Quarantined, &o.FinishedAt, &o.ExtraColumns)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list the objects of %s: %w", source, err)
	}
	return out, nil
}

// ErrNotFailed is returned when the object to skip has no failed ledger row (or the
// object to retry no skipped one).
var ErrNotFailed = errors.New("no such object in that state")

// SkipObject marks a failed object skipped: its ledger row (with the reason it
// failed) and its quarantine rows stay; runs leave it alone until its ETag changes.
func SkipObject(ctx context.Context, tx pgx.Tx, source, key string) (ObjectRow, error) {
	return setStatus(ctx, tx, source, key, "failed", "skipped")
}

// RetryObject makes a skipped object failed again: the next run tries it.
func RetryObject(ctx context.Context, tx pgx.Tx, source, key string) (ObjectRow, error) {
	return setStatus(ctx, tx, source, key, "skipped", "failed")
}

func setStatus(ctx context.Context, tx pgx.Tx, source, key, from, to string) (ObjectRow, error) {
	o := ObjectRow{Source: source, Key: key}
	err := tx.QueryRow(ctx, `UPDATE etl2elt.loads SET status = $4 WHERE source = $1 AND object_key = $2 AND status = $3
RETURNING status, COALESCE(error, ''), rows_loaded, rows_quarantined, finished_at`, source, key, from, to).
		Scan(&o.Status, &o.Error, &o.Rows, &o.Quarantined, &o.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("object %s of source %s: %w (only a %s object can be: `starter objects list` shows them)", key, source, ErrNotFailed, from)
	}
	if err != nil {
		return o, fmt.Errorf("object %s of source %s: %w", key, source, err)
	}
	return o, nil
}
