-- Quality checks: a retried run judges against the state before it (prev_status) and
-- decides its alerts again; an alert is one per run, check, target and new status.

-- +goose Up
ALTER TABLE etl2elt.check_state ADD COLUMN prev_status text;
ALTER TABLE etl2elt.alerts DROP CONSTRAINT alerts_run_id_check_name_target_key;
ALTER TABLE etl2elt.alerts ADD CONSTRAINT alerts_run_check_target_status_key UNIQUE (run_id, check_name, target, to_status);
CREATE INDEX alerts_undelivered ON etl2elt.alerts (plan_name, domain, created_at) WHERE delivery IN ('pending', 'failed');

-- +goose Down
DROP INDEX etl2elt.alerts_undelivered;
ALTER TABLE etl2elt.alerts DROP CONSTRAINT alerts_run_check_target_status_key;
ALTER TABLE etl2elt.alerts ADD CONSTRAINT alerts_run_id_check_name_target_key UNIQUE (run_id, check_name, target);
ALTER TABLE etl2elt.check_state DROP COLUMN prev_status;
