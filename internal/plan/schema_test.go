package plan

import (
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/invopop/jsonschema"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/plan.schema.json from the Go types")

const schemaFile = "../../docs/plan.schema.json"

// generateSchema reflects the JSON Schema of the plan from the Go types, with their
// doc comments as descriptions. Unknown keys are not allowed, as in Parse.
func generateSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{FieldNameTag: "yaml", RequiredFromJSONSchemaTags: false}
	require.NoError(t, r.AddGoComments("etl2elt/internal/plan", "."))
	s := r.Reflect(&Plan{})
	s.ID = "https://etl2elt.dev/schemas/plan.schema.json"
	s.Title = "etl2elt migration plan"
	s.Description = "The migration's contract. Documented in docs/PLAN.md; validated by `starter validate`."
	b, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	return append(b, '\n')
}

// TestSchemaInSync keeps the committed schema equal to the Go types. After changing
// the types: go test ./internal/plan -run TestSchemaInSync -update
func TestSchemaInSync(t *testing.T) {
	got := generateSchema(t)
	if *update {
		require.NoError(t, os.WriteFile(schemaFile, got, 0o644))
	}
	want, err := os.ReadFile(schemaFile)
	require.NoError(t, err, "run: go test ./internal/plan -run TestSchemaInSync -update")
	require.Equal(t, string(want), string(got), "docs/plan.schema.json is stale: go test ./internal/plan -run TestSchemaInSync -update")
}

func TestSchemaDescribesTheContract(t *testing.T) {
	var s map[string]any
	require.NoError(t, json.Unmarshal(generateSchema(t), &s))
	defs := s["$defs"].(map[string]any)
	for _, name := range []string{"Plan", "Source", "Model", "Metric", "Domain", "OutputPair", "Backfill", "SwitchingCriteria", "QualityCheck", "FreshnessSLA", "AlertTarget"} {
		require.Contains(t, defs, name)
	}
	planDef := defs["Plan"].(map[string]any)
	require.Equal(t, false, planDef["additionalProperties"], "unknown keys are not allowed")
	require.ElementsMatch(t, []any{"version", "name", "warehouse", "landing", "connections", "sources", "domains"}, planDef["required"])
	props := defs["Model"].(map[string]any)["properties"].(map[string]any)
	require.NotContains(t, props, "sql_text", "the loader's inlined SQL is not part of the file format")
	require.Contains(t, props["materialized"].(map[string]any)["description"], "incremental")
}
