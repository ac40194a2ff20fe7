package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// Primary keys at load time (PostgreSQL). A source's primary_key is checked twice:
//
//   - while the object streams (rowSource): a row with a NULL or empty key column is
//     quarantined as a bad row, never copied;
//   - after the COPY, in the load's transaction (checkKeys): the object's keys are
//     compared with each other and with the raw table's live rows of the source's
//     other objects, through an index on the key columns and _etl_load that
//     EnsureTable keeps. The counts go into every load's Result and ledger row, then
//     the source's duplicates policy acts.
//
// The policies:
//
//   - report: nothing more;
//   - keep_last: per key, the row that stays is the last one (highest line) of the
//     newest object holding it, "newest" being the greatest object key in byte order
//     (the layout's date first, then the name), so that loading the objects in any
//     order leaves the same rows. Every other row of the key is deleted from raw and
//     a copy quarantined under its own object (not a bad row: max_bad_fraction does
//     not count it);
//   - quarantine: the object's rows of a key after the first one seen (the lowest
//     line; every row when another object holds the key already) are moved to the
//     quarantine as bad rows;
//   - fail: the load fails with a *ParseError (ErrDuplicateKeys) naming up to
//     maxDuplicateExamples keys.
//
// The checks read the rows as stored: a key column with pii: hash compares hashes
// (equal values give equal hashes); plan validation refuses policies other than
// report on a masked key column. Quarantined copies of duplicates hold the row as
// stored in raw (a JSON object of the loaded columns), not the record as landed: the
// record was valid, and the object key and line say where it is.

// ErrDuplicateKeys is the cause of a load refused by the duplicates: fail policy.
var ErrDuplicateKeys = errors.New("duplicate primary keys")

// maxDuplicateExamples bounds the keys a failed load names.
const maxDuplicateExamples = 5

// duplicatesPolicy is the source's policy ("" is report).
func duplicatesPolicy(src plan.Source) string {
	if src.Duplicates == "" {
		return plan.DuplicatesReport
	}
	return src.Duplicates
}

// keyIndexName is the name of the raw table's index on the source's primary key and
// _etl_load, "" without a primary key. It carries a hash of the key's columns, so
// that a changed key gets a new index (the old one is dropped).
func keyIndexName(table ident.Relation, src plan.Source) string {
	if len(src.PrimaryKey) == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(src.PrimaryKey, ",")))
	return keyIndexPrefix(table) + hex.EncodeToString(sum[:4])
}

// keyIndexPrefix starts the names of the key indexes of table (at most 63 bytes in
// all with the hash: PostgreSQL would cut a longer name).
func keyIndexPrefix(table ident.Relation) string {
	name := table.Name
	if len(name) > 46 {
		// Cut, with a hash of the whole name: two long names sharing their first
		// characters in one schema must not share an index name.
		sum := sha256.Sum256([]byte(table.Name))
		name = name[:37] + "_" + hex.EncodeToString(sum[:4])
	}
	return name + "_etl_key_"
}

// ensureKeyIndex creates the key index of table (in tx, under the DDL lock) and drops
// the key indexes of earlier keys. Building it on a large existing table takes a
// while, during which writes to the table wait.
func ensureKeyIndex(ctx context.Context, tx pgx.Tx, table ident.Relation, src plan.Source) error {
	name := keyIndexName(table, src)
	if name == "" {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT c.relname::text FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass($1) AND starts_with(c.relname, $2) AND c.relname <> $3`, table.Quoted(), keyIndexPrefix(table), name)
	if err != nil {
		return fmt.Errorf("key indexes: %w", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("key indexes: %w", err)
	}
	for _, s := range stale {
		if _, err := tx.Exec(ctx, `DROP INDEX `+ident.Quote(table.Schema)+`.`+ident.Quote(s)); err != nil {
			return fmt.Errorf("drop key index %s: %w", s, err)
		}
	}
	cols := make([]string, 0, len(src.PrimaryKey)+1)
	for _, k := range src.PrimaryKey {
		cols = append(cols, ident.Quote(k))
	}
	cols = append(cols, "_etl_load")
	if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+ident.Quote(name)+` ON `+table.Quoted()+` (`+strings.Join(cols, ", ")+`)`); err != nil {
		return fmt.Errorf("key index: %w", err)
	}
	return nil
}

// hasKeyIndex tells whether table has the key index of src (true without a key).
func hasKeyIndex(ctx context.Context, q Queryer, table ident.Relation, src plan.Source) (bool, error) {
	name := keyIndexName(table, src)
	if name == "" {
		return true, nil
	}
	rows, err := q.Query(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident.Quote(table.Schema)+"."+ident.Quote(name))
	if err != nil {
		return false, err
	}
	return pgx.CollectOneRow(rows, pgx.RowTo[bool])
}

// keyCheck is what checkKeys found and did for one object load.
type keyCheck struct {
	// keys: distinct keys of the object held more than once (in the object, or by
	// other objects' live rows); rows: their surplus rows; elsewhere: of keys, those
	// other objects hold; notFirst: the object's rows of those keys that are not the
	// first one seen (what the quarantine policy moves).
	keys, rows, elsewhere, notFirst int64
	// superseded: the object's rows keep_last moved to the quarantine; replaced: the
	// other objects' rows it deleted.
	superseded, replaced int64
	// badCount: how many rows the quarantine policy moved (bad rows, added to the
	// object's quarantine up to maxBadRowsKept); dropped: how many of them it had no
	// room for.
	badCount int64
	dropped  int64
}

// keySQL builds the statements of the key checks of one source and table.
type keySQL struct {
	table ident.Relation
	keys  []string      // quoted key columns
	key   []plan.Column // the key's columns
	cols  []plan.Column // the loaded columns
}

func newKeySQL(table ident.Relation, src plan.Source) keySQL {
	k := keySQL{table: table, cols: loadedColumns(src)}
	for _, name := range src.PrimaryKey {
		k.keys = append(k.keys, ident.Quote(name))
		for _, c := range src.Columns {
			if c.Name == name {
				k.key = append(k.key, c)
			}
		}
	}
	return k
}

// list is the key columns, each prefixed with alias (e.g. "t.").
func (k keySQL) list(alias string) string {
	out := make([]string, len(k.keys))
	for i, c := range k.keys {
		out[i] = alias + c
	}
	return strings.Join(out, ", ")
}

// using is the USING clause joining on the key columns.
func (k keySQL) using() string { return "USING (" + k.list("") + ")" }

// sqlJSON is an SQL text expression rendering column c of alias as a JSON value:
// numbers and booleans bare, text quoted, timestamps in UTC (whatever the session's
// time zone), NULL as null.
func sqlJSON(alias string, c plan.Column) string {
	col := alias + ident.Quote(c.Name)
	if c.Type == "timestamptz" {
		return `coalesce(rtrim(to_json(` + col + ` AT TIME ZONE 'UTC')::text, '"') || 'Z"', 'null')`
	}
	return `coalesce(to_json(` + col + `)::text, 'null')`
}

// keyText is an SQL text expression naming a row's key: order_id=42, region="emea".
func (k keySQL) keyText(alias string) string {
	parts := make([]string, len(k.key))
	for i, c := range k.key {
		name := c.Name + "="
		if i > 0 {
			name = ", " + name
		}
		parts[i] = sqlLiteral(name) + ` || ` + sqlJSON(alias, c)
	}
	return strings.Join(parts, " || ")
}

// record is an SQL text expression rendering a stored row as a JSON object of the
// loaded columns, in plan order (built with ||: json_build_object takes at most 50
// columns).
func (k keySQL) record(alias string) string {
	var b strings.Builder
	for i, c := range k.cols {
		name, _ := json.Marshal(c.Name)
		sep := ","
		if i == 0 {
			sep = "{"
		}
		if i > 0 {
			b.WriteString(" || ")
		}
		b.WriteString(sqlLiteral(sep + string(name) + ":"))
		b.WriteString(" || " + sqlJSON(alias, c))
	}
	b.WriteString(` || '}'`)
	return b.String()
}

// sqlLiteral quotes s as an SQL string literal.
func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// mine is the CTE of the object load's keys with their row count and first line; $1
// is the load's number.
func (k keySQL) mine() string {
	return `mine AS (SELECT ` + k.list("") + `, count(*) AS n, min(_etl_line) AS first_line FROM ` + k.table.Quoted() +
		` WHERE _etl_load = $1 GROUP BY ` + k.list("") + `)`
}

// other is the CTE of the keys of mine that live rows of other loads hold: how many
// rows, and the first of their objects (byte order).
func (k keySQL) other() string {
	return `other AS (SELECT ` + k.list("o.") + `, count(*) AS m, min(l.object_key COLLATE "C") AS holder FROM ` + k.table.Quoted() +
		` AS o JOIN mine ` + k.using() + ` JOIN etl2elt.object_loads AS l ON l.id = o._etl_load WHERE o._etl_load <> $1 GROUP BY ` + k.list("o.") + `)`
}

// counts computes keyCheck's counts.
func (k keySQL) counts() string {
	return `WITH ` + k.mine() + `, ` + k.other() + `
SELECT count(*), coalesce(sum(n + coalesce(m, 0) - 1), 0), count(m), coalesce(sum(CASE WHEN m IS NULL THEN n - 1 ELSE n END), 0)
FROM mine LEFT JOIN other ` + k.using() + ` WHERE n > 1 OR m IS NOT NULL`
}

// examples lists up to maxDuplicateExamples duplicated keys: key, rows in the
// object, rows elsewhere, the first other object holding it.
func (k keySQL) examples() string {
	return `WITH ` + k.mine() + `, ` + k.other() + `
SELECT ` + k.keyText("") + `, n, coalesce(m, 0), coalesce(holder, '')
FROM mine LEFT JOIN other ` + k.using() + ` WHERE n > 1 OR m IS NOT NULL ORDER BY ` + k.list("") + fmt.Sprintf(` LIMIT %d`, maxDuplicateExamples)
}

// keepLast deletes, for each key of the object load ($1) held more than once among
// the live rows, every row but the last one of the newest object, and quarantines a
// copy of each under its own object ($2 source, $3 load id). It returns the copies'
// object keys' count for the load's object ($4) and for others.
func (k keySQL) keepLast() string {
	eq := make([]string, len(k.keys))
	for i, c := range k.keys {
		eq[i] = "t." + c + " = d." + c
	}
	return `WITH keys AS (SELECT ` + k.list("") + ` FROM ` + k.table.Quoted() + ` WHERE _etl_load = $1 GROUP BY ` + k.list("") + `),
dup AS (SELECT ` + k.list("t.") + ` FROM ` + k.table.Quoted() + ` AS t JOIN keys ` + k.using() + ` GROUP BY ` + k.list("t.") + ` HAVING count(*) > 1),
ranked AS (
  SELECT t.ctid AS row_id, l.object_key, t._etl_line AS line,
    first_value(l.object_key) OVER w AS winner, row_number() OVER w AS rn
  FROM ` + k.table.Quoted() + ` AS t JOIN dup AS d ON ` + strings.Join(eq, " AND ") + ` JOIN etl2elt.object_loads AS l ON l.id = t._etl_load
  WINDOW w AS (PARTITION BY ` + k.list("t.") + ` ORDER BY l.object_key COLLATE "C" DESC, t._etl_line DESC)
),
gone AS (
  DELETE FROM ` + k.table.Quoted() + ` AS t USING ranked AS r WHERE t.ctid = r.row_id AND r.rn > 1
  RETURNING r.object_key, r.line, r.winner, ` + k.keyText("t.") + ` AS key, ` + k.record("t.") + ` AS record
),
copies AS (
  INSERT INTO etl2elt.quarantine (source, object_key, load_id, line, raw_record, error)
  SELECT $2, object_key, $3, line, record, 'duplicate key ' || key ||
    CASE WHEN object_key = winner THEN ': a later row of the same object replaces it' ELSE ': a row of the newer object ' || winner || ' replaces it' END
  FROM gone
  RETURNING object_key
)
SELECT count(*) FILTER (WHERE object_key = $4), count(*) FILTER (WHERE object_key <> $4) FROM copies`
}

// quarantine deletes the object load's ($1) rows of a key after the first one seen
// and returns them: line, stored record, key, the key's first line in the object, and
// the other object holding it ("" when none).
func (k keySQL) quarantine() string {
	eq := make([]string, len(k.keys))
	for i, c := range k.keys {
		eq[i] = "t." + c + " = x." + c
	}
	return `WITH ` + k.mine() + `, ` + k.other() + `,
x AS (SELECT ` + k.list("") + `, first_line, holder FROM mine LEFT JOIN other ` + k.using() + ` WHERE n > 1 OR m IS NOT NULL)
DELETE FROM ` + k.table.Quoted() + ` AS t USING x
WHERE t._etl_load = $1 AND ` + strings.Join(eq, " AND ") + ` AND (x.holder IS NOT NULL OR t._etl_line > x.first_line)
RETURNING t._etl_line, ` + k.record("t.") + `, ` + k.keyText("t.") + `, x.first_line, coalesce(x.holder, '')`
}

// checkKeys runs the duplicate checks of one object load (number load, its rows
// already copied into req.Table in tx) and applies the source's duplicates policy.
// The rows the quarantine policy moves go to q, up to maxBadRowsKept rows in all. A
// source without a primary key is not checked.
func checkKeys(ctx context.Context, tx pgx.Tx, req Request, load int64, q *Quarantine) (keyCheck, error) {
	var kc keyCheck
	if len(req.Source.PrimaryKey) == 0 {
		return kc, nil
	}
	k := newKeySQL(req.Table, req.Source)
	if err := tx.QueryRow(ctx, k.counts(), load).Scan(&kc.keys, &kc.rows, &kc.elsewhere, &kc.notFirst); err != nil {
		return kc, fmt.Errorf("load %s: count duplicate keys: %w", req.Object.Key, err)
	}
	if kc.keys == 0 {
		return kc, nil
	}
	switch duplicatesPolicy(req.Source) {
	case plan.DuplicatesKeepLast:
		if err := tx.QueryRow(ctx, k.keepLast(), load, req.Source.Name, req.LoadID, req.Object.Key).Scan(&kc.superseded, &kc.replaced); err != nil {
			return kc, fmt.Errorf("load %s: keep the last row of duplicate keys: %w", req.Object.Key, err)
		}
	case plan.DuplicatesQuarantine:
		what := "line"
		if req.Source.Format == formatParquet {
			what = "row"
		}
		rows, err := tx.Query(ctx, k.quarantine(), load)
		if err != nil {
			return kc, fmt.Errorf("load %s: quarantine duplicate keys: %w", req.Object.Key, err)
		}
		var line, first int64
		var record, key, holder string
		_, err = pgx.ForEachRow(rows, []any{&line, &record, &key, &first, &holder}, func() error {
			kc.badCount++
			if q.Len() >= maxBadRowsKept {
				kc.dropped++
				return nil
			}
			msg := fmt.Sprintf("duplicate key %s: %s %d of the same object holds it first", key, what, first)
			if holder != "" {
				msg = fmt.Sprintf("duplicate key %s: object %s holds it already", key, holder)
			}
			// The row as the table holds it (its original bytes are not kept by then).
			return q.add(BadRow{line: line, raw: []byte(record), err: reasonOf(msg), offset: -1, length: -1})
		})
		if err != nil {
			return kc, fmt.Errorf("load %s: quarantine duplicate keys: %w", req.Object.Key, err)
		}
	case plan.DuplicatesFail:
		rows, err := tx.Query(ctx, k.examples(), load)
		if err != nil {
			return kc, fmt.Errorf("load %s: duplicate keys: %w", req.Object.Key, err)
		}
		var examples []string
		var key, holder string
		var n, m int64
		_, err = pgx.ForEachRow(rows, []any{&key, &n, &m, &holder}, func() error {
			switch {
			case m == 0:
				examples = append(examples, fmt.Sprintf("%s (%d rows in this object)", key, n))
			case n == 1:
				examples = append(examples, fmt.Sprintf("%s (also in %s)", key, holder))
			default:
				examples = append(examples, fmt.Sprintf("%s (%d rows in this object, also in %s)", key, n, holder))
			}
			return nil
		})
		if err != nil {
			return kc, fmt.Errorf("load %s: duplicate keys: %w", req.Object.Key, err)
		}
		if more := kc.keys - int64(len(examples)); more > 0 {
			examples = append(examples, fmt.Sprintf("and %d more", more))
		}
		return kc, &ParseError{ObjectKey: req.Object.Key, Format: req.Source.Format, Err: fmt.Errorf(
			"%w (duplicates: fail): %d key(s) held more than once, in this object or by live rows of the source's other objects: %s",
			ErrDuplicateKeys, kc.keys, strings.Join(examples, ", "))}
	}
	return kc, nil
}
