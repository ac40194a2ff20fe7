// Package metrics exposes the SDK's metrics and the project's own on a Prometheus
// /metrics endpoint. The project's metrics go through the same Temporal metrics
// handler (activity.GetMetricsHandler), so they carry the SDK's tags (namespace, task
// queue, activity type) and land on the same endpoint.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Names of the project's own metrics (Prometheus adds _total etc. by type).
const (
	RowsLoaded        = "etl2elt_rows_loaded"
	RowsQuarantined   = "etl2elt_rows_quarantined"
	ObjectsLoaded     = "etl2elt_objects_loaded"
	ObjectsFailed     = "etl2elt_objects_failed"
	ModelRuns         = "etl2elt_model_runs"
	ReconcileBreaches = "etl2elt_reconcile_breaches"
)

// Registry holds the Prometheus registry and the Temporal metrics handler that
// reports into it.
type Registry struct {
	Prometheus *prometheus.Registry
	Handler    client.MetricsHandler
	closer     io.Closer
}

// New builds a registry with Go runtime and process collectors and a Temporal
// metrics handler backed by tally.
func New() (*Registry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var regErr error
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:      reg,
		OnRegisterError: func(err error) { regErr = errors.Join(regErr, err) },
	})
	sanitize := tallyprom.DefaultSanitizerOpts
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitize,
	}, time.Second)
	if regErr != nil {
		return nil, fmt.Errorf("register metrics: %w", regErr)
	}
	return &Registry{
		Prometheus: reg,
		Handler:    sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)),
		closer:     closer,
	}, nil
}

// Health is the worker's state as probes see it: /livez answers 200 while the process
// serves; /readyz answers 200 once the worker polls its task queue and 503 before
// that and from the moment it starts draining (SIGTERM), so that no new work is routed
// to a worker that is stopping.
type Health struct {
	ready, draining atomic.Bool
}

// SetReady marks the worker as polling.
func (h *Health) SetReady() { h.ready.Store(true) }

// SetDraining marks the worker as stopping.
func (h *Health) SetDraining() { h.draining.Store(true) }

func (h *Health) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case h.draining.Load():
		http.Error(w, "draining: the worker is stopping", http.StatusServiceUnavailable)
	case !h.ready.Load():
		http.Error(w, "starting: the worker is not polling yet", http.StatusServiceUnavailable)
	default:
		_, _ = w.Write([]byte("ready\n"))
	}
}

func livez(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }

// Close flushes and stops the reporting scope.
func (r *Registry) Close() error { return r.closer.Close() }

// Serve listens on addr and serves /metrics, and /livez and /readyz from health (if
// not nil), until ctx is done. It returns the bound address once listening (useful
// with port 0) through ready, if not nil.
func (r *Registry) Serve(ctx context.Context, addr string, health *Health, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.Prometheus, promhttp.HandlerOpts{}))
	if health != nil {
		mux.HandleFunc("/livez", livez)
		mux.HandleFunc("/readyz", health.readyz)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	}
}
