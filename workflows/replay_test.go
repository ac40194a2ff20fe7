package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays histories recorded from real runs (exported with
// `temporal workflow show --output json`). A change to workflow code that would break
// running workflows fails here: guard it with workflow.GetVersion, then record a new
// history beside the old ones.
//
// testdata/workflow_ids.json gives the original workflow id of a history whose
// commands depend on it (MigrationWorkflow names its children after its own id);
// others replay under the replayer's default id.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*_v*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/")
	ids := map[string]string{}
	b, err := os.ReadFile("testdata/workflow_ids.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ids))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			fh, err := os.Open(f)
			require.NoError(t, err)
			defer fh.Close()
			hist, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
			require.NoError(t, err)
			opts := worker.ReplayWorkflowHistoryOptions{}
			if id, ok := ids[filepath.Base(f)]; ok {
				opts.OriginalExecution = workflow.Execution{ID: id}
			}
			require.NoError(t, r.ReplayWorkflowHistoryWithOptions(nil, hist, opts))
		})
	}
}
