#!/usr/bin/env bash
# `make test`: starts the local services the integration tests need (idempotent) and
# runs every test with the race detector. Integration tests fail, rather than skip,
# when a service is missing (ETL2ELT_REQUIRE_INTEGRATION=1).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/dev-up.sh
export_env
# The executive report's test renders it in headless Chromium.
ensure_chromium
export ETL2ELT_REQUIRE_INTEGRATION=1
# Tests run their own in-process workers on their own task queues and databases.
go test -race -count=1 -timeout 20m "${@:-./...}"
