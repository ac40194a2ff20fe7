package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"etl2elt/internal/objectstore"
)

// progressEvery is the least time between two progress updates.
const progressEvery = 250 * time.Millisecond

// isTerminal tells whether w is a terminal (a character device), where a progress line
// can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// landProgress redraws one file's upload progress in place on a terminal, at most
// every progressEvery. Safe for concurrent use.
type landProgress struct {
	w     io.Writer
	name  string
	total int64
	start time.Time
	now   func() time.Time

	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newLandProgress(w io.Writer, name string, total int64) *landProgress {
	return &landProgress{w: w, name: name, total: total, start: time.Now(), now: time.Now}
}

// update shows sent bytes, unless the line was drawn less than progressEvery ago.
func (p *landProgress) update(sent int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.shown && now.Sub(p.last) < progressEvery {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\r%s\x1b[K", uploadLine(p.name, sent, p.total, now.Sub(p.start)))
}

// clear erases the line, so that what is printed next starts on a clean line.
func (p *landProgress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// uploadLine is "orders-2.csv.gz  12.0/64.0 MiB  18%  9.5 MiB/s".
func uploadLine(name string, sent, total int64, elapsed time.Duration) string {
	if n := utf8.RuneCountInString(name); n > 40 {
		name = "…" + string([]rune(name)[n-39:])
	}
	unit, div := "B", 1.0
	switch {
	case total >= 1<<30:
		unit, div = "GiB", 1<<30
	case total >= 1<<20:
		unit, div = "MiB", 1<<20
	case total >= 1<<10:
		unit, div = "KiB", 1<<10
	}
	prec := 1
	if unit == "B" {
		prec = 0
	}
	pct := 100.0
	if total > 0 {
		pct = float64(sent) * 100 / float64(total)
	}
	rate := "-- MiB/s"
	if elapsed > 0 {
		rate = fmt.Sprintf("%.1f MiB/s", float64(sent)/(1<<20)/elapsed.Seconds())
	}
	return fmt.Sprintf("%s  %.*f/%.*f %s  %3.0f%%  %s", name, prec, float64(sent)/div, prec, float64(total)/div, unit, pct, rate)
}

// landedLine is the line printed for each file landed: where, size, ETag, parts and
// time taken.
func landedLine(path, uri string, up objectstore.Uploaded, took time.Duration) string {
	parts := "1 PUT"
	if up.Parts > 0 {
		parts = fmt.Sprintf("%d parts", up.Parts)
	}
	return fmt.Sprintf("%s → %s (%d bytes, ETag %s, %s, %s, %.1f MiB/s)", path, uri, up.Size, up.ETag, parts,
		took.Round(time.Millisecond), float64(up.Size)/(1<<20)/max(took.Seconds(), 1e-6))
}

// byteSize is a size flag: bytes, or a number with KiB, MiB or GiB.
type byteSize struct {
	n        int64
	min, max int64
}

func (b *byteSize) String() string { return formatSize(b.n) }
func (b *byteSize) Type() string   { return "size" }

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n < b.min || n > b.max {
		return fmt.Errorf("want %s to %s", formatSize(b.min), formatSize(b.max))
	}
	b.n = n
	return nil
}

// parseSize reads "5242880", "5MiB", "64 MiB", "1GiB".
func parseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(strings.ToLower(num), u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a whole number of KiB, MiB or GiB (5MiB)", s)
	}
	return n * mult, nil
}

// formatSize is the largest whole unit of n: "64MiB", "5GiB", "1000B".
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
