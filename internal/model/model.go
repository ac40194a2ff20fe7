// Package model runs a plan's SQL models in the warehouse: each model is a SELECT
// materialised as a view (CREATE OR REPLACE VIEW) or a table (its rows replaced in
// one transaction, so that views built on it, such as consumption views, keep
// working and readers never see it half-built). Every run is recorded in
// etl2elt.model_runs with the hash of the SQL that ran.
package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// Result is one model run.
type Result struct {
	Model        string `json:"model"`
	Relation     string `json:"relation"`
	Materialized string `json:"materialized"`
	Rows         int64  `json:"rows"`
	SQLHash      string `json:"sql_hash"`
	DurationMS   int64  `json:"duration_ms"`
}

// Error is a model whose SQL failed in the warehouse.
type Error struct {
	Model string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("model %s: %v", e.Model, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Run materialises m and records the run (succeeded or failed) under runID.
func Run(ctx context.Context, pool *pgxpool.Pool, m plan.Model, runID, workflowID string) (Result, error) {
	started := time.Now().UTC()
	sum := sha256.Sum256([]byte(m.SQLText))
	rel := ident.Relation{Schema: m.Schema, Name: m.Name}
	res := Result{Model: m.Name, Relation: rel.String(), Materialized: m.Materialized, SQLHash: hex.EncodeToString(sum[:])}
	if err := ident.Validate(m.Schema); err != nil {
		return res, &Error{Model: m.Name, Err: err}
	}
	if err := ident.Validate(m.Name); err != nil {
		return res, &Error{Model: m.Name, Err: err}
	}
	rows, runErr := materialize(ctx, pool, rel, m)
	res.Rows = rows
	res.DurationMS = time.Since(started).Milliseconds()
	status, errText := "succeeded", any(nil)
	if runErr != nil {
		status, errText = "failed", runErr.Error()
	}
	_, err := pool.Exec(ctx, `
INSERT INTO etl2elt.model_runs (run_id, model, relation, materialized, sql_hash, rows, status, error, workflow_id, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())`,
		runID, m.Name, rel.String(), m.Materialized, res.SQLHash, rows, status, errText, workflowID, started)
	if runErr != nil {
		return res, &Error{Model: m.Name, Err: runErr}
	}
	if err != nil {
		return res, fmt.Errorf("record model run %s: %w", m.Name, err)
	}
	return res, nil
}

func materialize(ctx context.Context, pool *pgxpool.Pool, rel ident.Relation, m plan.Model) (int64, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "etl2elt.model:"+rel.String()); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident.Quote(rel.Schema)); err != nil {
		return 0, err
	}
	var rows int64
	switch m.Materialized {
	case plan.MaterializedView:
		// Prepared (extended protocol): one statement only, whatever the SQL file holds.
		if _, err := tx.Exec(ctx, `CREATE OR REPLACE VIEW `+rel.Quoted()+` AS `+m.SQLText); err != nil {
			return 0, err
		}
	case plan.MaterializedTable:
		exists, err := tableExists(ctx, tx, rel)
		if err != nil {
			return 0, err
		}
		var tag pgconn.CommandTag
		if exists {
			if _, err := tx.Exec(ctx, `DELETE FROM `+rel.Quoted()); err != nil {
				return 0, err
			}
			tag, err = tx.Exec(ctx, `INSERT INTO `+rel.Quoted()+` SELECT * FROM (`+m.SQLText+`) AS model`)
		} else {
			tag, err = tx.Exec(ctx, `CREATE TABLE `+rel.Quoted()+` AS `+m.SQLText)
		}
		if err != nil {
			return 0, err
		}
		rows = tag.RowsAffected()
	default:
		return 0, fmt.Errorf("unknown materialisation %q", m.Materialized)
	}
	return rows, tx.Commit(ctx)
}

func tableExists(ctx context.Context, tx pgx.Tx, rel ident.Relation) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2 AND table_type = 'BASE TABLE')`,
		rel.Schema, rel.Name).Scan(&ok)
	return ok, err
}
