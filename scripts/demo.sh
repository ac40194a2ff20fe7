#!/usr/bin/env bash
# `make demo`: starts the local services, builds and starts the worker, seeds the demo
# data (the last week of orders in S3, the legacy ETL's output in the legacy DB), runs
# the demo pipeline, then a rehearsal of the domain's migration (parallel-run cycles every
# few seconds, two approvals, the cutover, a rollback), and prints where to look.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/dev-up.sh
export_env

log "building the worker and the starter"
mkdir -p bin
go build -o bin/ ./worker ./starter

./bin/starter init
./bin/starter validate examples/demo/plan.yaml
# The last seven days: the migration's cycles reconcile a window ending today.
FROM="$(date -u -d '7 days ago' +%F)"
TO="$(date -u +%F)"
./bin/starter demo seed --from "$FROM" --to "$TO"
# The warehouse reads the legacy output through postgres_fdw (the consumption view
# points at it until the cutover).
./bin/starter demo link-legacy

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
./bin/starter run --plan demo/plan.yaml --domain finance --from "$FROM" --to "$TO" --wait
rc=$?
set -e

# A rehearsal of the migration of domain finance: cycles every 5 s. The plan's switching
# criteria want 24 cycles and freshness / budget checks that do not exist yet, so both
# approvers approve with an override reason (recorded as such).
M=acme/finance
command -v psql >/dev/null || PATH="$(pg_bin):$PATH"
log "migration rehearsal: $M"
if ./bin/starter migration status "$M" >/dev/null 2>&1; then
	# A migration left by an earlier demo: end it (views are rolled back below if needed).
	./bin/starter migration abort "$M" --by demo --reason "make demo starts a new rehearsal" >/dev/null 2>&1 || true
	sleep 2
fi
./bin/starter migrate --plan demo/plan.yaml --domain finance --cadence 5s --skip-backfill --watch-cycles 100 --end-after-rollback
./bin/starter migration status "$M" --wait parallel-run --timeout 2m >/dev/null
./bin/starter migration approve "$M" --approver dana --override "demo rehearsal: criteria need 24 hourly cycles" --comment "reconciliation clean"
./bin/starter migration approve "$M" --approver lee --override "demo rehearsal"
./bin/starter migration status "$M" --wait watch --timeout 2m
log "dashboards now read ELT: reporting.daily_revenue → $(psql -Atq "postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_WAREHOUSE_DB" -c "SELECT pg_get_viewdef('reporting.daily_revenue')" | tr -s ' \n' ' ')"
sleep 6
./bin/starter migration rollback "$M" --by dana --reason "demo: roll back to show the way back"
./bin/starter migration status "$M" --wait rolled-back --timeout 2m
log "dashboards read legacy again: reporting.daily_revenue → $(psql -Atq "postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_WAREHOUSE_DB" -c "SELECT pg_get_viewdef('reporting.daily_revenue')" | tr -s ' \n' ' ')"

PSQL="psql postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_WAREHOUSE_DB"
cat <<MSG

Where to look
  Temporal Web UI     $ETL2ELT_TEMPORAL_UI/namespaces/default/workflows  (filter: Etl2eltDomain = "finance")
  control schema      $PSQL -c 'table etl2elt.reconcile_runs'
                      $PSQL -c 'table etl2elt.reconcile_results'
                      $PSQL -c 'table etl2elt.loads'   (load ledger)
                      $PSQL -c 'table etl2elt.quarantine'   (the malformed row, kept)
                      $PSQL -c 'select decided_at, kind, decided_by, reason from etl2elt.decisions order by id'
  migration           bin/starter migration status acme/finance   (docs/OPERATIONS.md: approve, rollback...)
  ELT output          $PSQL -c 'table marts.fct_daily_revenue'
  report              the s3:// locations printed above (reconciliation.html opens in any browser)
  worker metrics      http://$ETL2ELT_METRICS_ADDR/metrics
  worker log          $LOG_DIR/worker.log
  landed objects      s3://$S3_BUCKET/landing/orders/ on $AWS_ENDPOINT_URL_S3

Run it again: objects already landed are skipped (same ETag), results are identical.
Stop everything: make dev-down
MSG
exit $rc
