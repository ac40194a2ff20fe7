package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/plan"
)

func TestCheckWarehouse(t *testing.T) {
	orders := plan.Source{Name: "orders", Columns: []plan.Column{{Name: "id", Type: "bigint"}, {Name: "email", Type: "text", PII: "mask"}}}
	withPlan := func(dialect, conn string, sources ...plan.Source) *plan.Plan {
		return &plan.Plan{Name: "demo", Warehouse: plan.Warehouse{Connection: conn, Dialect: dialect}, Sources: sources}
	}
	role := ingest.RedshiftOptions{IAMRole: "arn:aws:iam::123456789012:role/etl2elt-load"}
	hashed := orders
	hashed.Columns = []plan.Column{{Name: "email", Type: "text", PII: "hash"}}
	tests := []struct {
		name     string
		p        *plan.Plan
		redshift ingest.RedshiftOptions
		workflow string
		want     string // "" = accepted
	}{
		{"postgres in the control database", withPlan("", "warehouse", orders), ingest.RedshiftOptions{}, "PipelineRunWorkflow", ""},
		{"postgres elsewhere", withPlan("postgres", "other", orders), ingest.RedshiftOptions{}, "", `plan demo: warehouse.connection "other" is not the worker's control connection "warehouse"`},
		{"redshift with a PostgreSQL control database", withPlan("redshift", "redshift", orders), role, "PipelineRunWorkflow", ""},
		{"redshift as the control database", withPlan("redshift", "warehouse", orders), role, "PipelineRunWorkflow", `warehouse.dialect is redshift and warehouse.connection "warehouse" is also the worker's control connection`},
		{"redshift without a role", withPlan("redshift", "redshift", orders), ingest.RedshiftOptions{}, "PipelineRunWorkflow", "set ETL2ELT_REDSHIFT_IAM_ROLE on the worker"},
		{"redshift backfill", withPlan("redshift", "redshift", orders), role, "BackfillWorkflow", "BackfillWorkflow is not supported on warehouse dialect redshift yet"},
		{"redshift hashed pii", withPlan("redshift", "redshift", hashed), role, "PipelineRunWorkflow", "source orders: not supported on warehouse dialect redshift: column email has pii: hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Activities{ControlConnection: "warehouse", Redshift: tt.redshift}
			err := a.checkWarehouse(tt.p, tt.workflow)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// loaderFor refuses what it cannot load before connecting anywhere (no connection
// registry here: it would panic).
func TestLoaderForRefusesBeforeConnecting(t *testing.T) {
	a := &Activities{Redshift: ingest.RedshiftOptions{IAMRole: "arn:aws:iam::123456789012:role/x"}}
	table := ident.MustRelation("raw.p")
	in := LoadSourceInput{Dialect: "redshift", Source: plan.Source{Name: "p", Columns: []plan.Column{{Name: "email", Type: "text", PII: "hash"}}}}
	_, err := a.loaderFor(context.Background(), in, table)
	require.ErrorContains(t, err, "pii: hash")

	in.Source.Columns[0].PII = ""
	a.Redshift.IAMRole = ""
	_, err = a.loaderFor(context.Background(), in, table)
	require.EqualError(t, err, "warehouse dialect redshift needs the IAM role Redshift assumes to read the landing bucket: set ETL2ELT_REDSHIFT_IAM_ROLE on the worker")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, classify(err), &appErr)
	require.Equal(t, ErrTypeBadInput, appErr.Type(), "not retried")

	in.Dialect = "oracle"
	_, err = a.loaderFor(context.Background(), in, table)
	require.ErrorContains(t, err, `unknown dialect "oracle"`)
}
