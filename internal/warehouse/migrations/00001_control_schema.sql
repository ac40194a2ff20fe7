-- The control schema: the migration's audit trail. Every table here is written by the
-- engines in internal/ and read by people, reports and later workflow steps.

-- +goose Up
CREATE TABLE etl2elt.plan_versions (
    plan_name     text        NOT NULL,
    plan_hash     text        NOT NULL,
    plan_ref      text        NOT NULL,
    content       jsonb       NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_name, plan_hash)
);

-- One row per landed object: the load ledger. A reload replaces the row.
CREATE TABLE etl2elt.loads (
    source           text        NOT NULL,
    object_key       text        NOT NULL,
    etag             text        NOT NULL,
    size_bytes       bigint      NOT NULL,
    target           text        NOT NULL,
    load_id          text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('loaded', 'failed')),
    rows_loaded      bigint      NOT NULL DEFAULT 0,
    rows_quarantined bigint      NOT NULL DEFAULT 0,
    error            text,
    workflow_id      text,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    PRIMARY KEY (source, object_key)
);

-- Rows that could not be parsed or converted: kept, never dropped.
CREATE TABLE etl2elt.quarantine (
    id             bigserial PRIMARY KEY,
    source         text        NOT NULL,
    object_key     text        NOT NULL,
    load_id        text        NOT NULL,
    line           bigint      NOT NULL,
    raw_record     text        NOT NULL,
    error          text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_object ON etl2elt.quarantine (source, object_key);

CREATE TABLE etl2elt.model_runs (
    id           bigserial PRIMARY KEY,
    run_id       text        NOT NULL,
    model        text        NOT NULL,
    relation     text        NOT NULL,
    materialized text        NOT NULL,
    sql_hash     text        NOT NULL,
    rows         bigint,
    status       text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    error        text,
    workflow_id  text,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL
);
CREATE INDEX model_runs_model ON etl2elt.model_runs (model, started_at);

-- One reconciliation of one output pair over one window.
CREATE TABLE etl2elt.reconcile_runs (
    run_id          text PRIMARY KEY,
    plan_name       text        NOT NULL,
    plan_hash       text        NOT NULL,
    domain          text        NOT NULL,
    output          text        NOT NULL,
    legacy_relation text        NOT NULL,
    elt_relation    text        NOT NULL,
    window_from     timestamptz NOT NULL,
    window_to       timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pass', 'fail')),
    checks          integer     NOT NULL,
    breaches        integer     NOT NULL,
    workflow_id     text,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL
);

-- segment is '' for totals; metric is row_count, sum or null_count.
CREATE TABLE etl2elt.reconcile_results (
    run_id              text NOT NULL REFERENCES etl2elt.reconcile_runs (run_id) ON DELETE CASCADE,
    segment             text NOT NULL DEFAULT '',
    measure             text NOT NULL,
    metric              text NOT NULL,
    legacy_value        numeric,
    elt_value           numeric,
    difference          numeric,
    relative_difference double precision,
    tolerance_absolute  double precision,
    tolerance_relative  double precision,
    status              text NOT NULL CHECK (status IN ('pass', 'fail')),
    PRIMARY KEY (run_id, segment, measure, metric)
);

-- +goose Down
DROP TABLE etl2elt.reconcile_results;
DROP TABLE etl2elt.reconcile_runs;
DROP TABLE etl2elt.model_runs;
DROP TABLE etl2elt.quarantine;
DROP TABLE etl2elt.loads;
DROP TABLE etl2elt.plan_versions;
