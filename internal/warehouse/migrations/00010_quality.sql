-- Quality checks and freshness SLAs (internal/quality): every result of every run, the
-- current state of each check (for alerts on state changes only), and every alert with
-- its delivery.

-- +goose Up
CREATE TABLE etl2elt.check_results (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text        NOT NULL,
    plan_name   text        NOT NULL,
    domain      text        NOT NULL,
    check_name  text        NOT NULL,
    kind        text        NOT NULL,
    relation    text        NOT NULL,
    window_from timestamptz,
    window_to   timestamptz,
    value       double precision,
    warn        double precision,
    fail        double precision,
    status      text        NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'error')),
    no_data     boolean     NOT NULL DEFAULT false,
    blocks      boolean     NOT NULL DEFAULT false,
    rows_checked bigint,
    detail      text,
    examples    jsonb       NOT NULL DEFAULT '[]',
    error       text,
    workflow_id text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    UNIQUE (run_id, check_name)
);
CREATE INDEX check_results_history ON etl2elt.check_results (plan_name, domain, check_name, finished_at);

CREATE TABLE etl2elt.check_state (
    plan_name  text        NOT NULL,
    domain     text        NOT NULL,
    check_name text        NOT NULL,
    status     text        NOT NULL,
    since      timestamptz NOT NULL,
    run_id     text        NOT NULL,
    PRIMARY KEY (plan_name, domain, check_name)
);

CREATE TABLE etl2elt.alerts (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_name    text        NOT NULL,
    domain       text        NOT NULL,
    check_name   text        NOT NULL,
    target       text        NOT NULL,
    from_status  text        NOT NULL,
    to_status    text        NOT NULL,
    message      text        NOT NULL,
    run_id       text        NOT NULL,
    delivery     text        NOT NULL DEFAULT 'pending' CHECK (delivery IN ('pending', 'delivered', 'failed', 'logged')),
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (run_id, check_name, target)
);
CREATE INDEX alerts_pending ON etl2elt.alerts (delivery) WHERE delivery = 'pending';

-- +goose Down
DROP TABLE etl2elt.alerts;
DROP TABLE etl2elt.check_state;
DROP TABLE etl2elt.check_results;
