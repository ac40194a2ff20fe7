package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
