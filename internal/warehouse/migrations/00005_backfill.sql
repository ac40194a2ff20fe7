-- Backfills: the chunk ledger, per-target watermarks and the decision log.

-- +goose Up
-- One row per chunk: (target, window). Running a chunk again updates its row.
CREATE TABLE etl2elt.backfill_chunks (
    target       text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    status       text        NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
    rows         bigint,
    checksum     text,
    attempts     integer     NOT NULL DEFAULT 1,
    workflow_id  text        NOT NULL,
    error        text,
    duration_ms  bigint,
    cost         numeric,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    PRIMARY KEY (target, window_start, window_end)
);

-- The end of the contiguous run of done (or skipped) chunks of a target. It only moves
-- back by an explicit reset, recorded in decisions.
CREATE TABLE etl2elt.backfill_watermarks (
    target      text        NOT NULL PRIMARY KEY,
    watermark   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    workflow_id text
);

-- Every human decision: approvals, overrides, rollbacks, skips, retries, budget raises.
CREATE TABLE etl2elt.decisions (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL,
    domain      text,
    target      text,
    subject     text,
    decided_by  text        NOT NULL,
    reason      text        NOT NULL,
    evidence    jsonb,
    workflow_id text,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_kind ON etl2elt.decisions (kind, decided_at);

-- +goose Down
DROP TABLE etl2elt.decisions;
DROP TABLE etl2elt.backfill_watermarks;
DROP TABLE etl2elt.backfill_chunks;
