package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"etl2elt/internal/ident"
)

// errCopyEnded stops the encoder when the server ended the COPY first.
var errCopyEnded = errors.New("copy ended")

// copyCSV streams the source's converted rows to COPY ... FROM STDIN (FORMAT csv)
// through a pipe: a goroutine encodes rows as CSV text while the connection sends
// them, so decoding in this process and parsing in the server run on different
// cores. Values were validated and converted already (bad rows are quarantined); the
// text form is exact (decimals keep their digits, timestamps are UTC RFC 3339).
// send picks, in order, the indexes of the source's values that go to columns.
// tf holds, per sent column, an optional transform (PII policies).
func copyCSV(ctx context.Context, tx pgx.Tx, table ident.Relation, columns, types []string, send []int, tf []func(any) any, src *rowSource) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := bufio.NewWriterSize(pw, 256<<10)
		var line []byte
		for src.Next() {
			vals, _ := src.Values()
			line = line[:0]
			for i, vi := range send {
				if i > 0 {
					line = append(line, ',')
				}
				v := vals[vi]
				if tf[i] != nil {
					v = tf[i](v)
				}
				line = appendCSV(line, v, types[i])
			}
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		if err := src.Err(); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(w.Flush())
	}()
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = ident.Quote(c)
	}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, pr, "COPY "+table.Quoted()+" ("+strings.Join(quoted, ", ")+") FROM STDIN WITH (FORMAT csv)")
	pr.CloseWithError(errCopyEnded) // unblocks the encoder if the server stopped first
	<-done
	return tag.RowsAffected(), err
}

// appendCSV appends one value in COPY's CSV form: NULL is an unquoted empty field,
// text is always quoted (so an empty string stays an empty string).
func appendCSV(b []byte, v any, typ string) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return appendQuoted(b, x)
	case Decimal:
		return append(b, x...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case time.Time:
		if typ == "date" {
			return x.AppendFormat(b, "2006-01-02")
		}
		return x.UTC().AppendFormat(b, time.RFC3339Nano)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case pgtype.Numeric:
		j, err := x.MarshalJSON()
		if err != nil || string(j) == "null" {
			return b
		}
		return append(b, j...)
	}
	return appendQuoted(b, fmt.Sprint(v))
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"', '"')
			continue
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
