#!/usr/bin/env bash
# Shared settings for the project's scripts. Source it; do not run it.
# Every value can be overridden from the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# Pinned tool versions (see docs/DEVELOPMENT.md for why these).
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"
WORKFLOWCHECK_VERSION="${WORKFLOWCHECK_VERSION:-v0.6.0}"

TOOLS_DIR="${ETL2ELT_TOOLS_DIR:-$ROOT/.tools}"
TOOLS_BIN="$TOOLS_DIR/bin"

# Runtime state (PostgreSQL data, SQLite file of the dev server, S3 objects, PIDs, logs)
# lives under the system temp dir: the postgres user must be able to traverse every
# parent of its data directory, which a checkout under a 0700 home does not allow.
_repo_hash="$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
STATE_DIR="${ETL2ELT_STATE_DIR:-${TMPDIR:-/tmp}/etl2elt-$_repo_hash}"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/log"

PG_PORT="${ETL2ELT_PG_PORT:-15432}"
PG_USER="${ETL2ELT_PG_USER:-etl2elt}"
PG_WAREHOUSE_DB="${ETL2ELT_PG_WAREHOUSE_DB:-warehouse}"
PG_LEGACY_DB="${ETL2ELT_PG_LEGACY_DB:-legacy}"
TEMPORAL_PORT="${ETL2ELT_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${ETL2ELT_TEMPORAL_UI_PORT:-8233}"
TEMPORAL_HTTP_PORT="${ETL2ELT_TEMPORAL_HTTP_PORT:-7243}"
TEMPORAL_METRICS_PORT="${ETL2ELT_TEMPORAL_METRICS_PORT:-7244}"
S3_PORT="${ETL2ELT_S3_PORT:-7070}"
S3_ACCESS_KEY="${ETL2ELT_S3_ACCESS_KEY:-etl2eltlocal}"
S3_SECRET_KEY="${ETL2ELT_S3_SECRET_KEY:-etl2eltlocalsecret}"
S3_BUCKET="${ETL2ELT_S3_BUCKET:-etl2elt-landing}"
WORKER_METRICS_PORT="${ETL2ELT_WORKER_METRICS_PORT:-9464}"

# Custom search attributes the workflows upsert (also in docs/ARCHITECTURE.md and
# internal/searchattr).
SEARCH_ATTRIBUTES=(Etl2eltDomain=Keyword Etl2eltPhase=Keyword Etl2eltPlan=Keyword Etl2eltNeedsAction=Keyword)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# pid_alive FILE [NAME]: true when FILE names a live process (whose command line
# contains NAME, when given: a PID reused by another program does not count).
pid_alive() {
	local f="$1" name="${2:-}"
	[[ -s "$f" ]] || return 1
	local pid
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -n "$name" && -r "/proc/$pid/cmdline" ]]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" || return 1
	fi
}

# port_open PORT: true when something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
	local what="$1" secs="$2"
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
	log "$what is ready"
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
	done
	return 1
}

# ensure_chromium: installs Debian's chromium (headless browser checks of the HTML
# reports, integration/executive_report_test.go) when /usr/bin/chromium is missing.
# Non-interactive and quiet; as root or through sudo.
ensure_chromium() {
	[[ -x /usr/bin/chromium ]] && return 0
	log "chromium missing: installing it with apt-get (browser checks of the HTML reports)"
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
		die "could not install chromium with apt-get"
}

# Environment the worker, the starter and the tests read (printed by scripts/env.sh).
export_env() {
	export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}"
	export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
	export ETL2ELT_TEMPORAL_UI="${ETL2ELT_TEMPORAL_UI:-http://127.0.0.1:$TEMPORAL_UI_PORT}"
	export ETL2ELT_CONN_WAREHOUSE="${ETL2ELT_CONN_WAREHOUSE:-postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_WAREHOUSE_DB?sslmode=disable}"
	export ETL2ELT_CONN_LEGACY="${ETL2ELT_CONN_LEGACY:-postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_LEGACY_DB?sslmode=disable}"
	export ETL2ELT_TEST_PG_ADMIN_DSN="${ETL2ELT_TEST_PG_ADMIN_DSN:-postgres://$PG_USER@127.0.0.1:$PG_PORT/postgres?sslmode=disable}"
	export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-$S3_ACCESS_KEY}"
	export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-$S3_SECRET_KEY}"
	export AWS_REGION="${AWS_REGION:-us-east-1}"
	export AWS_ENDPOINT_URL_S3="${AWS_ENDPOINT_URL_S3:-http://127.0.0.1:$S3_PORT}"
	export ETL2ELT_S3_PATH_STYLE="${ETL2ELT_S3_PATH_STYLE:-true}"
	export ETL2ELT_S3_BUCKET="$S3_BUCKET"
	export ETL2ELT_PLAN_DIR="${ETL2ELT_PLAN_DIR:-$ROOT/examples}"
	export ETL2ELT_METRICS_ADDR="${ETL2ELT_METRICS_ADDR:-127.0.0.1:$WORKER_METRICS_PORT}"
	# Local development key for pii: hash columns (production sets its own secret).
	export ETL2ELT_PII_HASH_KEY="${ETL2ELT_PII_HASH_KEY:-local-development-key-not-a-secret}"
	# The stock Temporal CLI the scripts built: the docs-examples test runs the docs'
	# `temporal ...` commands with it.
	export ETL2ELT_TEMPORAL_CLI="${ETL2ELT_TEMPORAL_CLI:-$TOOLS_BIN/temporal}"
}
