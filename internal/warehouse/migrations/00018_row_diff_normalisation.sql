-- Row diffs count the rows that differ only before the plan's normalisation (trim,
-- case, NULL equals empty): found by a second pass, bounded by its own row limit.

-- +goose Up
ALTER TABLE etl2elt.row_diffs
    ADD COLUMN normalisation_only         bigint  NOT NULL DEFAULT 0,
    ADD COLUMN normalisation_only_bounded boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE etl2elt.row_diffs
    DROP COLUMN normalisation_only,
    DROP COLUMN normalisation_only_bounded;
