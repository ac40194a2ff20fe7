-- Primary keys at load time (internal/ingest/keys.go): each load of a source with a
-- primary key counts the distinct keys of its object held more than once (in the
-- object, or by live rows of the source's other objects) and their surplus rows, and
-- under keep_last how many live rows of other objects it replaced. Rows quarantined
-- for an empty key or as duplicates are in rows_quarantined, with reasons in
-- etl2elt.quarantine.

-- +goose Up
ALTER TABLE etl2elt.loads
    ADD COLUMN duplicate_keys bigint NOT NULL DEFAULT 0,
    ADD COLUMN duplicate_rows bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_replaced  bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE etl2elt.loads
    DROP COLUMN duplicate_keys,
    DROP COLUMN duplicate_rows,
    DROP COLUMN rows_replaced;
