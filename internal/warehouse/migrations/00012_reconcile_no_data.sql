-- A reconciliation of a window with no rows on either side compared nothing: its
-- status is no-data, never pass.

-- +goose Up
ALTER TABLE etl2elt.reconcile_runs DROP CONSTRAINT reconcile_runs_status_check;
ALTER TABLE etl2elt.reconcile_runs ADD CONSTRAINT reconcile_runs_status_check CHECK (status IN ('pass', 'fail', 'no-data'));

-- +goose Down
UPDATE etl2elt.reconcile_runs SET status = 'fail' WHERE status = 'no-data';
ALTER TABLE etl2elt.reconcile_runs DROP CONSTRAINT reconcile_runs_status_check;
ALTER TABLE etl2elt.reconcile_runs ADD CONSTRAINT reconcile_runs_status_check CHECK (status IN ('pass', 'fail'));
