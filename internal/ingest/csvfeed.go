package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// csvFeeder sits between an object's bytes and encoding/csv. It splits the stream
// into records (a line break ends a record when the double quotes before it, in the
// record, are balanced: RFC 4180 doubles a quote inside a quoted field), passes on
// the records of at most max bytes unchanged, and replaces a longer one by as many
// line breaks as it spans: encoding/csv skips blank lines and still counts them, so
// the line numbers of the records after it stay right. The long record is noted
// (where it starts, its length, its first bytes) for the quarantine, which keeps it
// by reference. Memory stays within max plus a read buffer whatever the object holds.
//
// It also keeps the bytes encoding/csv has not finished with, so that a bad record's
// original bytes are at hand (span), until release says they are done with.
type csvFeeder struct {
	r         *bufio.Reader
	max       int
	objectKey string

	// buf holds the fed stream from offset base on: [0, served) went to encoding/csv,
	// [served, ready) is ready to go, [ready, len) is the record being read.
	buf           []byte
	base          int64
	served, ready int

	// The record being read: its first line (1-based), its quote count, and, when it
	// outgrew max, what is known of it (its bytes are dropped as they come).
	startLine int64
	lines     int64 // line breaks read so far
	quotes    int
	long      *longRecord

	// longs are the long records encoding/csv has not reached yet, in order.
	longs []longRecord
	// shifts maps fed offsets to the object's: after a long record replaced by line
	// breaks, the object's offset is the fed one plus delta.
	shifts []shift
	// shiftBase is the delta of every offset before the first shift kept.
	shiftBase int64

	err error // what ends the stream (io.EOF or a read error), once ready is served
}

// longRecord is a record longer than max: where it starts, its length and its first
// bytes.
type longRecord struct {
	line     int64
	offset   int64 // in the object's content
	length   int64 // without its end of line
	consumed int64 // with it
	newline  int64 // line breaks it spans
	preview  []byte
	last     [2]byte // its last two bytes
}

type shift struct {
	at    int64 // fed offset from which delta applies
	delta int64
}

func newCSVFeeder(r io.Reader, max int, objectKey string) *csvFeeder {
	return &csvFeeder{r: bufio.NewReaderSize(r, 64<<10), max: max, objectKey: objectKey, startLine: 1}
}

// Read gives encoding/csv the records ready.
func (f *csvFeeder) Read(p []byte) (int, error) {
	for f.served == f.ready {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(p, f.buf[f.served:f.ready])
	f.served += n
	return n, nil
}

// fill reads the next piece of the stream (up to a line break or a full read buffer).
func (f *csvFeeder) fill() {
	frag, err := f.r.ReadSlice('\n')
	eol := len(frag) > 0 && frag[len(frag)-1] == '\n'
	if f.long == nil {
		f.buf = append(f.buf, frag...)
	} else {
		f.long.add(frag)
		if eol {
			f.long.newline++
		}
	}
	f.quotes += bytes.Count(frag, []byte{'"'})
	if eol {
		f.lines++
	}
	if f.long == nil && len(f.buf)-f.ready > f.max+2 { // room for "\r\n"
		f.startLong()
	}
	if eol && f.quotes%2 == 0 {
		f.endRecord()
		return
	}
	switch {
	case err == nil, err == bufio.ErrBufferFull:
	case err == io.EOF:
		if f.long != nil && f.quotes%2 != 0 {
			f.err = &ParseError{ObjectKey: f.objectKey, Err: fmt.Errorf("line %d: a quoted field is never closed (%d bytes to the end of the object)", f.long.line, f.long.consumed)}
			return
		}
		f.endRecord()
		f.err = io.EOF
	default:
		f.err = err
	}
}

// startLong turns the record being read into a long one: its bytes so far become its
// preview and leave buf.
func (f *csvFeeder) startLong() {
	rec := f.buf[f.ready:]
	f.long = &longRecord{line: f.startLine, offset: f.objectOffset(f.base + int64(f.ready)),
		newline: int64(bytes.Count(rec, []byte{'\n'}))}
	f.long.add(rec)
	f.buf = f.buf[:f.ready]
}

// add counts b, the record's next bytes (their line breaks are counted by the caller).
func (l *longRecord) add(b []byte) {
	l.consumed += int64(len(b))
	if room := previewBytes - len(l.preview); room > 0 {
		l.preview = append(l.preview, b[:min(room, len(b))]...)
	}
	switch n := len(b); {
	case n >= 2:
		l.last = [2]byte{b[n-2], b[n-1]}
	case n == 1:
		l.last = [2]byte{l.last[1], b[0]}
	}
}

// endRecord closes the record being read: a short one is ready to go; a long one is
// replaced by its line breaks.
func (f *csvFeeder) endRecord() {
	if l := f.long; l != nil {
		at := f.base + int64(len(f.buf)) // fed offset where it starts
		for range l.newline {
			f.buf = append(f.buf, '\n')
		}
		// Its length without its end of line.
		l.length = l.consumed
		if l.last[1] == '\n' {
			l.length--
			if l.last[0] == '\r' {
				l.length--
			}
		}
		if int64(len(l.preview)) > l.length {
			l.preview = l.preview[:l.length]
		}
		f.shifts = append(f.shifts, shift{at: at + l.newline, delta: f.lastDelta() + l.consumed - l.newline})
		f.longs = append(f.longs, *l)
		f.long = nil
	}
	f.ready = len(f.buf)
	f.quotes = 0
	f.startLine = f.lines + 1
}

func (f *csvFeeder) lastDelta() int64 {
	if n := len(f.shifts); n > 0 {
		return f.shifts[n-1].delta
	}
	return f.shiftBase
}

// objectOffset maps a fed offset to the object's.
func (f *csvFeeder) objectOffset(fed int64) int64 {
	d := f.shiftBase
	for _, s := range f.shifts {
		if s.at > fed {
			break
		}
		d = s.delta
	}
	return fed + d
}

// span returns the fed bytes [from, to) (offsets as encoding/csv's InputOffset counts
// them) without the line breaks around them, and the object's offset of the first.
func (f *csvFeeder) span(from, to int64) ([]byte, int64) {
	lo, hi := int(from-f.base), int(to-f.base)
	if lo < 0 || hi > len(f.buf) || lo > hi {
		return nil, -1
	}
	b := f.buf[lo:hi]
	start := from
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r') {
		b, start = b[1:], start+1
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b, f.objectOffset(start)
}

// release drops the bytes before fed offset to, which encoding/csv is done with.
func (f *csvFeeder) release(to int64) {
	n := int(to - f.base)
	if n <= 0 || n > f.served {
		return
	}
	// Compact once the dropped part is large, so that copying stays rare.
	if n < 64<<10 && n < len(f.buf)/2 {
		return
	}
	rest := copy(f.buf, f.buf[n:])
	f.buf = f.buf[:rest]
	f.base += int64(n)
	f.served -= n
	f.ready -= n
	for len(f.shifts) > 0 && f.shifts[0].at <= f.base {
		f.shiftBase = f.shifts[0].delta
		f.shifts = f.shifts[1:]
	}
}

// nextLong returns the first long record before line (any when eof), and forgets it.
func (f *csvFeeder) nextLong(line int64, eof bool) (longRecord, bool) {
	if len(f.longs) == 0 || (!eof && f.longs[0].line >= line) {
		return longRecord{}, false
	}
	l := f.longs[0]
	f.longs = f.longs[1:]
	return l, true
}
