#!/usr/bin/env bash
# Outages on the local services, for the reliability suite (`make reliability`):
#   service.sh down pg [immediate|fast]   stop PostgreSQL (immediate: a crash, no checkpoint)
#   service.sh down s3                    kill the S3-compatible server (SIGKILL)
#   service.sh down temporal              kill the Temporal dev server (SIGKILL; state is in its SQLite file)
#   service.sh up                         start whatever is down again (scripts/dev-up.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

action="${1:-}" svc="${2:-}" mode="${3:-immediate}"
case "$action" in
down)
	case "$svc" in
	pg)
		bin="$(pg_bin)" || die "no PostgreSQL binaries"
		PG_DIR="$STATE_DIR/pg"
		if [[ $(id -u) -eq 0 ]]; then
			(cd "$PG_DIR" && runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -m "$mode" -w stop >/dev/null)
		else
			(cd "$PG_DIR" && "$bin/pg_ctl" -D "$PG_DIR/data" -m "$mode" -w stop >/dev/null)
		fi
		log "PostgreSQL stopped ($mode)"
		;;
	s3 | temporal)
		name=versitygw
		[[ "$svc" == temporal ]] && name=temporal
		pidf="$RUN_DIR/$name.pid"
		pid_alive "$pidf" "$name" || die "$name is not running"
		kill -9 "$(cat "$pidf")"
		while pid_alive "$pidf" "$name"; do sleep 0.1; done
		log "$name killed"
		;;
	*) die "usage: service.sh down pg|s3|temporal [immediate|fast]" ;;
	esac
	;;
up) bash "$ROOT/scripts/dev-up.sh" ;;
*) die "usage: service.sh down SERVICE | up" ;;
esac
