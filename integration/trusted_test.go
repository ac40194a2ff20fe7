package integration

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"etl2elt/workflows"
)

// trustedDays fingerprints marts.fct_orders per order day before 2026-01-04.
func (h *harness) trustedDays() map[string]string {
	h.t.Helper()
	return h.keyValues(`SELECT order_day::text, count(*)::text || '/' || sum(amount)::text || '/' || md5(string_agg(md5(t::text), '' ORDER BY md5(t::text)))
FROM marts.fct_orders t WHERE ordered_at < '2026-01-04' GROUP BY 1 ORDER BY 1`)
}

// keyValues reads a query of two text columns into a map.
func (h *harness) keyValues(sql string) map[string]string {
	h.t.Helper()
	rows, err := h.warehouse.Query(context.Background(), sql)
	require.NoError(h.t, err)
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		require.NoError(h.t, rows.Scan(&k, &v))
		out[k] = v
	}
	require.NoError(h.t, rows.Err())
	return out
}

// TestTrustedRowsStayTrusted closes the two ways trusted rows were rewritten without
// an override (an incremental model's lookback over a late event, a unique-key delete
// of a backfill), and checks the database guard against SQL written later.
func TestTrustedRowsStayTrusted(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	landed(t, h)
	h.editPlan(`trusted_until: "2025-07-01"`, `trusted_until: "2026-01-04"`)
	h.editPlan(`  to: "2026-01-01"`, `  to: "2026-02-01"`)

	// A first backfill of the trusted period: nothing loaded there yet, it runs.
	res, err := h.backfill(workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "fct_orders", From: "2026-01-01", To: "2026-01-08"})
	require.NoError(t, err)
	require.Equal(t, 7, res.Counters.Done)
	signedOff := h.trustedDays()
	require.Len(t, signedOff, 3)

	// 1. A late order dated Jan 3 (trusted) lands; the pipeline run of Jan 4 (the first
	// untrusted day) reprocesses Jan 2-3 through the model's 2-day lookback.
	_, err = h.warehouse.Exec(ctx, `INSERT INTO raw.orders (order_id, customer_id, region, amount, ordered_at, _etl_load, _etl_loaded_at, _etl_line)
VALUES (888888, 'c-late', 'emea', 4200.00, '2026-01-03 10:00:00+00', 0, now(), 2)`)
	require.NoError(t, err)
	in := demoInput
	in.From, in.To = "2026-01-04", "2026-01-05"
	_, out, err := h.run(in)
	require.NoError(t, err)
	require.Equal(t, signedOff, h.trustedDays(), "a signed-off day is unchanged")
	var held int
	var heldDay string
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*), min(to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')) FROM etl2elt.held_rows WHERE relation = 'marts.fct_orders' AND row_data->>'order_id' = '888888'`).Scan(&held, &heldDay))
	require.Equal(t, 1, held, "the late event is held, not written")
	require.Equal(t, "2026-01-03", heldDay)
	var modelHeld int64
	for _, m := range out.Models.Models {
		if m.Model == "fct_orders" && m.Held != nil {
			modelHeld = m.Held.Rows
			require.Equal(t, []string{"2026-01-03"}, m.Held.Days)
		}
	}
	require.EqualValues(t, 1, modelHeld, "the run reports what it held")

	// 2. A correction moves order X from Jan 2 (trusted) to Jan 5: the backfill of Jan 5
	// would delete the trusted Jan 2 row through the unique key. It is held instead.
	var moved int64
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT min(order_id) FROM raw.orders WHERE ordered_at >= '2026-01-02' AND ordered_at < '2026-01-03'`).Scan(&moved))
	_, err = h.warehouse.Exec(ctx, `UPDATE raw.orders SET ordered_at = '2026-01-05 12:00:00+00' WHERE order_id = $1`, moved)
	require.NoError(t, err)
	res, err = h.backfill(workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "fct_orders", From: "2026-01-05", To: "2026-01-06", Reprocess: "all"})
	require.NoError(t, err)
	require.Equal(t, 1, res.Counters.Done)
	require.Equal(t, signedOff, h.trustedDays(), "the trusted row keyed like the moved order is still there")
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.held_rows WHERE relation = 'marts.fct_orders' AND (row_data->>'order_id')::bigint = $1 AND reason LIKE '%unique key belongs to a trusted row%'`, moved).Scan(&held))
	require.Equal(t, 1, held)
	var overrides int
	require.NoError(t, h.warehouse.QueryRow(ctx, `SELECT count(*) FROM etl2elt.decisions WHERE kind = 'override-trusted'`).Scan(&overrides))
	require.Zero(t, overrides, "nothing was overridden")

	// 3. The database guard: SQL written later cannot remove trusted rows either.
	for _, stmt := range []string{
		`DELETE FROM marts.fct_orders WHERE order_day = '2026-01-02'`,
		`UPDATE marts.fct_orders SET amount = amount + 1 WHERE order_day = '2026-01-01'`,
		`TRUNCATE marts.fct_orders`,
	} {
		_, err := h.warehouse.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, stmt)
		require.Equal(t, "23514", pgErr.Code, stmt)
		require.Contains(t, pgErr.Message, "trusted rows", stmt)
	}
	_, err = h.warehouse.Exec(ctx, `DELETE FROM marts.fct_orders WHERE order_day = '2026-01-06'`)
	require.NoError(t, err, "rows after the trusted period are not guarded")
	// With a recorded override the transaction may rewrite them.
	require.NoError(t, pgx.BeginFunc(ctx, h.warehouse, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('etl2elt.trusted_override', 'override by cfo-office: test', true)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE marts.fct_orders SET amount = amount WHERE order_day = '2026-01-01'`)
		return err
	}))
	require.Equal(t, signedOff, h.trustedDays())
}
