-- The cost ledger (what every activity attempt used, priced with the plan's rates) and
-- the migration cycles (each parallel-run or watch cycle's evidence and the criteria
-- after it): the executive report and the budgets read both.

-- +goose Up
CREATE TABLE etl2elt.cost_usage (
    id                bigserial PRIMARY KEY,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    plan_name         text        NOT NULL,
    domain            text        NOT NULL DEFAULT '',
    -- backfill, parallel-run, watch, scheduled (a pipeline run outside a migration), manual
    phase             text        NOT NULL,
    -- backfill, load, models, reconciliation, quality, legacy-run, control
    kind              text        NOT NULL,
    workflow_id       text        NOT NULL,
    run_id            text        NOT NULL,
    activity          text        NOT NULL,
    activity_id       text        NOT NULL,
    attempt           integer     NOT NULL,
    statements        bigint      NOT NULL DEFAULT 0,
    statement_seconds double precision NOT NULL DEFAULT 0,
    rows_read         bigint      NOT NULL DEFAULT 0,
    rows_written      bigint      NOT NULL DEFAULT 0,
    s3_requests       bigint      NOT NULL DEFAULT 0,
    s3_bytes_read     bigint      NOT NULL DEFAULT 0,
    s3_bytes_written  bigint      NOT NULL DEFAULT 0,
    cost              numeric     NOT NULL DEFAULT 0,
    currency          text,
    -- An attempt is recorded once: a retried recording does not count twice.
    UNIQUE (workflow_id, run_id, activity_id, attempt)
);
CREATE INDEX cost_usage_domain ON etl2elt.cost_usage (plan_name, domain, phase, kind);

CREATE TABLE etl2elt.migration_cycles (
    plan_name         text        NOT NULL,
    domain            text        NOT NULL,
    -- The migration's workflow id and the first run of its chain (continue-as-new
    -- keeps it; a new migration of the same domain has another).
    migration_id      text        NOT NULL,
    migration_run     text        NOT NULL,
    cycle             integer     NOT NULL,
    phase             text        NOT NULL,
    cycle_workflow_id text        NOT NULL,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL DEFAULT now(),
    window_text       text,
    status            text        NOT NULL,
    breaches          integer     NOT NULL DEFAULT 0,
    no_data           boolean     NOT NULL DEFAULT false,
    quality_failures  integer,
    freshness_held    boolean,
    within_budget     boolean,
    report_html       text,
    report_markdown   text,
    -- The switching criteria evaluated after the cycle (criteria.Result).
    criteria          jsonb,
    -- Spend to date after the cycle, per budget (cost.Spend).
    spend             jsonb,
    PRIMARY KEY (migration_id, migration_run, cycle)
);
CREATE INDEX migration_cycles_domain ON etl2elt.migration_cycles (plan_name, domain, finished_at);

-- +goose Down
DROP TABLE etl2elt.migration_cycles;
DROP TABLE etl2elt.cost_usage;
