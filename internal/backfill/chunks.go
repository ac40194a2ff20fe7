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
	var step func(time.Time) time.Time
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

// Reprocess modes: which chunks of the range a backfill runs.
const (
	// ReprocessMissing runs chunks that are not done or skipped (the default).
	ReprocessMissing = "missing"
	// ReprocessFailed runs only chunks whose last run failed.
	ReprocessFailed = "failed"
	// ReprocessAll runs every chunk.
	ReprocessAll = "all"
	// ReprocessChanged runs the chunks of an incremental model that hold periods built
	// by another definition of it or of an upstream model (model.Staleness).
	ReprocessChanged = "changed"
)

// SelectStale selects the chunks that overlap a stale period (each period [From, To);
// nil bounds: the whole relation, every chunk), marking done chunks of the trusted
// period as Select does.
func SelectStale(chunks []Chunk, ledger map[string]Row, stale []window.Window, whole bool, trustedUntil time.Time) Selection {
	var s Selection
	for _, c := range chunks {
		run := whole
		for _, w := range stale {
			if c.Window.From.Before(w.To) && w.From.Before(c.Window.To) {
				run = true
				break
			}
		}
		if !run {
			s.Settled++
			continue
		}
		s.Run = append(s.Run, c)
		if row, known := ledger[c.ID()]; !trustedUntil.IsZero() && c.Window.From.Before(trustedUntil) && known && row.Status == StatusDone {
			s.Trusted = append(s.Trusted, c)
		}
	}
	return s
}

// Selection is what a backfill will do with the range's chunks.
type Selection struct {
	Run []Chunk `json:"run"`
	// Settled are chunks left alone: done or skipped already.
	Settled int `json:"settled"`
	// Trusted are chunks to run that would rewrite trusted rows: inside the trusted
	// period (before trusted-until) and loaded by ELT before (done in the ledger). A
	// chunk of the trusted period that ELT never loaded has nothing to protect yet.
	Trusted []Chunk `json:"trusted,omitempty"`
}

// Select picks the chunks to run for a mode, given the ledger (by chunk id), and
// flags those that would rewrite trusted rows: inside the trusted period (starting
// before trustedUntil; zero means none) and done in the ledger.
func Select(chunks []Chunk, ledger map[string]Row, mode string, trustedUntil time.Time) (Selection, error) {
	var s Selection
	for _, c := range chunks {
		row, known := ledger[c.ID()]
		var run bool
		switch mode {
		case ReprocessMissing, "":
			run = !known || (row.Status != StatusDone && row.Status != StatusSkipped)
		case ReprocessFailed:
			run = known && row.Status == StatusFailed
		case ReprocessAll:
			run = true
		default:
			return Selection{}, fmt.Errorf("reprocess mode %q: want missing, failed, all or changed (changed: SelectStale)", mode)
		}
		if !run {
			s.Settled++
			continue
		}
		s.Run = append(s.Run, c)
		if !trustedUntil.IsZero() && c.Window.From.Before(trustedUntil) && known && row.Status == StatusDone {
			s.Trusted = append(s.Trusted, c)
		}
	}
	return s, nil
}
