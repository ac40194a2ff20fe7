package quality

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// counting is a Queryer that keeps the statements it passes on.
type counting struct {
	q   Queryer
	mu  sync.Mutex
	sql []string
}

func (c *counting) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.keep(sql)
	return c.q.Query(ctx, sql, args...)
}

func (c *counting) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.keep(sql)
	return c.q.QueryRow(ctx, sql, args...)
}

func (c *counting) keep(sql string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sql = append(c.sql, sql)
}

// scans counts the statements that are not bounded example queries: the shared passes
// and the checks run on their own.
func (c *counting) scans() int {
	n := 0
	for _, s := range c.sql {
		if !strings.Contains(s, " LIMIT ") && !strings.Contains(s, "pg_catalog.pg_attribute") {
			n++
		}
	}
	return n
}

// passData is seeded's table with more history and more defects:
//   - 28 days before the window (2025-12-04 .. 2025-12-31, loads 100+), 10 rows each;
//   - day 5 of the window thin (2 of its 10 rows left): below half the trailing median;
//   - NULL keys (orders 102 and 103), NULL amounts, a region and an amount out of bounds;
//   - order 201 twice (another load);
//   - load 8 lands 3 orders of day 1 on day 7 (late beyond any lookback, out of order),
//     load 10 lands 2 orders of day 6 on day 7 at 20:00 (late by 34 hours, in order),
//     the seeded loads are 1 to 23 hours after their rows (late beyond a 12-hour lookback),
//     load 11 an object whose key names no day (out_of_order does not judge it);
//   - customer c9 and region "mars" found in no reference table.
func passData(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := seeded(t)
	_, err := pool.Exec(context.Background(), `
INSERT INTO raw.orders
SELECT 10000 + d * 100 + i, 'c' || (1 + i % 5), (ARRAY['amer','emea','apac'])[1 + i % 3], 10 * i,
  timestamptz '2025-12-04' + d * interval '1 day' + i * interval '1 hour', 100 + d, timestamptz '2025-12-05' + d * interval '1 day', i
FROM generate_series(0, 27) d, generate_series(1, 10) i;
DELETE FROM raw.orders WHERE order_id BETWEEN 503 AND 510;
UPDATE raw.orders SET order_id = NULL WHERE order_id IN (102, 103);
UPDATE raw.orders SET amount = NULL WHERE order_id IN (301, 302, 10105);
INSERT INTO raw.orders SELECT order_id, customer_id, region, amount, ordered_at, 9, _etl_loaded_at, _etl_line FROM raw.orders WHERE order_id = 201;
INSERT INTO raw.orders VALUES (150, 'c1', 'amer', 5, '2026-01-01 05:00Z', 8, '2026-01-07 12:00Z', 1),
  (151, 'c9', 'amer', 5, '2026-01-01 06:00Z', 8, '2026-01-07 12:00Z', 2), (152, 'c1', 'mars', -5, '2026-01-01 07:00Z', 8, '2026-01-07 12:00Z', 3),
  (160, 'c2', 'emea', 7, '2026-01-06 10:00Z', 10, '2026-01-07 20:00Z', 1), (161, 'c3', 'emea', 2000, '2026-01-06 11:00Z', 10, '2026-01-07 20:00Z', 2),
  (170, 'c4', 'apac', 8, '2026-01-03 09:00Z', 11, '2026-01-07 21:00Z', 1);
CREATE TABLE raw.regions (region text);
INSERT INTO raw.regions VALUES ('amer'), ('emea'), ('apac');`)
	require.NoError(t, err)
	return pool
}

// passLoads is seededLoads, and load 10 from day 6's partition, load 11 from an object
// whose key names no day, loads 100+ from their own days.
func passLoads(ctx context.Context, ids []int64) (map[int64]LoadOrigin, error) {
	out, err := seededLoads(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		switch {
		case id == 10:
			key := "landing/orders/dt=2026-01-06/late.csv"
			out[id] = LoadOrigin{ObjectKey: key, Partition: PartitionOf(key)}
		case id == 11:
			out[id] = LoadOrigin{ObjectKey: "landing/orders/all.csv"}
		case id >= 100:
			key := fmt.Sprintf("landing/orders/dt=%s/orders.csv", time.Date(2025, 12, 4+int(id-100), 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
			out[id] = LoadOrigin{ObjectKey: key, Partition: PartitionOf(key)}
		}
	}
	return out, nil
}

// passSpecs is every kind on raw.orders, with thresholds that give each status.
func passSpecs(lookback time.Duration) []Spec {
	specs := []Spec{
		spec("nn", "not_null", "order_id", "amount"),
		spec("nn_time", "not_null", "ordered_at"),
		{QualityCheck: plan.QualityCheck{Name: "nf", Kind: "null_fraction", Columns: []string{"amount", "region", "order_id"}, Warn: fl(0.01), Fail: fl(0.5)}},
		{QualityCheck: plan.QualityCheck{Name: "av", Kind: "accepted_values", Columns: []string{"region"}, Values: []string{"amer", "emea", "apac"}}},
		{QualityCheck: plan.QualityCheck{Name: "rg", Kind: "range", Columns: []string{"amount"}, Min: fl(0), Max: fl(1000)}},
		{QualityCheck: plan.QualityCheck{Name: "rg_max", Kind: "range", Columns: []string{"amount"}, Max: fl(50), Warn: fl(0), Fail: fl(100)}},
		{QualityCheck: plan.QualityCheck{Name: "ref", Kind: "referential", Columns: []string{"customer_id"}, References: &plan.Reference{Relation: "raw.customers", Columns: []string{"customer_id"}}}},
		// The referenced column has the checked column's name: the pass qualifies both.
		{QualityCheck: plan.QualityCheck{Name: "ref_region", Kind: "referential", Columns: []string{"region"}, References: &plan.Reference{Relation: "raw.regions", Columns: []string{"region"}}}},
		spec("md", "missing_days"),
		{QualityCheck: plan.QualityCheck{Name: "md_fraction", Kind: "missing_days", MinFraction: 0.5}},
		{QualityCheck: plan.QualityCheck{Name: "rc", Kind: "row_count_change", Warn: fl(0.1), Fail: fl(0.5)}},
		{QualityCheck: plan.QualityCheck{Name: "late", Kind: "late_arrival", AllowedLateness: "1d", Warn: fl(0), Fail: fl(0.5)},
			Lookback: lookback, LookbackModels: []string{"fct_orders"}},
		{QualityCheck: plan.QualityCheck{Name: "late_2d", Kind: "late_arrival", AllowedLateness: "2d", Fail: fl(0.9)}},
		{QualityCheck: plan.QualityCheck{Name: "ooo", Kind: "out_of_order", Warn: fl(0), Fail: fl(0.5)}},
		spec("u", "unique", "order_id"),
	}
	for i := range specs {
		s := &specs[i]
		s.Relation, s.TimeColumn, s.Key = "raw.orders", "ordered_at", []string{"order_id"}
		if s.Fail == nil && s.QualityCheck.Warn == nil {
			s.Fail = fl(0)
		}
	}
	return specs
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// requireSame asserts that a check run in the shared pass gives what it gives alone.
func requireSame(t *testing.T, alone, got Result) {
	t.Helper()
	name := alone.Check
	require.Equal(t, alone.Status, got.Status, "%s: %s / %s", name, alone.Detail+alone.Error, got.Detail+got.Error)
	require.Equal(t, alone.Value, got.Value, name)
	require.Equal(t, alone.Examples, got.Examples, name)
	require.Equal(t, alone.Detail, got.Detail, name)
	require.Equal(t, alone.Rows, got.Rows, name)
	require.Equal(t, alone.NoData, got.NoData, name)
	require.Equal(t, alone.Error, got.Error, name)
	require.Equal(t, alone.Blocks, got.Blocks, name)
	require.Equal(t, [2]string{alone.Check, alone.Kind}, [2]string{got.Check, got.Kind})
}

// TestSharedPassMatchesEachCheckAlone: every kind the shared pass computes gives the
// value, status, detail, rows and examples of its own query, over windows that are
// full, partial, empty, not on midnights, cut at the complete days, and with lookbacks
// that do and do not cover the late rows; and the pass is one scan per relation (the
// referential checks join in it when it reads no more than twice the window).
func TestSharedPassMatchesEachCheckAlone(t *testing.T) {
	pool := passData(t)
	ctx := context.Background()
	complete := at("2026-01-06T00:00:00Z")
	tests := []struct {
		name     string
		w        window.Window
		env      Env
		lookback time.Duration
		want     map[string]string // statuses that prove the data exercises the kind
	}{
		{name: "the whole week", w: window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}, lookback: 48 * time.Hour,
			want: map[string]string{"nn": Fail, "nf": Warn, "av": Fail, "rg": Fail, "rg_max": Warn, "ref": Fail, "ref_region": Fail, "md": Fail,
				"md_fraction": Fail, "late": Fail, "late_2d": Fail, "ooo": Fail, "u": Fail, "rc": Warn}},
		{name: "a lookback shorter than the lateness: every day to reprocess", w: window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")},
			lookback: 12 * time.Hour, want: map[string]string{"late": Fail}},
		{name: "rows beyond the lookback but none late: nothing to reprocess", w: window.Window{From: at("2026-01-05T00:00:00Z"), To: at("2026-01-06T00:00:00Z")},
			lookback: 12 * time.Hour, want: map[string]string{"late": Pass}},
		{name: "the last days, against the previous ones", w: window.Window{From: at("2026-01-05T00:00:00Z"), To: at("2026-01-08T00:00:00Z")},
			lookback: 48 * time.Hour, want: map[string]string{"md_fraction": Fail, "ooo": Pass, "late": Fail}},
		{name: "bounds that are not midnights", w: window.Window{From: at("2026-01-02T06:00:00Z"), To: at("2026-01-06T18:30:00Z")}, lookback: 24 * time.Hour},
		{name: "complete days only", w: window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}, env: Env{CompleteTo: &complete},
			lookback: 48 * time.Hour},
		{name: "history only (the trailing days are the window)", w: window.Window{From: at("2025-12-10T00:00:00Z"), To: at("2025-12-20T00:00:00Z")},
			want: map[string]string{"md": Pass, "rc": Fail, "late": Pass, "ooo": Pass, "nn": Pass}},
		{name: "an empty window with nothing before", w: window.Window{From: at("2025-10-01T00:00:00Z"), To: at("2025-10-08T00:00:00Z")}, lookback: 48 * time.Hour,
			want: map[string]string{"nn": Pass, "nf": Pass, "md": Fail, "rc": Pass, "late": Pass, "ooo": Pass, "ref": Pass}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			env.Loads = passLoads
			specs := passSpecs(tt.lookback)
			cq := &counting{q: pool}
			together, err := RunAll(ctx, cq, "postgres", specs, tt.w, env)
			require.NoError(t, err)
			require.Len(t, together, len(specs))
			// missing_days reads 28 days before the window: the referential checks
			// (2) join only the window on their own.
			require.Equal(t, 4, cq.scans(), "one shared pass, the referential checks and unique's own GROUP BY: %s", strings.Join(cq.sql, "\n"))
			for i, s := range specs {
				alone, err := RunWith(ctx, pool, "postgres", s, tt.w, env)
				require.NoError(t, err)
				requireSame(t, alone, together[i])
				if want, ok := tt.want[s.Name]; ok {
					require.Equal(t, want, alone.Status, "%s: %s", s.Name, alone.Detail)
				}
				if tt.w.From.Month() == time.October {
					require.True(t, alone.NoData, s.Name)
				}
			}

			// Without the kinds that read before the window, the referential checks
			// join in the pass too.
			var near []Spec
			for _, s := range specs {
				if s.Kind != "missing_days" && s.Kind != "row_count_change" {
					near = append(near, s)
				}
			}
			cq = &counting{q: pool}
			together, err = RunAll(ctx, cq, "postgres", near, tt.w, env)
			require.NoError(t, err)
			require.Equal(t, 2, cq.scans(), "one shared pass and unique's own GROUP BY: %s", strings.Join(cq.sql, "\n"))
			for i, s := range near {
				alone, err := RunWith(ctx, pool, "postgres", s, tt.w, env)
				require.NoError(t, err)
				requireSame(t, alone, together[i])
			}
		})
	}
}

// TestSharedPassExamples pins what the week's defects give, shared or not: the NULL
// keys, the thin day against the trailing median, the days to reprocess.
func TestSharedPassExamples(t *testing.T) {
	pool := passData(t)
	w := window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}
	res, err := RunAll(context.Background(), pool, "postgres", passSpecs(48*time.Hour), w, Env{Loads: passLoads})
	require.NoError(t, err)
	by := map[string]Result{}
	for _, r := range res {
		by[r.Check] = r
	}
	require.Equal(t, []string{"order_id=301", "order_id=302", "order_id=NULL", "order_id=NULL"}, by["nn"].Examples, "NULL keys are examples too, last")
	require.EqualValues(t, 4, by["nn"].Value)
	require.Equal(t, []string{"2026-01-04: no rows"}, by["md"].Examples)
	require.Equal(t, []string{"2026-01-04: no rows", "2026-01-05: 2 rows (trailing median 10)"}, by["md_fraction"].Examples)
	require.Equal(t, []string{"load 8: 3 of 3 rows", "load 10: 2 of 2 rows", "load 11: 1 of 1 rows", "reprocess 2026-01-01", "reprocess 2026-01-03"},
		by["late"].Examples, "load 10's rows are within the 2-day lookback")
	require.Contains(t, by["late"].Detail, "4 rows landed beyond the 2d lookback of fct_orders: reprocess 2026-01-01, 2026-01-03")
	require.Equal(t, []string{"load 8 (landing/orders/dt=2026-01-07/orders.csv): 3 of 3 rows"}, by["ooo"].Examples)
	require.Contains(t, by["ooo"].Detail, "1 loads not judged")
	require.Equal(t, []string{"customer_id=c9"}, by["ref"].Examples)
	require.Equal(t, []string{"region=mars"}, by["ref_region"].Examples)
	require.Equal(t, []string{`"mars" ×1`}, by["av"].Examples)
	require.Equal(t, []string{"order_id=152", "order_id=161"}, by["rg"].Examples)
	require.Equal(t, []string{"order_id=201 ×2"}, by["u"].Examples, "NULL keys are not duplicates")
}

// TestSharedPassWithoutTimeColumn: checks of a relation without a time column share a
// pass over the whole relation.
func TestSharedPassWithoutTimeColumn(t *testing.T) {
	pool := passData(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO raw.customers VALUES (NULL), ('c1'), ('x7')`)
	require.NoError(t, err)
	specs := []Spec{
		spec("c_nn", "not_null", "customer_id"),
		{QualityCheck: plan.QualityCheck{Name: "c_av", Kind: "accepted_values", Columns: []string{"customer_id"}, Values: []string{"c1", "c2", "c3", "c4", "c5"}}},
		spec("c_nf", "null_fraction", "customer_id"),
		spec("c_u", "unique", "customer_id"),
		// Kinds that need a time column cannot run: each says so on its own.
		spec("c_md", "missing_days"),
	}
	for i := range specs {
		specs[i].Relation, specs[i].Fail = "raw.customers", fl(0)
	}
	w := window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}
	cq := &counting{q: pool}
	together, err := RunAll(ctx, cq, "postgres", specs, w, Env{})
	require.NoError(t, err)
	require.Equal(t, 2, cq.scans(), strings.Join(cq.sql, "\n"))
	for i, s := range specs {
		alone, err := RunWith(ctx, pool, "postgres", s, w, Env{})
		require.NoError(t, err)
		requireSame(t, alone, together[i])
	}
	require.Equal(t, Fail, together[0].Status)
	require.Equal(t, []string{"customer_id=NULL"}, together[0].Examples)
	require.Equal(t, []string{`"x7" ×1`}, together[1].Examples)
	require.Equal(t, Error, together[4].Status)
	require.Contains(t, together[4].Error, "needs a time column")
}

// TestSharedPassFallsBack: a pass that fails on what one check names (a referenced
// relation that does not exist, a time column of text) is not an error of the run:
// every check of the group runs alone and gets its own status.
func TestSharedPassFallsBack(t *testing.T) {
	pool := passData(t)
	ctx := context.Background()
	w := window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}
	for _, tt := range []struct {
		name   string
		broken Spec
		want   string
	}{
		{"a missing referenced relation", Spec{QualityCheck: plan.QualityCheck{Name: "ref_nope", Kind: "referential", Columns: []string{"customer_id"},
			References: &plan.Reference{Relation: "raw.nope", Columns: []string{"customer_id"}}}}, `relation "raw.nope" does not exist`},
		{"a range on a text column", Spec{QualityCheck: plan.QualityCheck{Name: "rg_text", Kind: "range", Columns: []string{"region"}, Min: fl(0)}},
			`operator does not exist: text < double precision`},
		{"a missing column", spec("nn_colour", "not_null", "colour"), `column "colour" does not exist`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			specs := passSpecs(0)
			b := tt.broken
			if b.Relation == "" {
				b.Relation, b.TimeColumn, b.Key = "raw.orders", "ordered_at", []string{"order_id"}
			}
			b.Fail = fl(0)
			specs = append(specs, b)
			together, err := RunAll(ctx, pool, "postgres", specs, w, Env{Loads: passLoads})
			require.NoError(t, err)
			for i, s := range specs {
				alone, err := RunWith(ctx, pool, "postgres", s, w, Env{Loads: passLoads})
				require.NoError(t, err)
				requireSame(t, alone, together[i])
			}
			got := together[len(together)-1]
			require.Equal(t, Error, got.Status)
			require.Contains(t, got.Error, tt.want)
		})
	}
}

// TestRangeOnNumericComparesInDoublePrecision: range compares a numeric column with
// its bounds in double precision, as it always did, though most values are decided as
// numeric (beyond): values within a hair of a bound, NaN, subnormals and bounds that
// have no exact decimal give the count of the plain double precision predicate, shared
// pass or not.
func TestRangeOnNumericComparesInDoublePrecision(t *testing.T) {
	pool := passData(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE raw.amounts (id int, amount numeric, x double precision, at timestamptz);
INSERT INTO raw.amounts (id, amount, at) VALUES
  (1, 1000, '2026-01-02Z'), (2, 1000.00000000000001, '2026-01-02Z'), (3, 1000.0000000000002, '2026-01-02Z'),
  (4, 999.99999999999999999, '2026-01-02Z'), (5, -0.00000000000000000001, '2026-01-02Z'), (6, 0, '2026-01-02Z'),
  (7, 'NaN', '2026-01-02Z'), (8, 1e-310, '2026-01-02Z'), (9, -1e-310, '2026-01-02Z'), (10, 0.1, '2026-01-02Z'),
  (11, 0.09999999999999999999, '2026-01-02Z'), (12, 0.0999999999999999, '2026-01-02Z'), (13, NULL, '2026-01-02Z'),
  (14, -1e300, '2026-01-02Z'), (15, 1e300, '2026-01-02Z'), (16, 1e300 * (1 + 1e-20), '2026-01-02Z'), (17, 500, '2026-01-02Z');
UPDATE raw.amounts SET x = amount::double precision`)
	require.NoError(t, err)
	w := window.Window{From: at("2026-01-01T00:00:00Z"), To: at("2026-01-08T00:00:00Z")}
	for _, b := range []struct{ min, max *float64 }{
		{fl(0), fl(1000)}, {fl(0.1), nil}, {nil, fl(1000)}, {fl(-1e300), fl(1e300)}, {fl(5e-324), nil}, {nil, fl(0)},
	} {
		var preds []string
		var args []any
		if b.min != nil {
			args = append(args, *b.min)
			preds = append(preds, fmt.Sprintf("amount < CAST($%d AS DOUBLE PRECISION)", len(args)))
		}
		if b.max != nil {
			args = append(args, *b.max)
			preds = append(preds, fmt.Sprintf("amount > CAST($%d AS DOUBLE PRECISION)", len(args)))
		}
		rows, err := pool.Query(ctx, "SELECT 'id=' || id FROM raw.amounts WHERE "+strings.Join(preds, " OR ")+" ORDER BY id::text", args...)
		require.NoError(t, err)
		want, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.NotEmpty(t, want)
		for _, col := range []string{"amount", "x"} {
			s := Spec{QualityCheck: plan.QualityCheck{Name: "rg", Kind: "range", Relation: "raw.amounts", TimeColumn: "at", Key: []string{"id"},
				Columns: []string{col}, Min: b.min, Max: b.max, Fail: fl(0)}}
			alone, err := RunWith(ctx, pool, "postgres", s, w, Env{})
			require.NoError(t, err)
			require.Empty(t, alone.Error)
			name := fmt.Sprintf("%s in [%s, %s]", col, bound(b.min, "-∞"), bound(b.max, "+∞"))
			require.EqualValues(t, len(want), alone.Value, "%s: %v", name, want)
			require.Equal(t, want, append([]string(nil), alone.Examples...), name)
			nn := spec("nn", "not_null", col)
			nn.Relation, nn.TimeColumn, nn.Key, nn.Fail = "raw.amounts", "at", []string{"id"}, fl(0)
			cq := &counting{q: pool}
			together, err := RunAll(ctx, cq, "postgres", []Spec{s, nn}, w, Env{})
			require.NoError(t, err)
			require.Equal(t, 1, cq.scans(), name)
			requireSame(t, alone, together[0])
		}
	}
}
