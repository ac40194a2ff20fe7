// Package registry keeps the KPI registry of the control schema in step with plans:
// every metric version a plan declares is recorded with the hash of its definition,
// and a definition that changed without a version bump is refused, so that a KPI's
// number never silently changes meaning between two reports. A bump is recorded with
// who made it, why, and the previous version's hash, which later lets reports flag
// comparisons that cross a definition change.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/plan"
)

// Bump is a new metric version recorded by Sync.
type Bump struct {
	Metric       string `json:"metric"`
	Version      int    `json:"version"`
	PreviousHash string `json:"previous_hash,omitempty"`
	Hash         string `json:"hash"`
	ChangedBy    string `json:"changed_by,omitempty"`
	ChangeReason string `json:"change_reason,omitempty"`
}

// Result says what Sync recorded.
type Result struct {
	// Recorded lists metric versions seen for the first time (first versions and bumps).
	Recorded []Bump `json:"recorded,omitempty"`
	// Unchanged counts metric versions already recorded with the same definition.
	Unchanged int `json:"unchanged"`
}

// Conflict is one metric whose plan definition disagrees with the registry.
type Conflict struct {
	Metric, Reason string
}

// ConflictError lists every refused metric.
type ConflictError struct {
	Plan      string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan %s conflicts with the KPI registry:", e.Plan)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  metric %s: %s", c.Metric, c.Reason)
	}
	return b.String()
}

// BadInput marks the error as a plan problem: retrying cannot fix it.
func (e *ConflictError) BadInput() bool { return true }

type recorded struct {
	version int
	hash    string
}

// Sync checks the plan's metrics against the registry and records new versions, in
// one transaction under an advisory lock (two workers loading plans at once cannot
// both record). Nothing is recorded when any metric conflicts.
func Sync(ctx context.Context, pool *pgxpool.Pool, snap *plan.Snapshot, recordedBy string) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('etl2elt.metric_versions'))`); err != nil {
			return err
		}
		var conflicts []Conflict
		var inserts []plan.Metric
		for _, m := range snap.Plan.Metrics {
			history, err := versions(ctx, tx, m.Name)
			if err != nil {
				return err
			}
			hash := m.DefinitionHash()
			c, isNew := check(m, hash, history)
			switch {
			case c != "":
				conflicts = append(conflicts, Conflict{Metric: m.Name, Reason: c})
			case isNew:
				inserts = append(inserts, m)
				b := Bump{Metric: m.Name, Version: m.Version, Hash: hash, ChangedBy: m.ChangedBy, ChangeReason: m.ChangeReason}
				if len(history) > 0 {
					b.PreviousHash = history[len(history)-1].hash
				}
				res.Recorded = append(res.Recorded, b)
			default:
				res.Unchanged++
			}
		}
		if len(conflicts) > 0 {
			return &ConflictError{Plan: snap.Plan.Name, Conflicts: conflicts}
		}
		for i, m := range inserts {
			def, err := json.Marshal(m.Definition)
			if err != nil {
				return err
			}
			b := res.Recorded[i]
			_, err = tx.Exec(ctx, `
INSERT INTO etl2elt.metric_versions (metric, version, definition_hash, definition, owner, previous_hash, changed_by, change_reason, plan_name, plan_hash, recorded_by)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11)`,
				m.Name, m.Version, b.Hash, def, m.Owner, b.PreviousHash, m.ChangedBy, m.ChangeReason, snap.Plan.Name, snap.Hash, recordedBy)
			if err != nil {
				return fmt.Errorf("record metric %s v%d: %w", m.Name, m.Version, err)
			}
		}
		return nil
	})
	if err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("KPI registry: %w", err)
	}
	return res, nil
}

func versions(ctx context.Context, tx pgx.Tx, metric string) ([]recorded, error) {
	rows, err := tx.Query(ctx, `SELECT version, definition_hash FROM etl2elt.metric_versions WHERE metric = $1 ORDER BY version`, metric)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (recorded, error) {
		var v recorded
		err := r.Scan(&v.version, &v.hash)
		return v, err
	})
}

// check compares a plan metric with its recorded versions (ascending). It returns a
// conflict reason, or whether the version is new.
func check(m plan.Metric, hash string, history []recorded) (conflict string, isNew bool) {
	for _, h := range history {
		if h.version != m.Version {
			continue
		}
		if h.hash == hash {
			return "", false
		}
		return fmt.Sprintf("version %d: definition changed without a version bump (registry %.12s, plan %.12s): bump version to %d and give change_reason",
			m.Version, h.hash, hash, history[len(history)-1].version+1), false
	}
	if n := len(history); n > 0 {
		latest := history[n-1]
		if m.Version < latest.version {
			return fmt.Sprintf("version %d is older than the recorded version %d and was never recorded", m.Version, latest.version), false
		}
		if latest.hash == hash {
			return fmt.Sprintf("version %d has the same definition as recorded version %d: a bump needs a changed definition", m.Version, latest.version), false
		}
	}
	return "", true
}
