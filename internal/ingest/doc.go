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
// A source's primary key is enforced on load (keys.go): a row with a NULL or empty
// key column is quarantined like any bad row; after the COPY, in the same
// transaction, the keys the object holds more than once or that live rows of the
// source's other objects hold already are counted into the result and the ledger,
// and the source's duplicates policy (report, keep_last, quarantine, fail) acts on
// them. On Redshift only the empty keys and the counts within an object are done.
//
// A load replaces the object's rows in one transaction under a transaction-scoped
// advisory lock on the target table, so loading an object twice leaves the table as
// loading it once, and readers never see half an object. Memory stays flat: rows
// stream from the object body into COPY.
package ingest
