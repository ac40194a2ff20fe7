#!/usr/bin/env bash
# `make bench`: starts the local services and runs every benchmark. Each prints its
# measurement beside a baseline run in the same process or script, as a ratio:
#   bench/load      S3 gzip CSV → raw table by the loader vs plain `psql \copy` of the
#                   decompressed file; the loader's peak RSS at 100 MB and 1 GB.
#   bench/backfill  BackfillWorkflow (365 daily chunks, concurrency 4) vs the same chunks
#                   run directly by 4 goroutines; chunks/s for empty chunks.
#   bench/reconcile segmented reconciliation of two 10M-row tables on two databases vs
#                   the bare GROUP BY scans of both.
#   bench/rowdiff   row-level diff of two 10M-row tables with 100 differences on two
#                   databases vs one checksum scan of both and vs streaming both by key.
#   bench/quality   a domain's quality checks on a 10M-row raw table vs one bare scan.
#   bench/quarantine the loader's peak RSS on objects of 10,000 bad rows of 1 MiB + 1 KiB
#                   (by reference) and of 64 KiB (kept whole) vs an object of good rows.
#   bench/report    the executive report (load + HTML + Markdown) of 100 cycles × 1,000
#                   segments vs 10 cycles × 1,000 segments (goal < 2).
# It takes about 15 minutes on 2 cores. Record results in docs/BENCHMARKS.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash scripts/dev-up.sh
export_env
command -v psql >/dev/null || PATH="$(pg_bin):$PATH"
mkdir -p bin
go build -o bin/ ./bench/load ./bench/backfill ./bench/reconcile ./bench/rowdiff ./bench/quality ./bench/report ./bench/quarantine
echo "== load (sizes: ${BENCH_LOAD_SIZES:-100,1000} MB)"
./bin/load -sizes "${BENCH_LOAD_SIZES:-100,1000}" -reps "${BENCH_LOAD_REPS:-3}"
echo "== backfill orchestration"
./bin/backfill -days "${BENCH_BACKFILL_DAYS:-365}" -rows-per-day "${BENCH_BACKFILL_ROWS:-20000}" -concurrency 4
echo "== segmented reconciliation"
./bin/reconcile -rows "${BENCH_RECONCILE_ROWS:-10000000}"
echo "== quality checks"
./bin/quality -rows "${BENCH_QUALITY_ROWS:-10000000}"
echo "== row-level diff"
./bin/rowdiff -rows "${BENCH_ROWDIFF_ROWS:-10000000}"
echo "== quarantine memory"
./bin/quarantine -bad "${BENCH_QUARANTINE_BAD:-10000}"
echo "== executive report"
./bin/report -segments "${BENCH_REPORT_SEGMENTS:-1000}"
