// Package cutover repoints a domain's consumption views (the names dashboards read)
// between the legacy relation and the ELT relation of each output pair, all views of
// the domain in one transaction: readers see every view on legacy or every view on
// ELT, never a half-switched domain. CREATE OR REPLACE VIEW keeps the views' grants and
// owners; a view whose columns would change is refused (dashboards depend on them).
// MigrationWorkflow calls it through the Preflight, SwitchViews and ViewTargets activities.
package cutover

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
)

// Side names where consumption views point.
const (
	Legacy = "legacy"
	ELT    = "elt"
)

// View is one consumption view and the two relations it can point at, both
// reachable from the warehouse (a legacy table on another server is reached through a
// foreign table or federated query set up by the platform team).
type View struct {
	Name   string `json:"name"`
	Legacy string `json:"legacy"`
	ELT    string `json:"elt"`
}

// Switch points every view at side in one transaction under the domain's lock. Views
// that do not exist yet are created.
func Switch(ctx context.Context, pool *pgxpool.Pool, domain string, views []View, side string) error {
	if side != Legacy && side != ELT {
		return fmt.Errorf("cutover side %q: want legacy or elt", side)
	}
	type target struct{ view, rel ident.Relation }
	var targets []target
	for _, v := range views {
		view, err := ident.ParseRelation(v.Name)
		if err != nil {
			return fmt.Errorf("consumption view: %w", err)
		}
		relName := v.Legacy
		if side == ELT {
			relName = v.ELT
		}
		rel, err := ident.ParseRelation(relName)
		if err != nil {
			return fmt.Errorf("view %s: %w", v.Name, err)
		}
		targets = append(targets, target{view, rel})
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// CREATE OR REPLACE VIEW needs an exclusive lock on each view: a long dashboard
		// query would hold the switch, and every reader would queue behind it. Give up
		// after a few seconds instead (the activity retries).
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return fmt.Errorf("lock timeout: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.cutover:"+domain); err != nil {
			return fmt.Errorf("lock domain %s: %w", domain, err)
		}
		for _, t := range targets {
			if err := sameShape(ctx, tx, t.view, t.rel); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident.Quote(t.view.Schema)); err != nil {
				return fmt.Errorf("view %s: %w", t.view, err)
			}
			if _, err := tx.Exec(ctx, `CREATE OR REPLACE VIEW `+t.view.Quoted()+` AS SELECT * FROM `+t.rel.Quoted()); err != nil {
				return fmt.Errorf("point %s at %s (%s): %w", t.view, t.rel, side, err)
			}
		}
		return nil
	})
}

// Where tells which relation each view reads now (schema.name), from the catalog.
func Where(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, view string) (string, error) {
	v, err := ident.ParseRelation(view)
	if err != nil {
		return "", err
	}
	var rel string
	err = q.QueryRow(ctx, `
SELECT DISTINCT n.nspname || '.' || c.relname
FROM pg_rewrite r
JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.ev_class = $1::regclass AND c.oid <> r.ev_class`, v.Quoted()).Scan(&rel)
	if err != nil {
		return "", fmt.Errorf("where does %s point: %w", view, err)
	}
	return strings.TrimSpace(rel), nil
}

// sameShape refuses a switch that would change an existing view's columns (names,
// order or types): dashboards and the way back both depend on them.
func sameShape(ctx context.Context, tx pgx.Tx, view, rel ident.Relation) error {
	cols := func(r ident.Relation) ([]string, error) {
		rows, err := tx.Query(ctx, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, r.Schema, r.Name)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	have, err := cols(view)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", view, err)
	}
	if len(have) == 0 {
		return nil // a new view
	}
	want, err := cols(rel)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", rel, err)
	}
	if strings.Join(have, ", ") != strings.Join(want, ", ") {
		return fmt.Errorf("point %s at %s: its columns (%s) differ from the view's (%s): dashboards read the view's columns",
			view, rel, strings.Join(want, ", "), strings.Join(have, ", "))
	}
	return nil
}
