package ingest

import (
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// RedshiftParquetFooterBytes is how much of a Parquet object's end the worker reads at
// once for its footer (a larger footer takes one more ranged GET).
const RedshiftParquetFooterBytes = 256 << 10

// RedshiftParquetStage reads a Parquet object's footer (through r, ranged reads of an
// object of size bytes) and returns the stage's column definitions in the file's
// order. COPY maps a columnar file's columns to the table's by position and their
// count must match, so the stage mirrors the file: declared columns by name
// (case-insensitive, as the streaming loader) with their Redshift types, undeclared
// ones with a type of their Parquet type, staged and never inserted (returned as
// extra). A declared column the file lacks, a nested or repeated column, or an
// undeclared one of a type Redshift cannot stage, is refused before any statement.
func RedshiftParquetStage(r io.ReaderAt, size int64, src plan.Source, objectKey string) (stage, extra []string, err error) {
	if size == 0 {
		return nil, nil, &EmptyObjectError{ObjectKey: objectKey, Format: formatParquet}
	}
	file, err := openParquet(r, size)
	if err != nil {
		return nil, nil, &ParseError{ObjectKey: objectKey, Format: formatParquet, Err: err}
	}
	defer func() {
		if p := recover(); p != nil {
			err = &ParseError{ObjectKey: objectKey, Format: formatParquet, Err: fmt.Errorf("schema: %v", p)}
		}
	}()
	fields := file.Schema().Fields()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name()
	}
	index, extra, err := matchColumns(src, names, objectKey, formatParquet)
	if err != nil {
		return nil, nil, err
	}
	declared := make(map[int]plan.Column, len(index))
	for i, f := range index {
		declared[f] = src.Columns[i]
	}
	for i, f := range fields {
		if !f.Leaf() || f.Repeated() {
			return nil, nil, &SchemaError{ObjectKey: objectKey, Column: f.Name(), Reason: "nested or repeated: only flat columns load"}
		}
		if c, ok := declared[i]; ok {
			typ, _ := RedshiftType(c.Type)
			stage = append(stage, ident.Quote(c.Name)+" "+typ)
			continue
		}
		typ, err := redshiftTypeOfParquet(f.Type())
		if err != nil {
			return nil, nil, &SchemaError{ObjectKey: objectKey, Column: f.Name(), Reason: "undeclared, and " + err.Error() + ": declare it, or drop it from the file"}
		}
		stage = append(stage, ident.Quote(fmt.Sprintf("_etl2elt_extra_%d", i+1))+" "+typ)
	}
	return stage, extra, nil
}

// redshiftTypeOfParquet is the Redshift type COPY loads a Parquet column of type t
// into, for an undeclared column that is staged only.
func redshiftTypeOfParquet(t parquet.Type) (string, error) {
	var logical format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch logical.(type) {
	case *format.DecimalType:
		return "NUMERIC(38,10)", nil
	case *format.DateType:
		return "DATE", nil
	case *format.TimestampType:
		return "TIMESTAMP", nil
	}
	switch t.Kind() {
	case parquet.Boolean:
		return "BOOLEAN", nil
	case parquet.Int32:
		return "INTEGER", nil
	case parquet.Int64:
		return "BIGINT", nil
	case parquet.Int96:
		return "TIMESTAMP", nil
	case parquet.Float:
		return "REAL", nil
	case parquet.Double:
		return "DOUBLE PRECISION", nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return "VARCHAR(65535)", nil
	}
	return "", fmt.Errorf("of Parquet type %s, which has no Redshift stage type here", strings.ToLower(t.String()))
}
