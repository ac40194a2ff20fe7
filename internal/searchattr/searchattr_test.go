package searchattr

import (
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
