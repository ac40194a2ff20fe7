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
	go func() { done <- r.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
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

	cancel()
	require.NoError(t, <-done)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
