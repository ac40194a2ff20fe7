-- Compact lineage: one row per committed load of an object into a raw table. The rows
-- the load landed carry its id in _etl_load; the object key, ETag, load id, workflow
-- and load time are stored here once instead of on every row (on PostgreSQL the text
-- lineage cost about a third of the load's speed, docs/BENCHMARKS.md). Rows of a load
-- are found with the raw table's BRIN index on _etl_load. A reload of an object adds a
-- row and deletes the previous loads' rows (rows_removed_at says when); the history
-- stays, and only loads whose rows are still there are looked up.

-- +goose Up
CREATE TABLE etl2elt.object_loads (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text        NOT NULL,
    target      text        NOT NULL,
    object_key  text        NOT NULL,
    etag        text        NOT NULL,
    load_id     text        NOT NULL,
    workflow_id text,
    loaded_at   timestamptz NOT NULL,
    -- set when the load's rows were deleted (reload, re-delivery, backfill of its day)
    rows_removed_at timestamptz
);
CREATE INDEX object_loads_live ON etl2elt.object_loads (target, object_key text_pattern_ops) WHERE rows_removed_at IS NULL;

-- +goose Down
DROP TABLE etl2elt.object_loads;
