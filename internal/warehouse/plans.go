package warehouse

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/plan"
)

// RecordPlan stores a plan version (idempotent: a known hash only moves last_seen_at).
func RecordPlan(ctx context.Context, pool *pgxpool.Pool, s *plan.Snapshot) error {
	content, err := json.Marshal(s.Plan)
	if err != nil {
		return fmt.Errorf("record plan: %w", err)
	}
	_, err = pool.Exec(ctx, `
INSERT INTO etl2elt.plan_versions (plan_name, plan_hash, plan_ref, content)
VALUES ($1, $2, $3, $4)
ON CONFLICT (plan_name, plan_hash) DO UPDATE SET last_seen_at = now(), plan_ref = EXCLUDED.plan_ref`,
		s.Plan.Name, s.Hash, s.Ref, content)
	if err != nil {
		return fmt.Errorf("record plan %s: %w", s.Plan.Name, err)
	}
	return nil
}
