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

	deps, err := workerapp.NewDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer deps.Close()
	deps.Activities.Workflows = c // backfill claims: does a holder still run?

	w := worker.New(c, cfg.TaskQueue, workerapp.Options(deps, worker.Options{
		WorkerStopTimeout: cfg.ShutdownTimeout,
		OnFatalError:      func(err error) { fail(fmt.Errorf("worker stopped polling: %w", err)) },
	}))
	workerapp.Register(w, deps)

	g, gctx := errgroup.WithContext(ctx)
	if cfg.MetricsAddr != "" {
		g.Go(func() error {
			return reg.Serve(gctx, cfg.MetricsAddr, func(a net.Addr) {
				log.Info("serving Prometheus metrics", zap.String("url", "http://"+a.String()+"/metrics"))
			})
		})
	}
	g.Go(func() error {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker started", zap.String("task_queue", cfg.TaskQueue), zap.String("namespace", opts.Namespace))
		<-gctx.Done()
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
