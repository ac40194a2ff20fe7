#!/usr/bin/env bash
# `make redshift-smoke`: the Redshift path (load with bad rows, reload, incremental
# model) against a real Redshift cluster or Serverless workgroup, for those who have
# one (integration/redshift_smoke_test.go). It needs ETL2ELT_REDSHIFT_DSN,
# ETL2ELT_REDSHIFT_IAM_ROLE, ETL2ELT_REDSHIFT_BUCKET and AWS credentials for that
# bucket (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE); the local PostgreSQL
# is the control database. Without them it says what is missing and exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

missing=()
for v in ETL2ELT_REDSHIFT_DSN ETL2ELT_REDSHIFT_IAM_ROLE ETL2ELT_REDSHIFT_BUCKET; do
	[ -n "${!v:-}" ] || missing+=("$v")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "redshift-smoke: skipped: set ${missing[*]} (docs/DIALECTS.md, 'The Redshift smoke test')"
	exit 0
fi
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "${AWS_PROFILE:-}" ]; then
	echo "redshift-smoke: set AWS credentials for s3://$ETL2ELT_REDSHIFT_BUCKET (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)" >&2
	exit 2
fi
bash scripts/dev-up.sh
export_env
# Real S3, not the local server: the test writes the objects Redshift reads.
unset AWS_ENDPOINT_URL_S3
export ETL2ELT_S3_PATH_STYLE=false
export AWS_REGION="${ETL2ELT_REDSHIFT_S3_REGION:-${AWS_REGION:-us-east-1}}"
export ETL2ELT_REQUIRE_INTEGRATION=1
go test -tags redshift -count=1 -timeout 20m -run TestRedshiftSmoke -v ./integration
