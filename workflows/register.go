package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// Registry is the part of worker.Worker that registers workflows.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers every workflow under its public name.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(PipelineRunWorkflow, workflow.RegisterOptions{Name: PipelineRunWorkflowName})
	r.RegisterWorkflowWithOptions(BackfillWorkflow, workflow.RegisterOptions{Name: BackfillWorkflowName})
	r.RegisterWorkflowWithOptions(ReconcileWorkflow, workflow.RegisterOptions{Name: ReconcileWorkflowName})
	r.RegisterWorkflowWithOptions(MigrationWorkflow, workflow.RegisterOptions{Name: MigrationWorkflowName})
	r.RegisterWorkflowWithOptions(CheckWorkflow, workflow.RegisterOptions{Name: CheckWorkflowName})
}
