package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
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
	files, ids := recordedHistories(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			require.NoError(t, replay(t, r, f, ids))
		})
	}
}

// recordedHistories lists the recorded history files and their original workflow ids.
func recordedHistories(t *testing.T) ([]string, map[string]string) {
	t.Helper()
	files, err := filepath.Glob("testdata/*_v*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/")
	ids := map[string]string{}
	b, err := os.ReadFile("testdata/workflow_ids.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ids))
	return files, ids
}

// replay replays the recorded history in file f with r, under its original workflow
// id when ids names one.
func replay(t *testing.T, r worker.WorkflowReplayer, f string, ids map[string]string) error {
	t.Helper()
	fh, err := os.Open(f)
	require.NoError(t, err)
	defer fh.Close()
	hist, err := client.HistoryFromJSON(fh, client.HistoryJSONOptions{})
	require.NoError(t, err)
	opts := worker.ReplayWorkflowHistoryOptions{}
	if id, ok := ids[filepath.Base(f)]; ok {
		opts.OriginalExecution = workflow.Execution{ID: id}
	}
	return r.ReplayWorkflowHistoryWithOptions(nil, hist, opts)
}

// TestReplayCatchesANonDeterministicChange replays every recorded history against
// workflow code changed in a way that breaks running workflows (a timer before
// anything else): each replay must fail, so that the replay test above cannot pass
// vacuously (histories no longer read, types registered under other names, ...).
func TestReplayCatchesANonDeterministicChange(t *testing.T) {
	files, ids := recordedHistories(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			broken := func(ctx workflow.Context, _ converter.RawValue) error {
				return workflow.Sleep(ctx, time.Second)
			}
			var names registeredNames
			Register(&names) // every workflow type the worker registers
			for _, name := range names {
				r.RegisterWorkflowWithOptions(broken, workflow.RegisterOptions{Name: name})
			}
			err := replay(t, r, f, ids)
			require.Error(t, err, "a non-deterministic change must fail the replay")
			require.Contains(t, strings.ToLower(err.Error()), "tmprl1100", "the SDK's non-determinism error")
		})
	}
}

// registeredNames records the names Register registers.
type registeredNames []string

func (n *registeredNames) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	*n = append(*n, o.Name)
}
