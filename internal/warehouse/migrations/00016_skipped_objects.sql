-- An operator may skip a landing object that cannot be landed: its ledger row is kept
-- (with the reason it failed, and its quarantine rows), marked skipped; runs leave it
-- alone until it changes (a new ETag) or someone retries it. Who and why are in
-- etl2elt.decisions.

-- +goose Up
ALTER TABLE etl2elt.loads DROP CONSTRAINT loads_status_check;
ALTER TABLE etl2elt.loads ADD CONSTRAINT loads_status_check CHECK (status IN ('loaded', 'failed', 'skipped'));

-- +goose Down
UPDATE etl2elt.loads SET status = 'failed' WHERE status = 'skipped';
ALTER TABLE etl2elt.loads DROP CONSTRAINT loads_status_check;
ALTER TABLE etl2elt.loads ADD CONSTRAINT loads_status_check CHECK (status IN ('loaded', 'failed'));
