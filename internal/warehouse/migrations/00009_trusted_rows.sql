-- Trusted rows stay trusted. A trusted row is a row of an ELT target (an incremental
-- model) whose event time is before its domain's backfill.trusted_until: signed-off
-- history. Model runs and backfill chunks never delete or rewrite such rows unless an
-- override was recorded (who, why) for the run; late events dated inside the trusted
-- period are held here instead of changing a signed-off day. The guard below makes a
-- bypass impossible even for SQL written later: a DELETE, UPDATE or TRUNCATE that would
-- remove trusted rows of a guarded table fails (SQLSTATE 23514) unless the transaction
-- set etl2elt.trusted_override.

-- +goose Up
CREATE TABLE etl2elt.trusted_periods (
    relation      text        NOT NULL PRIMARY KEY,
    event_time    text        NOT NULL,
    trusted_until timestamptz NOT NULL,
    domain        text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE etl2elt.held_rows (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relation    text        NOT NULL,
    event_time  timestamptz,
    reason      text        NOT NULL,
    row_data    jsonb       NOT NULL,
    run_id      text,
    workflow_id text,
    held_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX held_rows_relation ON etl2elt.held_rows (relation, held_at);

-- +goose StatementBegin
CREATE FUNCTION etl2elt.guard_trusted_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    until timestamptz;
    n bigint;
    first_at text;
BEGIN
    IF coalesce(current_setting('etl2elt.trusted_override', true), '') <> '' THEN
        RETURN NULL;
    END IF;
    SELECT trusted_until INTO until FROM etl2elt.trusted_periods
    WHERE relation = TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
    IF until IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('SELECT count(*), min(%1$I)::text FROM %2$I.%3$I WHERE %1$I < $1', TG_ARGV[0], TG_TABLE_SCHEMA, TG_TABLE_NAME)
            INTO n, first_at USING until;
    ELSE
        EXECUTE format('SELECT count(*), min(%1$I)::text FROM old_rows WHERE %1$I < $1', TG_ARGV[0])
            INTO n, first_at USING until;
    END IF;
    IF n > 0 THEN
        RAISE EXCEPTION 'trusted rows: % % of %.% would remove % row(s) dated before the trusted-until % (first %) without a recorded override',
            TG_OP, 'statement', TG_TABLE_SCHEMA, TG_TABLE_NAME, n, until, first_at
            USING ERRCODE = 'check_violation',
                  HINT = 'pass override_trusted {by, reason} to the backfill or migration (recorded as a decision)';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION etl2elt.guard_trusted_rows() CASCADE;
DROP TABLE etl2elt.held_rows;
DROP TABLE etl2elt.trusted_periods;
