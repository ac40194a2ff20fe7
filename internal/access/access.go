// Package access applies access control by layer in the warehouse (PostgreSQL): the
// plan names existing roles (plan.Access) and Apply grants each what its layer needs
// and revokes what it must not have:
//
//   - loader: the raw schema (read and write its tables, create new ones);
//   - transformer: read raw; read and write the models' schemas;
//   - bi_reader: the consumption views only, column by column without any column
//     whose name is marked PII (hash, mask or drop) in a source of the plan; nothing
//     in raw or the models' schemas.
//
// Default privileges cover the tables the worker creates later (first loads, new
// models). Cutover and rollback keep the views' grants (internal/cutover). The
// package has no Temporal imports.
package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// Result lists what Apply did, for the preflight's report.
type Result struct {
	Statements int `json:"statements"`
	// Views are the consumption views the BI reader was granted, with the columns
	// withheld as PII.
	Views map[string][]string `json:"views,omitempty"`
}

// MissingRoleError names roles the plan lists that the warehouse does not have.
type MissingRoleError struct{ Roles []string }

func (e *MissingRoleError) Error() string {
	return fmt.Sprintf("access: role(s) %s do not exist in the warehouse: create them (CREATE ROLE name NOLOGIN) or change the plan's access section",
		strings.Join(e.Roles, ", "))
}

// BadInput marks the error as the plan's or the warehouse's setup, not transient.
func (e *MissingRoleError) BadInput() bool { return true }

// Apply grants and revokes, in one transaction, for the plan's roles and the given
// consumption views (schema.name). Nothing happens without an access section.
func Apply(ctx context.Context, pool *pgxpool.Pool, p *plan.Plan, views []string) (Result, error) {
	res := Result{Views: map[string][]string{}}
	a := p.Access
	if a == nil {
		return res, nil
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var missing []string
		for _, r := range []string{a.Loader, a.Transformer, a.BIReader} {
			if r == "" {
				continue
			}
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, r).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			return &MissingRoleError{Roles: missing}
		}
		exec := func(stmt string) error {
			res.Statements++
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("access: %s: %w", stmt, err)
			}
			return nil
		}
		raw := ident.Quote(p.RawSchema())
		modelSchemas := modelSchemas(p)
		for _, s := range append([]string{p.RawSchema()}, modelSchemas...) {
			if err := exec(`CREATE SCHEMA IF NOT EXISTS ` + ident.Quote(s)); err != nil {
				return err
			}
		}
		if r := a.Loader; r != "" {
			q := ident.Quote(r)
			for _, stmt := range []string{
				`GRANT USAGE, CREATE ON SCHEMA ` + raw + ` TO ` + q,
				`GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA ` + raw + ` TO ` + q,
				`ALTER DEFAULT PRIVILEGES IN SCHEMA ` + raw + ` GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO ` + q,
			} {
				if err := exec(stmt); err != nil {
					return err
				}
			}
		}
		if r := a.Transformer; r != "" {
			q := ident.Quote(r)
			stmts := []string{
				`GRANT USAGE ON SCHEMA ` + raw + ` TO ` + q,
				`GRANT SELECT ON ALL TABLES IN SCHEMA ` + raw + ` TO ` + q,
				`ALTER DEFAULT PRIVILEGES IN SCHEMA ` + raw + ` GRANT SELECT ON TABLES TO ` + q,
			}
			for _, s := range modelSchemas {
				m := ident.Quote(s)
				stmts = append(stmts,
					`GRANT USAGE, CREATE ON SCHEMA `+m+` TO `+q,
					`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA `+m+` TO `+q,
					`ALTER DEFAULT PRIVILEGES IN SCHEMA `+m+` GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO `+q)
			}
			for _, stmt := range stmts {
				if err := exec(stmt); err != nil {
					return err
				}
			}
		}
		if r := a.BIReader; r != "" {
			q := ident.Quote(r)
			// Nothing below the consumption layer, including what defaults granted.
			for _, s := range append([]string{p.RawSchema()}, modelSchemas...) {
				m := ident.Quote(s)
				for _, stmt := range []string{
					`REVOKE ALL ON ALL TABLES IN SCHEMA ` + m + ` FROM ` + q,
					`REVOKE ALL ON SCHEMA ` + m + ` FROM ` + q,
				} {
					if err := exec(stmt); err != nil {
						return err
					}
				}
			}
			pii := piiColumns(p)
			for _, v := range views {
				rel, err := ident.ParseRelation(v)
				if err != nil {
					return err
				}
				if slices.Contains(modelSchemas, rel.Schema) || rel.Schema == p.RawSchema() {
					return fmt.Errorf("access: consumption view %s is in schema %s, which the BI reader must not see", v, rel.Schema)
				}
				cols, err := columns(ctx, tx, rel)
				if err != nil {
					return err
				}
				var granted, withheld []string
				for _, c := range cols {
					if pii[c] {
						withheld = append(withheld, c)
						continue
					}
					granted = append(granted, ident.Quote(c))
				}
				res.Views[v] = withheld
				if err := exec(`GRANT USAGE ON SCHEMA ` + ident.Quote(rel.Schema) + ` TO ` + q); err != nil {
					return err
				}
				if err := exec(`REVOKE ALL ON ` + rel.Quoted() + ` FROM ` + q); err != nil {
					return err
				}
				if len(granted) > 0 {
					if err := exec(`GRANT SELECT (` + strings.Join(granted, ", ") + `) ON ` + rel.Quoted() + ` TO ` + q); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return res, err
}

func modelSchemas(p *plan.Plan) []string {
	var out []string
	for _, m := range p.Models {
		if !slices.Contains(out, m.Schema) {
			out = append(out, m.Schema)
		}
	}
	slices.Sort(out)
	return out
}

// piiColumns are the column names marked PII (any policy but keep) in any source.
func piiColumns(p *plan.Plan) map[string]bool {
	out := map[string]bool{}
	for _, s := range p.Sources {
		for _, c := range s.Columns {
			if c.PII != "" && c.PII != "keep" {
				out[c.Name] = true
			}
		}
	}
	return out
}

func columns(ctx context.Context, tx pgx.Tx, rel ident.Relation) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, rel.String())
	if err != nil {
		return nil, fmt.Errorf("access: columns of %s: %w", rel, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("access: columns of %s: %w", rel, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("access: consumption view %s does not exist", rel)
	}
	return cols, nil
}
