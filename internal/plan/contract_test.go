package plan

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// contractBase is base plus every governance section.
const contractBase = base + `people:
  - {id: cfo, name: CFO}
  - {id: dana}
  - {id: lee}
metrics:
  - name: revenue
    owner: cfo
    version: 1
    definition: {expression: sum(amount), relation: reporting.revenue, time_column: day, dimensions: [region]}
    tolerance: {absolute: 0.01}
    dashboards: [board]
dashboards:
  - {name: board, owner: cfo, relations: [reporting.revenue]}
quality:
  - {name: keys_unique, relation: raw.orders, kind: unique, columns: [order_id], fail: 0}
freshness:
  - {source: orders, warn: 1h, max_lag: 6h, lag_of: load}
cost_rates: {currency: USD, warehouse_hour: 3}
alerts:
  - {name: oncall, kind: webhook, url_env: ETL2ELT_WEBHOOK}
`

// governance is appended to the finance domain of contractBase.
const governance = `    owners: [cfo]
    approvers: [dana, lee]
    required_approvals: 2
    metrics: [revenue]
    backfill: {from: "2025-01-01", to: "2026-01-01", chunk_size: day, concurrency: 4, trusted_until: "2025-06-01"}
    parallel_run: {cadence: 1h, window: 7d}
    switching_criteria: {min_cycles: 10, consecutive_passing_cycles: 5}
    rollback_triggers: {variance_breach: true, failed_cycles: 3}
    budget: {backfill: 100}
`

func withGovernance() string {
	return strings.Replace(contractBase, "    sources: [orders]\n", "    sources: [orders]\n"+governance, 1)
}

func TestContractBaseIsValid(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(withGovernance()))
	require.NoError(t, err)
	require.Equal(t, 2, p.Domains[0].RequiredApprovals)
	require.Equal(t, "1h", p.Domains[0].ParallelRun.Cadence)
}

func TestParseInvalidContract(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"consumption view over an unreachable legacy relation", "        elt: {connection: warehouse, relation: marts.revenue}\n", "        elt: {connection: warehouse, relation: marts.revenue}\n        consumption: reporting.revenue\n",
			`$.domains[0].outputs[0].legacy.warehouse_relation: is required with a consumption view: legacy connection "legacy" is not the warehouse ("warehouse"), so say how the warehouse reads legacy.revenue`},
		{"consumption view over an ELT relation outside the warehouse", "        elt: {connection: warehouse, relation: marts.revenue}\n", "        elt: {connection: legacy, relation: marts.revenue}\n        consumption: reporting.revenue\n",
			`$.domains[0].outputs[0].elt.connection: is "legacy" but a consumption view can only point at the warehouse ("warehouse")`},
		{"bad legacy warehouse relation", "relation: legacy.revenue}", "relation: legacy.revenue, warehouse_relation: \"x; drop\"}", `$.domains[0].outputs[0].legacy.warehouse_relation:`},
		{"one consumption view for two outputs", "    outputs:\n      - name: revenue\n", "    outputs:\n" +
			"      - {name: a, legacy: {connection: warehouse, relation: marts.a}, elt: {connection: warehouse, relation: marts.b}, consumption: reporting.x, time_column: day, measures: [{name: amount, tolerance: {absolute: 0}}]}\n" +
			"      - {name: b, legacy: {connection: warehouse, relation: marts.c}, elt: {connection: warehouse, relation: marts.d}, consumption: reporting.x, time_column: day, measures: [{name: amount, tolerance: {absolute: 0}}]}\n" +
			"      - name: revenue\n",
			`$.domains[0].outputs[1].consumption: reporting.x is already the consumption view of finance.a: a view points at one output`},
		{"negative watch cycles", "parallel_run: {cadence: 1h, window: 7d}", "parallel_run: {cadence: 1h, window: 7d, watch_cycles: -1}", `$.domains[0].parallel_run.watch_cycles: must be zero or more, got -1`},
		{"unknown owner", "owners: [cfo]", "owners: [ceo]", `$.domains[0].owners[0]: unknown person "ceo" (declare them under people)`},
		{"approver not a known person", "approvers: [dana, lee]", "approvers: [dana, mallory]", `$.domains[0].approvers[1]: unknown person "mallory"`},
		{"duplicate approver", "approvers: [dana, lee]", "approvers: [dana, dana]", `$.domains[0].approvers[1]: duplicate name "dana"`},
		{"more approvals than approvers", "required_approvals: 2", "required_approvals: 3", `$.domains[0].required_approvals: needs 3 approvals but the domain lists 2 approvers`},
		{"unknown metric in domain", "metrics: [revenue]", "metrics: [arr]", `$.domains[0].metrics[0]: unknown metric "arr" (declare it under metrics)`},
		{"trusted until after backfill end", `trusted_until: "2025-06-01"`, `trusted_until: "2026-02-01"`, `$.domains[0].backfill.trusted_until: 2026-02-01 is after the backfill end 2026-01-01`},
		{"backfill reversed", `to: "2026-01-01", chunk_size`, `to: "2024-01-01", chunk_size`, `$.domains[0].backfill.to: must be after from (2025-01-01), got 2024-01-01`},
		{"bad chunk size", "chunk_size: day", "chunk_size: hour", `$.domains[0].backfill.chunk_size: must be one of day, week, month, got "hour"`},
		{"concurrency too high", "concurrency: 4", "concurrency: 500", `$.domains[0].backfill.concurrency: must be between 1 and 64, got 500`},
		{"bad backfill date", `from: "2025-01-01"`, `from: "2025-13-01"`, `$.domains[0].backfill.from: "2025-13-01" is not a date (YYYY-MM-DD)`},
		{"bad cadence", "cadence: 1h", "cadence: hourly", `$.domains[0].parallel_run.cadence: "hourly" is not a duration (e.g. 30m, 2h, 1d)`},
		{"criteria inconsistent", "consecutive_passing_cycles: 5", "consecutive_passing_cycles: 50", `$.domains[0].switching_criteria.consecutive_passing_cycles: 50 is more than min_cycles 10`},
		{"negative failed cycles", "failed_cycles: 3", "failed_cycles: -1", `$.domains[0].rollback_triggers.failed_cycles: must be zero or more, got -1`},
		{"budget without currency", "cost_rates: {currency: USD, warehouse_hour: 3}", "cost_rates: {warehouse_hour: 3}", `$.domains[0].budget: a budget needs cost_rates.currency`},
		{"bad currency", "currency: USD", "currency: dollars", `$.cost_rates.currency: "dollars" is not an ISO 4217 code`},
		{"budget without the warehouse's rate", "cost_rates: {currency: USD, warehouse_hour: 3}", "cost_rates: {currency: USD, per_million_rows: 1}", `$.cost_rates.warehouse_hour: a postgres warehouse is priced by the hour: set warehouse_hour (a budget needs it)`},
		{"negative rate", "cost_rates: {currency: USD, warehouse_hour: 3}", "cost_rates: {currency: USD, warehouse_hour: 3, legacy_run: -4}", `$.cost_rates.legacy_run: must be a number, zero or more, got -4`},
		{"serverless on postgres", "warehouse: {connection: warehouse}", "warehouse: {connection: warehouse, serverless: true}", `$.warehouse.serverless: serverless applies to Redshift (dialect: redshift)`},
		{"serverless without RPU rates", "warehouse: {connection: warehouse}", "warehouse: {connection: warehouse, dialect: redshift, serverless: true}", `$.cost_rates.rpu_hour: a Redshift Serverless warehouse is priced by RPU-hours: set rpu_hour and base_rpus (a budget needs them)`},
		{"metric owner unknown", "    owner: cfo\n    version: 1", "    owner: cto\n    version: 1", `$.metrics[0].owner: unknown person "cto"`},
		{"metric version zero", "    version: 1\n    definition", "    version: 0\n    definition", `$.metrics[0].version: must be 1 or more, got 0`},
		{"metric bump without reason", "    version: 1\n    definition", "    version: 2\n    definition", `$.metrics[0].change_reason: is required from version 2 on`},
		{"metric unknown dashboard", "dashboards: [board]", "dashboards: [exec]", `$.metrics[0].dashboards[0]: unknown dashboard "exec" (declare it under dashboards)`},
		{"metric expression with statement", "expression: sum(amount)", "expression: sum(amount); drop table x", `$.metrics[0].definition: an expression or filter cannot contain ';'`},
		{"metric unsafe dimension", "dimensions: [region]", "dimensions: [Region]", `$.metrics[0].definition.dimensions[0]: "Region" is not a safe SQL identifier`},
		{"dashboard owner unknown", "{name: board, owner: cfo,", "{name: board, owner: nobody,", `$.dashboards[0].owner: unknown person "nobody"`},
		{"bad person id", "{id: dana}", "{id: Dana Reyes}", `$.people[1].id: "Dana Reyes" is not a valid person id`},
		{"unknown quality kind", "kind: unique", "kind: unique_ish", `$.quality[0].kind: must be one of not_null, unique, null_fraction, row_count_change, late_arrival, out_of_order, missing_days, referential, accepted_values, range, got "unique_ish"`},
		{"fraction threshold over 1", "kind: unique, columns: [order_id], fail: 0}", "kind: null_fraction, columns: [amount], fail: 5}", `$.quality[0].fail: a null_fraction threshold is a fraction from 0 to 1 (0.05 is 5%), got 5`},
		{"negative count threshold", "columns: [order_id], fail: 0}", "columns: [order_id], fail: -1}", `$.quality[0].fail: must be zero or more, got -1`},
		{"accepted values without values", "kind: unique, columns: [order_id]", "kind: accepted_values, columns: [order_id]", `$.quality[0].values: an accepted_values check needs the list of values`},
		{"range without bounds", "kind: unique, columns: [order_id]", "kind: range, columns: [order_id]", `$.quality[0]: a range check needs min, max or both`},
		{"range inverted", "kind: unique, columns: [order_id]", "kind: range, min: 5, max: 1, columns: [order_id]", `$.quality[0].min: min (5) must not exceed max (1)`},
		{"referential without references", "kind: unique, columns: [order_id]", "kind: referential, columns: [order_id]", `$.quality[0].references: a referential check needs references: {relation, columns}`},
		{"referential column count", "kind: unique, columns: [order_id]", "kind: referential, references: {relation: raw.customers, columns: [a, b]}, columns: [order_id]", `$.quality[0].references.columns: names 2 columns for the check's 1`},
		{"lateness on another kind", "kind: unique, columns: [order_id]", "kind: unique, allowed_lateness: 1d, columns: [order_id]", `$.quality[0].allowed_lateness: applies to late_arrival checks only`},
		{"check of no domain", "relation: raw.orders, kind: unique", "relation: raw.elsewhere, kind: unique", `$.quality[0].domain: raw.elsewhere is no source, model or output of a domain: say which domain runs the check`},
		{"check of an unknown domain", "relation: raw.orders, kind: unique", "relation: raw.orders, domain: sales, kind: unique", `$.quality[0].domain: unknown domain "sales"`},
		{"freshness of nothing", "{source: orders, warn", "{warn", `$.freshness[0]: set source (a source of the plan) or output (a domain output's name)`},
		{"freshness of an unknown output", "{source: orders, warn", "{output: refunds, warn", `$.freshness[0].output: unknown output "refunds"`},
		{"two SLAs of one source", "{source: orders, warn: 1h, max_lag: 6h, lag_of: load}", "{source: orders, warn: 1h, max_lag: 6h, lag_of: load}\n  - {source: orders, max_lag: 1d, lag_of: load}", `$.freshness[1]: orders already has an SLA ($.freshness[0]): one SLA per source or output`},
		{"freshness on a source without event time", "max_lag: 6h, lag_of: load}", "max_lag: 6h}", `$.freshness[0].lag_of: source orders declares no event_time: judge it by its loads (lag_of: load) or declare event_time`},
		{"freshness basis", "lag_of: load}", "lag_of: arrival}", `$.freshness[0].lag_of: must be one of event_time, load, got "arrival"`},
		{"alert min status", "kind: webhook", "kind: webhook, min_status: pass", `$.alerts[0].min_status: must be one of warn, fail, got "pass"`},
		{"quality without thresholds", "columns: [order_id], fail: 0}", "columns: [order_id]}", `$.quality[0]: set warn, fail or both`},
		{"quality needs columns", "columns: [order_id], fail: 0}", "fail: 0}", `$.quality[0].columns: a unique check needs at least one column`},
		{"freshness unknown source", "{source: orders, warn", "{source: payments, warn", `$.freshness[0].source: unknown source "payments"`},
		{"freshness warn over max", "warn: 1h, max_lag: 6h", "warn: 1d, max_lag: 6h", `$.freshness[0].warn: warn (1d) must not exceed max_lag (6h)`},
		{"webhook url in plan", "url_env: ETL2ELT_WEBHOOK", "url_env: https://hooks.example.com/T0/abc", `$.alerts[0].url_env: "https://hooks.example.com/T0/abc" is not an environment variable name`},
		{"unknown alert kind", "kind: webhook", "kind: pager", `$.alerts[0].kind: must be one of log, webhook, got "pager"`},
		{"unknown pii policy", "{name: amount, type: numeric}", "{name: amount, type: numeric, pii: encrypt}", `$.sources[0].columns[1].pii: must be one of keep, hash, mask, drop, got "encrypt"`},
		{"hash on a number", "{name: amount, type: numeric}", "{name: amount, type: numeric, pii: hash}", `$.sources[0].columns[1].pii: hash applies to text columns; amount is numeric`},
		{"unknown duplicates policy", "    primary_key: [order_id]\n", "    primary_key: [order_id]\n    duplicates: keep_first\n",
			`$.sources[0].duplicates: must be one of report, keep_last, quarantine, fail, got "keep_first"`},
		{"duplicates policy in the wrong case", "    primary_key: [order_id]\n", "    primary_key: [order_id]\n    duplicates: Keep_Last\n",
			`$.sources[0].duplicates: must be one of report, keep_last, quarantine, fail, got "Keep_Last"`},
		{"keep_last without a primary key", "    primary_key: [order_id]\n", "    duplicates: keep_last\n",
			`$.sources[0].duplicates: keep_last needs primary_key: the columns that identify a row`},
		{"quarantine without a primary key", "    primary_key: [order_id]\n", "    duplicates: quarantine\n",
			`$.sources[0].duplicates: quarantine needs primary_key`},
		{"fail with an empty primary key", "    primary_key: [order_id]\n", "    primary_key: []\n    duplicates: fail\n",
			`$.sources[0].duplicates: fail needs primary_key`},
		{"duplicates on a masked key", "      - {name: amount, type: numeric}\n    primary_key: [order_id]\n",
			"      - {name: amount, type: numeric}\n      - {name: region, type: text, pii: mask}\n    primary_key: [order_id, region]\n    duplicates: quarantine\n",
			`$.sources[0].duplicates: quarantine compares keys as raw stores them, and primary key column region has pii: mask, which makes distinct keys equal: hash it instead`},
		{"drop a key column", "{name: order_id, type: bigint}", "{name: order_id, type: bigint, pii: drop}", `$.sources[0].columns[0].pii: order_id is part of the primary key or the event time`},
		{"incremental without key", "materialized: view}", "materialized: incremental}", `$.models[0].unique_key: is required for an incremental model`},
		{"model writes the control schema", "{name: stg, schema: staging,", "{name: decisions, schema: etl2elt,", `$.models[0].schema: "etl2elt" is reserved`},
		{"model writes the raw schema", "{name: stg, schema: staging,", "{name: stg, schema: raw,", `$.models[0].schema: "raw" is reserved`},
		{"bad lookback", "materialized: view}", "materialized: view, lookback: 2 days}", `$.models[0].lookback: "2 days" is not a duration`},
		{"unsafe segment", "time_column: day\n", "time_column: day\n        segments: [\"region; --\"]\n", `$.domains[0].outputs[0].segments[0]: "region; --" is not a safe SQL identifier`},
		{"missing measure tolerance", "          - {name: amount, tolerance: {absolute: 0.01}}", "          - {name: amount}", `$.domains[0].outputs[0].measures[0].tolerance: is required: write {absolute: 0} for an exact match`},
		{"duplicate domain", "domains:\n  - name: finance", "domains:\n  - name: finance\n    sources: []\n    outputs: []\n  - name: finance", `$.domains[1].name: duplicate name "finance"`},
		{"misspelt nested key", "switching_criteria: {min_cycles: 10", "switching_criteria: {min_cycle: 10", `$.domains[0].switching_criteria: unknown key "min_cycle": did you mean "min_cycles"?`},
		{"unknown key far from any", "cost_rates: {currency: USD", "cost_rates: {colour: blue, currency: USD", `$.cost_rates: unknown key "colour": valid keys here are base_rpus, currency, legacy_run, per_gb_transferred, per_million_rows, rpu_hour, s3_per_1000_requests, warehouse_hour`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := withGovernance()
			changed := strings.Replace(src, tt.old, tt.new, 1)
			require.NotEqual(t, src, changed, "the case must change the plan")
			_, err := Parse("plan.yaml", []byte(changed))
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
			require.Contains(t, err.Error(), tt.want)
			for _, p := range ve.Problems {
				require.NotZero(t, p.Line, "every problem has a line: %+v", p)
			}
		})
	}
}

func TestEveryUnknownKeyAtOnce(t *testing.T) {
	src := strings.Replace(withGovernance(), "version: 1\nname: acme", "version: 1\nnmae: x\nname: acme\ndomian: y", 1)
	_, err := Parse("plan.yaml", []byte(src))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 2)
	require.Equal(t, `plan.yaml:2:1: $: unknown key "nmae": did you mean "name"?`, ve.Problems[0].String("plan.yaml"))
	require.Equal(t, `plan.yaml:4:1: $: unknown key "domian": did you mean "domains"?`, ve.Problems[1].String("plan.yaml"))
}

func TestParseDuration(t *testing.T) {
	tests := map[string]time.Duration{"30m": 30 * time.Minute, "2h": 2 * time.Hour, "1d": 24 * time.Hour, "1d12h": 36 * time.Hour, "7d": 7 * 24 * time.Hour}
	for in, want := range tests {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "1x", "-1h", "1d-2h", "one day"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
}
