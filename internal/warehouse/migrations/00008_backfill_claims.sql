-- One execution per target and window: a running backfill claims [window_start,
-- window_end) of its target; another backfill whose range overlaps it is refused with
-- the holder's workflow id, whatever its own id. A claim is released when its
-- backfill ends; one left by a backfill that was terminated is taken over once
-- Temporal says the holder no longer runs.

-- +goose Up
CREATE TABLE etl2elt.backfill_claims (
    target       text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    workflow_id  text        NOT NULL,
    run_id       text        NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, workflow_id),
    CHECK (window_start < window_end)
);

-- +goose Down
DROP TABLE etl2elt.backfill_claims;
