# etl2elt: the two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash

.PHONY: demo test lint build bench reliability redshift-smoke dev-up dev-down dev-clean tools env

demo: ## Start local services and the worker, run the demo migration end to end
	@bash scripts/demo.sh

test: ## Start what the tests need and run every test with -race
	@bash scripts/test.sh

lint: ## gofmt, go vet, staticcheck, workflowcheck
	@bash scripts/lint.sh

build: ## Build bin/worker and bin/starter
	@mkdir -p bin && go build -o bin/ ./worker ./starter

dev-up: ## Start PostgreSQL, the Temporal dev server and the S3-compatible server
	@bash scripts/dev-up.sh

dev-down: ## Stop every process the scripts started
	@bash scripts/dev-down.sh

dev-clean: dev-down ## Stop everything and delete local state (databases, objects, history)
	@bash -c 'source scripts/lib.sh; rm -rf "$$STATE_DIR"; log "removed $$STATE_DIR"'

tools: ## Install the pinned tools into .tools/
	@bash scripts/tools.sh temporal versitygw staticcheck workflowcheck

env: ## Print the environment for running bin/worker and bin/starter by hand
	@bash scripts/env.sh

reliability: ## The fault suite: crashes and restarts of the services, worker kills (docs/RELIABILITY.md)
	@bash scripts/reliability.sh

redshift-smoke: ## The Redshift path against a real workgroup (ETL2ELT_REDSHIFT_DSN, _IAM_ROLE, _BUCKET; says what is missing otherwise)
	@bash scripts/redshift-smoke.sh

bench: ## Run the benchmarks (services started); results: docs/BENCHMARKS.md
	@bash scripts/bench.sh
