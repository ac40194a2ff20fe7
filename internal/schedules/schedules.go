// Package schedules builds the Temporal Schedules of the project: a domain's
// PipelineRunWorkflow on the plan's cadence. The starter creates them; the integration
// tests create the same ones.
package schedules

import (
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/searchattr"
	"etl2elt/workflows"
)

// PipelineID is the schedule id of a domain's pipeline runs.
func PipelineID(domain string) string { return "pipeline-schedule/" + domain }

// PipelineRequest describes a domain's pipeline schedule.
type PipelineRequest struct {
	PlanRef   string
	Domain    string
	TaskQueue string
	Every     time.Duration
	Paused    bool
	// Now also starts a run immediately.
	Now bool
	// ID overrides PipelineID(Domain) (tests, several plans with one domain name).
	ID string
}

// PipelineOptions are the schedule options: PipelineRunWorkflow without dates (each
// run covers the time since the domain's watermark), every r.Every, a run still going
// when the next is due is not doubled (overlap policy: skip).
func PipelineOptions(r PipelineRequest) client.ScheduleOptions {
	id := r.ID
	if id == "" {
		id = PipelineID(r.Domain)
	}
	return client.ScheduleOptions{
		ID:   id,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: r.Every}}},
		Action: &client.ScheduleWorkflowAction{
			ID:        "pipeline/" + r.Domain + "/scheduled",
			Workflow:  workflows.PipelineRunWorkflowName,
			Args:      []any{workflows.PipelineRunInput{Plan: r.PlanRef, Domain: r.Domain}},
			TaskQueue: r.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				searchattr.Domain.ValueSet(r.Domain), searchattr.Phase.ValueSet("scheduled")),
		},
		Overlap:            enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Paused:             r.Paused,
		TriggerImmediately: r.Now,
		Note:               fmt.Sprintf("etl2elt pipeline of domain %s, plan %s, every %s", r.Domain, r.PlanRef, r.Every),
	}
}
