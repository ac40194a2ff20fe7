#!/usr/bin/env bash
# Stops every process the project's scripts started (by the PIDs they recorded): the
# demo worker, the S3-compatible server, the Temporal dev server and PostgreSQL. Data
# stays in the state directory; `make dev-clean` removes it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() { # name pidfile [command-line match]
	local name="$1" f="$2" match="${3:-}"
	if ! pid_alive "$f" "$match"; then
		rm -f "$f"
		return 0
	fi
	local pid
	pid="$(cat "$f")"
	kill -TERM "$pid" 2>/dev/null || true
	local i
	for i in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) did not stop on SIGTERM in 40 s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
	log "stopped $name"
}

stop_pid worker "$RUN_DIR/worker.pid" worker
stop_pid versitygw "$RUN_DIR/versitygw.pid" versitygw
stop_pid "Temporal dev server" "$RUN_DIR/temporal.pid" temporal

PG_DIR="$STATE_DIR/pg"
pg_stopped=0
if [[ -f "$PG_DIR/data/postmaster.pid" ]] && bin="$(pg_bin)"; then
	if [[ $(id -u) -eq 0 ]]; then
		(cd "$PG_DIR" && runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null) && pg_stopped=1
	else
		(cd "$PG_DIR" && "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null) && pg_stopped=1
	fi
fi
if ((pg_stopped)); then
	rm -f "$RUN_DIR/postgres.pid"
	log "stopped PostgreSQL"
else
	stop_pid PostgreSQL "$RUN_DIR/postgres.pid"
fi
