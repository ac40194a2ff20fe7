package activities

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/warehouse"
)

// sourceLoader lands a source's objects in one warehouse dialect; LoadSource picks it
// by the plan's warehouse.dialect (LoadSourceInput.Dialect). The PostgreSQL loader
// streams each object through the worker into COPY FROM STDIN; the Redshift loader
// has Redshift COPY each object from S3 itself (the worker never reads the rows) and
// keeps the ledger and quarantine in the control database.
type sourceLoader interface {
	// ensureTable creates the raw table or adds the declared columns it lacks.
	ensureTable(ctx context.Context) error
	// removeVanished deletes the rows, quarantine and ledger rows of objects under
	// prefix that S3 no longer lists.
	removeVanished(ctx context.Context, prefix string, keys []string) (int64, error)
	// alreadyLoaded tells whether the ledger holds obj as loaded (same ETag).
	alreadyLoaded(ctx context.Context, obj objectstore.Object) (bool, error)
	// load lands obj (rows replaced, quarantine, ledger). progress may see rows.
	load(ctx context.Context, req ingest.Request, progress func(rows int64)) (ingest.Result, error)
	// recordFailure records an object that failed whole in the load ledger.
	recordFailure(ctx context.Context, req ingest.Request, cause error) error
	// close releases what the loader holds.
	close()
}

// loaderFor returns the loader of in's dialect ("" is postgres).
func (a *Activities) loaderFor(ctx context.Context, in LoadSourceInput, table ident.Relation) (sourceLoader, error) {
	switch in.Dialect {
	case "", dialect.Postgres, dialect.Redshift:
	default:
		_, err := dialect.For(in.Dialect)
		return nil, err
	}
	if in.Dialect == dialect.Redshift {
		// Refused before connecting anywhere (LoadPlan refuses these plans already).
		if err := ingest.CheckRedshiftSource(in.Source); err != nil {
			return nil, err
		}
		if a.Redshift.IAMRole == "" {
			return nil, errNoIAMRole
		}
	}
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	switch in.Dialect {
	case "", dialect.Postgres:
		return &postgresLoader{a: a, pool: pool, in: in, table: table}, nil
	default: // redshift
		control, err := a.control(ctx)
		if err != nil {
			return nil, err
		}
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", in.WarehouseConnection, err)
		}
		return &redshiftLoader{a: a, conn: conn, s: warehouse.NewSession(conn), control: control, in: in, table: table}, nil
	}
}

// errNoIAMRole is a Redshift plan on a worker without ETL2ELT_REDSHIFT_IAM_ROLE.
var errNoIAMRole = &configError{"warehouse dialect redshift needs the IAM role Redshift assumes to read the landing bucket: set ETL2ELT_REDSHIFT_IAM_ROLE on the worker"}

// configError is a worker configuration problem: not retryable.
type configError struct{ msg string }

func (e *configError) Error() string  { return e.msg }
func (e *configError) BadInput() bool { return true }

type postgresLoader struct {
	a     *Activities
	pool  *pgxpool.Pool
	in    LoadSourceInput
	table ident.Relation
}

func (l *postgresLoader) ensureTable(ctx context.Context) error {
	return ingest.EnsureTable(ctx, l.pool, l.table, l.in.Source)
}

func (l *postgresLoader) removeVanished(ctx context.Context, prefix string, keys []string) (int64, error) {
	return ingest.RemoveVanished(ctx, l.pool, l.in.Source.Name, l.table, prefix, keys)
}

func (l *postgresLoader) alreadyLoaded(ctx context.Context, obj objectstore.Object) (bool, error) {
	return ingest.AlreadyLoaded(ctx, l.pool, l.in.Source.Name, l.table, obj)
}

func (l *postgresLoader) load(ctx context.Context, req ingest.Request, progress func(rows int64)) (ingest.Result, error) {
	body, _, err := l.a.Store.Open(ctx, l.in.Landing.Bucket, req.Object.Key)
	if err != nil {
		return ingest.Result{}, err
	}
	defer body.Close()
	return ingest.LoadObject(ctx, l.pool, req, body, progress)
}

func (l *postgresLoader) recordFailure(ctx context.Context, req ingest.Request, cause error) error {
	return ingest.RecordObjectFailure(ctx, l.pool, req, cause)
}

func (l *postgresLoader) close() {}

type redshiftLoader struct {
	a       *Activities
	conn    *pgxpool.Conn
	s       warehouse.Session
	control *pgxpool.Pool
	in      LoadSourceInput
	table   ident.Relation
}

func (l *redshiftLoader) ensureTable(ctx context.Context) error {
	return ingest.EnsureTableRedshift(ctx, l.s, l.table, l.in.Source)
}

func (l *redshiftLoader) removeVanished(ctx context.Context, prefix string, keys []string) (int64, error) {
	return ingest.RemoveVanishedRedshift(ctx, l.s, l.control, l.in.Source.Name, l.table, prefix, keys)
}

func (l *redshiftLoader) alreadyLoaded(ctx context.Context, obj objectstore.Object) (bool, error) {
	return ingest.AlreadyLoaded(ctx, l.control, l.in.Source.Name, l.table, obj)
}

// load writes the object's one-entry manifest next to the landing data (a COPY FROM
// the object's key would also load every key it prefixes), then has Redshift copy it.
func (l *redshiftLoader) load(ctx context.Context, req ingest.Request, _ func(rows int64)) (ingest.Result, error) {
	if req.Object.Size == 0 {
		return ingest.Result{}, &ingest.EmptyObjectError{ObjectKey: req.Object.Key, Format: l.in.Source.Format}
	}
	key, body, err := ingest.RedshiftManifest(l.in.Landing.Bucket, req.Object)
	if err != nil {
		return ingest.Result{}, err
	}
	if err := l.a.Store.Put(ctx, l.in.Landing.Bucket, key, body, "application/json"); err != nil {
		return ingest.Result{}, fmt.Errorf("manifest of %s: %w", req.Object.Key, err)
	}
	opts := l.a.Redshift
	opts.ManifestURI = objectstore.URI(l.in.Landing.Bucket, key)
	switch f := l.in.Source.Format; {
	case f == "parquet":
		// COPY maps a columnar file's columns by position: the stage mirrors the
		// file, read from its footer (one or two ranged GETs).
		r := l.a.Store.ReaderAt(ctx, l.in.Landing.Bucket, req.Object.Key, req.Object.Size, ingest.RedshiftParquetFooterBytes)
		if opts.ParquetStage, opts.ParquetExtra, err = ingest.RedshiftParquetStage(r, req.Object.Size, l.in.Source, req.Object.Key); err != nil {
			return ingest.Result{}, err
		}
	case f == "" || f == "csv":
		// COPY maps CSV fields by position: its column list follows the object's
		// header, read with one ranged GET.
		prefix, err := l.a.Store.ReadPrefix(ctx, l.in.Landing.Bucket, req.Object.Key, ingest.RedshiftHeaderBytes())
		if err != nil {
			return ingest.Result{}, fmt.Errorf("header of %s: %w", req.Object.Key, err)
		}
		if opts.Header, err = ingest.RedshiftCSVHeader(prefix, req.Object.Key); err != nil {
			return ingest.Result{}, err
		}
	}
	activity.GetLogger(ctx).Debug("redshift copy", "object", req.Object.Key, "manifest", opts.ManifestURI)
	return ingest.LoadObjectRedshift(ctx, l.s, l.control, req, opts)
}

func (l *redshiftLoader) recordFailure(ctx context.Context, req ingest.Request, cause error) error {
	return ingest.RecordObjectFailure(ctx, l.control, req, cause)
}

func (l *redshiftLoader) close() { l.conn.Release() }
