package demo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LinkSchema is where LinkLegacy exposes the legacy output in the warehouse
// (the demo plan's legacy.warehouse_relation is legacy_link.daily_revenue).
const LinkSchema = "legacy_link"

// LinkLegacy makes the legacy output readable from the warehouse, as a platform team
// would in production (postgres_fdw here; a Redshift federated query or external
// schema there): a foreign server for the legacy database and a foreign table
// legacy_link.daily_revenue. The consumption view points at it while the domain is on
// legacy. Idempotent; an existing foreign table is kept (views may depend on it).
// Needs a role allowed to create the postgres_fdw extension (the local superuser).
func LinkLegacy(ctx context.Context, warehouse *pgxpool.Pool, legacyDSN string) error {
	cfg, err := pgx.ParseConfig(legacyDSN)
	if err != nil {
		return fmt.Errorf("link legacy: parse the legacy DSN: %w", err)
	}
	lit := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	str := func(s string) string { return "'" + escape(s) + "'" }
	// A password in the DSN (docker-compose) goes into the user mapping, which only
	// superusers and the mapping's user can read; the local setup trusts 127.0.0.1.
	password := ""
	if cfg.Password != "" {
		password = ", password " + str(cfg.Password)
	}
	var exists bool
	if err := warehouse.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, LinkSchema+".daily_revenue").Scan(&exists); err != nil {
		return fmt.Errorf("link legacy: %w", err)
	}
	if exists {
		return nil
	}
	return pgx.BeginFunc(ctx, warehouse, func(tx pgx.Tx) error {
		for _, s := range []string{
			`CREATE EXTENSION IF NOT EXISTS postgres_fdw`,
			`CREATE SERVER IF NOT EXISTS etl2elt_demo_legacy FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host ` + str(cfg.Host) +
				`, port ` + str(strconv.Itoa(int(cfg.Port))) + `, dbname ` + str(cfg.Database) + `)`,
			`CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER etl2elt_demo_legacy OPTIONS (user ` + str(cfg.User) + password + `)`,
			`CREATE SCHEMA IF NOT EXISTS ` + lit(LinkSchema),
			`IMPORT FOREIGN SCHEMA legacy LIMIT TO (daily_revenue) FROM SERVER etl2elt_demo_legacy INTO ` + lit(LinkSchema),
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("link legacy: %w", err)
			}
		}
		return nil
	})
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
