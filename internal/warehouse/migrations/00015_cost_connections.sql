-- Statement time on connections other than the plan's warehouse (the legacy database,
-- a control database elsewhere) is recorded, not priced as warehouse time; a cycle row
-- says when its migration started (spend is counted from then) and carries the
-- migration's cost status after it (limits with raises, per-cycle rate, projection).

-- +goose Up
ALTER TABLE etl2elt.cost_usage ADD COLUMN other_statement_seconds double precision NOT NULL DEFAULT 0;
ALTER TABLE etl2elt.migration_cycles ADD COLUMN migration_started_at timestamptz;
ALTER TABLE etl2elt.migration_cycles ADD COLUMN cost_status jsonb;

-- +goose Down
ALTER TABLE etl2elt.migration_cycles DROP COLUMN cost_status;
ALTER TABLE etl2elt.migration_cycles DROP COLUMN migration_started_at;
ALTER TABLE etl2elt.cost_usage DROP COLUMN other_statement_seconds;
