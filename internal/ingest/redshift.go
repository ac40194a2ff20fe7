package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzip"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
)

// The Redshift load (plan warehouse.dialect: redshift). Redshift reads S3 itself: the
// worker never streams the object, it issues, on one warehouse session, first the
// staging, each statement committing on its own (the stage is the session's temporary
// table, no other session sees it):
//
//	DROP TABLE IF EXISTS "_etl2elt_stage"
//	CREATE TEMP TABLE "_etl2elt_stage" (<declared columns, Redshift types>)
//	COPY "_etl2elt_stage" (...) FROM '<manifest of the one object>' IAM_ROLE '...' ... MAXERROR 100000 MANIFEST
//	SELECT pg_last_copy_id(), pg_last_copy_count()
//	  -- SYS views (Serverless): the session's COPY in sys_load_history, with its error count
//	SELECT query_id, error_count FROM sys_load_history WHERE session_id = PG_BACKEND_PID() AND start_time >= ...
//	SELECT <line, column, raw line, reason> FROM stl_load_errors WHERE query = $1 ...
//	  -- (or sys_load_error_detail; fewer rows than error_count: the load errs, retried)
//	  -- with a primary key (redshiftKeys): the staged rows with an empty key read back
//	  -- and deleted, the keys the object holds more than once counted
//	SELECT <columns as text> FROM "_etl2elt_stage" WHERE <key empty> LIMIT ...
//	DELETE FROM "_etl2elt_stage" WHERE <key empty>
//	SELECT COUNT(*), ... FROM (SELECT COUNT(*) AS n FROM "_etl2elt_stage" GROUP BY <key> HAVING COUNT(*) > 1) AS d
//	  -- over max_bad_fraction: the stage dropped, bad rows to etl2elt.quarantine, ledger 'failed'
//
// then the write transaction, whose first statement is its LOCK (Redshift takes a
// transaction's snapshot at its first statement: a DELETE on a snapshot older than
// the lock could miss rows another load just committed):
//
//	BEGIN
//	LOCK <raw table>
//	DELETE FROM <raw table> WHERE "_etl_object_key" = $1
//	INSERT INTO <raw table> (<kept columns>, lineage) SELECT <kept columns, masked>, CAST($1 AS ...), ... FROM "_etl2elt_stage"
//	COMMIT
//	DROP TABLE IF EXISTS "_etl2elt_stage"
//
// then writes the quarantine (the rejected rows read back from Redshift's load-error
// system table) and the ledger row in the control database (PostgreSQL): the control
// schema cannot live on Redshift (docs/DIALECTS.md). The load's number (_etl_load,
// the same column as on PostgreSQL, so models reading it run on both) comes from an
// etl2elt.object_loads row written in the control database first. Redshift rows also
// keep the object key and load id as text: a columnar table stores a column that is
// constant per object for next to nothing, and the delete of an object's rows then
// needs nothing from the control database.

// redshiftStage is the session's temporary staging table COPY fills.
const redshiftStage = "_etl2elt_stage"

// RedshiftNumeric is the Redshift type of a plan's numeric column: Redshift has no
// unconstrained NUMERIC (a bare NUMERIC is NUMERIC(18,0), which would drop every
// fraction), so values keep at most 10 fractional digits and 28 integer digits.
const RedshiftNumeric = "NUMERIC(38,10)"

// Load-error sources (ETL2ELT_REDSHIFT_LOAD_ERRORS).
const (
	// LoadErrorsSTL reads STL_LOAD_ERRORS (provisioned clusters): raw line included.
	LoadErrorsSTL = "stl"
	// LoadErrorsSYS reads SYS_LOAD_ERROR_DETAIL (Serverless, concurrency scaling):
	// it has no raw line, so quarantined records are empty there.
	LoadErrorsSYS = "sys"
)

// RedshiftOptions are the worker settings and the per-object manifest a Redshift load
// needs.
type RedshiftOptions struct {
	// IAMRole is the role Redshift assumes to read the landing bucket
	// (ETL2ELT_REDSHIFT_IAM_ROLE).
	IAMRole string
	// Region is the bucket's region when not the cluster's (ETL2ELT_REDSHIFT_S3_REGION;
	// not supported for parquet).
	Region string
	// LoadErrors is LoadErrorsSTL (default) or LoadErrorsSYS.
	LoadErrors string
	// ManifestURI is the s3:// URI of the manifest listing exactly this object
	// (RedshiftManifest): a COPY FROM an object key would also load every object
	// whose key starts with it.
	ManifestURI string
	// Header is a CSV object's header fields (RedshiftCSVHeader): the COPY's column
	// list follows it. Required for CSV.
	Header []string
	// ParquetStage is a Parquet object's stage columns in the file's order, and
	// ParquetExtra its undeclared columns (RedshiftParquetStage). Required for
	// Parquet.
	ParquetStage, ParquetExtra []string
}

// stageType is a column's type in the stage: its raw column's type, or text when the
// streaming loader's conversion rules are applied in SQL (textStaged).
func stageType(format string, c plan.Column) string {
	if textStaged(format, c.Type) {
		return "VARCHAR(65535)"
	}
	typ, _ := RedshiftType(c.Type)
	return typ
}

// maxRedshiftHeaderBytes bounds the ranged GET that reads a CSV object's header.
const maxRedshiftHeaderBytes = 64 << 10

// RedshiftHeaderBytes is how much of a CSV object to read for its header.
func RedshiftHeaderBytes() int64 { return maxRedshiftHeaderBytes }

// RedshiftCSVHeader reads a CSV object's header from the first bytes of the object
// (gzipped when the key ends in .gz), as the streaming loader reads it: a UTF-8 byte
// order mark dropped, names matched case-insensitively later.
func RedshiftCSVHeader(prefix []byte, objectKey string) ([]string, error) {
	if len(prefix) == 0 {
		return nil, &EmptyObjectError{ObjectKey: objectKey}
	}
	var r io.Reader = bytes.NewReader(prefix)
	if strings.HasSuffix(objectKey, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, &ParseError{ObjectKey: objectKey, Err: gzipErr(err)}
		}
		r = zr
	}
	line, err := bufio.NewReaderSize(r, maxRedshiftHeaderBytes).ReadSlice('\n')
	switch {
	case err == nil:
	case err == bufio.ErrBufferFull || int64(len(prefix)) >= maxRedshiftHeaderBytes:
		// The header runs past what was read.
		return nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: no end of line within its first %d bytes", maxRedshiftHeaderBytes)}
	case len(line) == 0 && err == io.EOF:
		return nil, &EmptyObjectError{ObjectKey: objectKey}
	case err != io.EOF:
		return nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: %w", gzipErr(err))}
	}
	// (A header without an end of line is the whole of a header-only object.)
	cr := csv.NewReader(bytes.NewReader(line))
	cr.FieldsPerRecord = -1
	header, cerr := cr.Read()
	if cerr != nil {
		return nil, &ParseError{ObjectKey: objectKey, Err: fmt.Errorf("header: %w", cerr)}
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	return header, nil
}

// redshiftCSVColumns maps a CSV header to the stage's columns, in the file's order:
// declared columns by name (case-insensitive, as the streaming loader), undeclared
// ones staged as text and never inserted (extra_columns: ignore; they are returned).
// A declared column the header lacks, or names twice, is a *HeaderError.
func redshiftCSVColumns(src plan.Source, header []string, objectKey string) (stage, copyCols, extra []string, err error) {
	index, extra, err := matchColumns(src, header, objectKey, "")
	if err != nil {
		return nil, nil, nil, err
	}
	byField := make(map[int]plan.Column, len(index))
	for i, f := range index {
		byField[f] = src.Columns[i]
	}
	for f := range header {
		name, typ := fmt.Sprintf("_etl2elt_extra_%d", f+1), "VARCHAR(65535)"
		if c, ok := byField[f]; ok {
			name, typ = c.Name, stageType(formatCSV, c)
		}
		stage = append(stage, ident.Quote(name)+" "+typ)
		copyCols = append(copyCols, name)
	}
	return stage, copyCols, extra, nil
}

// RedshiftType maps a plan column type to the Redshift type of its raw column.
func RedshiftType(typ string) (string, error) {
	switch typ {
	case "text":
		return "VARCHAR(65535)", nil // TEXT is VARCHAR(256) on Redshift
	case "bigint":
		return "BIGINT", nil
	case "integer":
		return "INTEGER", nil
	case "numeric":
		return RedshiftNumeric, nil
	case "boolean":
		return "BOOLEAN", nil
	case "date":
		return "DATE", nil
	case "timestamptz":
		return "TIMESTAMPTZ", nil
	}
	return "", fmt.Errorf("unsupported column type %q", typ)
}

// RedshiftUnsupportedError is a source the Redshift load cannot honour.
type RedshiftUnsupportedError struct {
	Source string
	Reason string
}

func (e *RedshiftUnsupportedError) Error() string {
	return fmt.Sprintf("source %s: not supported on warehouse dialect redshift: %s", e.Source, e.Reason)
}

// BadInput marks the error as non-retryable (the plan must change).
func (e *RedshiftUnsupportedError) BadInput() bool { return true }

// CheckRedshiftSource refuses, before any work, a source the Redshift load cannot
// honour: a pii: hash column (the keyed hash needs the worker's secret key, which
// would have to be written into SQL that Redshift keeps in its query logs), a column
// type without a Redshift mapping, an unknown format, a duplicates policy other than
// report (see redshiftKeys).
func CheckRedshiftSource(src plan.Source) error {
	switch src.Format {
	case "", formatCSV, formatJSONL, formatParquet:
	default:
		return &RedshiftUnsupportedError{Source: src.Name, Reason: fmt.Sprintf("format %q", src.Format)}
	}
	for _, c := range src.Columns {
		if _, err := RedshiftType(c.Type); err != nil {
			return &RedshiftUnsupportedError{Source: src.Name, Reason: fmt.Sprintf("column %s: %v", c.Name, err)}
		}
		if c.PII == "hash" {
			return &RedshiftUnsupportedError{Source: src.Name, Reason: fmt.Sprintf("column %s has pii: hash; the keyed hash (HMAC with ETL2ELT_PII_HASH_KEY) is computed by the worker while streaming, and Redshift's COPY never passes rows through the worker (the key would have to be written into SQL, which Redshift logs); use mask or drop, or the postgres dialect", c.Name)}
		}
	}
	if p := duplicatesPolicy(src); p != plan.DuplicatesReport {
		return &RedshiftUnsupportedError{Source: src.Name, Reason: fmt.Sprintf("duplicates: %s is not built on Redshift, where a load quarantines rows with an empty primary key and counts the keys its object holds more than once (report, without other objects' rows); use report, or the postgres dialect", p)}
	}
	if src.ExtraColumns == plan.ExtraColumnsFail {
		return &RedshiftUnsupportedError{Source: src.Name, Reason: "extra_columns: fail is not built on Redshift, whose COPY reads the object without the worker (CSV columns by position) and cannot tell undeclared columns; use ignore, or the postgres dialect"}
	}
	if src.MaxLineBytes > 0 {
		return &RedshiftUnsupportedError{Source: src.Name, Reason: "max_line_bytes applies to the worker's reader; Redshift's COPY reads the object itself (its own limit: 4 MB per row, a longer one is a load error); remove it, or use the postgres dialect"}
	}
	return nil
}

// RedshiftTableDDL is the raw table of a source on Redshift: the declared columns (but
// dropped PII) with Redshift types, then the lineage columns (_etl_load as on
// PostgreSQL, plus the object key and load id as text). _etl_line is nullable:
// COPY does not tell which line a row came from, so the Redshift load leaves it NULL.
// The table is sorted on the object key (the DELETE of an object's rows reads few
// blocks), as the BRIN index does on PostgreSQL.
func RedshiftTableDDL(table ident.Relation, src plan.Source) ([]string, error) {
	if err := CheckRedshiftSource(src); err != nil {
		return nil, err
	}
	var cols []string
	for _, c := range loadedColumns(src) {
		typ, _ := RedshiftType(c.Type)
		cols = append(cols, ident.Quote(c.Name)+" "+typ)
	}
	cols = append(cols,
		`"_etl_object_key" VARCHAR(1024) NOT NULL`,
		`"_etl_load_id" VARCHAR(512) NOT NULL`,
		redshiftLoadColumn+` NOT NULL`,
		`"_etl_loaded_at" TIMESTAMPTZ NOT NULL`,
		`"_etl_line" BIGINT`)
	return []string{
		`CREATE SCHEMA IF NOT EXISTS ` + ident.Quote(table.Schema),
		`CREATE TABLE IF NOT EXISTS ` + table.Quoted() + ` (` + strings.Join(cols, ", ") + `) SORTKEY ("_etl_object_key")`,
	}, nil
}

// redshiftLoadColumn is the load number's column; tables made before it get it
// (nullable: their earlier rows have none) from EnsureTableRedshift.
const redshiftLoadColumn = `"_etl_load" BIGINT`

// EnsureTableRedshift creates the raw table of a source on Redshift, or adds the
// declared columns an existing one lacks (one ALTER TABLE ... ADD COLUMN each:
// Redshift adds one column per statement and has no IF NOT EXISTS there). When
// nothing is missing it issues no DDL.
func EnsureTableRedshift(ctx context.Context, s warehouse.Session, table ident.Relation, src plan.Source) error {
	ddl, err := RedshiftTableDDL(table, src)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	err = s.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
		[]any{table.Schema, table.Name}, func(scan func(...any) error) error {
			var name string
			if err := scan(&name); err != nil {
				return err
			}
			present[name] = true
			return nil
		})
	if err != nil {
		return fmt.Errorf("ensure table %s: %w", table, err)
	}
	stmts := ddl
	if len(present) > 0 {
		stmts = nil
		for _, c := range loadedColumns(src) {
			if !present[c.Name] {
				typ, _ := RedshiftType(c.Type)
				stmts = append(stmts, `ALTER TABLE `+table.Quoted()+` ADD COLUMN `+ident.Quote(c.Name)+` `+typ)
			}
		}
		if !present["_etl_load"] {
			stmts = append(stmts, `ALTER TABLE `+table.Quoted()+` ADD COLUMN `+redshiftLoadColumn)
		}
	}
	for _, stmt := range stmts {
		if _, err := s.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("ensure table %s: %w", table, err)
		}
	}
	return nil
}

// RedshiftManifest is the manifest listing exactly obj (mandatory; its size as
// meta.content_length, as UNLOAD writes it: COPY needs only url and mandatory), and
// the key to store it under in the
// landing bucket: _etl2elt/manifests/<hash of key and ETag>.manifest, outside any
// source's layout, stable across retries of the same object version.
func RedshiftManifest(bucket string, obj objectstore.Object) (key string, body []byte, err error) {
	type meta struct {
		ContentLength int64 `json:"content_length"`
	}
	type entry struct {
		URL       string `json:"url"`
		Mandatory bool   `json:"mandatory"`
		Meta      meta   `json:"meta"`
	}
	body, err = json.Marshal(struct {
		Entries []entry `json:"entries"`
	}{[]entry{{URL: objectstore.URI(bucket, obj.Key), Mandatory: true, Meta: meta{ContentLength: obj.Size}}}})
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(bucket + "/" + obj.Key + "@" + obj.ETag))
	return "_etl2elt/manifests/" + hex.EncodeToString(sum[:16]) + ".manifest", body, nil
}

// RedshiftLoadError is a COPY Redshift refused for its data (a Parquet row it could
// not convert, more than MAXERROR bad rows): not retryable. Redshift keeps the
// details in its load-error system table; they are not in etl2elt.quarantine.
type RedshiftLoadError struct {
	ObjectKey string
	Err       error
}

func (e *RedshiftLoadError) Error() string {
	return fmt.Sprintf("object %s: Redshift COPY failed (details in stl_load_errors / sys_load_error_detail, not in etl2elt.quarantine): %v", e.ObjectKey, e.Err)
}
func (e *RedshiftLoadError) Unwrap() error { return e.Err }

// BadInput marks the error as non-retryable.
func (e *RedshiftLoadError) BadInput() bool { return true }

// isLoadDataError tells a COPY that failed on the data (Redshift's message points at
// its load-error tables) from a transient failure.
func isLoadDataError(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "stl_load_errors") || strings.Contains(msg, "sys_load_error_detail")
}

// CopyObjectRedshift runs the Redshift side of one object's load on s (one session,
// one transaction, statements in the package comment above) and returns the result
// and the rows Redshift rejected. Over the source's bad-row limit it rolls back and
// returns a *BadDataError with the bad rows (for RecordFailure in the control
// database).
func CopyObjectRedshift(ctx context.Context, s warehouse.Session, req Request, opt RedshiftOptions, started time.Time, load int64) (res Result, bad []BadRow, err error) {
	res = Result{ObjectKey: req.Object.Key, Bytes: req.Object.Size}
	if err := CheckRedshiftSource(req.Source); err != nil {
		return res, nil, err
	}
	d, err := dialect.For(dialect.Redshift)
	if err != nil {
		return res, nil, err
	}
	format := req.Source.Format
	if format == "" {
		format = formatCSV
	}
	src := dialect.S3Source{URI: opt.ManifestURI, Format: format, IAMRole: opt.IAMRole, Manifest: true}
	var stageCols, copyCols []string
	if format == formatCSV {
		// COPY maps a CSV's fields by position: the column list follows the object's
		// own header, so that a reordered export cannot swap columns of one type.
		if opt.Header == nil {
			return res, nil, fmt.Errorf("load %s: the CSV header is needed to map its columns by name (RedshiftOptions.Header)", req.Object.Key)
		}
		stageCols, copyCols, res.ExtraColumns, err = redshiftCSVColumns(req.Source, opt.Header, req.Object.Key)
		if err != nil {
			return res, nil, err
		}
	} else if format == formatParquet {
		// COPY maps a columnar file's columns by position, their count must match
		// and it takes no column list: the stage mirrors the file, read from its
		// footer (RedshiftParquetStage).
		if opt.ParquetStage == nil {
			return res, nil, fmt.Errorf("load %s: the Parquet footer's columns are needed to map them by name (RedshiftOptions.ParquetStage)", req.Object.Key)
		}
		stageCols, res.ExtraColumns = opt.ParquetStage, opt.ParquetExtra
	} else {
		for _, c := range req.Source.Columns {
			stageCols = append(stageCols, ident.Quote(c.Name)+" "+stageType(format, c))
			copyCols = append(copyCols, c.Name)
		}
	}
	if format != formatParquet {
		src.Gzip = strings.HasSuffix(req.Object.Key, ".gz")
		src.MaxErrors = dialect.MaxCopyErrors
		src.Region = opt.Region
	} else {
		copyCols = nil // by position: the file's columns are the declared ones, in order
	}
	stage := ident.Relation{Name: redshiftStage}
	copySQL, err := d.CopyFromS3(stage, copyCols, src)
	if err != nil {
		return res, nil, err
	}
	lock, lockArgs, err := d.LockTarget(req.Table)
	if err != nil {
		return res, nil, err
	}

	exec := func(what, sql string, args ...any) (int64, error) {
		n, err := s.Exec(ctx, sql, args...)
		if err != nil {
			return 0, fmt.Errorf("load %s: %s: %w", req.Object.Key, what, err)
		}
		return n, nil
	}
	// Staging runs outside the write transaction (each statement commits on its own:
	// the stage is the session's temporary table, which no other session sees), so
	// that the write transaction's first statement is its LOCK: Redshift takes a
	// transaction's snapshot at its first statement, and a DELETE on a snapshot older
	// than the lock can miss rows another load just committed.
	stageName := ident.Quote(redshiftStage)
	defer func() {
		// The stage goes with the session anyway; dropping it keeps a pooled session
		// clean for the next load.
		_, _ = s.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+stageName)
	}()
	if _, err := exec("staging table", `DROP TABLE IF EXISTS `+stageName); err != nil {
		return res, nil, err
	}
	if _, err := exec("staging table", `CREATE TEMP TABLE `+stageName+` (`+strings.Join(stageCols, ", ")+`)`); err != nil {
		return res, nil, err
	}
	copyStarted := time.Now()
	if _, err := s.Exec(ctx, copySQL); err != nil {
		if isLoadDataError(err) {
			return res, nil, &RedshiftLoadError{ObjectKey: req.Object.Key, Err: err}
		}
		return res, nil, fmt.Errorf("load %s: copy: %w", req.Object.Key, err)
	}
	var copyID, good int64
	err = s.Query(ctx, `SELECT pg_last_copy_id(), pg_last_copy_count()`, nil, func(scan func(...any) error) error {
		return scan(&copyID, &good)
	})
	if err != nil {
		return res, nil, fmt.Errorf("load %s: copy id: %w", req.Object.Key, err)
	}
	var badCount int64
	errorsID, counted := copyID, int64(-1)
	if opt.LoadErrors == LoadErrorsSYS {
		// SYS views number queries apart from pg_last_copy_id (an STL id): find the
		// session's COPY in SYS_LOAD_HISTORY, with the errors it counted.
		if errorsID, counted, err = sysCopy(ctx, s, copyStarted); err != nil {
			return res, nil, fmt.Errorf("load %s: %w", req.Object.Key, err)
		}
	}
	var found int64
	err = s.Query(ctx, loadErrorsQuery(opt.LoadErrors), []any{errorsID}, func(scan func(...any) error) error {
		var line int64
		var column, raw, reason string
		if err := scan(&line, &column, &raw, &reason); err != nil {
			return err
		}
		found++
		if len(bad) < maxBadRowsKept {
			msg := strings.TrimSpace(reason)
			if column = strings.TrimSpace(column); column != "" {
				msg = "column " + column + ": " + msg
			}
			bad = append(bad, redshiftBadRow(line, raw, msg))
		}
		return nil
	})
	if err != nil {
		return res, nil, fmt.Errorf("load %s: read load errors: %w", req.Object.Key, err)
	}
	if counted >= 0 && counted != found {
		// Fail closed: rows Redshift rejected but that cannot be read back would pass
		// the bad-row limit unseen. SYS views fill in asynchronously: retried.
		return res, nil, fmt.Errorf("load %s: %w: SYS_LOAD_HISTORY counts %d rejected row(s) for query %d, SYS_LOAD_ERROR_DETAIL shows %d", req.Object.Key, ErrLoadErrorsUnseen, counted, errorsID, found)
	}
	badCount = found
	convBad, refused, err := redshiftConversions(ctx, s, req, format, maxBadRowsKept-len(bad))
	if err != nil {
		return res, nil, err
	}
	bad = append(bad, convBad...)
	good -= refused
	badCount += refused
	if len(req.Source.PrimaryKey) > 0 {
		keyBad, empty, err := redshiftKeys(ctx, s, req, format, maxBadRowsKept-len(bad), &res)
		if err != nil {
			return res, nil, err
		}
		bad = append(bad, keyBad...)
		good -= empty
		badCount += empty
	}
	res.Quarantined = badCount
	if badCount > 0 && float64(badCount)/float64(good+badCount) > req.Source.MaxBadFraction {
		return res, bad, &BadDataError{ObjectKey: req.Object.Key, Rows: good, Bad: badCount, MaxFraction: req.Source.MaxBadFraction, First: firstBadRedshift(bad, format)}
	}
	// The write transaction: LOCK first (Redshift's LOCK blocks readers too, for
	// the DELETE and INSERT only: the COPY ran into the stage before).
	if _, err := exec("begin", "BEGIN"); err != nil {
		return res, nil, err
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = s.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := exec("lock", lock, lockArgs...); err != nil {
		return res, nil, err
	}
	if _, err := exec("replace previous rows", `DELETE FROM `+req.Table.Quoted()+` WHERE "_etl_object_key" = $1`, req.Object.Key); err != nil {
		return res, nil, err
	}
	var insertCols, selectCols []string
	for _, c := range loadedColumns(req.Source) {
		q := ident.Quote(c.Name)
		insertCols = append(insertCols, q)
		if textStaged(format, c.Type) {
			selectCols = append(selectCols, castStaged(c))
			continue
		}
		if c.PII == "mask" && c.Type == "text" {
			// The streaming loader's mask: every character but the last four is '*'.
			q = `CASE WHEN LEN(` + q + `) > 4 THEN REPEAT('*', LEN(` + q + `) - 4) || RIGHT(` + q + `, 4) ELSE ` + q + ` END`
		}
		selectCols = append(selectCols, q)
	}
	insertCols = append(insertCols, `"_etl_object_key"`, `"_etl_load_id"`, `"_etl_loaded_at"`, `"_etl_load"`)
	// Parameters in a select list have no type of their own: cast to the columns'.
	selectCols = append(selectCols, "CAST($1 AS VARCHAR(1024))", "CAST($2 AS VARCHAR(512))", "CAST($3 AS TIMESTAMPTZ)", "CAST($4 AS BIGINT)")
	n, err := exec("insert with lineage", `INSERT INTO `+req.Table.Quoted()+` (`+strings.Join(insertCols, ", ")+`) SELECT `+
		strings.Join(selectCols, ", ")+` FROM `+ident.Quote(redshiftStage), req.Object.Key, req.LoadID, started, load)
	if err != nil {
		return res, nil, err
	}
	res.Rows = n
	if _, err := exec("commit", "COMMIT"); err != nil {
		// The COMMIT may have happened before the connection failed.
		return res, nil, fmt.Errorf("%w: %w", errCommitUnknown, err)
	}
	committed = true
	return res, bad, nil
}

// redshiftKeys is the primary key check of a Redshift load, on the staging table
// before anything reaches the raw table: the rows with a NULL or empty (spaces only)
// key column are read back (at most room of them, as JSON objects of their values
// as text, line 0: COPY does not tell lines) and deleted from the stage, and the
// keys the object holds more than once are counted into res. It returns the bad
// rows and how many were deleted. Not done on Redshift: the comparison with the raw
// table's rows of other objects (a scan of the whole raw table per object) and the
// keep_last, quarantine and fail policies (refused by CheckRedshiftSource).
func redshiftKeys(ctx context.Context, s warehouse.Session, req Request, format string, room int, res *Result) ([]BadRow, int64, error) {
	stage := ident.Quote(redshiftStage)
	var empty, keys []string
	keyType := map[string]string{}
	for _, c := range req.Source.Columns {
		keyType[c.Name] = c.Type
	}
	for _, k := range req.Source.PrimaryKey {
		q := ident.Quote(k)
		keys = append(keys, q)
		empty = append(empty, q+` IS NULL`)
		if keyType[k] == "text" || textStaged(format, keyType[k]) {
			empty = append(empty, `TRIM(`+q+`) = ''`)
		}
	}
	where := strings.Join(empty, " OR ")
	var bad []BadRow
	if room > 0 {
		sel := stagedAsText(req.Source)
		vals := make([]*string, len(req.Source.Columns))
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		err := s.Query(ctx, `SELECT `+sel+` FROM `+stage+` WHERE `+where+fmt.Sprintf(` LIMIT %d`, room), nil, func(scan func(...any) error) error {
			if err := scan(dest...); err != nil {
				return err
			}
			bad = append(bad, redshiftKeyRow(req.Source, vals))
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: rows with an empty primary key: %w", req.Object.Key, err)
		}
	}
	n, err := s.Exec(ctx, `DELETE FROM `+stage+` WHERE `+where)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: rows with an empty primary key: %w", req.Object.Key, err)
	}
	err = s.Query(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(n - 1), 0) AS BIGINT) FROM (SELECT COUNT(*) AS n FROM `+stage+
		` GROUP BY `+strings.Join(keys, ", ")+` HAVING COUNT(*) > 1) AS d`, nil, func(scan func(...any) error) error {
		return scan(&res.DuplicateKeys, &res.DuplicateRows)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: count duplicate keys: %w", req.Object.Key, err)
	}
	return bad, n, nil
}

// redshiftKeyRow is a staged row with an empty key as a quarantined row: its values
// as a JSON object (text, in plan order) and the reason naming the first empty key
// column.
func redshiftKeyRow(src plan.Source, vals []*string) BadRow {
	row := stagedRowJSON(src, vals)
	reason := "primary key is empty"
	for _, k := range src.PrimaryKey {
		i := slices.IndexFunc(src.Columns, func(c plan.Column) bool { return c.Name == k })
		if i < 0 {
			continue
		}
		if vals[i] == nil {
			return redshiftBadRow(0, row, fmt.Sprintf("primary key column %s is empty (NULL)", k))
		}
		if strings.TrimSpace(*vals[i]) == "" {
			return redshiftBadRow(0, row, fmt.Sprintf("primary key column %s is empty", k))
		}
	}
	return redshiftBadRow(0, row, reason)
}

// redshiftBadRow is a row Redshift rejected (its raw line is at most 1,024 bytes in
// stl_load_errors, none in sys_load_error_detail) or a staged row with an empty key:
// kept with its reason, whose values (single-quoted by Redshift) are redacted.
func redshiftBadRow(line int64, raw, reason string) BadRow {
	return BadRow{line: line, raw: []byte(raw), err: singleQuoted.ReplaceAllString(reasonOf(reason), `'…'`), offset: -1, length: -1}
}

// quarantineOf holds bad in a Quarantine (Redshift's bad rows are few and small).
func quarantineOf(bad []BadRow) *Quarantine {
	q := &Quarantine{}
	for _, b := range bad {
		if err := q.add(b); err != nil {
			break // in memory: add does not fail before spoolInMemory bytes
		}
	}
	return q
}

// errCommitUnknown marks a failed COMMIT on Redshift: the transaction may have
// committed, so the load's rows may exist (the ledger does not say loaded, so the
// next run loads the object again and replaces them).
var errCommitUnknown = errors.New("commit outcome unknown")

// ErrLoadErrorsUnseen is a COPY whose rejected rows could not all be read back: the
// load is not judged on them (retried: SYS views fill in asynchronously).
var ErrLoadErrorsUnseen = errors.New("load errors not all visible")

// sysCopyQuery finds this session's last COPY in SYS_LOAD_HISTORY that began at or
// after $1 (the worker's clock before the COPY, less a minute for clock skew; a later
// session may reuse a process id, never at the same time): its SYS query id and the
// rows it rejected.
const sysCopyQuery = `SELECT query_id, error_count FROM sys_load_history WHERE session_id = PG_BACKEND_PID() AND start_time >= CAST($1 AS TIMESTAMP) ORDER BY start_time DESC LIMIT 1`

// sysCopy runs sysCopyQuery; no row is an error (fail closed).
func sysCopy(ctx context.Context, s warehouse.Session, copyStarted time.Time) (id, errorCount int64, err error) {
	found := false
	err = s.Query(ctx, sysCopyQuery, []any{copyStarted.UTC().Add(-time.Minute).Format("2006-01-02 15:04:05")}, func(scan func(...any) error) error {
		found = true
		return scan(&id, &errorCount)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("find the COPY in sys_load_history: %w", err)
	}
	if !found {
		return 0, 0, fmt.Errorf("%w: this session's COPY is not in sys_load_history yet", ErrLoadErrorsUnseen)
	}
	return id, errorCount, nil
}

// loadErrorsQuery reads the rows a COPY rejected, by its query id (STL: pg_last_copy_id;
// SYS: sysCopy's), in line order.
func loadErrorsQuery(source string) string {
	if source == LoadErrorsSYS {
		return `SELECT line_number, TRIM(column_name), '', TRIM(error_message) FROM sys_load_error_detail WHERE query_id = $1 ORDER BY line_number`
	}
	return `SELECT line_number, TRIM(colname), TRIM(raw_line), TRIM(err_reason) FROM stl_load_errors WHERE query = $1 ORDER BY line_number`
}

var singleQuoted = regexp.MustCompile(`'(?:[^']|'')*'`)

// firstBadRedshift is firstBad for Redshift's reasons, which quote values in single
// quotes ("Invalid digit, Value 'x', Pos 0, Type: Long"): those are redacted too.
func firstBadRedshift(bad []BadRow, format string) []string {
	what := "line"
	if format == formatParquet {
		what = "row"
	}
	out := quarantineOf(bad[:min(len(bad), 3)]).first(what)
	for i, s := range out {
		out[i] = singleQuoted.ReplaceAllString(s, `'…'`)
	}
	return out
}

// LoadObjectRedshift lands one object on Redshift (CopyObjectRedshift on s), then
// records it in the control database: the rejected rows in etl2elt.quarantine and the
// ledger row 'loaded', in one control transaction. Over the bad-row limit nothing is
// loaded, the bad rows are quarantined and the ledger row says 'failed'
// (RecordFailure). Redshift and the control database are two transactions: if the
// control one fails after Redshift committed, the ledger does not say 'loaded' and
// the next run loads the object again, replacing its rows (one copy).
func LoadObjectRedshift(ctx context.Context, s warehouse.Session, control *pgxpool.Pool, req Request, opt RedshiftOptions) (Result, error) {
	started := time.Now().UTC()
	// The load's number first (its own statement: the Redshift transaction cannot
	// wait for a control transaction). If the load then fails the row is removed; a
	// worker that dies in between leaves a row no raw row refers to.
	load, err := recordLoad(ctx, control, req, started)
	if err != nil {
		return Result{ObjectKey: req.Object.Key}, err
	}
	res, bad, err := CopyObjectRedshift(ctx, s, req, opt, started, load)
	if err != nil && !errors.Is(err, errCommitUnknown) {
		// Nothing was committed on Redshift: the number is not used. Best effort,
		// bounded: a row left behind is only an unused number.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, _ = control.Exec(dctx, `DELETE FROM etl2elt.object_loads WHERE id = $1`, load)
		cancel()
	}
	var badData *BadDataError
	if errors.As(err, &badData) {
		if rerr := RecordFailure(ctx, control, req, quarantineOf(bad), res, started, err); rerr != nil {
			return res, errors.Join(err, rerr)
		}
		return res, err
	}
	if err != nil {
		return res, err
	}
	tx, err := control.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("record load %s: %w", req.Object.Key, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `DELETE FROM etl2elt.quarantine WHERE source = $1 AND object_key = $2`, req.Source.Name, req.Object.Key); err != nil {
		return res, fmt.Errorf("record load %s: %w", req.Object.Key, err)
	}
	if err := writeQuarantine(ctx, tx, req, quarantineOf(bad)); err != nil {
		return res, err
	}
	if err := upsertLedger(ctx, tx, req, res, "loaded", "", started); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("record load %s: %w", req.Object.Key, err)
	}
	return res, nil
}

// RemoveVanishedRedshift is RemoveVanished with the raw rows on Redshift (one
// transaction under the table's LOCK) and the quarantine and ledger rows in the
// control database (a second transaction, after). Redshift takes no array
// parameter, so the listed keys are one bound parameter each.
func RemoveVanishedRedshift(ctx context.Context, s warehouse.Session, control *pgxpool.Pool, source string, table ident.Relation, dayPrefix string, listed []string) (int64, error) {
	d, err := dialect.For(dialect.Redshift)
	if err != nil {
		return 0, err
	}
	lock, _, err := d.LockTarget(table)
	if err != nil {
		return 0, err
	}
	like := strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`).Replace(dayPrefix) + "%"
	args := []any{like}
	var in []string
	for _, k := range listed {
		args = append(args, k)
		in = append(in, "$"+strconv.Itoa(len(args)))
	}
	del := `DELETE FROM ` + table.Quoted() + ` WHERE "_etl_object_key" LIKE $1 ESCAPE '!'`
	if len(in) > 0 {
		del += ` AND "_etl_object_key" NOT IN (` + strings.Join(in, ", ") + `)`
	}
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("remove vanished objects of %s under %s: %w", table, dayPrefix, err)
	}
	if _, err := s.Exec(ctx, "BEGIN"); err != nil {
		return fail(err)
	}
	var removed int64
	for i, stmt := range []string{lock, del, "COMMIT"} {
		a := []any(nil)
		if i == 1 {
			a = args
		}
		n, err := s.Exec(ctx, stmt, a...)
		if err != nil {
			_, _ = s.Exec(context.WithoutCancel(ctx), "ROLLBACK")
			return fail(err)
		}
		if i == 1 {
			removed = n
		}
	}
	pattern := LikePrefix(dayPrefix)
	if listed == nil {
		listed = []string{}
	}
	if _, err := control.Exec(ctx, `DELETE FROM etl2elt.quarantine WHERE source = $1 AND object_key LIKE $2 AND NOT (object_key = ANY($3))`, source, pattern, listed); err != nil {
		return fail(err)
	}
	if _, err := control.Exec(ctx, `DELETE FROM etl2elt.loads WHERE source = $1 AND object_key LIKE $2 AND NOT (object_key = ANY($3))`, source, pattern, listed); err != nil {
		return fail(err)
	}
	return removed, nil
}
