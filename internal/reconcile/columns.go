package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
)

// SharedColumns lists the columns both relations have, in the legacy relation's
// order: what a row diff compares by default. A relation that has no column (it does
// not exist, or is not visible) is an error naming it.
func SharedColumns(ctx context.Context, legacy, elt Queryer, legacyRel, eltRel string) ([]string, error) {
	read := func(q Queryer, side, rel string) ([]string, error) {
		r, err := ident.ParseRelation(rel)
		if err != nil {
			return nil, specErr("%s relation %q: %v", side, rel, err)
		}
		rows, err := q.Query(ctx, `SELECT CAST(column_name AS text) FROM information_schema.columns
WHERE table_schema = CAST($1 AS text) AND table_name = CAST($2 AS text) ORDER BY ordinal_position`, r.Schema, r.Name)
		if err != nil {
			return nil, fmt.Errorf("columns of %s relation %s: %w", side, rel, err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("columns of %s relation %s: %w", side, rel, err)
		}
		if len(cols) == 0 {
			return nil, specErr("%s relation %s has no columns: it does not exist or is not visible to the connection's user", side, rel)
		}
		return cols, nil
	}
	l, err := read(legacy, "legacy", legacyRel)
	if err != nil {
		return nil, err
	}
	e, err := read(elt, "ELT", eltRel)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range l {
		if slices.Contains(e, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
