// Command worker is the etl2elt Temporal worker: it polls the task queue (default
// etl2elt) and runs the migration workflows and their activities. Configuration comes
// from the environment (see internal/config and docs/OPERATIONS.md); it serves
// Prometheus metrics on ETL2ELT_METRICS_ADDR and stops gracefully on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"etl2elt/internal/codec"
	"etl2elt/internal/config"
	"etl2elt/internal/logging"
	"etl2elt/internal/metrics"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/workerapp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	logFormat := flag.String("log-format", "", "json or console (default: ETL2ELT_LOG_FORMAT, else json)")
	flag.Parse()

	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if *logFormat != "" {
		cfg.LogFormat = *logFormat
	}
	log, err := logging.New(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // best effort on exit

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A fatal worker error (namespace gone, credentials revoked) ends the process
	// instead of leaving a worker that no longer polls but looks healthy.
	ctx, fail := context.WithCancelCause(sigCtx)
	defer fail(nil)

	reg, err := metrics.New()
	if err != nil {
		return err
	}
	defer reg.Close()

	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return fmt.Errorf("temporal client options: %w", err)
	}
	opts.Logger = logging.NewTemporal(log)
	opts.MetricsHandler = reg.Handler
	if c, err := codec.Apply(&opts, os.Getenv); err != nil {
		return err
	} else if c != nil {
		log.Info("payload encryption on (ETL2ELT_PAYLOAD_KEY): workflow payloads are stored encrypted")
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", opts.HostPort, err)
	}
	defer c.Close()

	// The workflows upsert custom search attributes: a namespace without them would
	// fail every workflow task. Refuse to start, saying which to register; a check
	// the credentials may not make (some API keys) only warns.
	ns := opts.Namespace
	if ns == "" {
		ns = client.DefaultNamespace
	}
	if err := searchattr.Check(ctx, workerapp.SearchAttributeLister(c), ns); err != nil {
		var missing *searchattr.MissingError
		if errors.As(err, &missing) {
			return err
		}
		log.Warn("could not check the namespace's search attributes", zap.Error(err))
	}

	deps, err := workerapp.NewDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer deps.Close()
	deps.Activities.Workflows = c // backfill claims: does a holder still run?

	w := worker.New(c, cfg.TaskQueue, workerapp.Options(deps, worker.Options{
		WorkerStopTimeout:                      cfg.ShutdownTimeout,
		MaxConcurrentActivityExecutionSize:     cfg.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxConcurrentWorkflowTasks,
		OnFatalError:                           func(err error) { fail(fmt.Errorf("worker stopped polling: %w", err)) },
	}))
	workerapp.Register(w, deps)

	g, gctx := errgroup.WithContext(ctx)
	// The metrics and probe server outlives the drain: /livez keeps answering while
	// running activities finish, /readyz says draining.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	health := &metrics.Health{}
	if cfg.MetricsAddr != "" {
		g.Go(func() error {
			return reg.Serve(serveCtx, cfg.MetricsAddr, health, func(a net.Addr) {
				log.Info("serving Prometheus metrics and probes", zap.String("metrics", "http://"+a.String()+"/metrics"),
					zap.String("livez", "http://"+a.String()+"/livez"), zap.String("readyz", "http://"+a.String()+"/readyz"))
			})
		})
	}
	g.Go(func() error {
		defer stopServing()
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		health.SetReady()
		log.Info("worker started", zap.String("task_queue", cfg.TaskQueue), zap.String("namespace", opts.Namespace),
			zap.Int("max_concurrent_activities", cfg.MaxConcurrentActivities))
		<-gctx.Done()
		health.SetDraining()
		stop() // a second Ctrl-C now ends the process at once
		log.Info("stopping worker: waiting for running activities", zap.Duration("timeout", cfg.ShutdownTimeout))
		w.Stop()
		return nil
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	log.Info("worker stopped")
	return nil
}
