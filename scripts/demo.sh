#!/usr/bin/env bash
# `make demo`: starts the local services, builds and starts the worker, seeds the demo
# data (a week of orders in S3, the legacy ETL's output in the legacy DB), runs the
# demo pipeline end to end and prints where to look.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/dev-up.sh
export_env

log "building the worker and the starter"
mkdir -p bin
go build -o bin/ ./worker ./starter

./bin/starter init
./bin/starter validate examples/demo/plan.yaml
./bin/starter demo seed --from 2026-01-01 --to 2026-01-08

# (Re)start the worker so that it runs the code just built.
pidf="$RUN_DIR/worker.pid"
if pid_alive "$pidf" worker; then
	log "restarting the worker (pid $(cat "$pidf"))"
	kill -TERM "$(cat "$pidf")"
	# The worker gives running activities up to ETL2ELT_SHUTDOWN_TIMEOUT (30 s).
	for _ in $(seq 1 200); do pid_alive "$pidf" worker || break; sleep 0.2; done
	pid_alive "$pidf" worker && kill -KILL "$(cat "$pidf")"
fi
if port_open "$WORKER_METRICS_PORT"; then
	die "port $WORKER_METRICS_PORT (worker metrics) is in use; set ETL2ELT_WORKER_METRICS_PORT"
fi
setsid ./bin/worker >"$LOG_DIR/worker.log" 2>&1 </dev/null &
echo $! >"$pidf"
wait_for "worker (metrics on $ETL2ELT_METRICS_ADDR)" 30 curl -sf "http://$ETL2ELT_METRICS_ADDR/metrics" ||
	die "the worker did not start: see $LOG_DIR/worker.log"

set +e
./bin/starter run --plan demo/plan.yaml --domain finance --from 2026-01-01 --to 2026-01-08 --wait
rc=$?
set -e

PSQL="psql postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_WAREHOUSE_DB"
cat <<MSG

Where to look
  Temporal Web UI     $ETL2ELT_TEMPORAL_UI/namespaces/default/workflows  (filter: Etl2eltDomain = "finance")
  control schema      $PSQL -c 'table etl2elt.reconcile_runs'
                      $PSQL -c 'table etl2elt.reconcile_results'
                      $PSQL -c 'table etl2elt.loads'   (load ledger)
                      $PSQL -c 'table etl2elt.quarantine'   (the malformed row, kept)
  ELT output          $PSQL -c 'table marts.fct_daily_revenue'
  report              the s3:// locations printed above (reconciliation.html opens in any browser)
  worker metrics      http://$ETL2ELT_METRICS_ADDR/metrics
  worker log          $LOG_DIR/worker.log
  landed objects      s3://$S3_BUCKET/landing/orders/ on $AWS_ENDPOINT_URL_S3

Run it again: objects already landed are skipped (same ETag), results are identical.
Stop everything: make dev-down
MSG
exit $rc
