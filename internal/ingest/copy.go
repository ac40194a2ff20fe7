package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/cost"
	"etl2elt/internal/ident"
)

// errCopyEnded stops the encoder when the server ended the COPY first.
var errCopyEnded = errors.New("copy ended")

// copyRows streams the source's converted rows to COPY ... FROM STDIN (FORMAT
// binary). The connection's COPY goroutine pulls the data from a rowEncoder: rows are
// decoded and encoded on that goroutine while the server inserts the previous ones,
// so this process and the server run on different cores, with no pipe or extra copy
// between them. Values were validated and converted already (bad rows are
// quarantined); the binary form is exact (decimals keep their digits and display
// scale, timestamps their microseconds). send picks, in order, the indexes of the
// source's values that go to columns; tf holds, per sent column, an optional
// transform (PII policies). Every row ends with the lineage columns: lineage (the
// load's number and time, the same for every row of the object) then the line.
//
// With more than one transaction in txs (each on its own connection), the encoded
// rows are cut into blocks of whole rows and every transaction runs a COPY that
// takes the next free block: one decoder, several server backends parsing and
// inserting at once. Which rows land on which connection is not fixed; the caller
// commits them together (see LoadObject). Memory is bounded by the block pool.
func copyRows(ctx context.Context, txs []pgx.Tx, table ident.Relation, columns, types []string, send []int, tf []func(value) value, lineage []byte, src *rowSource) (int64, error) {
	quoted := make([]string, 0, len(columns)+len(lineageColumns))
	for _, c := range columns {
		quoted = append(quoted, ident.Quote(c))
	}
	quoted = append(quoted, lineageColumns...)
	sql := "COPY " + table.Quoted() + " (" + strings.Join(quoted, ", ") + ") FROM STDIN WITH (FORMAT binary)"
	enc := &rowEncoder{src: src, columns: columns, types: types, send: send, tf: tf, lineage: lineage, nfields: uint16(len(quoted))}
	if len(txs) == 1 {
		enc.buf = append(enc.buf, copyBinaryHeader...)
		began := time.Now()
		tag, err := txs[0].Conn().PgConn().CopyFrom(ctx, enc, sql)
		cost.Copied(ctx, txs[0].Conn(), time.Since(began), tag)
		// CopyFrom can return (a fatal server error, a cancelled context) while its
		// goroutine is still in Read: stop it before the caller touches the source.
		enc.close()
		return tag.RowsAffected(), err
	}
	return copyParallel(ctx, txs, sql, func(emit func([]byte) bool) error {
		var row []byte
		for {
			var ok bool
			var err error
			if row, ok, err = enc.appendRow(row[:0]); err != nil || !ok {
				return err
			}
			if !emit(row) {
				return errCopyEnded
			}
		}
	})
}

// rowEncoder is the binary COPY data of a source's rows, produced as it is read.
type rowEncoder struct {
	src     *rowSource
	columns []string
	types   []string
	send    []int
	tf      []func(value) value
	lineage []byte
	nfields uint16

	mu     sync.Mutex // held by Read; close waits for it
	closed bool
	buf    []byte // encoded and not yet read from off on
	off    int
	done   bool
	err    error // io.EOF at the end, or what stopped the rows
}

// close makes every later Read fail with errCopyEnded, after waiting for a Read in
// progress: from then on the source is the caller's alone.
func (e *rowEncoder) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}

// appendRow appends the next row to b; ok is false at the end of the rows (err is
// then what stopped them early, if anything).
func (e *rowEncoder) appendRow(b []byte) (_ []byte, ok bool, err error) {
	src := e.src
	if !src.Next() {
		return b, false, src.Err()
	}
	vals := src.Values()
	b = binary.BigEndian.AppendUint16(b, e.nfields)
	for i, vi := range e.send {
		v := vals[vi]
		if e.tf[i] != nil {
			v = e.tf[i](v)
		}
		if b, err = appendField(b, v, e.types[i]); err != nil {
			return b, false, fmt.Errorf("object %s line %d column %s: %w", src.objectKey, src.line, e.columns[i], err)
		}
	}
	b = append(b, e.lineage...)
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(src.line)), true, nil
}

// Read fills p with encoded rows: whole rows are encoded until at least len(p) bytes
// are ready (a row that does not fit waits for the next Read), then the trailer.
func (e *rowEncoder) Read(p []byte) (n int, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, errCopyEnded
	}
	if e.off == len(e.buf) {
		if e.done {
			return 0, e.err
		}
		e.buf, e.off = e.buf[:0], 0
		for len(e.buf) < len(p) {
			var ok bool
			e.buf, ok, err = e.appendRow(e.buf)
			if err != nil {
				e.done, e.err = true, err
				return 0, err
			}
			if !ok {
				e.done, e.err = true, io.EOF
				e.buf = append(e.buf, copyBinaryTrailer...)
				break
			}
		}
	}
	n = copy(p, e.buf[e.off:])
	e.off += n
	return n, nil
}

// lineageFields encodes the lineage values every row of one object load carries
// (_etl_load, _etl_loaded_at) in the binary COPY format.
func lineageFields(load int64, loadedAt time.Time) []byte {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 8), uint64(load))
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(pgMicros(loadedAt)))
}

// copyBlockSize is the size of the blocks of encoded lines parallel COPYs take.
const copyBlockSize = 256 << 10

// copyParallel runs one COPY per transaction, all fed from one encoder through a
// pool of blocks (3 per stream): peak memory is about 3 × streams × copyBlockSize
// whatever the object size. The first COPY to fail stops the encoder and the others.
func copyParallel(ctx context.Context, txs []pgx.Tx, sql string, encode func(emit func([]byte) bool) error) (int64, error) {
	n := len(txs)
	free := make(chan []byte, 3*n)
	for range cap(free) {
		free <- make([]byte, 0, copyBlockSize+4096)
	}
	filled := make(chan []byte, 2*n)
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var encErr error
	encDone := make(chan struct{})
	go func() {
		defer close(encDone)
		defer close(filled)
		var buf []byte
		select {
		case buf = <-free:
		case <-stop:
			encErr = errCopyEnded
			return
		}
		flush := func() bool {
			select {
			case filled <- buf:
			case <-stop:
				return false
			}
			select {
			case buf = <-free:
				return true
			case <-stop:
				return false
			}
		}
		encErr = encode(func(line []byte) bool {
			buf = append(buf, line...)
			if len(buf) < copyBlockSize {
				return true
			}
			return flush()
		})
		if encErr == nil && len(buf) > 0 {
			select {
			case filled <- buf:
			case <-stop:
				encErr = errCopyEnded
			}
		}
	}()
	rows := make([]int64, n)
	var mu sync.Mutex
	var firstErr error // the COPY that failed first: the others then stop with errCopyEnded
	var wg sync.WaitGroup
	for i, tx := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &blockReader{filled: filled, free: free, stop: stop, encErr: func() error { <-encDone; return encErr }, head: copyBinaryHeader}
			began := time.Now()
			tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql)
			cost.Copied(ctx, tx.Conn(), time.Since(began), tag)
			rows[i] = tag.RowsAffected()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				halt()
			}
		}()
	}
	wg.Wait()
	halt()
	<-encDone
	var total int64
	for _, r := range rows {
		total += r
	}
	if encErr != nil && !errors.Is(encErr, errCopyEnded) {
		return total, encErr
	}
	return total, firstErr
}

// blockReader is one COPY's io.Reader over the shared blocks: it hands each block it
// took back to the pool once sent.
type blockReader struct {
	filled <-chan []byte
	free   chan<- []byte
	stop   <-chan struct{}
	encErr func() error // waits for the encoder and returns its error
	cur    []byte
	off    int
	head   []byte // sent before the first block (the binary COPY signature)
}

// Read sends the header, then the blocks; the binary format's trailer is optional
// (the end of the data ends the COPY too).
func (r *blockReader) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	for r.cur == nil || r.off == len(r.cur) {
		if r.cur != nil {
			r.free <- r.cur[:0]
			r.cur, r.off = nil, 0
		}
		select {
		case b, ok := <-r.filled:
			if !ok {
				if err := r.encErr(); err != nil {
					return 0, err
				}
				return 0, io.EOF
			}
			r.cur = b
		case <-r.stop:
			return 0, errCopyEnded
		}
	}
	n := copy(p, r.cur[r.off:])
	r.off += n
	return n, nil
}
