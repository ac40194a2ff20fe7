package integration

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.temporal.io/sdk/client"

	"etl2elt/internal/demo"
	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// webhook is a local alert receiver.
type webhook struct {
	mu    sync.Mutex
	texts []string
}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	wh.mu.Lock()
	defer wh.mu.Unlock()
	text, _ := m["text"].(string)
	wh.texts = append(wh.texts, text)
}

func (wh *webhook) got() []string {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]string(nil), wh.texts...)
}

// TestQualityChecksCatchALateRedelivery lands the demo week plus a late re-delivery of
// three day-1 orders in day 7's partition (duplicate keys, out of order), and a check
// on a column that does not exist: the pipeline run records every check, fails the
// duplicate and out-of-order checks naming the keys and the load, records the broken
// check as error without failing the run; a run of a chosen window alerts nobody.
func TestQualityChecksCatchALateRedelivery(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	hook := &webhook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	t.Setenv("ETL2ELT_ALERT_WEBHOOK_URL", srv.URL)
	h.seed(0)

	// The late re-delivery: the first three orders of day 1, again, in day 7.
	orders := demo.Generate(demo.Options{Window: h.window, OrdersPerDay: 200, Seed: 7})
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"order_id", "customer_id", "region", "amount", "ordered_at"})
	first := orders[h.window.From][:3]
	for _, o := range first {
		_ = w.Write([]string{strconv.FormatInt(o.ID, 10), o.CustomerID, o.Region, strconv.FormatFloat(float64(o.Amount)/100, 'f', 2, 64), o.OrderedAt.Format(time.RFC3339)})
	}
	w.Flush()
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-07/redelivery.csv", b.Bytes(), "text/csv"))

	// A check whose column does not exist.
	planFile := filepath.Join(h.planDir, "demo", "plan.yaml")
	text, err := os.ReadFile(planFile)
	require.NoError(t, err)
	text = bytes.Replace(text, []byte("\nquality:\n"), []byte("\nquality:\n  - { name: orders_colour, relation: raw.orders, kind: not_null, columns: [colour], fail: 0 }\n"), 1)
	require.NoError(t, os.WriteFile(planFile, text, 0o600))

	_, res, err := h.run(demoInput)
	require.NoError(t, err)
	q := res.Quality
	require.NotNil(t, q)
	byCheck := map[string]string{}
	details := map[string][]string{}
	for _, c := range q.NotPassing {
		byCheck[c.Check] = c.Status
		details[c.Check] = append(c.Examples, c.Detail)
	}
	require.Equal(t, "fail", byCheck["orders_key_unique"], "%+v", q.NotPassing)
	require.Contains(t, details["orders_key_unique"], "order_id="+strconv.FormatInt(first[0].ID, 10)+" ×2")
	require.Equal(t, "fail", byCheck["orders_in_order"], "%+v", q.NotPassing)
	require.Equal(t, "error", byCheck["orders_colour"])
	require.Contains(t, details["orders_colour"][len(details["orders_colour"])-1], `column "colour" does not exist`)
	require.Equal(t, 3, q.Failures, "two failing checks and one that could not run")
	require.Empty(t, q.Blocking)
	require.NotNil(t, q.FreshnessHeld)
	require.True(t, *q.FreshnessHeld, "orders were loaded seconds ago (lag_of: load, max 6h)")

	var stored, failing int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status IN ('fail', 'error')) FROM etl2elt.check_results`).Scan(&stored, &failing))
	require.Equal(t, 9, stored, "8 checks and 1 SLA")
	require.Equal(t, 3, failing)
	var examples string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT examples::text FROM etl2elt.check_results WHERE check_name = 'orders_key_unique'`).Scan(&examples))
	require.Contains(t, examples, "×2")

	// The run's report has the quality section.
	require.NotNil(t, res.Report)
	md, err := h.store.ReadAll(ctx, h.bucket, strings.TrimPrefix(res.Report.Markdown, "s3://"+h.bucket+"/"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Quality and freshness\n\n6 pass, 0 warn, 2 fail, 1 error.")
	require.Contains(t, string(md), "| FAIL | orders_key_unique | unique | raw.orders | 3 |")

	// A run of a given window is on demand: results stored, no state moved, no alert
	// (scheduled runs and migration cycles alert; TestMigrationFreshnessBreachRollsBack).
	require.Empty(t, hook.got(), "a run of a chosen window alerts nobody")
	var alerts int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.alerts`).Scan(&alerts))
	require.Zero(t, alerts)

	// The next run finds the same.
	_, res, err = h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, 3, res.Quality.Failures)

	// On demand (starter check): the named checks only; an unknown name is refused.
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-check-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.CheckWorkflowName,
		workflows.CheckInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08", Checks: []string{"orders_key_unique", "freshness:orders"}})
	require.NoError(t, err)
	var cr workflows.CheckResult
	require.NoError(t, run.Get(ctx, &cr))
	require.Equal(t, workflows.StatusFail, cr.Status)
	require.Equal(t, map[string]int{"fail": 1, "pass": 1}, cr.Counts)
	run, err = h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-check-" + testenv.Suffix(), TaskQueue: h.taskQueue}, workflows.CheckWorkflowName,
		workflows.CheckInput{Plan: "demo/plan.yaml", Domain: "finance", From: "2026-01-01", To: "2026-01-08", Checks: []string{"orders_keys_unique"}})
	require.NoError(t, err)
	require.ErrorContains(t, run.Get(ctx, nil), `the domain has no check "orders_keys_unique" (checks: orders_colour, orders_key_unique,`)
}
