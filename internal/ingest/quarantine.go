package ingest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// BadRow is a quarantined record (its fields stay private to the package).
type BadRow struct {
	line int64
	// raw is the record's bytes as the object holds them (nil when it is kept by
	// reference: longer than the source's max_line_bytes).
	raw []byte
	// preview is what etl2elt.quarantine.raw_record shows: the first previewBytes of
	// the record as valid UTF-8; set for a record kept by reference (raw is nil),
	// derived from raw otherwise.
	preview string
	// err is the reason, without the record's values (Redact).
	err string
	// offset and length locate the record in the object's content (decompressed): -1
	// when unknown (a Parquet row, a row read back from the table).
	offset, length int64
	byRef          bool
}

// previewBytes bounds etl2elt.quarantine.raw_record, the readable preview of a
// quarantined record (raw_bytes keeps the record whole, unless it is kept by
// reference).
const previewBytes = 1024

// maxReasonBytes bounds a quarantined row's reason.
const maxReasonBytes = 1000

// maxRawBytes bounds the record bytes one object's quarantine keeps whole: past it,
// further bad records are kept by reference too (their place in the object), so that
// an object of 10,000 bad rows of 1 MB does not write 10 GB to the quarantine (nor
// to the spill file on the way).
const maxRawBytes = 256 << 20

// spoolInMemory is how many bytes of bad rows a Quarantine keeps in memory before it
// spills them to a temporary file.
const spoolInMemory = 4 << 20

// Quarantine holds one object's bad rows on their way to etl2elt.quarantine: the
// first ones in memory, the rest spilled to a temporary file as they come, so that a
// worker's memory stays bounded whatever the object holds (10,000 bad rows of 1 MiB
// each are 10 GiB). The zero value is empty; a nil *Quarantine is empty too. Close
// removes the file.
type Quarantine struct {
	mem      []BadRow
	memBytes int
	// head keeps the first rows' positions and reasons (not their bytes) for error
	// messages.
	head []BadRow
	n    int
	// rawBytes counts the record bytes kept whole.
	rawBytes int64
	f        *os.File
	w        *bufio.Writer
	err      error
}

// Len is how many bad rows the quarantine holds.
func (q *Quarantine) Len() int {
	if q == nil {
		return 0
	}
	return q.n
}

// add keeps b (its raw bytes are copied: the caller may reuse them).
func (q *Quarantine) add(b BadRow) error {
	if q.err != nil {
		return q.err
	}
	if !b.byRef {
		if q.rawBytes+int64(len(b.raw)) > maxRawBytes && b.offset >= 0 {
			b.byRef, b.preview, b.raw = true, previewOf(b.raw, false), nil
			b.err += fmt.Sprintf(" (kept by reference: the object's quarantine holds %d MiB of records already)", maxRawBytes>>20)
		} else {
			q.rawBytes += int64(len(b.raw))
		}
	}
	if len(q.head) < 3 {
		h := b
		h.raw = nil
		q.head = append(q.head, h)
	}
	q.n++
	if q.f == nil && q.memBytes+len(b.raw)+len(b.preview)+len(b.err) <= spoolInMemory {
		b.raw = append([]byte(nil), b.raw...)
		q.mem = append(q.mem, b)
		q.memBytes += len(b.raw) + len(b.preview) + len(b.err) + 64
		return nil
	}
	if q.f == nil {
		f, err := os.CreateTemp("", "etl2elt-quarantine-*")
		if err != nil {
			q.err = fmt.Errorf("spill bad rows to a temporary file: %w", err)
			return q.err
		}
		q.f, q.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	if err := writeBadRow(q.w, b); err != nil {
		q.err = fmt.Errorf("spill bad rows to %s: %w", q.f.Name(), err)
	}
	return q.err
}

// Close removes the spill file, if any.
func (q *Quarantine) Close() error {
	if q == nil || q.f == nil {
		return nil
	}
	name := q.f.Name()
	err := q.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	q.f, q.w = nil, nil
	return err
}

// first names the first bad records by position and reason.
func (q *Quarantine) first(what string) []string {
	if q == nil {
		return nil
	}
	var out []string
	for _, b := range q.head {
		out = append(out, fmt.Sprintf("%s %d: %s", what, b.line, b.err))
	}
	return out
}

// rowsIter walks a quarantine's rows in the order they came: the ones in memory,
// then the spilled ones read back from the file (a row's raw bytes are valid until the
// next call of next).
type rowsIter struct {
	q   *Quarantine
	i   int
	r   *bufio.Reader
	buf []byte
	cur BadRow
	err error
}

func (q *Quarantine) iter() *rowsIter { return &rowsIter{q: q} }

func (it *rowsIter) next() bool {
	q := it.q
	if q == nil || it.err != nil {
		return false
	}
	if q.err != nil {
		it.err = q.err
		return false
	}
	if it.i < len(q.mem) {
		it.cur = q.mem[it.i]
		it.i++
		return true
	}
	if q.f == nil {
		return false
	}
	if it.r == nil {
		if err := q.w.Flush(); err != nil {
			it.err = fmt.Errorf("spill bad rows: %w", err)
			return false
		}
		if _, err := q.f.Seek(0, io.SeekStart); err != nil {
			it.err = fmt.Errorf("read spilled bad rows: %w", err)
			return false
		}
		it.r = bufio.NewReaderSize(q.f, 64<<10)
	}
	b, err := readBadRow(it.r, &it.buf)
	if err != nil {
		if err != io.EOF {
			it.err = fmt.Errorf("read spilled bad rows: %w", err)
		}
		// Later adds append at the end again.
		if _, serr := q.f.Seek(0, io.SeekEnd); serr != nil && it.err == nil {
			it.err = fmt.Errorf("spill bad rows: %w", serr)
		}
		return false
	}
	it.cur = b
	return true
}

// writeBadRow encodes b: its integers as varints, its strings and bytes with their
// length first.
func writeBadRow(w *bufio.Writer, b BadRow) error {
	var hdr []byte
	hdr = binary.AppendVarint(hdr, b.line)
	hdr = binary.AppendVarint(hdr, b.offset)
	hdr = binary.AppendVarint(hdr, b.length)
	flags := byte(0)
	if b.byRef {
		flags |= 1
	}
	if b.raw == nil {
		flags |= 2
	}
	hdr = append(hdr, flags)
	for _, s := range []string{b.preview, b.err} {
		hdr = binary.AppendUvarint(hdr, uint64(len(s)))
		hdr = append(hdr, s...)
	}
	hdr = binary.AppendUvarint(hdr, uint64(len(b.raw)))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(b.raw)
	return err
}

// readBadRow decodes one row written by writeBadRow; its raw bytes live in *buf.
func readBadRow(r *bufio.Reader, buf *[]byte) (BadRow, error) {
	var b BadRow
	var err error
	if b.line, err = binary.ReadVarint(r); err != nil {
		return b, err // io.EOF at the end
	}
	if b.offset, err = binary.ReadVarint(r); err != nil {
		return b, unexpected(err)
	}
	if b.length, err = binary.ReadVarint(r); err != nil {
		return b, unexpected(err)
	}
	flags, err := r.ReadByte()
	if err != nil {
		return b, unexpected(err)
	}
	b.byRef = flags&1 != 0
	var strs [2]string
	for i := range strs {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return b, unexpected(err)
		}
		s := make([]byte, n)
		if _, err := io.ReadFull(r, s); err != nil {
			return b, unexpected(err)
		}
		strs[i] = string(s)
	}
	b.preview, b.err = strs[0], strs[1]
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return b, unexpected(err)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	*buf = (*buf)[:n]
	if _, err := io.ReadFull(r, *buf); err != nil {
		return b, unexpected(err)
	}
	if flags&2 == 0 {
		b.raw = *buf
	}
	return b, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// newBadRow builds the quarantine's row of a record refused for reason msg.
func newBadRow(line int64, rec record, msg string) BadRow {
	b := BadRow{line: line, err: reasonOf(msg), offset: rec.offset, length: rec.length}
	if rec.long {
		b.byRef = true
		b.preview = previewOf(rec.raw, true)
		return b
	}
	b.raw = rec.raw
	if b.raw == nil {
		b.raw = []byte{}
	}
	return b
}

// reasonOf is a bad row's reason as stored: without the values it quotes (the record
// is beside it) and bounded.
func reasonOf(msg string) string {
	msg = Redact(msg)
	if len(msg) > maxReasonBytes {
		msg = strings.ToValidUTF8(msg[:maxReasonBytes], "") + "…"
	}
	return msg
}

// previewOf is the readable start of a record: valid UTF-8 (other bytes and NUL
// become U+FFFD: raw_bytes keeps the originals), "…" when cut, at most previewBytes
// bytes before the replacements of invalid bytes.
func previewOf(raw []byte, cut bool) string {
	if len(raw) > previewBytes || (cut && len(raw) > previewBytes-len("…")) {
		// At most previewBytes in all, the ellipsis included.
		raw, cut = raw[:previewBytes-len("…")], true
		// Do not split a character at the cut.
		for i := 0; i < utf8.UTFMax && len(raw) > 0 && !utf8.Valid(raw); i++ {
			raw = raw[:len(raw)-1]
		}
	}
	s := strings.ReplaceAll(strings.ToValidUTF8(string(raw), "\ufffd"), "\x00", "\ufffd")
	if cut {
		s += "…"
	}
	return s
}

// quarantineColumns are the columns writeQuarantine fills.
var quarantineColumns = []string{"source", "object_key", "load_id", "line", "raw_record", "error", "raw_bytes", "byte_offset", "byte_length", "by_reference"}

// writeQuarantine copies q's rows into etl2elt.quarantine, streaming them (a spilled
// quarantine is read back from its file as COPY goes).
func writeQuarantine(ctx context.Context, tx pgx.Tx, req Request, q *Quarantine) error {
	if q.Len() == 0 {
		return nil
	}
	src := &quarantineSource{req: req, it: q.iter()}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"etl2elt", "quarantine"}, quarantineColumns, src); err != nil {
		return fmt.Errorf("load %s: quarantine %d rows: %w", req.Object.Key, q.Len(), err)
	}
	return nil
}

// quarantineSource is a quarantine's rows as etl2elt.quarantine takes them.
type quarantineSource struct {
	req Request
	it  *rowsIter
}

func (s *quarantineSource) Next() bool { return s.it.next() }

func (s *quarantineSource) Values() ([]any, error) {
	b := s.it.cur
	preview := b.preview
	var raw any
	if !b.byRef {
		preview = previewOf(b.raw, false)
		raw = b.raw
	}
	return []any{s.req.Source.Name, s.req.Object.Key, s.req.LoadID, b.line, preview, b.err, raw, nullInt(b.offset), nullInt(b.length), b.byRef}, nil
}

func (s *quarantineSource) Err() error { return s.it.err }

func nullInt(v int64) any {
	if v < 0 {
		return nil
	}
	return v
}
