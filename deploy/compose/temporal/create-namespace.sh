#!/bin/sh
# Creates the default namespace and registers the custom search attributes the
# etl2elt workflows upsert (see internal/searchattr). Idempotent.
set -eu
ns="${DEFAULT_NAMESPACE:-default}"
until temporal operator cluster health >/dev/null 2>&1; do echo "waiting for Temporal"; sleep 1; done
temporal operator namespace describe -n "$ns" >/dev/null 2>&1 || temporal operator namespace create -n "$ns" --retention 7d
# Create the attributes that are missing; any other failure stops the setup (and the
# worker, which waits for this job to succeed).
existing="$(temporal operator search-attribute list -n "$ns")"
for sa in Etl2eltDomain Etl2eltPhase Etl2eltPlan Etl2eltNeedsAction; do
	if printf '%s\n' "$existing" | grep -qw "$sa"; then
		echo "search attribute $sa exists"
		continue
	fi
	temporal operator search-attribute create -n "$ns" --name "$sa" --type Keyword
done
temporal operator search-attribute list -n "$ns"
