package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDemoPlanIsValid(t *testing.T) {
	snap, err := Load(context.Background(), FileReader{Dir: "../../examples"}, "demo/plan.yaml")
	require.NoError(t, err)
	require.Equal(t, "acme", snap.Plan.Name)
	require.Len(t, snap.Hash, 64)
	m, ok := snap.Plan.Model("fct_daily_revenue")
	require.True(t, ok)
	require.Contains(t, m.SQLText, "from staging.stg_orders")
	require.NotContains(t, m.SQLText, ";")

	order, err := ModelOrder(snap.Plan, []string{"fct_daily_revenue"})
	require.NoError(t, err)
	require.Equal(t, "stg_orders", order[0].Name)
	require.Equal(t, "fct_daily_revenue", order[1].Name)

	again, err := Load(context.Background(), FileReader{Dir: "../../examples"}, "demo/plan.yaml")
	require.NoError(t, err)
	require.Equal(t, snap.Hash, again.Hash, "the hash is stable")
}

const base = `version: 1
name: acme
connections:
  warehouse: {role: warehouse}
  legacy: {role: legacy}
warehouse: {connection: warehouse}
landing: {bucket: landing}
sources:
  - name: orders
    layout: orders/dt={date}/
    format: csv
    columns:
      - {name: order_id, type: bigint}
      - {name: amount, type: numeric}
    primary_key: [order_id]
models:
  - {name: stg, schema: staging, sql: stg.sql, materialized: view}
domains:
  - name: finance
    sources: [orders]
    models: [stg]
    outputs:
      - name: revenue
        legacy: {connection: legacy, relation: legacy.revenue}
        elt: {connection: warehouse, relation: marts.revenue}
        time_column: day
        measures:
          - {name: amount, tolerance: {absolute: 0.01}}
`

func TestParseValidBase(t *testing.T) {
	_, err := Parse("plan.yaml", []byte(base))
	require.NoError(t, err)
}

func TestParseAcceptsEveryFormat(t *testing.T) {
	for _, f := range Formats {
		p, err := Parse("plan.yaml", []byte(strings.Replace(base, "format: csv", "format: "+f, 1)))
		require.NoError(t, err, f)
		require.Equal(t, f, p.Sources[0].Format)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"wrong version", "version: 1", "version: 2", "plan.yaml:1:10: $.version: must be 1, got 2"},
		{"unsafe plan name", "name: acme", "name: Acme Corp", `plan.yaml:2:7: $.name: "Acme Corp" is not a safe SQL identifier`},
		{"unknown key", "landing: {bucket: landing}", "landing: {bucket: landing, buckt: x}", `plan.yaml:7:28: $.landing: unknown key "buckt": did you mean "bucket"?`},
		{"unknown warehouse connection", "warehouse: {connection: warehouse}", "warehouse: {connection: dwh}", `plan.yaml:6:25: $.warehouse.connection: unknown connection "dwh" (declare it under connections)`},
		{"warehouse on legacy role", "warehouse: {connection: warehouse}", "warehouse: {connection: legacy}", `$.warehouse.connection: connection "legacy" has role "legacy", want warehouse`},
		{"bad role", "legacy: {role: legacy}", "legacy: {role: archive}", `plan.yaml:5:18: $.connections.legacy.role: must be warehouse or legacy, got "archive"`},
		{"layout without date", "layout: orders/dt={date}/", "layout: orders/", `plan.yaml:10:13: $.sources[0].layout: must contain {date}`},
		{"unsupported format", "format: csv", "format: xml", `$.sources[0].format: must be one of csv, jsonl, parquet, got "xml"`},
		{"missing format", "    format: csv\n", "", `$.sources[0].format: must be one of csv, jsonl, parquet, got ""`},
		{"unknown column type", "{name: amount, type: numeric}", "{name: amount, type: money}", `$.sources[0].columns[1].type: unknown type "money"`},
		{"duplicate column", "{name: amount, type: numeric}", "{name: order_id, type: numeric}", `$.sources[0].columns[1].name: duplicate name "order_id"`},
		{"reserved column", "{name: amount, type: numeric}", "{name: _etl_line, type: numeric}", `$.sources[0].columns[1].name: the _etl_ prefix is reserved`},
		{"unknown primary key", "primary_key: [order_id]", "primary_key: [id]", `plan.yaml:15:19: $.sources[0].primary_key[0]: unknown column "id"`},
		{"bad materialisation", "materialized: view}", "materialized: snapshot}", `$.models[0].materialized: must be view, table or incremental, got "snapshot"`},
		{"unknown dependency", "materialized: view}", "materialized: view, depends_on: [nope]}", `$.models[0].depends_on[0]: unknown model "nope"`},
		{"self cycle", "materialized: view}", "materialized: view, depends_on: [stg]}", `$.models: dependency cycle: stg -> stg`},
		{"unknown source in domain", "sources: [orders]", "sources: [payments]", `$.domains[0].sources[0]: unknown source "payments"`},
		{"unknown model in domain", "models: [stg]", "models: [fct]", `$.domains[0].models[0]: unknown model "fct"`},
		{"relation not qualified", "relation: legacy.revenue}", "relation: revenue}", `$.domains[0].outputs[0].legacy.relation: "revenue" is not a safe SQL identifier: a relation must be schema-qualified`},
		{"injection in relation", "relation: marts.revenue}", `relation: "marts.revenue; drop table x"}`, `$.domains[0].outputs[0].elt.relation: "revenue; drop table x" is not a safe SQL identifier`},
		{"negative tolerance", "absolute: 0.01", "absolute: -1", `$.domains[0].outputs[0].measures[0].tolerance.absolute: must be zero or more, got -1`},
		{"relative over one", "absolute: 0.01", "relative: 5", `$.domains[0].outputs[0].measures[0].tolerance.relative: must be a fraction between 0 and 1, got 5`},
		{"missing time column", "        time_column: day\n", "", `$.domains[0].outputs[0].time_column: is required`},
		{"wrong type", "version: 1", "version: one", `plan.yaml:1:10: $.version: must be a whole number, got the string "one"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, tt.old, tt.new, 1)
			require.NotEqual(t, base, src, "the case must change the plan")
			_, err := Parse("plan.yaml", []byte(src))
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	src := strings.Replace(strings.Replace(base, "format: csv", "format: xml", 1), "models: [stg]", "models: [fct]", 1)
	_, err := Parse("plan.yaml", []byte(src))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 2)
	require.Contains(t, err.Error(), "plan plan.yaml is invalid (2 problems)")
}

func TestLoadReportsMissingSQLAndRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plan.yaml"), []byte(base), 0o600))
	_, err := Load(context.Background(), FileReader{Dir: dir}, "plan.yaml")
	require.ErrorContains(t, err, "$.models[0].sql: cannot read stg.sql")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "stg.sql"), []byte("select 1;\n"), 0o600))
	snap, err := Load(context.Background(), FileReader{Dir: dir}, "plan.yaml")
	require.NoError(t, err)
	require.Equal(t, "select 1", snap.Plan.Models[0].SQLText)

	_, err = Load(context.Background(), FileReader{Dir: dir}, "../etc/passwd")
	require.ErrorContains(t, err, "path escapes from parent")
}

func TestJoin(t *testing.T) {
	require.Equal(t, "demo/models/a.sql", join("demo/plan.yaml", "models/a.sql"))
	require.Equal(t, "s3://bucket/plans/models/a.sql", join("s3://bucket/plans/plan.yaml", "models/a.sql"))
	require.Equal(t, "s3://bucket/a.sql", join("s3://bucket/plan.yaml", "a.sql"))
}
