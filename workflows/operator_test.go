package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"etl2elt/activities"
	"etl2elt/internal/backfill"
	"etl2elt/internal/cutover"
)

// badPayloads are what a person gets wrong in a signal or update payload.
var badPayloads = []struct {
	name    string
	payload any
	want    string
}{
	{"plain string", "dana", `want a JSON object with keys`},
	{"number", 42, `got a number 42`},
	{"null", nil, `got null`},
	{"list", []string{"dana"}, `got a list`},
	{"wrong type", map[string]any{"by": 5, "reason": "x"}, `by: want a string, got a number 5`},
	{"misspelt key", map[string]any{"by": "dana", "reasn": "board pack"}, `unknown key "reasn": did you mean "reason"?`},
	{"unknown person", map[string]any{"by": "mallory", "reason": "board pack review"}, `"mallory" is not a person of plan acme`},
	{"huge payload", map[string]any{"by": "dana", "reason": strings.Repeat("x", 70<<10)}, `over the limit of 65536 bytes`},
}

// Every malformed signal of a migration becomes a notice; none blocks it; a valid
// rollback sent after all of them is applied at once.
func TestMigrationMalformedSignalsNeverBlock(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.approve(90*time.Minute, ApproveCutoverRequest{Approver: "dana"}, nil, nil)
	e.approve(91*time.Minute, ApproveCutoverRequest{Approver: "lee"}, nil, nil)
	at := 100 * time.Minute
	for _, sig := range []string{PauseSignal, ResumeSignal, AbortSignal, RollbackSignal} {
		for _, bp := range badPayloads {
			e.RegisterDelayedCallback(func() { e.SignalWorkflow(sig, bp.payload) }, at)
		}
	}
	var watching MigrationStatus
	e.RegisterDelayedCallback(func() { watching = e.status() }, at+time.Second)
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(RollbackSignal, MigrationSignal{By: "dana", Reason: "board pack shows a gap"})
	}, at+2*time.Second)
	var after MigrationStatus
	e.RegisterDelayedCallback(func() { after = e.status() }, at+3*time.Second)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, 3*time.Hour)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)

	require.Equal(t, PhaseWatch, watching.Phase, "no bad payload paused, aborted or rolled back")
	require.Nil(t, watching.Paused)
	require.Equal(t, 4*len(badPayloads), watching.RefusedInputs)
	notices := strings.Join(watching.Notices, "\n")
	for _, bp := range badPayloads[len(badPayloads)-5:] { // the status keeps the latest 20 notices
		require.Contains(t, notices, bp.want, bp.name)
	}
	require.Equal(t, PhaseParallelRun, after.Phase, "the valid rollback was applied right away")
	require.Equal(t, []string{cutover.ELT, cutover.Legacy}, e.switches)
	require.Len(t, after.Rollbacks, 1)
	require.Equal(t, "dana", after.Rollbacks[0].By)
	refused := 0
	for _, d := range e.decisions {
		if d.Kind == "input-refused" {
			refused++
			require.LessOrEqual(t, len(d.Reason), 510)
		}
	}
	require.Equal(t, maxRefusalsRecorded, refused, "refusals recorded, bounded")
}

func TestMigrationApprovalPayloadsRefusedWithOneLine(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	type attempt struct {
		payload any
		want    string
		err     error
	}
	attempts := []*attempt{
		{"dana", `approve-cutover: want a JSON object with keys {approver, comment, override}, got a string "dana"`, nil},
		{map[string]any{"approver": 42}, `approve-cutover: approver: want a string, got a number 42`, nil},
		{map[string]any{"approver": "dana", "overide": "x"}, `unknown key "overide": did you mean "override"?`, nil},
		{map[string]any{"approver": "dana", "override": "ok"}, `override "ok" is too short`, nil},
		{nil, `want a JSON object with keys {approver, comment, override}`, nil},
	}
	for _, at := range attempts {
		e.RegisterDelayedCallback(func() {
			e.UpdateWorkflow(ApproveCutoverUpdate, "", &testsuite.TestUpdateCallback{
				OnAccept:   func() { t.Errorf("accepted %v", at.payload) },
				OnReject:   func(err error) { at.err = err },
				OnComplete: func(any, error) {},
			}, at.payload)
		}, 30*time.Minute)
	}
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, time.Hour)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	for _, at := range attempts {
		require.Error(t, at.err, "%v", at.payload)
		require.Contains(t, at.err.Error(), at.want)
		require.NotContains(t, at.err.Error(), "\n")
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(at.err, &appErr))
		require.True(t, appErr.NonRetryable(), "a refusal is not worth retrying")
	}
}

func TestMigrationInputRefusedNamingTheField(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"misspelt key", `{"plan": "demo/plan.yaml", "domain": "finance", "skip_backfil": true}`, `unknown key "skip_backfil": did you mean "skip_backfill"?`},
		{"wrong type", `{"plan": "demo/plan.yaml", "domain": "finance", "watch_cycles": "3"}`, `watch_cycles: want a whole number, got a string "3"`},
		{"override without reason", `{"plan": "demo/plan.yaml", "domain": "finance", "override_trusted": {"by": "dana"}}`, `override_trusted.reason is required`},
		{"override by a stranger", `{"plan": "demo/plan.yaml", "domain": "finance", "override_trusted": {"by": "eve", "reason": "restated Q4 numbers"}}`, `override_trusted.by "eve" is not a person of plan acme`},
		{"huge watch cycles", `{"plan": "demo/plan.yaml", "domain": "finance", "watch_cycles": 100000000}`, `watch_cycles 100000000: want 1 to 10000`},
		{"cadence too short", `{"plan": "demo/plan.yaml", "domain": "finance", "cadence": "1ms"}`, `cadence "1ms": want a duration from 1s to 31d`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "migration/acme/finance"})
			e.RegisterWorkflowWithOptions(MigrationWorkflow, workflow.RegisterOptions{Name: MigrationWorkflowName})
			e.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(migrationPlan(), nil)
			var in json.RawMessage = []byte(tt.input)
			e.ExecuteWorkflow(MigrationWorkflowName, in)
			require.True(t, e.IsWorkflowCompleted())
			err := e.GetWorkflowError()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// A malformed retry-chunk never holds up a valid skip-chunk sent after it.
func TestBackfillMalformedSignalsNeverBlock(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, ""), nil)
	planned(env)
	bad := backfill.Chunk{Target: "fct_events"}
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RunChunkInput) (*backfill.ChunkResult, error) {
		if in.Chunk.Window.From.Day() == 3 {
			bad = in.Chunk
			return nil, temporal.NewNonRetryableApplicationError("bad rows", activities.ErrTypeBadInput, nil)
		}
		return &backfill.ChunkResult{Rows: 1}, nil
	})
	env.OnActivity(a.SkipBackfillChunk, mock.Anything, mock.Anything).Return(nil)
	for _, sig := range []string{RetryChunkSignal, SkipChunkSignal} {
		for _, bp := range badPayloads {
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(sig, bp.payload) }, time.Minute)
		}
	}
	var before BackfillStatus
	env.RegisterDelayedCallback(func() { before = backfillStatus(t, env) }, time.Minute+time.Second)
	env.RegisterDelayedCallback(func() {
		// Written without the schema-less target's chunk id check: the id as listed.
		env.SignalWorkflow(SkipChunkSignal, ChunkSignal{ChunkID: bad.ID(), By: "dana", Reason: "source outage, agreed with finance"})
	}, time.Minute+2*time.Second)
	env.ExecuteWorkflow(BackfillWorkflow, backfillInput)
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 9, res.Counters.Done)
	require.Equal(t, 1, res.Counters.Skipped)
	require.Equal(t, PhaseWaitingForOperator, before.Phase)
	require.Equal(t, NeedsStuckChunk, before.NeedsAction)
	require.Equal(t, 2*len(badPayloads), before.RefusedInputs)
	require.InDelta(t, 90, before.PercentDone, 0.01)
	require.Contains(t, strings.Join(before.Notices, "\n"), `not a person of plan acme`)
}

func TestBackfillRaiseBudgetPayloadsRefused(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(3.5, ""), nil)
	planned(env)
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(&backfill.ChunkResult{Rows: 1, Cost: 1}, nil)
	in := backfillInput
	in.Concurrency = 1
	type attempt struct {
		payload any
		want    string
		err     error
	}
	attempts := []*attempt{
		{"100", `raise-budget: want a JSON object with keys {by, amount, reason}, got a string "100"`, nil},
		{map[string]any{"by": "cfo", "amount": "100", "reason": "full-year restatement"}, `amount: want a number, got a string "100"`, nil},
		{map[string]any{"by": "cfo", "amount": 1e12, "reason": "full-year restatement"}, `over the limit`, nil},
		{map[string]any{"by": "eve", "amount": 10, "reason": "full-year restatement"}, `"eve" is not a person of plan acme`, nil},
		{map[string]any{"by": "cfo", "amount": 10, "reason": "more"}, `reason "more" is too short`, nil},
	}
	env.RegisterDelayedCallback(func() {
		st := backfillStatus(t, env)
		require.Equal(t, PhasePausedBudget, st.Phase)
		require.Equal(t, NeedsBudget, st.NeedsAction)
		for _, at := range attempts {
			env.UpdateWorkflow(RaiseBudgetUpdate, "", &testsuite.TestUpdateCallback{
				OnReject:   func(err error) { at.err = err },
				OnAccept:   func() { t.Errorf("accepted %v", at.payload) },
				OnComplete: func(any, error) {},
			}, at.payload)
		}
		env.UpdateWorkflow(RaiseBudgetUpdate, "good", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, RaiseBudgetRequest{By: "cfo", Amount: 10, Reason: "Q1 restatement needs the full year"})
	}, time.Hour)
	env.ExecuteWorkflow(BackfillWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	for _, at := range attempts {
		require.Error(t, at.err, "%v", at.payload)
		require.Contains(t, at.err.Error(), at.want)
	}
}

// A person cannot hand a workflow its continue-as-new state: carry in a first run's
// input is refused (it could carry an override of the trusted period, or approvals).
func TestCarryInAnInputIsRefused(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(BackfillWorkflow, workflow.RegisterOptions{Name: BackfillWorkflowName})
	env.OnActivity(a.LoadPlan, mock.Anything, mock.Anything).Return(backfillPlan(0, "2026-01-05"), nil)
	planned(env)
	env.OnActivity(a.RunBackfillChunk, mock.Anything, mock.Anything).Return(func(context.Context, activities.RunChunkInput) (*backfill.ChunkResult, error) {
		t.Error("no chunk may run")
		return &backfill.ChunkResult{}, nil
	}).Maybe()
	var in json.RawMessage = []byte(`{"plan": "demo/plan.yaml", "target": "fct_events", "from": "2026-01-01", "to": "2026-01-11",
		"carry": {"pending": [{"target": "fct_events", "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}}],
		          "trust": {"until": "2026-01-05T00:00:00Z", "override": "anything"}}}`)
	env.ExecuteWorkflow(BackfillWorkflowName, in)
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.Contains(t, err.Error(), `key "carry" is not accepted here`)
}

// Duplicate keys and a by padded with spaces: the first is refused, the second trimmed.
func TestSignalsWithDuplicateKeysAreRefused(t *testing.T) {
	e := newMigrationEnv(t, migrationPlan())
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(PauseSignal, json.RawMessage(`{"by": "dana", "by": "mallory", "reason": "x"}`))
	}, 30*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(PauseSignal, MigrationSignal{By: "  ops  ", Reason: "maintenance"}) }, 31*time.Minute)
	var st MigrationStatus
	e.RegisterDelayedCallback(func() { st = e.status() }, 32*time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(AbortSignal, MigrationSignal{By: "test", Reason: "done"}) }, time.Hour)
	e.ExecuteWorkflow(MigrationWorkflow, migrationInput)
	require.Equal(t, PhaseAborted, e.result().Phase)
	require.Contains(t, strings.Join(st.Notices, "\n"), `key "by" is given twice`)
	require.NotNil(t, st.Paused)
	require.Equal(t, "ops", st.Paused.By)
}
