package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
	"etl2elt/internal/window"
)

func fl(v float64) *float64 { return &v }

func TestJudge(t *testing.T) {
	tests := []struct {
		v          float64
		warn, fail *float64
		want       string
	}{
		{0, nil, fl(0), Pass},
		{1, nil, fl(0), Fail},
		{0.02, fl(0.01), fl(0.05), Warn},
		{0.05, fl(0.01), fl(0.05), Warn},
		{0.051, fl(0.01), fl(0.05), Fail},
		{3, fl(5), nil, Pass},
		{6, fl(5), nil, Warn},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Judge(tt.v, tt.warn, tt.fail), "%v", tt)
	}
}

func TestAlertsOnStateChangesOnly(t *testing.T) {
	tests := []struct {
		from, to, min string
		want          bool
	}{
		{Pass, Pass, "", false},
		{Fail, Fail, "", false},
		{Pass, Warn, "", true},
		{Pass, Fail, "", true},
		{Warn, Fail, "", true},
		{Fail, Pass, "", true}, // resolved
		{Pass, Error, "", true},
		{Pass, Warn, Fail, false},
		{Warn, Fail, Fail, true},
		{Fail, Warn, Fail, true}, // resolved at the fail level
		{Warn, Pass, Fail, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Alerts(tt.from, tt.to, tt.min), "%s → %s (min %q)", tt.from, tt.to, tt.min)
	}
}

func TestPartitionOf(t *testing.T) {
	for key, want := range map[string]string{
		"landing/orders/dt=2026-01-07/orders.csv":    "2026-01-07",
		"landing/orders/2026-13-01/x-2026-02-03.csv": "2026-02-03", // the first valid date
		"landing/orders/all.csv":                     "",
	} {
		got := PartitionOf(key)
		if want == "" {
			require.Nil(t, got, key)
			continue
		}
		require.Equal(t, want, got.Format(time.DateOnly), key)
	}
}

func TestMissingDays(t *testing.T) {
	w, err := window.ParseDates("2026-01-29", "2026-02-02")
	require.NoError(t, err)
	per := map[string]int64{"2026-01-29": 100, "2026-01-31": 10, "2026-02-01": 95}
	for d := 1; d <= 28; d++ {
		per[time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)] = 100
	}
	per["2026-01-30"] = 0
	require.Equal(t, []string{"2026-01-30: no rows"}, MissingDays(per, w, 0))
	require.Equal(t, []string{"2026-01-30: no rows", "2026-01-31: 10 rows (trailing median 100)"}, MissingDays(per, w, 0.5))
}

// seeded is a raw-like table of 7 days × 10 orders with planted defects.
func seeded(t *testing.T) (*pgxpool.Pool, window.Window) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "quality"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
CREATE SCHEMA raw;
CREATE TABLE raw.orders (order_id bigint, customer_id text, region text, amount numeric, ordered_at timestamptz,
  _etl_load bigint NOT NULL, _etl_loaded_at timestamptz NOT NULL, _etl_line bigint NOT NULL);
CREATE TABLE raw.customers (customer_id text);
INSERT INTO raw.customers SELECT 'c' || g FROM generate_series(1, 5) g;
-- day d (1..7, but not day 4: a missing day) loaded at the end of day d by load d
INSERT INTO raw.orders
SELECT d * 100 + i, 'c' || (1 + i % 5), (ARRAY['amer','emea','apac'])[1 + i % 3], 10 * i, timestamptz '2026-01-01' + (d - 1) * interval '1 day' + i * interval '1 hour',
  d, timestamptz '2026-01-01' + d * interval '1 day', i
FROM generate_series(1, 7) d, generate_series(1, 10) i WHERE d <> 4;`)
	require.NoError(t, err)
	w, err := window.ParseDates("2026-01-01", "2026-01-08")
	require.NoError(t, err)
	return pool, w
}

func run(t *testing.T, pool *pgxpool.Pool, w window.Window, s Spec) Result {
	t.Helper()
	if s.Relation == "" {
		s.Relation = "raw.orders"
	}
	if s.TimeColumn == "" {
		s.TimeColumn = "ordered_at"
	}
	if len(s.Key) == 0 {
		s.Key = []string{"order_id"}
	}
	if s.Fail == nil && s.QualityCheck.Warn == nil {
		s.Fail = fl(0)
	}
	r, err := RunWith(context.Background(), pool, "postgres", s, w, Env{Loads: seededLoads})
	require.NoError(t, err)
	return r
}

// seededLoads is the load ledger of seeded: load d landed landing/orders/dt=2026-01-0d/,
// load 8 a re-delivery in day 7's partition, load 9 a copy in day 2's.
func seededLoads(_ context.Context, ids []int64) (map[int64]LoadOrigin, error) {
	out := map[int64]LoadOrigin{}
	for _, id := range ids {
		day := map[int64]int{8: 7, 9: 2}[id]
		if day == 0 {
			day = int(id)
		}
		key := fmt.Sprintf("landing/orders/dt=2026-01-%02d/orders.csv", day)
		out[id] = LoadOrigin{ObjectKey: key, Partition: PartitionOf(key)}
	}
	return out, nil
}

func spec(name, kind string, cols ...string) Spec {
	return Spec{QualityCheck: plan.QualityCheck{Name: name, Kind: kind, Columns: cols}}
}

func TestEveryKindIsCleanOnCleanData(t *testing.T) {
	pool, _ := seeded(t)
	w, err := window.ParseDates("2026-01-01", "2026-01-04") // days 1-3: before the missing day
	require.NoError(t, err)
	for _, s := range []Spec{
		spec("nn", "not_null", "order_id", "amount"),
		spec("nf", "null_fraction", "amount"),
		spec("u", "unique", "order_id"),
		spec("md", "missing_days"),
		{QualityCheck: plan.QualityCheck{Name: "late", Kind: "late_arrival", AllowedLateness: "1d"}},
		spec("ooo", "out_of_order"),
		{QualityCheck: plan.QualityCheck{Name: "ref", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"customer_id"}}}},
		{QualityCheck: plan.QualityCheck{Name: "av", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer", "emea", "apac"}}},
		{QualityCheck: plan.QualityCheck{Name: "rg", Kind: "range", Columns: []string{"amount"}, Min: fl(0), Max: fl(1000)}},
	} {
		r := run(t, pool, w, s)
		require.Equal(t, Pass, r.Status, "%s: %+v", s.Name, r)
		require.Zero(t, r.Value, s.Name)
		require.Empty(t, r.Examples, s.Name)
		require.Positive(t, r.Rows, s.Name)
		require.False(t, r.NoData, s.Name)
	}
}

func TestEachKindFindsItsSeededDefect(t *testing.T) {
	pool, w := seeded(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
UPDATE raw.orders SET amount = NULL WHERE order_id IN (101, 102);              -- nulls
INSERT INTO raw.orders SELECT * FROM raw.orders WHERE order_id IN (201, 202);  -- duplicated keys (also another load:)
UPDATE raw.orders SET _etl_load = 9 WHERE ctid IN (SELECT ctid FROM raw.orders WHERE order_id = 201 LIMIT 1);
-- load 8 lands late: 3 orders of day 1 landed on day 7 (out of order: loads 2..7 were newer)
INSERT INTO raw.orders VALUES (150, 'c1', 'amer', 5, '2026-01-01 05:00Z', 8, '2026-01-07 12:00Z', 1),
  (151, 'c9', 'amer', 5, '2026-01-01 06:00Z', 8, '2026-01-07 12:00Z', 2), (152, 'c1', 'mars', -5, '2026-01-01 07:00Z', 8, '2026-01-07 12:00Z', 3);`)
	require.NoError(t, err)

	r := run(t, pool, w, spec("nn", "not_null", "amount"))
	require.Equal(t, Fail, r.Status)
	require.EqualValues(t, 2, r.Value)
	require.Equal(t, []string{"order_id=101", "order_id=102"}, r.Examples)

	s := spec("nf", "null_fraction", "amount")
	s.QualityCheck.Warn, s.Fail = fl(0.01), fl(0.5)
	r = run(t, pool, w, s)
	require.Equal(t, Warn, r.Status, r.Detail)
	require.InDelta(t, 2.0/65, r.Value, 1e-6)

	r = run(t, pool, w, spec("u", "unique", "order_id"))
	require.Equal(t, Fail, r.Status)
	require.EqualValues(t, 2, r.Value)
	require.Equal(t, []string{"order_id=201 ×2", "order_id=202 ×2"}, r.Examples)
	require.Contains(t, r.Detail, "2 surplus rows")

	r = run(t, pool, w, spec("md", "missing_days"))
	require.Equal(t, Fail, r.Status)
	require.Equal(t, []string{"2026-01-04: no rows"}, r.Examples)

	late := Spec{QualityCheck: plan.QualityCheck{Name: "late", Kind: "late_arrival", AllowedLateness: "1d", Fail: fl(0.5), Warn: fl(0)},
		Lookback: 48 * time.Hour, LookbackModels: []string{"fct_orders"}}
	r = run(t, pool, w, late)
	require.Equal(t, Fail, r.Status, r.Detail)
	require.EqualValues(t, 1, r.Value, "every row of load 8 is late")
	require.Equal(t, "load 8: 3 of 3 rows", r.Examples[0])
	require.Contains(t, r.Detail, "landed beyond the 2d lookback of fct_orders: reprocess 2026-01-01")

	r = run(t, pool, w, spec("ooo", "out_of_order"))
	require.Equal(t, Fail, r.Status, r.Detail)
	require.Equal(t, []string{"load 8 (landing/orders/dt=2026-01-07/orders.csv): 3 of 3 rows"}, r.Examples, "load 9 (order 201 again, in its own day's partition) is in order")

	r = run(t, pool, w, Spec{QualityCheck: plan.QualityCheck{Name: "ref", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"customer_id"}}}})
	require.Equal(t, Fail, r.Status)
	require.Equal(t, []string{"customer_id=c9"}, r.Examples)

	r = run(t, pool, w, Spec{QualityCheck: plan.QualityCheck{Name: "av", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer", "emea", "apac"}}})
	require.Equal(t, Fail, r.Status)
	require.Equal(t, []string{`"mars" ×1`}, r.Examples)

	r = run(t, pool, w, Spec{QualityCheck: plan.QualityCheck{Name: "rg", Kind: "range", Columns: []string{"amount"}, Min: fl(0)}})
	require.Equal(t, Fail, r.Status)
	require.Equal(t, []string{"order_id=152"}, r.Examples)

	// row_count_change: this window against the previous one of the same length.
	w2, _ := window.ParseDates("2026-01-05", "2026-01-08")
	rc := spec("rc", "row_count_change")
	rc.QualityCheck.Warn, rc.Fail = fl(0.2), fl(0.5)
	r = run(t, pool, w2, rc)
	require.Equal(t, Warn, r.Status, r.Detail) // 30 rows against 23 (day 4 missing, 3 extra and 2 duplicates on days 1-3 are outside)
	w0, _ := window.ParseDates("2025-12-01", "2025-12-08")
	r = run(t, pool, w0, rc)
	require.True(t, r.NoData)
	require.Equal(t, Pass, r.Status)
}

func TestChecksThatCannotRunSayWhy(t *testing.T) {
	pool, w := seeded(t)
	for _, tt := range []struct {
		s    Spec
		want string
	}{
		{Spec{QualityCheck: plan.QualityCheck{Name: "x", Kind: "not_null", Relation: "raw.nope", Columns: []string{"a"}}}, `relation "raw.nope" does not exist`},
		{spec("y", "not_null", "colour"), `column "colour" does not exist`},
		{spec("z", "unique", "order_id; drop table x"), `not a safe SQL identifier`},
		{Spec{QualityCheck: plan.QualityCheck{Name: "late", Kind: "late_arrival", AllowedLateness: "soon"}}, `allowed_lateness "soon"`},
		{Spec{QualityCheck: plan.QualityCheck{Name: "late2", Kind: "late_arrival", Relation: "raw.customers", AllowedLateness: "1d", TimeColumn: "customer_id"}}, `_etl_load`},
		// A range on a text column: the bounds do not compare (not retried, not a silent pass).
		{Spec{QualityCheck: plan.QualityCheck{Name: "rg_text", Kind: "range", Columns: []string{"region"}, Min: fl(0), Max: fl(10)}}, `operator does not exist: text < double precision`},
		// A time column that is text: an error, not "0 of 0 rows".
		{Spec{QualityCheck: plan.QualityCheck{Name: "tc_text", Kind: "not_null", Columns: []string{"amount"}, TimeColumn: "region"}}, `operator does not exist: text >= timestamp with time zone`},
		{Spec{QualityCheck: plan.QualityCheck{Name: "tc_text2", Kind: "missing_days", TimeColumn: "region"}}, `operator does not exist`},
	} {
		r := run(t, pool, w, tt.s)
		require.Equal(t, Error, r.Status, tt.s.Name)
		require.Contains(t, r.Error, tt.want, tt.s.Name)
	}
}

func TestFreshness(t *testing.T) {
	pool, _ := seeded(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	sla := FreshnessSpec{FreshnessSLA: plan.FreshnessSLA{Source: "orders", Warn: "12h", MaxLag: "1d"}, Relation: "raw.orders", TimeColumn: "ordered_at"}
	f, err := MeasureFreshness(ctx, pool, pool, sla, now)
	require.NoError(t, err)
	require.Equal(t, Warn, f.Status, f.Detail) // newest event 2026-01-07 10:00: 14 h
	require.EqualValues(t, 14*3600, *f.EventLagSeconds)
	require.Nil(t, f.LoadLagSeconds, "no load in the ledger")

	sla.LagOf = plan.LagOfLoad
	f, err = MeasureFreshness(ctx, pool, pool, sla, now)
	require.NoError(t, err)
	require.Equal(t, Fail, f.Status, "a source never loaded misses its SLA")
	require.Contains(t, f.Detail, "no last successful load yet")

	// Another plan's source of the same name, landed elsewhere, does not count.
	_, err = pool.Exec(ctx, `INSERT INTO etl2elt.object_loads (source, target, object_key, etag, load_id, loaded_at)
VALUES ('orders', 'other_raw.orders', 'k', 'e', 'l', '2026-01-07 23:45Z')`)
	require.NoError(t, err)
	f, err = MeasureFreshness(ctx, pool, pool, sla, now)
	require.NoError(t, err)
	require.Equal(t, Fail, f.Status, "another raw table's loads are not this source's")
	_, err = pool.Exec(ctx, `INSERT INTO etl2elt.object_loads (source, target, object_key, etag, load_id, loaded_at)
VALUES ('orders', 'raw.orders', 'k', 'e', 'l', '2026-01-07 23:30Z')`)
	require.NoError(t, err)
	f, err = MeasureFreshness(ctx, pool, pool, sla, now)
	require.NoError(t, err)
	require.Equal(t, Pass, f.Status, f.Detail)
	require.Equal(t, "last successful load 30m 0s ago (max lag 1d); newest event 14h 0m ago", f.Detail)
	f, err = MeasureFreshness(ctx, pool, pool, sla, time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Contains(t, f.Detail, "newest event 10h 0m in the future", "an event ahead of the clock is said so")

	f, err = MeasureFreshness(ctx, pool, pool, sla, now.Add(48*time.Hour))
	require.NoError(t, err)
	require.Equal(t, Fail, f.Status)
	require.False(t, f.Held())
}

// receiver is a local webhook that fails its first `failures` requests.
type receiver struct {
	mu       sync.Mutex
	failures int
	bodies   []map[string]any
	hits     int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits++
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	rc.bodies = append(rc.bodies, m)
}

func TestAlertsAreSentOnceperStateChangeAndRetried(t *testing.T) {
	pool, w := seeded(t)
	ctx := context.Background()
	rc := &receiver{failures: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	targets := []plan.AlertTarget{{Name: "log", Kind: "log"}, {Name: "oncall", Kind: "webhook", URLEnv: "HOOK"}, {Name: "unset", Kind: "webhook", URLEnv: "NOT_SET"}}
	n := Notifier{Getenv: func(k string) string {
		if k == "HOOK" {
			return srv.URL + "/T0/secret-token"
		}
		return ""
	}, Backoff: []time.Duration{time.Millisecond, time.Millisecond}}
	deliver := func(runID string, status string) []Alert {
		r := Result{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: status, Detail: "2 keys", StartedAt: time.Now(), FinishedAt: time.Now()}
		pending, err := Save(ctx, pool, RunMeta{RunID: runID, PlanName: "acme", Domain: "finance", Window: &w}, []Result{r}, nil, targets)
		require.NoError(t, err)
		var out []Alert
		for _, a := range pending {
			if a.RunID != runID {
				continue // an earlier run's failed alert, retried: not this run's news
			}
			var target plan.AlertTarget
			for _, tg := range targets {
				if tg.Name == a.Target {
					target = tg
				}
			}
			a = n.Deliver(ctx, target, a, map[string]any{"check": a.Check})
			require.NoError(t, MarkDelivery(ctx, pool, a))
			out = append(out, a)
		}
		return out
	}
	require.Empty(t, deliver("run-1", Pass), "a passing new check is no news")
	var first string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM etl2elt.check_state WHERE check_name = 'orders_key_unique'`).Scan(&first))
	require.Equal(t, Pass, first, "but its state is kept")
	got := deliver("run-2", Fail)
	require.Len(t, got, 3)
	byTarget := map[string]Alert{}
	for _, a := range got {
		byTarget[a.Target] = a
	}
	require.Equal(t, DeliveryLogged, byTarget["log"].Delivery)
	require.Equal(t, DeliveryDelivered, byTarget["oncall"].Delivery)
	require.Equal(t, 3, byTarget["oncall"].Attempts, "two failures retried")
	require.Equal(t, DeliveryFailed, byTarget["unset"].Delivery)
	require.Contains(t, byTarget["unset"].Error, "environment variable NOT_SET is not set on the worker")
	require.Empty(t, deliver("run-3", Fail), "still failing: no second alert")
	require.Empty(t, deliver("run-3", Fail), "a retried run sends nothing twice")
	got = deliver("run-4", Pass)
	require.Len(t, got, 3)
	require.Len(t, rc.bodies, 2)
	require.Contains(t, rc.bodies[0]["text"], "orders_key_unique on raw.orders pass → fail")
	require.Contains(t, rc.bodies[1]["text"], "resolved (fail → pass)")

	// A receiver that never answers well: the alert fails after its retries, naming
	// the target and never the URL (it carries a token).
	rc.failures = 100
	got = deliver("run-5", Warn)
	for _, a := range got {
		if a.Target == "oncall" {
			require.Equal(t, DeliveryFailed, a.Delivery)
			require.Equal(t, 3, a.Attempts)
			require.Contains(t, a.Error, "HTTP 502")
			require.NotContains(t, a.Error, "secret-token")
		}
	}
	// A receiver nobody listens on: the error says what happened, not where.
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.URL
	closed.Close()
	dead := n.Deliver(ctx, plan.AlertTarget{Name: "dead", Kind: "webhook", URLEnv: "DEAD"}, Alert{ID: 1, Message: "m"}, nil)
	require.Equal(t, DeliveryFailed, dead.Delivery)
	n.Getenv = func(string) string { return addr + "/hook/secret-token" }
	dead = n.Deliver(ctx, plan.AlertTarget{Name: "dead", Kind: "webhook", URLEnv: "DEAD"}, Alert{ID: 1, Message: "m"}, nil)
	require.Equal(t, DeliveryFailed, dead.Delivery)
	require.Contains(t, dead.Error, "connection refused")
	require.NotContains(t, dead.Error, "127.0.0.1")
	require.NotContains(t, dead.Error, "secret-token")

	// A retried run whose result differs decides again: run-6 first fails (alert
	// queued, not delivered), then its retry passes: no stale alert, state back.
	save := func(runID, status string) []Alert {
		pending, err := Save(ctx, pool, RunMeta{RunID: runID, PlanName: "acme", Domain: "finance"},
			[]Result{{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: status, StartedAt: time.Now(), FinishedAt: time.Now()}}, nil, targets[:1])
		require.NoError(t, err)
		return pending
	}
	own := func(alerts []Alert, runID string) []Alert {
		var out []Alert
		for _, a := range alerts {
			if a.RunID == runID {
				out = append(out, a)
			}
		}
		return out
	}
	require.Len(t, own(save("run-6", Fail), "run-6"), 1, "warn → fail queued")
	require.Empty(t, own(save("run-6", Warn), "run-6"), "the retry finds warn again: nothing to tell")
	var st string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM etl2elt.check_state WHERE check_name = 'orders_key_unique'`).Scan(&st))
	require.Equal(t, Warn, st)
	got = own(save("run-7", Pass), "run-7")
	require.Len(t, got, 1)
	require.Equal(t, "warn", got[0].From)
	again := own(save("run-7", Pass), "run-7")
	require.Len(t, again, 1, "a retry with the same result queues nothing new: the same alert, still pending")
	require.Equal(t, got[0].ID, again[0].ID)

	// An on-demand run of another window stores its result but neither moves the
	// state nor alerts.
	pending, err := Save(ctx, pool, RunMeta{RunID: "manual-1", PlanName: "acme", Domain: "finance", OnDemand: true},
		[]Result{{Check: "orders_key_unique", Kind: "unique", Relation: "raw.orders", Status: Pass, StartedAt: time.Now(), FinishedAt: time.Now()}}, nil, targets)
	require.NoError(t, err)
	require.Empty(t, pending)
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM etl2elt.check_state WHERE check_name = 'orders_key_unique'`).Scan(&state))
	require.Equal(t, Pass, state)
	var rows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.alerts`).Scan(&rows))
	require.Equal(t, 10, rows)
	var results int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM etl2elt.check_results`).Scan(&results))
	require.Equal(t, 8, results, "7 runs (retries are one row each) and the on-demand one")
}

// TestRunAllSharesOneScanAndMatchesRunningAlone: the scan kinds on one relation give
// the same results together as alone, a broken check in the group gets its own error,
// and the others still run.
func TestRunAllSharesOneScanAndMatchesRunningAlone(t *testing.T) {
	pool, w := seeded(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `UPDATE raw.orders SET amount = NULL WHERE order_id IN (101, 102); UPDATE raw.orders SET region = 'mars', amount = -1 WHERE order_id = 103`)
	require.NoError(t, err)
	specs := []Spec{
		spec("nn", "not_null", "amount"),
		spec("nf", "null_fraction", "amount", "region"),
		{QualityCheck: plan.QualityCheck{Name: "av", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer", "emea", "apac"}}},
		{QualityCheck: plan.QualityCheck{Name: "rg", Kind: "range", Columns: []string{"amount"}, Min: fl(0), Max: fl(1000)}},
		spec("u", "unique", "order_id"),
	}
	for i := range specs {
		specs[i].Relation, specs[i].TimeColumn, specs[i].Key, specs[i].Fail = "raw.orders", "ordered_at", []string{"order_id"}, fl(0)
	}
	together, err := RunAll(ctx, pool, "postgres", specs, w, Env{Loads: seededLoads})
	require.NoError(t, err)
	require.Len(t, together, len(specs))
	for i, s := range specs {
		alone := run(t, pool, w, s)
		got := together[i]
		require.Equal(t, alone.Status, got.Status, s.Name)
		require.Equal(t, alone.Value, got.Value, s.Name)
		require.Equal(t, alone.Examples, got.Examples, s.Name)
		require.Equal(t, alone.Detail, got.Detail, s.Name)
		require.Equal(t, alone.Rows, got.Rows, s.Name)
	}
	require.Equal(t, []string{"order_id=101", "order_id=102"}, together[0].Examples)
	require.Equal(t, []string{`"mars" ×1`}, together[2].Examples)
	require.Equal(t, []string{"order_id=103"}, together[3].Examples)

	rangeText := Spec{QualityCheck: plan.QualityCheck{Name: "rg_text", Kind: "range", Columns: []string{"region"}, Min: fl(0), Max: fl(10)}}
	broken := append([]Spec{spec("colour", "not_null", "colour"), rangeText}, specs...)
	broken[1].Relation, broken[1].TimeColumn, broken[1].Fail = "raw.orders", "ordered_at", fl(0)
	broken[0].Relation, broken[0].TimeColumn, broken[0].Fail = "raw.orders", "ordered_at", fl(0)
	res, err := RunAll(ctx, pool, "postgres", broken, w, Env{Loads: seededLoads})
	require.NoError(t, err)
	require.Equal(t, Error, res[0].Status)
	require.Contains(t, res[0].Error, `column "colour" does not exist`)
	require.Equal(t, Error, res[1].Status, "a range on a text column is an error of its own")
	require.Equal(t, together[0].Value, res[2].Value, "the others still run")
	require.Equal(t, together[0].Status, res[2].Status)
}
