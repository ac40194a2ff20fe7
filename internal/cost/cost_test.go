package cost

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
)

// Figures recorded by activities, priced with a plan's rates, against a hand
// calculation (docs/COST.md has the same worked example).
func TestPriceMatchesAHandCalculation(t *testing.T) {
	rates := plan.CostRates{Currency: "USD", WarehouseHour: 3.26, RPUHour: 0.375, BaseRPUs: 8, PerMillionRows: 0.05,
		PerGBTransferred: 0.09, S3Per1000Requests: 0.005, LegacyRun: 12.5}
	tests := []struct {
		name       string
		serverless bool
		u          Usage
		want       Breakdown
	}{
		{"nothing", false, Usage{}, Breakdown{}},
		// 1,800 s = 0.5 h × 3.26 = 1.63; 4M rows × 0.05 = 0.20; 2 GB × 0.09 = 0.18
		// plus 2,000 requests × 0.005 / 1000 = 0.01.
		{"a backfill chunk on PostgreSQL", false,
			Usage{StatementSeconds: 1800, RowsRead: 1_000_000, RowsWritten: 3_000_000, S3Requests: 2000, S3BytesRead: 1_500_000_000, S3BytesWritten: 500_000_000},
			Breakdown{Warehouse: 1.63, Rows: 0.20, S3: 0.19}},
		// Serverless: 0.5 h × 8 RPU × 0.375 = 1.50.
		{"the same on Redshift Serverless", true,
			Usage{StatementSeconds: 1800, RowsRead: 1_000_000, RowsWritten: 3_000_000, S3Requests: 2000, S3BytesRead: 1_500_000_000, S3BytesWritten: 500_000_000},
			Breakdown{Warehouse: 1.50, Rows: 0.20, S3: 0.19}},
		// 36 s = 0.01 h × 3.26 = 0.0326; 20,000 rows = 0.001.
		{"a reconciliation", false, Usage{StatementSeconds: 36, RowsRead: 20_000}, Breakdown{Warehouse: 0.0326, Rows: 0.001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Price(rates, tt.serverless, tt.u)
			require.InDelta(t, tt.want.Warehouse, got.Warehouse, 1e-9)
			require.InDelta(t, tt.want.Rows, got.Rows, 1e-9)
			require.InDelta(t, tt.want.S3, got.S3, 1e-9)
			require.InDelta(t, tt.want.Warehouse+tt.want.Rows+tt.want.S3, got.Total(), 1e-9)
		})
	}
}

func TestRowsSplitsCommandTags(t *testing.T) {
	tests := []struct {
		tag           string
		read, written int64
	}{
		{"SELECT 12", 12, 0},
		{"INSERT 0 5", 0, 5},
		{"UPDATE 3", 0, 3},
		{"DELETE 7", 0, 7},
		{"MERGE 4", 0, 4},
		{"COPY 1400", 0, 1400},
		{"CREATE TABLE", 0, 0},
		{"LOCK TABLE", 0, 0},
	}
	for _, tt := range tests {
		r, w := Rows(pgconn.NewCommandTag(tt.tag))
		require.Equal(t, tt.read, r, tt.tag)
		require.Equal(t, tt.written, w, tt.tag)
	}
}

func TestMeterInContext(t *testing.T) {
	m := &Meter{}
	ctx := WithMeter(context.Background(), m)
	FromContext(ctx).Statement(2*time.Second, 10, 0)
	FromContext(ctx).S3(3, 100, 50)
	FromContext(Unmetered(ctx)).Statement(time.Hour, 1, 1) // not counted
	FromContext(context.Background()).S3(1, 1, 1)          // no meter: nothing
	require.Equal(t, Usage{Statements: 1, StatementSeconds: 2, RowsRead: 10, S3Requests: 3, S3BytesRead: 100, S3BytesWritten: 50}, m.Usage())
	require.True(t, Usage{}.Zero())
	require.Equal(t, Usage{Statements: 2, RowsRead: 20}, Usage{Statements: 1, RowsRead: 10}.Add(Usage{Statements: 1, RowsRead: 10}))
}

func TestUsageForSplitsWarehouseTime(t *testing.T) {
	m := &Meter{}
	m.StatementOn("warehouse", 3*time.Second, 5, 0)
	m.StatementOn("legacy", 7*time.Second, 5, 0)
	m.Statement(time.Second, 0, 1) // unnamed: the warehouse's
	u := m.UsageFor("warehouse")
	require.InDelta(t, 4, u.StatementSeconds, 1e-9)
	require.InDelta(t, 7, u.OtherStatementSeconds, 1e-9)
	require.EqualValues(t, 3, u.Statements)
	require.EqualValues(t, 10, u.RowsRead)
	require.InDelta(t, 11, m.UsageFor("").StatementSeconds, 1e-9, "no warehouse named: all of it")
	// The legacy database's time is not priced as warehouse time.
	require.InDelta(t, 4.0/3600*3.26, Price(plan.CostRates{WarehouseHour: 3.26}, false, u).Warehouse, 1e-12)
}
