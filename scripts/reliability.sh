#!/usr/bin/env bash
# `make reliability`: the fault suite (docs/RELIABILITY.md). It starts the local
# services, then runs the integration tests built with the `reliability` tag one after
# the other: they crash and restart PostgreSQL, the S3 server and the Temporal dev
# server (scripts/service.sh) and kill -9 worker processes, so nothing else may use
# the services meanwhile. Bounded: about 5-10 minutes on 2 cores.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/dev-up.sh
export_env
export ETL2ELT_REQUIRE_INTEGRATION=1
export ETL2ELT_SERVICE_SCRIPT="$ROOT/scripts/service.sh"
out="$LOG_DIR/reliability.log"
set +e
go test -tags reliability -count=1 -p 1 -timeout 30m -run 'TestReliability' -v ./integration 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
echo
echo "figures (from $out):"
grep -h 'RELIABILITY' "$out" | sed 's/^ *//' || true
# Whatever happened, leave the services up for the next command.
bash scripts/dev-up.sh >/dev/null 2>&1 || true
exit "$rc"
