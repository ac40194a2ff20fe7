-- Row-level diffs by key (ReconcileWorkflow with row_diff): one row per reconciliation
-- run of an output pair, beside its aggregate checks in reconcile_runs.

-- +goose Up
CREATE TABLE etl2elt.row_diffs (
    run_id            text        PRIMARY KEY REFERENCES etl2elt.reconcile_runs (run_id) ON DELETE CASCADE,
    missing_in_legacy bigint      NOT NULL,
    missing_in_elt    bigint      NOT NULL,
    mismatched        bigint      NOT NULL,
    within_tolerance  bigint      NOT NULL,
    duplicate_keys    bigint      NOT NULL,
    -- bounded: the diff stopped at max rows fetched or max seconds; counts are lower bounds.
    bounded           boolean     NOT NULL,
    bound_reason      text,
    unexamined_rows   bigint      NOT NULL DEFAULT 0,
    rows_fetched      bigint      NOT NULL,
    bytes_fetched     bigint      NOT NULL,
    queries           integer     NOT NULL,
    -- At most sample_size differing keys with the differing columns and both values.
    sample            jsonb       NOT NULL,
    finished_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE etl2elt.row_diffs;
