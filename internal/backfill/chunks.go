// Package backfill is the engine of idempotent, watermark-based history reloads. A
// chunk is (target, window [start, end)); running it replaces the window's rows and
// upserts its ledger row (rows, checksum, attempts, workflow id, timings) in one
// warehouse transaction under the target's transaction-scoped lock, so running a
// chunk twice leaves the table as running it once, readers never see a half-loaded
// window, and two writers never interleave. Keys are target + window, never run ids.
//
// The watermark of a target is the end of the contiguous run of done (or skipped)
// chunks from its earliest chunk; it never moves back except by an explicit,
// recorded reset. Windows inside a trusted (signed-off) period are refused unless the
// caller overrides with a reason, which is recorded as a decision.
package backfill

import (
	"fmt"
	"time"

	"etl2elt/internal/window"
)

// Chunk sizes.
const (
	Day   = "day"
	Week  = "week"
	Month = "month"
)

// Chunk is one unit of a backfill.
type Chunk struct {
	Target string        `json:"target"`
	Window window.Window `json:"window"`
}

// ID is the chunk's deterministic id: target and window, never a run id.
func (c Chunk) ID() string {
	return c.Target + "@" + c.Window.From.Format(window.DateLayout) + ".." + c.Window.To.Format(window.DateLayout)
}

// Split cuts [w.From, w.To) into chunks: days, weeks of 7 days from w.From, or
// calendar months (the first and last may be partial).
func Split(target string, w window.Window, size string) ([]Chunk, error) {
	step := func(t time.Time) time.Time { return t }
	switch size {
	case Day:
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	case Week:
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 7) }
	case Month:
		step = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC) }
	default:
		return nil, fmt.Errorf("chunk size %q: want day, week or month", size)
	}
	if !w.From.Before(w.To) {
		return nil, fmt.Errorf("range %s is empty", w)
	}
	var chunks []Chunk
	for from := w.From; from.Before(w.To); {
		to := step(from)
		if to.After(w.To) {
			to = w.To
		}
		chunks = append(chunks, Chunk{Target: target, Window: window.Window{From: from, To: to}})
		from = to
	}
	return chunks, nil
}
