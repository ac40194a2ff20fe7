#!/bin/sh
# Creates the default namespace and registers the custom search attributes the
# etl2elt workflows upsert (see internal/searchattr). Idempotent.
set -eu
ns="${DEFAULT_NAMESPACE:-default}"
until temporal operator cluster health >/dev/null 2>&1; do echo "waiting for Temporal"; sleep 1; done
temporal operator namespace describe -n "$ns" >/dev/null 2>&1 || temporal operator namespace create -n "$ns" --retention 7d
for sa in Etl2eltDomain Etl2eltPhase Etl2eltPlan Etl2eltNeedsAction; do
	temporal operator search-attribute create -n "$ns" --name "$sa" --type Keyword 2>/dev/null || true
done
temporal operator search-attribute list -n "$ns"
