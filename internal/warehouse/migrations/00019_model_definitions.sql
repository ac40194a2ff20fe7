-- Change tracking: every model run and every backfill chunk of a model records the
-- model's definition (model.Definition: the hash of its normalised SQL and its
-- materialisation settings) and its fingerprint, so that the periods built by logic
-- that no longer runs can be found (starter models status).

-- +goose Up
ALTER TABLE etl2elt.model_runs
    ADD COLUMN definition_hash text,
    ADD COLUMN definition      jsonb;
ALTER TABLE etl2elt.backfill_chunks
    ADD COLUMN definition_hash text,
    ADD COLUMN definition      jsonb;

-- +goose Down
ALTER TABLE etl2elt.backfill_chunks DROP COLUMN definition, DROP COLUMN definition_hash;
ALTER TABLE etl2elt.model_runs DROP COLUMN definition, DROP COLUMN definition_hash;
