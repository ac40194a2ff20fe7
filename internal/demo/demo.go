// Package demo generates the demo migration's data: a week of orders landed in S3 as
// daily CSV objects (one gzipped, one with a malformed row that must be quarantined),
// and the legacy ETL's output for the same orders in the legacy database
// (legacy.daily_revenue), which the ELT side is reconciled against. The data is
// deterministic for a given seed, so the demo and the integration tests can assert
// exact figures.
package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/window"
)

// Options shape the generated data.
type Options struct {
	Bucket string
	// Prefix is the landing prefix (the plan's landing.prefix).
	Prefix string
	Window window.Window
	// OrdersPerDay is the number of orders a day (default 200).
	OrdersPerDay int
	Seed         uint64
	// LegacyRevenueDriftCents is added to the legacy revenue of the first day's first
	// region: 0 reproduces the legacy output exactly; tests use it to plant a breach.
	LegacyRevenueDriftCents int64
	// LateDuplicates, when above 0, re-delivers that many orders of the first day a day
	// late, in the second day's partition (orders/dt=<day 2>/redelivery.csv): duplicate
	// keys across objects and out-of-order rows, the defect the quality checks catch.
	// The legacy output is unchanged (the legacy job saw each order once).
	LateDuplicates int
}

// Order is one generated order.
type Order struct {
	ID         int64
	CustomerID string
	Region     string
	Amount     int64 // cents
	OrderedAt  time.Time
}

// Summary is what Seed wrote.
type Summary struct {
	Objects []string
	Orders  int
	// Redelivered is the late re-delivery's object ("" none).
	Redelivered string
	BadRows     int
	LegacyRows  int
	RevenueCent int64
}

var regions = []string{"amer", "apac", "emea"}

// Generate returns the orders of every day of the window. A day's orders depend only
// on the seed and the date (ids are the date's yyyymmdd × 100,000 + n), so seeding a
// window that overlaps an earlier one writes the same orders for the same days.
func Generate(opts Options) map[time.Time][]Order {
	n := opts.OrdersPerDay
	if n == 0 {
		n = 200
	}
	out := map[time.Time][]Order{}
	for _, day := range opts.Window.Days() {
		ymd := int64(day.Year()*10000 + int(day.Month())*100 + day.Day())
		rng := rand.New(rand.NewPCG(opts.Seed, uint64(ymd)))
		for i := 0; i < n; i++ {
			out[day] = append(out[day], Order{
				ID:         ymd*100000 + int64(i) + 1,
				CustomerID: fmt.Sprintf("c-%04d", rng.IntN(500)),
				Region:     regions[rng.IntN(len(regions))],
				Amount:     500 + rng.Int64N(50000),
				OrderedAt:  day.Add(time.Duration(rng.Int64N(int64(24*time.Hour/time.Second))) * time.Second),
			})
		}
	}
	return out
}

// Seed uploads the daily CSV objects and (re)creates legacy.daily_revenue.
func Seed(ctx context.Context, store *objectstore.Store, legacy *pgxpool.Pool, opts Options) (Summary, error) {
	var sum Summary
	orders := Generate(opts)
	days := opts.Window.Days()
	for i, day := range days {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"order_id", "customer_id", "region", "amount", "ordered_at"})
		for j, o := range orders[day] {
			_ = w.Write([]string{strconv.FormatInt(o.ID, 10), o.CustomerID, o.Region, cents(o.Amount), o.OrderedAt.Format(time.RFC3339)})
			if i == 0 && j == 10 {
				// A row the legacy ETL also rejected: a decimal comma. ELT must quarantine it.
				_ = w.Write([]string{"999999", "c-0000", "emea", "12,50", day.Add(time.Hour).Format(time.RFC3339)})
				sum.BadRows++
			}
		}
		w.Flush()
		key := opts.Prefix + "orders/dt=" + day.Format(window.DateLayout) + "/orders.csv"
		data := b.Bytes()
		if day.YearDay()%7 == 2 {
			// One day in seven arrives gzipped, as exports often do (by date, so that the
			// same day keeps the same object when the window moves).
			var z bytes.Buffer
			gz := gzip.NewWriter(&z)
			_, _ = gz.Write(data)
			_ = gz.Close()
			key += ".gz"
			data = z.Bytes()
		}
		if err := store.Put(ctx, opts.Bucket, key, data, "text/csv"); err != nil {
			return sum, err
		}
		sum.Objects = append(sum.Objects, objectstore.URI(opts.Bucket, key))
		sum.Orders += len(orders[day])
	}

	if n := opts.LateDuplicates; n > 0 && len(days) >= 2 {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"order_id", "customer_id", "region", "amount", "ordered_at"})
		for _, o := range orders[days[0]][:min(n, len(orders[days[0]]))] {
			_ = w.Write([]string{strconv.FormatInt(o.ID, 10), o.CustomerID, o.Region, cents(o.Amount), o.OrderedAt.Format(time.RFC3339)})
		}
		w.Flush()
		key := opts.Prefix + "orders/dt=" + days[1].Format(window.DateLayout) + "/redelivery.csv"
		if err := store.Put(ctx, opts.Bucket, key, b.Bytes(), "text/csv"); err != nil {
			return sum, err
		}
		sum.Redelivered = objectstore.URI(opts.Bucket, key)
		sum.Objects = append(sum.Objects, sum.Redelivered)
	}

	// Objects an earlier seed left under these days (another window put the gzipped
	// day or the re-delivery elsewhere) would land twice: remove them.
	written := map[string]bool{}
	for _, o := range sum.Objects {
		written[o] = true
	}
	for _, day := range days {
		prefix := opts.Prefix + "orders/dt=" + day.Format(window.DateLayout) + "/"
		objs, err := store.List(ctx, opts.Bucket, prefix)
		if err != nil {
			return sum, err
		}
		for _, o := range objs {
			if !written[objectstore.URI(opts.Bucket, o.Key)] {
				if err := store.Delete(ctx, opts.Bucket, o.Key); err != nil {
					return sum, err
				}
			}
		}
	}

	rows, revenue := legacyOutput(orders, opts.LegacyRevenueDriftCents)
	sum.LegacyRows, sum.RevenueCent = len(rows), revenue
	if err := writeLegacy(ctx, legacy, rows); err != nil {
		return sum, err
	}
	return sum, nil
}

type legacyRow struct {
	day     time.Time
	region  string
	orders  int64
	revenue int64 // cents
}

// legacyOutput is what the legacy ETL produced: revenue and orders per day and region.
func legacyOutput(orders map[time.Time][]Order, drift int64) ([]legacyRow, int64) {
	type k struct {
		day    time.Time
		region string
	}
	agg := map[k]*legacyRow{}
	var total int64
	for _, os := range orders {
		for _, o := range os {
			key := k{o.OrderedAt.Truncate(24 * time.Hour), o.Region}
			r := agg[key]
			if r == nil {
				r = &legacyRow{day: key.day, region: key.region}
				agg[key] = r
			}
			r.orders++
			r.revenue += o.Amount
			total += o.Amount
		}
	}
	var rows []legacyRow
	for _, r := range agg {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].day.Equal(rows[j].day) {
			return rows[i].day.Before(rows[j].day)
		}
		return rows[i].region < rows[j].region
	})
	if len(rows) > 0 {
		rows[0].revenue += drift
	}
	return rows, total
}

func writeLegacy(ctx context.Context, pool *pgxpool.Pool, rows []legacyRow) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range []string{
			`CREATE SCHEMA IF NOT EXISTS legacy`,
			`DROP TABLE IF EXISTS legacy.daily_revenue`,
			`CREATE TABLE legacy.daily_revenue (day date NOT NULL, region text NOT NULL, orders bigint NOT NULL, revenue numeric(14,2) NOT NULL, PRIMARY KEY (day, region))`,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("seed legacy: %w", err)
			}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"legacy", "daily_revenue"}, []string{"day", "region", "orders", "revenue"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				r := rows[i]
				return []any{r.day, r.region, r.orders, pgtype.Numeric{Int: big.NewInt(r.revenue), Exp: -2, Valid: true}}, nil
			}))
		if err != nil {
			return fmt.Errorf("seed legacy: %w", err)
		}
		return nil
	})
}

func cents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
