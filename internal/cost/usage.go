// Package cost measures what work uses and prices it. A Meter travels in the context
// of one activity attempt: the warehouse pools' query tracer adds every statement's
// time and rows to it, the object store adds its requests and bytes. The ledger
// (etl2elt.cost_usage) keeps one row per attempt, tagged with plan, domain, phase and
// kind of work, priced with the plan's cost_rates; Spend sums it per budget.
//
// What is measured is what the worker sees: statement seconds are wall-clock time
// from sending a statement to its completion (queueing on the warehouse included),
// rows read are rows returned to the worker or counted by the statement's command
// tag, rows written are rows inserted, updated, deleted or copied. docs/COST.md has
// the rate model with a worked example.
package cost

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Usage is what one unit of work used.
type Usage struct {
	Statements int64 `json:"statements"`
	// StatementSeconds is statement time on the plan's warehouse (priced);
	// OtherStatementSeconds on other connections (the legacy database), recorded only.
	StatementSeconds      float64 `json:"statement_seconds"`
	OtherStatementSeconds float64 `json:"other_statement_seconds,omitempty"`
	RowsRead              int64   `json:"rows_read"`
	RowsWritten           int64   `json:"rows_written"`
	S3Requests            int64   `json:"s3_requests"`
	S3BytesRead           int64   `json:"s3_bytes_read"`
	S3BytesWritten        int64   `json:"s3_bytes_written"`
}

// Zero tells whether nothing was used.
func (u Usage) Zero() bool { return u == Usage{} }

// Add returns u plus v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		Statements: u.Statements + v.Statements, StatementSeconds: u.StatementSeconds + v.StatementSeconds,
		OtherStatementSeconds: u.OtherStatementSeconds + v.OtherStatementSeconds,
		RowsRead:              u.RowsRead + v.RowsRead, RowsWritten: u.RowsWritten + v.RowsWritten,
		S3Requests: u.S3Requests + v.S3Requests, S3BytesRead: u.S3BytesRead + v.S3BytesRead, S3BytesWritten: u.S3BytesWritten + v.S3BytesWritten,
	}
}

// Meter accumulates usage; safe for concurrent use (an activity may run statements
// on several connections at once).
type Meter struct {
	statements, rowsRead, rowsWritten atomic.Int64
	s3Requests, s3Read, s3Written     atomic.Int64
	mu                                sync.Mutex
	nanos                             map[string]int64 // statement time by connection name
}

// Statement adds one statement on an unnamed connection that took d and read or
// wrote rows.
func (m *Meter) Statement(d time.Duration, read, written int64) { m.StatementOn("", d, read, written) }

// StatementOn adds one statement on the named connection.
func (m *Meter) StatementOn(conn string, d time.Duration, read, written int64) {
	if m == nil {
		return
	}
	m.statements.Add(1)
	m.addTime(conn, d)
	m.rowsRead.Add(read)
	m.rowsWritten.Add(written)
}

func (m *Meter) addTime(conn string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nanos == nil {
		m.nanos = map[string]int64{}
	}
	m.nanos[conn] += int64(d)
}

// S3 adds requests and bytes moved.
func (m *Meter) S3(requests, read, written int64) {
	if m == nil {
		return
	}
	m.s3Requests.Add(requests)
	m.s3Read.Add(read)
	m.s3Written.Add(written)
}

// Usage is what was measured so far, every connection's time as warehouse time.
func (m *Meter) Usage() Usage { return m.UsageFor("") }

// UsageFor is what was measured so far, with the statement time of the warehouse
// connection (and of unnamed connections) apart from the others' ("" for warehouse:
// all of it).
func (m *Meter) UsageFor(warehouse string) Usage {
	if m == nil {
		return Usage{}
	}
	var wh, other time.Duration
	m.mu.Lock()
	for conn, n := range m.nanos {
		if warehouse == "" || conn == "" || conn == warehouse {
			wh += time.Duration(n)
		} else {
			other += time.Duration(n)
		}
	}
	m.mu.Unlock()
	return Usage{
		Statements: m.statements.Load(), StatementSeconds: wh.Seconds(), OtherStatementSeconds: other.Seconds(),
		RowsRead: m.rowsRead.Load(), RowsWritten: m.rowsWritten.Load(),
		S3Requests: m.s3Requests.Load(), S3BytesRead: m.s3Read.Load(), S3BytesWritten: m.s3Written.Load(),
	}
}

type meterKey struct{}

// WithMeter returns ctx carrying m: statements and S3 calls made with it are added.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// FromContext returns the meter of ctx (nil: nothing is measured; Meter methods
// accept nil).
func FromContext(ctx context.Context) *Meter {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	return m
}

// Unmetered returns ctx without its meter (the ledger's own writes are not work).
func Unmetered(ctx context.Context) context.Context {
	return context.WithValue(ctx, meterKey{}, (*Meter)(nil))
}
