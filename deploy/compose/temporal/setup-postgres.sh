#!/bin/sh
# Creates Temporal's persistence and visibility databases and brings their schemas up
# to date (the temporal-admin-tools job of docker-compose.yml). Idempotent.
set -eu
until nc -z postgresql 5432; do echo "waiting for postgresql:5432"; sleep 1; done
for db in temporal temporal_visibility; do
	schema=temporal
	[ "$db" = temporal_visibility ] && schema=visibility
	temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" --db "$db" create || true
	temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" --db "$db" setup-schema -v 0.0 || true
	temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" --db "$db" \
		update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "Temporal schemas are up to date"
