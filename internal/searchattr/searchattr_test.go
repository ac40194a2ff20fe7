package searchattr

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuery(t *testing.T) {
	tests := []struct{ typ, phase, domain, want string }{
		{"MigrationWorkflow", "", "", "WorkflowType = 'MigrationWorkflow'"},
		{"MigrationWorkflow", "awaiting-approval", "", "WorkflowType = 'MigrationWorkflow' AND Etl2eltPhase = 'awaiting-approval'"},
		{"MigrationWorkflow", "watch", "finance", "WorkflowType = 'MigrationWorkflow' AND Etl2eltPhase = 'watch' AND Etl2eltDomain = 'finance'"},
		{"MigrationWorkflow", "", "x' OR 1=1 --", "WorkflowType = 'MigrationWorkflow' AND Etl2eltDomain = 'x OR 1=1 --'"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Query(tt.typ, tt.phase, tt.domain))
	}
}

type fakeLister map[string]string

func (f fakeLister) CustomSearchAttributes(context.Context, string) (map[string]string, error) {
	return f, nil
}

func TestCheck(t *testing.T) {
	all := fakeLister{"Etl2eltDomain": "Keyword", "Etl2eltPhase": "Keyword", "Etl2eltPlan": "Keyword", "Etl2eltNeedsAction": "Keyword", "Other": "Int"}
	require.NoError(t, Check(context.Background(), all, "default"))
	err := Check(context.Background(), fakeLister{"Etl2eltDomain": "Keyword", "Etl2eltPhase": "Text"}, "prod")
	var missing *MissingError
	require.ErrorAs(t, err, &missing)
	require.Equal(t, []string{"Etl2eltNeedsAction (Keyword)", "Etl2eltPhase (Keyword)", "Etl2eltPlan (Keyword)"}, missing.Missing, "absent, or of another type")
	require.ErrorContains(t, err, "namespace prod lacks the search attributes")
}
