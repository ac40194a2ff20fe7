// Package window is the half-open time interval [From, To) that loads, chunks and
// reconciliations work on, with the date-string form operators type ("2026-01-31").
package window

import (
	"fmt"
	"time"
)

// DateLayout is the form of window bounds in inputs and S3 partition keys.
const DateLayout = "2006-01-02"

// Window is [From, To) in UTC.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ParseDates parses two YYYY-MM-DD dates into a window, checking from < to.
func ParseDates(from, to string) (Window, error) {
	f, err := time.Parse(DateLayout, from)
	if err != nil {
		return Window{}, fmt.Errorf("from %q is not a date (YYYY-MM-DD)", from)
	}
	t, err := time.Parse(DateLayout, to)
	if err != nil {
		return Window{}, fmt.Errorf("to %q is not a date (YYYY-MM-DD)", to)
	}
	if !f.Before(t) {
		return Window{}, fmt.Errorf("window [%s, %s) is empty: from must be before to", from, to)
	}
	return Window{From: f.UTC(), To: t.UTC()}, nil
}

// Days returns the first instant of every UTC day that starts inside the window.
func (w Window) Days() []time.Time {
	var days []time.Time
	d := time.Date(w.From.Year(), w.From.Month(), w.From.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(w.From) {
		d = d.AddDate(0, 0, 1)
	}
	for ; d.Before(w.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

// String renders the window as [from, to) with dates when both bounds are midnights.
func (w Window) String() string {
	if isMidnight(w.From) && isMidnight(w.To) {
		return fmt.Sprintf("[%s, %s)", w.From.Format(DateLayout), w.To.Format(DateLayout))
	}
	return fmt.Sprintf("[%s, %s)", w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}
