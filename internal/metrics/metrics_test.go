package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServeExposesTemporalHandlerMetrics(t *testing.T) {
	r, err := New()
	require.NoError(t, err)
	defer r.Close()

	r.Handler.WithTags(map[string]string{"source": "orders"}).Counter(RowsLoaded).Inc(7)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	health := &Health{}
	go func() { done <- r.Serve(ctx, "127.0.0.1:0", health, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr.String() + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 &&
			contains(string(b), `etl2elt_rows_loaded_total{source="orders"} 7`) &&
			contains(string(b), "go_goroutines")
	}, 5*time.Second, 100*time.Millisecond)

	// Probes: live while serving; ready only between polling and draining.
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	code, body := get("/livez")
	require.Equal(t, [2]any{200, "ok"}, [2]any{code, body})
	code, body = get("/readyz")
	require.Equal(t, [2]any{503, "starting: the worker is not polling yet"}, [2]any{code, body})
	health.SetReady()
	code, _ = get("/readyz")
	require.Equal(t, 200, code)
	health.SetDraining()
	code, body = get("/readyz")
	require.Equal(t, [2]any{503, "draining: the worker is stopping"}, [2]any{code, body})
	code, _ = get("/livez")
	require.Equal(t, 200, code, "alive while draining: the probe must not kill a worker finishing its activities")

	cancel()
	require.NoError(t, <-done)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
