package cost

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tracer is a pgx tracer that adds every statement (queries, batches, COPY) to the
// meter of its context, on the connection Conn. Set it as a pool's ConnConfig.Tracer.
type Tracer struct {
	// Conn names the connection (the plan's connection name).
	Conn string
}

var (
	_ pgx.QueryTracer    = Tracer{}
	_ pgx.BatchTracer    = Tracer{}
	_ pgx.CopyFromTracer = Tracer{}
)

type startKey struct{}

func started(ctx context.Context) context.Context {
	if FromContext(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, startKey{}, time.Now())
}

func finished(ctx context.Context, conn string, tag pgconn.CommandTag, statements int64) {
	m := FromContext(ctx)
	if m == nil {
		return
	}
	var d time.Duration
	if t, ok := ctx.Value(startKey{}).(time.Time); ok {
		d = time.Since(t)
	}
	read, written := Rows(tag)
	m.StatementOn(conn, d, read, written)
	if statements > 1 {
		m.statements.Add(statements - 1)
	}
}

// Rows splits a command tag's row count into read (SELECT, FETCH, MOVE) and written
// (INSERT, UPDATE, DELETE, MERGE, COPY). CREATE TABLE AS reports "SELECT n" and
// counts as read.
func Rows(tag pgconn.CommandTag) (read, written int64) {
	n := tag.RowsAffected()
	switch {
	case tag.Select():
		return n, 0
	case tag.Insert(), tag.Update(), tag.Delete():
		return 0, n
	}
	s := tag.String()
	for _, p := range []string{"MERGE", "COPY"} {
		if len(s) >= len(p) && s[:len(p)] == p {
			return 0, n
		}
	}
	return 0, 0
}

// TraceQueryStart implements pgx.QueryTracer.
func (Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return started(ctx)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t Tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	finished(ctx, t.Conn, data.CommandTag, 1)
}

// TraceBatchStart implements pgx.BatchTracer.
func (Tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return started(ctx)
}

// TraceBatchQuery implements pgx.BatchTracer: rows per statement, time at the end.
func (t Tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if m := FromContext(ctx); m != nil {
		read, written := Rows(data.CommandTag)
		m.StatementOn(t.Conn, 0, read, written)
	}
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t Tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if m := FromContext(ctx); m != nil {
		if at, ok := ctx.Value(startKey{}).(time.Time); ok {
			m.addTime(t.Conn, time.Since(at))
		}
	}
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (Tracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	return started(ctx)
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (t Tracer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	finished(ctx, t.Conn, data.CommandTag, 1)
}

// Copied adds a statement run on the raw connection (pgconn.CopyFrom and ExecParams
// are not traced) of conn, the pgx connection it ran on.
func Copied(ctx context.Context, conn *pgx.Conn, d time.Duration, tag pgconn.CommandTag) {
	m := FromContext(ctx)
	if m == nil {
		return
	}
	name := ""
	if conn != nil {
		if t, ok := conn.Config().Tracer.(Tracer); ok {
			name = t.Conn
		}
	}
	read, written := Rows(tag)
	m.StatementOn(name, d, read, written)
}
