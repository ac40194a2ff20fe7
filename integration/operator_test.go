package integration

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/searchattr"
	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// malformed are the payloads a person gets wrong, with what the refusal must say.
var malformed = []struct {
	name    string
	payload any
	want    string
}{
	{"plain string", "dana", "want a JSON object with keys"},
	{"number", 42, "got a number 42"},
	{"no payload", nil, "got an empty payload"},
	{"list", []string{"dana"}, "got a list"},
	{"wrong type", map[string]any{"by": 5, "approver": 5, "chunk_id": 5, "reason": "x"}, "want a string, got a number 5"},
	{"misspelt key", map[string]any{"by": "dana", "reasn": "board pack"}, `unknown key "reasn"`},
	{"unknown person", map[string]any{"by": "mallory", "approver": "mallory", "chunk_id": "x", "amount": 1, "reason": "board pack review"}, `"mallory" is not`},
	{"huge payload", map[string]any{"by": "dana", "reason": strings.Repeat("x", 70<<10)}, "over the limit of 65536 bytes"},
	// PostgreSQL cannot store a NUL: refused before any decision is written.
	{"control character", map[string]any{"by": "dana", "approver": "dana", "chunk_id": "x", "amount": 1, "reason": "gap\u0000 in the EMEA numbers", "comment": "a\u0000b"}, "control character"},
}

// sendMalformedInputs sends every malformed payload to every signal and update named
// and checks that each update is refused with a one-line, non-retryable reason. It
// returns the number of signals sent (each must be refused).
func (h *harness) sendMalformedInputs(ctx context.Context, id string, signals, updates []string) int {
	h.t.Helper()
	n := 0
	for _, name := range signals {
		for _, m := range malformed {
			require.NoError(h.t, h.client.SignalWorkflow(ctx, id, "", name, m.payload), "%s %s", name, m.name)
			n++
		}
	}
	for _, name := range updates {
		for _, m := range malformed {
			handle, err := h.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateName: name, Args: []any{m.payload}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err == nil {
				err = handle.Get(ctx, nil)
			}
			require.Error(h.t, err, "%s %s must be refused", name, m.name)
			if m.name != "unknown person" && m.name != "control character" { // refused for another reason first (phase, budget)
				require.Contains(h.t, err.Error(), m.want, "%s %s", name, m.name)
			}
			require.NotContains(h.t, err.Error(), "\n")
			var appErr *temporal.ApplicationError
			require.True(h.t, errors.As(err, &appErr), "%s %s: %v", name, m.name, err)
			require.True(h.t, appErr.NonRetryable(), "%s %s: a refusal is not retryable", name, m.name)
		}
	}
	return n
}

// requireActedOnInOneTask checks in the history that the first signal name whose
// payload contains marker was acted on by the workflow task that saw it: that task's
// commands schedule the activity type.
func (h *harness) requireActedOnInOneTask(ctx context.Context, id, signal, marker, activityType string) {
	h.t.Helper()
	it := h.client.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	state := 0 // 0: looking for the signal, 1: for the task that saw it, 2: its commands
	var seen []string
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(h.t, err)
		if state > 0 {
			seen = append(seen, strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_"))
		}
		switch state {
		case 0:
			if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == signal {
				for _, p := range a.GetInput().GetPayloads() {
					if strings.Contains(string(p.GetData()), marker) {
						state = 1
					}
				}
			}
		case 1:
			if e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				state = 2
			}
		case 2:
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activityType {
				return
			}
			if e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_TASK_STARTED {
				require.Failf(h.t, "not acted on in one task", "the workflow task that saw the %s signal did not schedule %s: %s", signal, activityType, strings.Join(seen, " "))
			}
		}
	}
	require.Failf(h.t, "not found", "%s signal with %s, then %s, not found in the history (state %d)", signal, marker, activityType, state)
}

// TestBackfillMalformedInputsOnRealServer: a backfill with a chunk waiting for a person
// gets every malformed retry-chunk, skip-chunk and raise-budget; none holds up a
// valid skip-chunk sent after them (chunk id written without the schema), the UI
// lists it as needing a person, and the refusals are in the decision log.
func TestBackfillMalformedInputsOnRealServer(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h.seed(0)
	// Jan 3's object lost its header: the whole object is bad input, its chunk waits.
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", []byte("foo,bar\n1,2\n"), ""))

	id := "it-backfill-malformed-" + testenv.Suffix()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName,
		workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "raw.orders", From: "2026-01-01", To: "2026-01-08"})
	require.NoError(t, err)
	status := func() workflows.BackfillStatus {
		v, err := h.client.QueryWorkflow(ctx, id, "", workflows.StatusQuery)
		require.NoError(t, err)
		var st workflows.BackfillStatus
		require.NoError(t, v.Get(&st))
		return st
	}
	require.Eventually(t, func() bool { return status().Phase == workflows.PhaseWaitingForOperator }, time.Minute, 200*time.Millisecond)
	st := status()
	require.Len(t, st.Waiting, 1)
	require.Equal(t, "raw.orders@2026-01-03..2026-01-04", st.Waiting[0].ID)
	require.Equal(t, workflows.NeedsStuckChunk, st.NeedsAction)
	require.InDelta(t, 85.7, st.PercentDone, 0.1)

	// The UI finds it among what needs a person.
	require.Eventually(t, func() bool {
		resp, err := h.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: searchattr.NeedsAction.GetName() + ` = "stuck-chunk" AND WorkflowId = "` + id + `"`})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 30*time.Second, 200*time.Millisecond, "listed by Etl2eltNeedsAction = stuck-chunk")

	refused := h.sendMalformedInputs(ctx, id, []string{workflows.RetryChunkSignal, workflows.SkipChunkSignal}, []string{workflows.RaiseBudgetUpdate})
	require.Eventually(t, func() bool { return status().RefusedInputs == refused }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, workflows.PhaseWaitingForOperator, status().Phase)

	require.NoError(t, h.client.SignalWorkflow(ctx, id, "", workflows.SkipChunkSignal,
		workflows.ChunkSignal{ChunkID: "orders@2026-01-03..2026-01-04", By: "dana", Reason: "header lost at the source; re-sent next week"}))
	var res workflows.BackfillResult
	require.NoError(t, run.Get(ctx, &res))
	require.Equal(t, 6, res.Counters.Done)
	require.Equal(t, 1, res.Counters.Skipped)
	h.requireActedOnInOneTask(ctx, id, workflows.SkipChunkSignal, "header lost at the source", "SkipBackfillChunk")

	var inputRefused, skips int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'input-refused'), count(*) FILTER (WHERE kind = 'skip-chunk') FROM etl2elt.decisions WHERE workflow_id = $1`, id).Scan(&inputRefused, &skips))
	require.Equal(t, min(refused, 20), inputRefused, "refused signals are in the decision log, at most 20 per run")
	require.Equal(t, 1, skips)
	t.Logf("%d malformed signals and %d malformed updates refused; skip applied in one workflow task", refused, len(malformed))
}

// TestWorkflowInputsRefusedOnRealServer: a workflow input pasted with a mistake fails
// the workflow at once with one line naming the field (not a workflow task retried
// forever, not silently ignored).
func TestWorkflowInputsRefusedOnRealServer(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		workflow, input, want string
	}{
		{workflows.MigrationWorkflowName, `{"plan": "demo/plan.yaml", "domain": "finance", "overide_trusted": {}}`, `unknown key "overide_trusted": did you mean "override_trusted"?`},
		{workflows.BackfillWorkflowName, `{"plan": "demo/plan.yaml", "target": "orders", "from": "2026-01-01", "to": "2026-01-08", "concurrency": "4"}`, `concurrency: want a whole number, got a string "4"`},
		{workflows.PipelineRunWorkflowName, `"demo/plan.yaml"`, `want a JSON object with keys {plan, domain, from, to, reload, override_trusted}, got a string`},
		{workflows.ReconcileWorkflowName, `{"plan": "demo/plan.yaml", "domain": "finance", "from": "2026-01-01", "to": "2026-01-08", "row_diff": {"max_rows": 5}}`, `unknown key "max_rows"`},
	}
	for _, tt := range tests {
		t.Run(tt.workflow, func(t *testing.T) {
			id := "it-input-" + testenv.Suffix()
			if tt.workflow == workflows.MigrationWorkflowName {
				id = workflows.MigrationWorkflowID("acme", "finance") + "-" + testenv.Suffix()
			}
			run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: h.taskQueue}, tt.workflow, json.RawMessage(tt.input))
			require.NoError(t, err)
			err = run.Get(ctx, nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			desc, err := h.client.DescribeWorkflowExecution(ctx, id, "")
			require.NoError(t, err)
			require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_FAILED, desc.GetWorkflowExecutionInfo().GetStatus())
		})
	}
}
