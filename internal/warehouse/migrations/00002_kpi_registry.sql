-- The KPI registry: every version of every metric the plans declared, with the hash of
-- its definition. A definition that changes without a version bump is refused; a bump
-- is recorded with who, why, and the previous version's hash.

-- +goose Up
CREATE TABLE etl2elt.metric_versions (
    metric          text        NOT NULL,
    version         integer     NOT NULL,
    definition_hash text        NOT NULL,
    definition      jsonb       NOT NULL,
    owner           text        NOT NULL,
    previous_hash   text,
    changed_by      text,
    change_reason   text,
    plan_name       text        NOT NULL,
    plan_hash       text        NOT NULL,
    recorded_by     text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (metric, version)
);

-- +goose Down
DROP TABLE etl2elt.metric_versions;
