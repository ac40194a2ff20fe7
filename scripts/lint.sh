#!/usr/bin/env bash
# Static checks: gofmt, go vet, staticcheck and workflowcheck (determinism of the
# workflow code), with the tools pinned in scripts/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

unformatted="$(gofmt -l $(git ls-files '*.go'))"
[[ -z "$unformatted" ]] || die "gofmt needed on: $unformatted"
go vet ./...
bash scripts/tools.sh staticcheck workflowcheck
"$TOOLS_BIN/staticcheck" ./...
"$TOOLS_BIN/workflowcheck" ./...
log "lint passed"
