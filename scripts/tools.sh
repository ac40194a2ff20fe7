#!/usr/bin/env bash
# Installs the pinned tools the project runs (Temporal CLI, versitygw, staticcheck,
# workflowcheck) with `go install` into the git-ignored .tools/ folder. A tool whose
# recorded version matches is not rebuilt; the Go build cache makes a rebuild in a
# fresh clone take seconds once the first one has run on the machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_tool() { # name module version
	local name="$1" module="$2" version="$3"
	local stamp="$TOOLS_DIR/versions/$name"
	if [[ -x "$TOOLS_BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$module@$version" ]]; then
		return 0
	fi
	log "installing $name $version (first build on a fresh machine takes minutes)"
	mkdir -p "$TOOLS_BIN" "$TOOLS_DIR/versions"
	GOBIN="$TOOLS_BIN" GOFLAGS=-buildvcs=false go install -ldflags='-s -w' "$module@$version" ||
		die "go install $module@$version failed"
	echo "$module@$version" >"$stamp"
}

command -v go >/dev/null || die "go is not on PATH (Go 1.26 is required)"

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(temporal versitygw)
for t in "${want[@]}"; do
	case "$t" in
	temporal) install_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" ;;
	versitygw) install_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION" ;;
	staticcheck) install_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION" ;;
	workflowcheck) install_tool workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck "$WORKFLOWCHECK_VERSION" ;;
	*) die "unknown tool $t (temporal, versitygw, staticcheck, workflowcheck)" ;;
	esac
done
