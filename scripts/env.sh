#!/usr/bin/env bash
# Prints the environment the worker, the starter and the tests use against the local
# services, as `export` lines: eval "$(scripts/env.sh)".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export_env
for v in TEMPORAL_ADDRESS TEMPORAL_NAMESPACE ETL2ELT_TEMPORAL_UI ETL2ELT_CONN_WAREHOUSE ETL2ELT_CONN_LEGACY \
	ETL2ELT_TEST_PG_ADMIN_DSN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL_S3 \
	ETL2ELT_S3_PATH_STYLE ETL2ELT_S3_BUCKET ETL2ELT_PLAN_DIR ETL2ELT_METRICS_ADDR ETL2ELT_PII_HASH_KEY; do
	printf 'export %s=%q\n' "$v" "${!v}"
done
