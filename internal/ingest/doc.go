// Package ingest lands S3 objects in the warehouse's raw schema: it streams an object
// in the source's format (CSV or JSON lines, gzip by the .gz extension; Parquet, read
// row group by row group from a temporary copy), converts each record to the source's
// declared column types and writes the good rows with binary COPY, adding lineage
// columns (_etl_load: the object load's number in etl2elt.object_loads, which holds
// the object key, ETag, load id and workflow once; _etl_loaded_at; _etl_line). On
// Redshift the rows carry the object key and load id themselves (redshift.go).
// Records that fail to
// parse or convert go to etl2elt.quarantine with the object key, line (row index for
// Parquet), raw record and error: never dropped.
//
// Each format is a decoder (csv.go, jsonl.go, parquet.go) behind one small interface;
// the COPY source, the lineage columns, the quarantine and the ledger are shared
// (source.go, load.go).
//
// A load replaces the object's rows in one transaction under a transaction-scoped
// advisory lock on the target table, so loading an object twice leaves the table as
// loading it once, and readers never see half an object. Memory stays flat: rows
// stream from the object body into COPY.
package ingest
