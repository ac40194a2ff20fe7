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
# The last 16 days and today: the migration's cycles reconcile the 7-day window ending
# today (the plan's missing-days check wants every day of it, and its row-count check
# compares it with the 8 days before). A defect is planted before that window: 3 orders
# of the first day delivered again a day late (duplicate keys across objects, out of
# order); the first pipeline run's quality checks name it.
FROM="$(date -u -d '16 days ago' +%F)"
TO="$(date -u -d 'tomorrow' +%F)"
./bin/starter demo seed --from "$FROM" --to "$TO" --late-duplicates 3
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

# A rehearsal of the migration of domain finance: cycles every 5 s, on a copy of the
# plan whose switching criteria are scaled for a rehearsal (3 cycles instead of 24 hourly
# ones) and whose parallel_run budget is 10 USD instead of 400: every cycle's work is
# metered into the cost ledger and one legacy run costs 4.20, so the budget holds the
# migration after two cycles until dana raises it (recorded). The quality checks, the
# freshness SLA and the budget are part of the criteria: the domain reaches
# awaiting-approval on evidence, and both approvers approve without an override.
REHEARSAL="$ETL2ELT_PLAN_DIR/demo/rehearsal.yaml"
sed -e 's/^      min_cycles: 24$/      min_cycles: 3/' -e 's/^      consecutive_passing_cycles: 12$/      consecutive_passing_cycles: 3/' \
	-e 's/^      parallel_run: 400$/      parallel_run: 10/' \
	"$ETL2ELT_PLAN_DIR/demo/plan.yaml" >"$REHEARSAL"
grep -q 'min_cycles: 3$' "$REHEARSAL" && grep -q 'parallel_run: 10$' "$REHEARSAL" ||
	die "could not scale the demo plan's criteria for the rehearsal ($REHEARSAL)"
M=acme/finance
command -v psql >/dev/null || PATH="$(pg_bin):$PATH"
log "migration rehearsal: $M (plan demo/rehearsal.yaml)"
if ./bin/starter migration status "$M" >/dev/null 2>&1; then
	# A migration left by an earlier demo: end it (views are rolled back below if needed).
	./bin/starter migration abort "$M" --by dana --reason "make demo starts a new rehearsal" >/dev/null 2>&1 || true
	# An abort cancels a running cycle first: wait until the workflow has ended.
	for _ in $(seq 1 60); do
		./bin/starter migration list 2>/dev/null | grep -q "^migration/acme/finance " || break
		sleep 1
	done
fi
./bin/starter migrate --plan demo/rehearsal.yaml --domain finance --cadence 5s --skip-backfill --watch-cycles 100 --end-after-rollback
./bin/starter migration status "$M" --wait budget-exceeded --timeout 3m
log "the Web UI lists it with: Etl2eltNeedsAction = \"budget\""
./bin/starter migration raise-budget "$M" --by dana --budget parallel_run --amount 40 --reason "rehearsal: one more week of dual running agreed with finance"
./bin/starter migration status "$M" --wait awaiting-approval --timeout 3m
log "the Web UI lists it with: Etl2eltPhase = \"awaiting-approval\""
./bin/starter migration list --phase awaiting-approval
./bin/starter migration approve "$M" --approver dana --comment "3 cycles reconcile exactly, quality checks pass, orders fresh"
./bin/starter migration approve "$M" --approver lee --comment "board pack numbers match"
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
                      $PSQL -c 'select check_name, status, value, detail from etl2elt.check_results order by id desc limit 20'
                      $PSQL -c 'table etl2elt.reconcile_results'
                      $PSQL -c 'table etl2elt.loads'   (load ledger)
                      $PSQL -c 'table etl2elt.quarantine'   (the malformed row, kept)
                      $PSQL -c 'select decided_at, kind, decided_by, reason from etl2elt.decisions order by id'
  migration           bin/starter migration status acme/finance   (docs/OPERATIONS.md: approve, rollback...)
  ELT output          $PSQL -c 'table marts.fct_daily_revenue'
  report              the s3:// locations printed above (reconciliation.html opens in any browser)
  executive report    bin/starter report --plan demo/rehearsal.yaml --domain finance --out executive.html
                      (verdict, variance across cycles, quality, cost against budget, decisions, KPIs; docs/REPORTS.md)
  cost ledger         $PSQL -c 'select phase, kind, count(*), sum(cost) from etl2elt.cost_usage group by 1, 2 order by 1, 2'   (docs/COST.md)
  worker metrics      http://$ETL2ELT_METRICS_ADDR/metrics
  worker log          $LOG_DIR/worker.log
  landed objects      s3://$S3_BUCKET/landing/orders/ on $AWS_ENDPOINT_URL_S3

Run it again: objects already landed are skipped (same ETag), results are identical.
Stop everything: make dev-down
MSG
exit $rc
