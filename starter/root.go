package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"

	"etl2elt/internal/codec"
	"etl2elt/internal/config"
	"etl2elt/workflows"
)

type usageError struct{ error }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Operate etl2elt migrations: init, validate plans, start and watch workflows",
		Long: `starter is the operator CLI of etl2elt.

Temporal settings come from the standard TEMPORAL_* variables (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS...) or a temporal.toml profile; connections
from ETL2ELT_CONN_<NAME>; S3 from the standard AWS variables. See docs/OPERATIONS.md.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newInitCommand(), newValidateCommand(), newImpactCommand(), newRunCommand(), newReconcileCommand(), newCheckCommand(), newBackfillCommand(), newScheduleCommand(), newStatusCommand(), newMigrateCommand(), newMigrationCommand(), newDemoCommand(), newCodecServerCommand(), newReportCommand(), newExplainCommand())
	root.AddCommand(newObjectsCommand(), newLandCommand(), newModelsCommand())
	return root
}

// session is a Temporal client with the settings the commands print.
type session struct {
	client    client.Client
	cfg       config.Config
	namespace string
}

// dial connects to Temporal with the SDK's environment configuration.
func dial(ctx context.Context) (*session, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal client options: %w", err)
	}
	opts.Logger = quietLogger{}
	if _, err := codec.Apply(&opts, os.Getenv); err != nil {
		return nil, err
	}
	addr := opts.HostPort
	if addr == "" {
		addr = client.DefaultHostPort
	}
	ns := opts.Namespace
	if ns == "" {
		ns = client.DefaultNamespace
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", addr, err)
	}
	return &session{client: c, cfg: cfg, namespace: ns}, nil
}

// workflowURL links a workflow in the Temporal Web UI.
func workflowURL(cfg config.Config, namespace, workflowID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", cfg.TemporalUI, url.PathEscape(namespace), url.PathEscape(workflowID))
}

var _ log.Logger = quietLogger{}

// quietLogger drops the SDK client's logs: the CLI prints what matters itself.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// status runs the workflow's status query into out.
func (s *session) status(ctx context.Context, id string, out any) error {
	v, err := s.client.QueryWorkflow(ctx, id, "", workflows.StatusQuery)
	if err != nil {
		return fmt.Errorf("query %s: %w", id, err)
	}
	if err := v.Get(out); err != nil {
		return fmt.Errorf("decode the status of %s: %w", id, err)
	}
	return nil
}

// run starts a workflow on the task queue, prints where to follow it, and waits for its
// result into res; failed names what did not complete in the error.
func (s *session) run(ctx context.Context, out io.Writer, opts client.StartWorkflowOptions, name string, in, res any, failed string) error {
	opts.TaskQueue = s.cfg.TaskQueue
	run, err := s.client.ExecuteWorkflow(ctx, opts, name, in)
	if err != nil {
		return fmt.Errorf("start workflow: %w", err)
	}
	fmt.Fprintf(out, "started %s %s\n  web UI: %s\n", name, run.GetID(), workflowURL(s.cfg, s.namespace, run.GetID()))
	if err := run.Get(ctx, res); err != nil {
		return fmt.Errorf("%s: %w", failed, err)
	}
	return nil
}

// update sends an update, waits for its result into out, and says what refused it.
func (s *session) update(ctx context.Context, id, name string, arg, out any) error {
	h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, out)
	}
	if err != nil {
		return fmt.Errorf("%s refused: %w", name, err)
	}
	return nil
}
