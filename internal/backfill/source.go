package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
)

// SourceChunkRequest re-lands a source's objects for a chunk's days.
type SourceChunkRequest struct {
	Chunk  Chunk
	Source plan.Source
	Table  ident.Relation
	// Prefixes are the S3 key prefixes of the chunk's days; Objects what S3 lists there.
	Prefixes []string
	Objects  []objectstore.Object
	// Open streams an object's body.
	Open       func(ctx context.Context, key string) (io.ReadCloser, error)
	LoadID     string
	WorkflowID string
	PIIKey     []byte
	Rates      plan.CostRates
	// Progress is called after each object.
	Progress func(objectKey string)
}

// RunSourceChunk replaces a raw table's rows of the chunk's days with the objects S3
// lists there, in one transaction under the table's load lock (the same lock pipeline
// loads take): the days' previous rows, quarantine and ledger rows are removed, every
// object is landed, the chunk's checksum computed and its ledger row upserted. An
// object over its bad-row limit fails the whole chunk (nothing changes) and its
// evidence is kept in quarantine.
func RunSourceChunk(ctx context.Context, pool *pgxpool.Pool, req SourceChunkRequest) (ChunkResult, error) {
	started := time.Now().UTC()
	c := req.Chunk
	res := ChunkResult{ChunkID: c.ID()}
	like := make([]string, len(req.Prefixes))
	for i, p := range req.Prefixes {
		like[i] = ingest.LikePrefix(p)
	}
	var failed *ingest.BadDataError
	var failedReq ingest.Request
	var failedRes ingest.Result
	var failedRows *ingest.Quarantine
	defer func() { failedRows.Close() }() //nolint:errcheck // a temporary file
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := ingest.LockTable(ctx, tx, req.Table); err != nil {
			return err
		}
		loads, err := ingest.LoadsUnder(ctx, tx, req.Table, req.Prefixes, nil)
		if err != nil {
			return fmt.Errorf("clear the chunk's days: %w", err)
		}
		if res.Deleted, err = ingest.DeleteLoads(ctx, tx, req.Table, loads); err != nil {
			return fmt.Errorf("clear the chunk's days: %w", err)
		}
		for _, stmt := range []string{
			`DELETE FROM etl2elt.quarantine WHERE object_key LIKE ANY($1) AND source = $2`,
			`DELETE FROM etl2elt.loads WHERE object_key LIKE ANY($1) AND source = $2`,
		} {
			if _, err := tx.Exec(ctx, stmt, like, req.Source.Name); err != nil {
				return fmt.Errorf("clear the chunk's days: %w", err)
			}
		}
		for _, obj := range req.Objects {
			body, err := req.Open(ctx, obj.Key)
			if err != nil {
				return err
			}
			lreq := ingest.Request{PIIKey: req.PIIKey, Source: req.Source, Table: req.Table, Object: obj, LoadID: req.LoadID, WorkflowID: req.WorkflowID}
			r, bad, err := ingest.LoadInTx(ctx, tx, lreq, body, nil)
			body.Close()
			if errors.As(err, &failed) {
				failedReq, failedRes, failedRows = lreq, r, bad
				return err
			}
			if err != nil {
				return err
			}
			res.Inserted += r.Rows
			if req.Progress != nil {
				req.Progress(obj.Key)
			}
		}
		if res.Rows, res.Checksum, err = sourceChecksum(ctx, tx, req); err != nil {
			return err
		}
		res.DurationMS = time.Since(started).Milliseconds()
		res.Cost = Cost(req.Rates, res.Rows, time.Since(started))
		return upsert(ctx, tx, c, StatusDone, res, req.WorkflowID, "", started, nil)
	})
	if err == nil {
		return res, nil
	}
	res.DurationMS = time.Since(started).Milliseconds()
	if failed != nil {
		if rerr := ingest.RecordFailure(ctx, pool, failedReq, failedRows, failedRes, started, failed); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if rerr := recordFailure(ctx, pool, c, res, req.WorkflowID, err, started); rerr != nil {
		return res, errors.Join(err, rerr)
	}
	return res, fmt.Errorf("chunk %s: %w", c.ID(), err)
}

// sourceChecksum fingerprints the chunk's rows by their loaded columns, object key
// and line: the load id and load time (different on every run) are left out, so two
// loads of the same objects give the same checksum.
func sourceChecksum(ctx context.Context, tx pgx.Tx, req SourceChunkRequest) (int64, string, error) {
	var cols []string
	for _, c := range req.Source.Columns {
		if c.PII != "drop" {
			cols = append(cols, "coalesce(t."+ident.Quote(c.Name)+"::text, '<null>')")
		}
	}
	cols = append(cols, "l.object_key", "t._etl_line::text")
	loads, err := ingest.LoadsUnder(ctx, tx, req.Table, req.Prefixes, nil)
	if err != nil {
		return 0, "", err
	}
	var n int64
	var sum string
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') FROM (SELECT md5(concat_ws('|', `+
		strings.Join(cols, ", ")+`)) AS h FROM `+req.Table.Quoted()+` AS t JOIN etl2elt.object_loads AS l ON l.id = t._etl_load WHERE t._etl_load = ANY($1)) AS rows`, loads).Scan(&n, &sum)
	if err != nil {
		return 0, "", fmt.Errorf("checksum of %s %s: %w", req.Table, req.Chunk.Window, err)
	}
	return n, sum, nil
}
