package warehouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"etl2elt/internal/cost"
)

// Session is one warehouse server session as the Redshift paths of internal/ingest and
// internal/model use it: statements run in order on the same connection, transaction
// control included (BEGIN, COMMIT and ROLLBACK are statements), so temporary tables
// and pg_last_copy_id() stay with it. It is an interface so that tests can record the
// exact statement sequence (Recorder): there is no Redshift to run it against here.
type Session interface {
	// Exec runs one statement and returns the rows it affected. Without args the
	// statement still goes through the extended protocol, which refuses a second
	// statement smuggled into model SQL.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Query runs one query and calls row for each result row; scan reads its columns
	// into dest like pgx.Rows.Scan.
	Query(ctx context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error
}

// pgxConn is what *pgx.Conn and *pgxpool.Conn share.
type pgxConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Conn() *pgx.Conn
}

// NewSession wraps a dedicated connection (a *pgxpool.Conn acquired for the whole
// job, or a *pgx.Conn) as a Session.
func NewSession(c pgxConn) Session { return connSession{c} }

type connSession struct{ c pgxConn }

func (s connSession) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	if len(args) == 0 {
		began := time.Now()
		tag, err := s.c.Conn().PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Close()
		cost.Copied(ctx, s.c.Conn(), time.Since(began), tag) // not traced: metered here
		return tag.RowsAffected(), err
	}
	tag, err := s.c.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (s connSession) Query(ctx context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := s.c.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Statement is one statement a Recorder received.
type Statement struct {
	SQL  string
	Args []any
}

// Recorder is a Session that runs nothing: it records every statement and answers
// from what the test scripted. For unit tests of generated SQL sequences.
type Recorder struct {
	mu sync.Mutex
	// Statements received, in order.
	Statements []Statement
	// Rows answers a Query whose SQL contains the key: one []any per row.
	Rows map[string][][]any
	// Affected answers an Exec whose SQL contains the key (default 0).
	Affected map[string]int64
	// Fail makes a statement whose SQL contains the key fail with the error.
	Fail map[string]error
}

func (r *Recorder) match(sql string) (rows [][]any, affected int64, err error) {
	for k, e := range r.Fail {
		if strings.Contains(sql, k) {
			err = e
		}
	}
	for k, v := range r.Rows {
		if strings.Contains(sql, k) {
			rows = v
		}
	}
	for k, v := range r.Affected {
		if strings.Contains(sql, k) {
			affected = v
		}
	}
	return rows, affected, err
}

// Exec records the statement.
func (r *Recorder) Exec(_ context.Context, sql string, args ...any) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Statements = append(r.Statements, Statement{SQL: sql, Args: args})
	_, n, err := r.match(sql)
	return n, err
}

// Query records the statement and returns the scripted rows.
func (r *Recorder) Query(_ context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error {
	r.mu.Lock()
	r.Statements = append(r.Statements, Statement{SQL: sql, Args: args})
	rows, _, err := r.match(sql)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for _, vals := range rows {
		err := row(func(dest ...any) error {
			if len(dest) != len(vals) {
				return fmt.Errorf("recorder: %d columns scripted, %d scanned", len(vals), len(dest))
			}
			for i, v := range vals {
				reflect.ValueOf(dest[i]).Elem().Set(reflect.ValueOf(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SQL lists the recorded statements' text.
func (r *Recorder) SQL() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.Statements))
	for i, s := range r.Statements {
		out[i] = s.SQL
	}
	return out
}
