package warehouse

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies the control schema's pending migrations, idempotently and safely
// when several workers start at once (goose's session advisory lock). It returns the
// versions it applied.
//
// The control schema is PostgreSQL's: on an Amazon Redshift connection Migrate
// refuses with a *ControlOnRedshiftError before any DDL (docs/DIALECTS.md).
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	var version string
	if err := pool.QueryRow(ctx, `SELECT version()`).Scan(&version); err != nil {
		return nil, fmt.Errorf("migrate: server version: %w", err)
	}
	if IsRedshift(version) {
		return nil, &ControlOnRedshiftError{Version: version}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('etl2elt.create_schema'))`); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ControlSchema); err != nil {
		return nil, fmt.Errorf("migrate: create schema: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}

	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker),
		goose.WithTableName(ControlSchema+".schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// IsRedshift tells an Amazon Redshift server from its version() text ("PostgreSQL
// 8.0.2 on i686-pc-linux-gnu, ... Redshift 1.0.12103").
func IsRedshift(version string) bool { return strings.Contains(version, "Redshift") }

// ControlOnRedshiftError is a control connection that points at Amazon Redshift.
type ControlOnRedshiftError struct{ Version string }

func (e *ControlOnRedshiftError) Error() string {
	return "the control connection (ETL2ELT_CONTROL_CONNECTION) is Amazon Redshift: the control schema " + ControlSchema +
		" is PostgreSQL-only (jsonb, bigserial, ON CONFLICT, advisory locks, partial indexes); point it at a PostgreSQL database " +
		"and keep the Redshift cluster as the plan's warehouse connection (docs/DIALECTS.md)"
}

// BadInput marks the error as a configuration problem, not a transient one.
func (e *ControlOnRedshiftError) BadInput() bool { return true }

// SchemaVersion returns the newest applied control-schema migration (0 when none).
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var v int64
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+ControlSchema+`.schema_migrations WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
