-- Watermarks of scheduled pipeline runs: where the next incremental run starts.

-- +goose Up
CREATE TABLE etl2elt.pipeline_watermarks (
    plan_name   text        NOT NULL,
    domain      text        NOT NULL,
    watermark   timestamptz NOT NULL,
    workflow_id text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, domain)
);

-- +goose Down
DROP TABLE etl2elt.pipeline_watermarks;
