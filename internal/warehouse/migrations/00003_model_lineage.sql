-- Incremental model windows and lineage: which landed objects fed which model run.

-- +goose Up
ALTER TABLE etl2elt.model_runs ADD COLUMN window_from timestamptz;
ALTER TABLE etl2elt.model_runs ADD COLUMN window_to timestamptz;
ALTER TABLE etl2elt.model_runs ADD COLUMN rows_deleted bigint;

CREATE TABLE etl2elt.model_run_inputs (
    model_run_id bigint NOT NULL REFERENCES etl2elt.model_runs (id) ON DELETE CASCADE,
    source       text   NOT NULL,
    load_id      text   NOT NULL,
    object_key   text   NOT NULL,
    PRIMARY KEY (model_run_id, source, object_key)
);

-- +goose Down
DROP TABLE etl2elt.model_run_inputs;
ALTER TABLE etl2elt.model_runs DROP COLUMN rows_deleted;
ALTER TABLE etl2elt.model_runs DROP COLUMN window_to;
ALTER TABLE etl2elt.model_runs DROP COLUMN window_from;
