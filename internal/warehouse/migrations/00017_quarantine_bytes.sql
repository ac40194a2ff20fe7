-- Quarantined records keep their original bytes, and a record longer than the source's
-- max_line_bytes is kept by reference: where it is in its object (the object's content,
-- decompressed), and how long, with the first KiB as raw_record. raw_record becomes a
-- readable preview (at most 1 KiB of valid UTF-8, "…" when cut); raw_bytes is the
-- record as the object holds it (NULL when kept by reference; on Redshift, the raw
-- line its load-error table keeps, at most 1,024 bytes). The reason in error no longer
-- quotes values.
--
-- Loads record the undeclared columns an object carried (schema drift).

-- +goose Up
ALTER TABLE etl2elt.quarantine
    ADD COLUMN raw_bytes    bytea,
    ADD COLUMN byte_offset  bigint,
    ADD COLUMN byte_length  bigint,
    ADD COLUMN by_reference boolean NOT NULL DEFAULT false;
ALTER TABLE etl2elt.loads ADD COLUMN extra_columns text[];

-- +goose Down
ALTER TABLE etl2elt.loads DROP COLUMN extra_columns;
ALTER TABLE etl2elt.quarantine
    DROP COLUMN raw_bytes,
    DROP COLUMN byte_offset,
    DROP COLUMN byte_length,
    DROP COLUMN by_reference;
