package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"etl2elt/internal/demo"
	"etl2elt/internal/schedules"
	"etl2elt/internal/testenv"
	"etl2elt/internal/window"
	"etl2elt/workflows"
)

func TestScheduledPipelineRunsFromTheWatermark(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Orders for yesterday and today, as a live feed would have them.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	live := window.Window{From: today.AddDate(0, 0, -1), To: today.AddDate(0, 0, 1)}
	_, err := demo.Seed(ctx, h.store, h.legacy, demo.Options{Bucket: h.bucket, Prefix: "landing/", Window: live, OrdersPerDay: 200, Seed: 11})
	require.NoError(t, err)

	id := "it-schedule-" + testenv.Suffix()
	handle, err := h.client.ScheduleClient().Create(ctx, schedules.PipelineOptions(schedules.PipelineRequest{
		ID: id, PlanRef: "demo/plan.yaml", Domain: "finance", TaskQueue: h.taskQueue, Every: time.Hour, Now: true,
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = handle.Delete(context.Background()) })

	var run client.WorkflowRun
	require.Eventually(t, func() bool {
		desc, err := handle.Describe(ctx)
		if err != nil || len(desc.Info.RecentActions) == 0 {
			return false
		}
		started := desc.Info.RecentActions[0].StartWorkflowResult
		run = h.client.GetWorkflow(ctx, started.WorkflowID, started.FirstExecutionRunID)
		return true
	}, 30*time.Second, 200*time.Millisecond, "the schedule started a run")

	var res workflows.PipelineRunResult
	require.NoError(t, run.Get(ctx, &res))
	require.Equal(t, workflows.StatusPass, res.Status)
	require.Equal(t, window.Window{From: today.AddDate(0, 0, -7), To: today.AddDate(0, 0, 1)}.String(), res.Window, "the plan's parallel_run.window is 7d")
	require.EqualValues(t, 400, res.Loads[0].Rows)

	var wm time.Time
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT watermark FROM etl2elt.pipeline_watermarks WHERE plan_name = 'acme' AND domain = 'finance'`).Scan(&wm))
	require.True(t, wm.Equal(today), "watermark %s, want %s", wm, today)
}
