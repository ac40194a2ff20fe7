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

// Close flushes and stops the reporting scope.
func (r *Registry) Close() error { return r.closer.Close() }

// Serve listens on addr and serves /metrics until ctx is done. It returns the bound
// address once listening (useful with port 0) through ready, if not nil.
func (r *Registry) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.Prometheus, promhttp.HandlerOpts{}))
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
