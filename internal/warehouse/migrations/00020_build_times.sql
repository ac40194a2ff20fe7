-- Change tracking: when a backfill chunk's rows were last built (set only when the
-- chunk is done: a later failure or skip leaves its rows, and this time, as they were;
-- finished_at moves with every attempt).

-- +goose Up
ALTER TABLE etl2elt.backfill_chunks ADD COLUMN built_at timestamptz;
UPDATE etl2elt.backfill_chunks SET built_at = finished_at WHERE status = 'done' AND definition IS NOT NULL;

-- +goose Down
ALTER TABLE etl2elt.backfill_chunks DROP COLUMN built_at;
