#!/usr/bin/env bash
# Starts the local services on 127.0.0.1, no Docker: PostgreSQL (warehouse + legacy
# databases), the Temporal dev server (with the project's search attributes, UI) and an
# S3-compatible server (versitygw) with the landing bucket. Idempotent: a service that is
# already up (by the PID this script recorded) is left alone. `scripts/dev-down.sh` stops
# them all by those PIDs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$RUN_DIR" "$LOG_DIR"
chmod 0755 "$STATE_DIR"

# --- tools --------------------------------------------------------------------------
if ! command -v curl >/dev/null; then
	log "curl missing: installing it with apt-get"
	if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq curl >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq curl >/dev/null; fi ||
		die "could not install curl (apt-get)"
fi
bash "$ROOT/scripts/tools.sh" temporal versitygw

# --- PostgreSQL -----------------------------------------------------------------------
ensure_pg_binaries() {
	if ! pg_bin >/dev/null; then
		log "PostgreSQL server binaries missing: installing postgresql-15 with apt-get"
		# Debian 12 ships PostgreSQL 15; "postgresql" is the distribution's default version.
		local pkg="${ETL2ELT_PG_PACKAGE:-postgresql-15}"
		if [[ $(id -u) -eq 0 ]]; then
			apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
		else
			sudo apt-get update -qq && { sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
				sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
		fi || die "could not install PostgreSQL server binaries ($pkg or postgresql) with apt-get"
	fi
	pg_bin >/dev/null || die "no initdb under /usr/lib/postgresql/*/bin after install"
}

# as_pg CMD...: PostgreSQL refuses to run as root, so root runs it as the postgres user.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		(cd "$PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

start_postgres() {
	ensure_pg_binaries
	local bin
	bin="$(pg_bin)"
	PG_DIR="$STATE_DIR/pg"
	local data="$PG_DIR/data"
	mkdir -p "$PG_DIR/socket"
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || die "user postgres is missing (it comes with the postgresql-common package)"
		chown -R postgres: "$PG_DIR"
	fi
	if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		log "PostgreSQL already running on port $PG_PORT"
		return 0
	fi
	if port_open "$PG_PORT"; then
		die "port $PG_PORT is in use by another process; set ETL2ELT_PG_PORT to a free port"
	fi
	if [[ ! -f "$data/PG_VERSION" ]]; then
		log "initialising a PostgreSQL cluster in $data"
		as_pg "$bin/initdb" -D "$data" -U "$PG_USER" --auth=trust -E UTF8 --no-locale --no-sync >"$LOG_DIR/initdb.log" 2>&1 ||
			die "initdb failed: see $LOG_DIR/initdb.log"
	fi
	local opts="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/socket -c max_connections=200"
	if [[ "${ETL2ELT_PG_FAST:-1}" == 1 ]]; then
		# Throwaway local cluster: durability off for speed (never in production).
		opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	fi
	as_pg "$bin/pg_ctl" -D "$data" -l "$PG_DIR/postgres.log" -o "$opts" -w -t 60 start >/dev/null ||
		die "PostgreSQL did not start: see $PG_DIR/postgres.log"
	head -1 "$data/postmaster.pid" >"$RUN_DIR/postgres.pid"
	log "PostgreSQL is ready on 127.0.0.1:$PG_PORT"
}

ensure_database() {
	local db="$1" bin
	bin="$(pg_bin)"
	local exists
	exists="$("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -Atqc "select 1 from pg_database where datname = '$db'")"
	if [[ "$exists" != 1 ]]; then
		"$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$db" || die "createdb $db failed"
		log "created database $db"
	fi
}

# --- Temporal dev server ------------------------------------------------------------
start_temporal() {
	local pidf="$RUN_DIR/temporal.pid"
	if pid_alive "$pidf" temporal; then
		log "Temporal dev server already running (pid $(cat "$pidf"))"
		return 0
	fi
	local port var
	for var in TEMPORAL_PORT TEMPORAL_UI_PORT TEMPORAL_HTTP_PORT TEMPORAL_METRICS_PORT; do
		port="${!var}"
		if port_open "$port"; then
			die "port $port is in use by another process; set ETL2ELT_$var to a free port"
		fi
	done
	local sa=() a
	for a in "${SEARCH_ATTRIBUTES[@]}"; do sa+=(--search-attribute "$a"); done
	setsid "$TOOLS_BIN/temporal" server start-dev \
		--ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
		--http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" \
		--db-filename "$STATE_DIR/temporal.db" --log-level warn "${sa[@]}" \
		--dynamic-config-value system.enableActivityEagerExecution=true \
		>"$LOG_DIR/temporal.log" 2>&1 </dev/null &
	echo $! >"$pidf"
	wait_for "Temporal dev server on 127.0.0.1:$TEMPORAL_PORT (UI http://127.0.0.1:$TEMPORAL_UI_PORT)" 60 \
		"$TOOLS_BIN/temporal" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" ||
		die "Temporal dev server did not become healthy: see $LOG_DIR/temporal.log"
}

# --- S3-compatible server -----------------------------------------------------------
# Signed requests with an empty body (the header carries the SHA-256 of ""). The
# credentials go to curl on stdin (-K -), not on its command line (visible in ps).
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3_curl() {
	printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
		curl -sS -K - -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
			-H "x-amz-content-sha256: $EMPTY_SHA256" "$@"
}

start_s3() {
	local pidf="$RUN_DIR/versitygw.pid"
	if pid_alive "$pidf" versitygw; then
		log "S3-compatible server already running (pid $(cat "$pidf"))"
	else
		if port_open "$S3_PORT"; then
			die "port $S3_PORT is in use by another process; set ETL2ELT_S3_PORT to a free port"
		fi
		mkdir -p "$STATE_DIR/s3"
		# The root credentials go by environment (versitygw reads ROOT_ACCESS_KEY_ID and
		# ROOT_SECRET_ACCESS_KEY), not argv: a command line is visible to anyone in ps.
		ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
			setsid "$TOOLS_BIN/versitygw" --port "127.0.0.1:$S3_PORT" \
			--quiet posix "$STATE_DIR/s3" >"$LOG_DIR/versitygw.log" 2>&1 </dev/null &
		echo $! >"$pidf"
		# Unauthenticated requests get 403, so readiness is a TCP connect.
		wait_for "S3-compatible server on 127.0.0.1:$S3_PORT" 30 port_open "$S3_PORT" ||
			die "versitygw did not start: see $LOG_DIR/versitygw.log"
	fi
	local code
	code="$(s3_curl -I "http://127.0.0.1:$S3_PORT/$S3_BUCKET")" || true
	if [[ "$code" != 200 ]]; then
		code="$(s3_curl -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET")" || true
		[[ "$code" == 200 ]] || die "could not create bucket $S3_BUCKET (HTTP $code): see $LOG_DIR/versitygw.log"
		log "created bucket $S3_BUCKET"
	fi
}

start_postgres
ensure_database "$PG_WAREHOUSE_DB"
ensure_database "$PG_LEGACY_DB"
start_temporal
start_s3
log "services are up; state in $STATE_DIR (make dev-down stops them)"
