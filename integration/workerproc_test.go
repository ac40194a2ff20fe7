package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"etl2elt/internal/searchattr"
	"etl2elt/internal/testenv"
	"etl2elt/internal/workerapp"
)

// buildWorker builds the real worker binary for tests that kill it.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.Command("go", "build", "-o", bin, "../worker")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return bin
}

// startWorker starts the worker binary on the harness's databases and plan, polling
// task queue tq; its log is printed when the test fails.
func (h *harness) startWorker(bin, tq string) *exec.Cmd {
	t := h.t
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ETL2ELT_CONN_WAREHOUSE="+h.warehouseDSN, "ETL2ELT_CONN_LEGACY="+h.legacyDSN,
		"ETL2ELT_PLAN_DIR="+h.planDir, "ETL2ELT_TASK_QUEUE="+tq, "ETL2ELT_PII_HASH_KEY=integration-test-key", "ETL2ELT_METRICS_ADDR=", "ETL2ELT_S3_PATH_STYLE=true")
	logFile, err := os.CreateTemp(t.TempDir(), "worker-*.log")
	require.NoError(t, err)
	t.Cleanup(func() {
		b, _ := os.ReadFile(logFile.Name())
		if t.Failed() {
			t.Logf("worker log %s:\n%s", logFile.Name(), b)
			return
		}
		requireNoSecretText(t, "worker log "+logFile.Name(), string(b), []string{h.warehouseDSN, h.legacyDSN, os.Getenv("AWS_SECRET_ACCESS_KEY"), "integration-test-key"})
	})
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	return cmd
}

// slowModel makes every fct_orders chunk take at least d (an InitPlan sleeps once per
// statement), so that faults land mid-transaction.
func (h *harness) slowModel(d time.Duration) {
	h.t.Helper()
	sqlFile := filepath.Join(h.planDir, "demo", "models", "fct_orders.sql")
	b, err := os.ReadFile(sqlFile)
	require.NoError(h.t, err)
	slow := strings.Replace(string(b), "from staging.stg_orders", fmt.Sprintf("from staging.stg_orders where (select 1 from pg_sleep(%.3f)) = 1", d.Seconds()), 1)
	require.NotEqual(h.t, string(b), slow)
	require.NoError(h.t, os.WriteFile(sqlFile, []byte(slow), 0o600))
}

// TestWorkerProbes: the worker binary answers /livez at once, /readyz only once it
// polls its task queue, and on SIGTERM stops cleanly (exit 0).
func TestWorkerProbes(t *testing.T) {
	h := newHarness(t)
	bin := buildWorker(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ETL2ELT_CONN_WAREHOUSE="+h.warehouseDSN, "ETL2ELT_CONN_LEGACY="+h.legacyDSN, "ETL2ELT_PLAN_DIR="+h.planDir,
		"ETL2ELT_TASK_QUEUE=it-probes-"+testenv.Suffix(), "ETL2ELT_PII_HASH_KEY=integration-test-key", "ETL2ELT_METRICS_ADDR="+addr,
		"ETL2ELT_S3_PATH_STYLE=true", "ETL2ELT_MAX_CONCURRENT_ACTIVITIES=4")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	get := func(path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return get("/readyz") == 200 }, 60*time.Second, 100*time.Millisecond, "ready once polling: %s", out)
	require.Equal(t, 200, get("/livez"))
	require.Contains(t, out.String(), `"max_concurrent_activities":4`)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "a clean stop: %s", out)
	case <-time.After(45 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the worker did not stop within 45 s: %s", out)
	}
	require.Contains(t, out.String(), "worker stopped")
}

// lockedBuffer is an output a running process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSearchAttributeCheck: the check the worker makes at start, against the dev
// server: the default namespace holds the attributes; a new namespace does not, and
// the error names them and how to register them.
func TestSearchAttributeCheck(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	require.NoError(t, searchattr.Check(ctx, workerapp.SearchAttributeLister(h.client), "default"))

	ns := "it-sa-" + testenv.Suffix()
	_, err := h.client.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	var missing *searchattr.MissingError
	require.Eventually(t, func() bool {
		err = searchattr.Check(ctx, workerapp.SearchAttributeLister(h.client), ns)
		return errors.As(err, &missing)
	}, 30*time.Second, 500*time.Millisecond, "last: %v", err)
	require.Len(t, missing.Missing, len(searchattr.Names))
	require.ErrorContains(t, err, "namespace "+ns+" lacks the search attributes Etl2eltDomain (Keyword)")
}
