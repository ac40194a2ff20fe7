package dialect

// Integration tests: the PostgreSQL dialect's SQL runs against a real PostgreSQL 15
// (a fresh database per test, from internal/testenv). They are skipped when
// ETL2ELT_TEST_PG_ADMIN_DSN is unset, and fail then under `make test`.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/testenv"
)

// pgDatabase creates a fresh database, runs ddl in it and returns a pool whose
// sessions use the UTC time zone (timestamptz text depends on it).
func pgDatabase(t *testing.T, ddl ...string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Database(t, "dialect"))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for _, s := range ddl {
		_, err := pool.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
	return pool
}

func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, code, pgErr.Code, pgErr.Message)
}

// snapshot returns every row of a table as text, in a stable order.
func snapshot(t *testing.T, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, table string) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT CAST(x AS text) AS row_text FROM `+table+` AS x ORDER BY x`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestPostgresLockTarget(t *testing.T) {
	ctx := context.Background()
	pool := pgDatabase(t, `CREATE SCHEMA marts`, `CREATE TABLE marts.orders (id bigint)`, `INSERT INTO marts.orders VALUES (1)`)
	d := postgres{}
	lock, args, err := d.LockTarget(orders)
	require.NoError(t, err)

	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer holder.Rollback(ctx) //nolint:errcheck // no-op after commit
	_, err = holder.Exec(ctx, lock, args...)
	require.NoError(t, err)

	// A second writer of the same target waits; with a lock timeout it gives up.
	tryLock := func(sql string, args []any) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql, args...)
			return err
		})
	}
	requireSQLState(t, tryLock(lock, args), "55P03") // lock_not_available

	// Another target is not held up, and neither are readers of the locked one.
	otherLock, otherArgs, err := d.LockTarget(stage)
	require.NoError(t, err)
	require.NoError(t, tryLock(otherLock, otherArgs))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM marts.orders`).Scan(&n))
	require.Equal(t, 1, n)

	// The waiting writer proceeds when the holder's transaction ends.
	acquired := make(chan error, 1)
	go func() {
		acquired <- pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, lock, args...)
			return err
		})
	}()
	select {
	case err := <-acquired:
		t.Fatalf("the second writer got the lock while it was held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, holder.Commit(ctx))
	select {
	case err := <-acquired:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the second writer did not get the lock after the first committed")
	}
}

// replaceWindowTables is a raw source spanning four days and a target holding rows
// before, inside and at the end of the window [2026-01-02, 2026-01-03).
var replaceWindowTables = []string{
	`CREATE SCHEMA raw`,
	`CREATE SCHEMA marts`,
	`CREATE TABLE raw.orders (order_id bigint, region text, amount numeric(12,2), ordered_at timestamptz, note text)`,
	`INSERT INTO raw.orders VALUES
	  (1, 'emea', 10.00, '2026-01-01 12:00:00+00', 'before the window'),
	  (2, 'emea', 20.50, '2026-01-02 00:00:00+00', 'first instant of the window'),
	  (3, 'apac', NULL,  '2026-01-02 13:30:00+00', NULL),
	  (4, '',     7.25,  '2026-01-02 23:59:59.999999+00', 'last instant of the window'),
	  (5, 'amer', 99.99, '2026-01-03 00:00:00+00', 'end of the window: excluded')`,
	`CREATE TABLE marts.orders (order_id bigint, region text, amount numeric(12,2), ordered_at timestamptz)`,
	`INSERT INTO marts.orders VALUES
	  (100, 'old', 1.00, '2026-01-01 23:59:59+00'),
	  (200, 'stale', 2.00, '2026-01-02 06:00:00+00'),
	  (201, 'stale', 3.00, '2026-01-02 18:00:00+00'),
	  (300, 'kept', 4.00, '2026-01-03 00:00:00+00')`,
	`CREATE TABLE marts.orders_all (LIKE marts.orders)`,
	`INSERT INTO marts.orders_all SELECT * FROM marts.orders`,
}

func TestPostgresReplaceWindow(t *testing.T) {
	ctx := context.Background()
	pool := pgDatabase(t, replaceWindowTables...)
	d := postgres{}
	from := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	want := []string{
		`(2,emea,20.50,"2026-01-02 00:00:00+00")`,
		`(3,apac,,"2026-01-02 13:30:00+00")`,
		`(4,"",7.25,"2026-01-02 23:59:59.999999+00")`,
		`(100,old,1.00,"2026-01-01 23:59:59+00")`,
		`(300,kept,4.00,"2026-01-03 00:00:00+00")`,
	}

	tests := []struct {
		name    string
		target  ident.Relation
		columns []string
		sql     string
	}{
		{"column list", orders, []string{"order_id", "region", "amount", "ordered_at"},
			"SELECT order_id, region, amount, ordered_at, note FROM raw.orders -- the model\n;"},
		{"all columns", ident.MustRelation("marts.orders_all"), nil,
			"SELECT order_id, region, amount, ordered_at FROM raw.orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock, args, err := d.LockTarget(tt.target)
			require.NoError(t, err)
			stmts, err := d.ReplaceWindow(tt.target, "ordered_at", tt.columns, tt.sql)
			require.NoError(t, err)
			run := func(commit bool) {
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
				_, err = tx.Exec(ctx, lock, args...)
				require.NoError(t, err)
				for _, s := range stmts {
					_, err := tx.Exec(ctx, s, from, to)
					require.NoError(t, err, s)
				}
				if commit {
					require.NoError(t, tx.Commit(ctx))
				}
			}
			table := tt.target.Quoted()
			before := snapshot(t, pool, table)
			run(false)
			require.Equal(t, before, snapshot(t, pool, table), "a rolled-back replacement changes nothing")

			run(true)
			first := snapshot(t, pool, table)
			require.Equal(t, want, first, "the window's rows are the source's; rows outside it are untouched")

			run(true)
			require.Equal(t, first, snapshot(t, pool, table), "running the chunk twice leaves the table as running it once")
		})
	}
}

func TestPostgresMerge(t *testing.T) {
	ctx := context.Background()
	pool := pgDatabase(t,
		`CREATE SCHEMA marts`, `CREATE SCHEMA staging`,
		`CREATE TABLE marts.customers (id bigint NOT NULL, name text, tier text)`,
		`INSERT INTO marts.customers VALUES (1, 'ada', 'gold'), (2, 'bob', 'silver')`,
		`CREATE TABLE staging.customers (id bigint, name text, tier text)`,
		`INSERT INTO staging.customers VALUES (2, 'bobby', 'gold'), (3, 'cy', NULL)`,
		`CREATE TABLE marts.keys (id bigint NOT NULL)`,
		`INSERT INTO marts.keys VALUES (1), (2)`,
	)
	target, source := ident.MustRelation("marts.customers"), ident.MustRelation("staging.customers")
	exec := func(t *testing.T, sql string) {
		t.Helper()
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}

	for _, d := range []Dialect{postgres{}, redshift{}} {
		// The Redshift text runs here too: PostgreSQL 15 accepts that subset of
		// MERGE, which checks its semantics (not that Redshift accepts it).
		t.Run("upsert/"+d.Name(), func(t *testing.T) {
			exec(t, `TRUNCATE marts.customers`)
			exec(t, `INSERT INTO marts.customers VALUES (1, 'ada', 'gold'), (2, 'bob', 'silver')`)
			sql, err := d.Merge(target, source, []string{"id"}, []string{"id", "name", "tier"})
			require.NoError(t, err)
			exec(t, sql)
			want := []string{`(1,ada,gold)`, `(2,bobby,gold)`, `(3,cy,)`}
			require.Equal(t, want, snapshot(t, pool, "marts.customers"))
			exec(t, sql)
			require.Equal(t, want, snapshot(t, pool, "marts.customers"), "merging twice leaves the table as merging once")
		})
	}

	t.Run("some columns", func(t *testing.T) {
		exec(t, `TRUNCATE marts.customers`)
		exec(t, `INSERT INTO marts.customers VALUES (1, 'ada', 'gold'), (2, 'bob', 'silver')`)
		sql, err := postgres{}.Merge(target, source, []string{"id"}, []string{"tier"})
		require.NoError(t, err)
		exec(t, sql)
		require.Equal(t, []string{`(1,ada,gold)`, `(2,bob,gold)`, `(3,,)`}, snapshot(t, pool, "marts.customers"),
			"matched rows keep the columns not written; new rows get NULL there")
	})

	t.Run("key only", func(t *testing.T) {
		sql, err := postgres{}.Merge(ident.MustRelation("marts.keys"), source, []string{"id"}, nil)
		require.NoError(t, err)
		exec(t, sql)
		exec(t, sql)
		require.Equal(t, []string{`(1)`, `(2)`, `(3)`}, snapshot(t, pool, "marts.keys"))
	})

	t.Run("temporary source", func(t *testing.T) {
		exec(t, `TRUNCATE marts.customers`)
		sql, err := postgres{}.Merge(target, ident.Relation{Name: "batch"}, []string{"id"}, []string{"name", "tier"})
		require.NoError(t, err)
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE batch ON COMMIT DROP AS SELECT * FROM staging.customers`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
		require.NoError(t, err)
		require.Equal(t, []string{`(2,bobby,gold)`, `(3,cy,)`}, snapshot(t, pool, "marts.customers"))
	})

	t.Run("duplicate source keys fail", func(t *testing.T) {
		exec(t, `INSERT INTO staging.customers VALUES (2, 'robert', 'bronze')`)
		t.Cleanup(func() { exec(t, `DELETE FROM staging.customers WHERE name = 'robert'`) })
		sql, err := postgres{}.Merge(target, source, []string{"id"}, []string{"name"})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, sql)
		requireSQLState(t, err, "21000") // cardinality_violation: a row cannot be updated twice
	})
}

// refRowHash is the documented row-hash encoding computed in Go: per column "n" for
// NULL or "v" + md5(text), concatenated, then md5.
func refRowHash(values ...*string) string {
	var b strings.Builder
	for _, v := range values {
		if v == nil {
			b.WriteString("n")
			continue
		}
		// Length in characters, ':', the text.
		b.WriteString(strconv.Itoa(utf8.RuneCountInString(*v)) + ":" + *v)
	}
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func str(s string) *string { return &s }

func TestPostgresRowHash(t *testing.T) {
	ctx := context.Background()
	pool := pgDatabase(t,
		`CREATE TABLE pairs (id int PRIMARY KEY, a text, b text)`,
		`INSERT INTO pairs VALUES
		  (1, NULL, NULL), (2, '', NULL), (3, NULL, ''), (4, '', ''),
		  (5, '1|', ''), (6, '1', '|'), (7, 'n', NULL), (8, NULL, 'n'),
		  (9, 'v', 'n'), (10, 'vn', ''), (11, 'a''b', 'c\d'), (12, 'é', 'ü'),
		  (13, '1:a', ''), (14, '', '1:a'), (15, '2:ab', NULL), (16, NULL, '2:ab'), (17, 'éé', '3')`,
		`CREATE TABLE typed (i int, n numeric(12,2), s text, ts timestamptz, d date)`,
		`INSERT INTO typed VALUES (1, 1.50, '1', '2026-01-02 03:04:05+00', '2026-01-02')`,
	)
	pairs := map[int][2]*string{
		1: {nil, nil}, 2: {str(""), nil}, 3: {nil, str("")}, 4: {str(""), str("")},
		5: {str("1|"), str("")}, 6: {str("1"), str("|")}, 7: {str("n"), nil}, 8: {nil, str("n")},
		9: {str("v"), str("n")}, 10: {str("vn"), str("")}, 11: {str("a'b"), str(`c\d`)}, 12: {str("é"), str("ü")},
		// Values that look like the encoding itself.
		13: {str("1:a"), str("")}, 14: {str(""), str("1:a")}, 15: {str("2:ab"), nil}, 16: {nil, str("2:ab")}, 17: {str("éé"), str("3")},
	}

	for _, d := range []Dialect{postgres{}, redshift{}} {
		// The Redshift expression (VARCHAR(65535) casts) runs on PostgreSQL too and
		// must give the same values: the encoding is the same on both engines.
		t.Run(d.Name(), func(t *testing.T) {
			h, err := d.RowHash([]string{"a", "b"})
			require.NoError(t, err)
			rows, err := pool.Query(ctx, `SELECT id, `+h+` FROM pairs ORDER BY id`)
			require.NoError(t, err)
			seen := map[string]int{}
			n := 0
			for rows.Next() {
				var id int
				var hash string
				require.NoError(t, rows.Scan(&id, &hash))
				v := pairs[id]
				require.Equal(t, refRowHash(v[0], v[1]), hash, "row %d", id)
				require.NotContains(t, seen, hash, "rows %d and %d collide", id, seen[hash])
				seen[hash] = id
				n++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, len(pairs), n)

			// Numbers, dates and timestamps are hashed as their text (in UTC here).
			var byInt, byNumeric, byText, byTime, byDate string
			hash := func(col string) string {
				e, err := d.RowHash([]string{col})
				require.NoError(t, err)
				return e
			}
			require.NoError(t, pool.QueryRow(ctx, `SELECT `+hash("i")+`, `+hash("n")+`, `+hash("s")+`, `+hash("ts")+`, `+hash("d")+` FROM typed`).
				Scan(&byInt, &byNumeric, &byText, &byTime, &byDate))
			require.Equal(t, byText, byInt, "the integer 1 hashes as the text '1'")
			require.Equal(t, refRowHash(str("1.50")), byNumeric, "numeric keeps its scale")
			require.Equal(t, refRowHash(str("2026-01-02 03:04:05+00")), byTime)
			require.Equal(t, refRowHash(str("2026-01-02")), byDate)
		})
	}
}

// refRowHashOf is RowHashOf's encoding in Go: a delimited column is its text and
// "|" ("|" alone when NULL), the others as refRowHash.
func refRowHashOf(delimited []bool, values ...*string) string {
	var b strings.Builder
	for i, v := range values {
		switch {
		case delimited[i] && v == nil:
			b.WriteString("|")
		case delimited[i]:
			b.WriteString(*v + "|")
		case v == nil:
			b.WriteString("n")
		default:
			b.WriteString(strconv.Itoa(utf8.RuneCountInString(*v)) + ":" + *v)
		}
	}
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// RowHashOf with delimited numbers, dates and timestamps beside length-prefixed text:
// both dialects' expressions give the Go reference's hash on PostgreSQL, and no two
// of the rows (built to look alike once concatenated) collide.
func TestPostgresRowHashOf(t *testing.T) {
	ctx := context.Background()
	pool := pgDatabase(t,
		`CREATE TABLE mixed (id int PRIMARY KEY, i bigint, s text, d date, n numeric(12,2))`,
		`INSERT INTO mixed VALUES
		  (1, 1, '2|', '2026-01-02', 1.50), (2, 12, '|', '2026-01-02', 1.50), (3, NULL, '', NULL, NULL),
		  (4, NULL, NULL, NULL, NULL), (5, 1, NULL, '2026-01-02', NULL), (6, 1, '', '2026-01-02', NULL),
		  (7, -1, 'n', '2026-01-02', -0.50), (8, 1, '2026-01-02|', NULL, 1.50), (9, 1, 'é|1:', '2026-01-02', 0)`,
	)
	cols := []HashColumn{{Name: "i", Delimited: true}, {Name: "s"}, {Name: "d", Delimited: true}, {Name: "n", Delimited: true}}
	delimited := []bool{true, false, true, true}
	for _, d := range []Dialect{postgres{}, redshift{}} {
		t.Run(d.Name(), func(t *testing.T) {
			h, err := d.RowHashOf(cols)
			require.NoError(t, err)
			rows, err := pool.Query(ctx, `SELECT CAST(i AS text), s, CAST(d AS text), CAST(n AS text), `+h+` FROM mixed ORDER BY id`)
			require.NoError(t, err)
			seen := map[string]bool{}
			n := 0
			for rows.Next() {
				var i, s, dt, num *string
				var hash string
				require.NoError(t, rows.Scan(&i, &s, &dt, &num, &hash))
				require.Equal(t, refRowHashOf(delimited, i, s, dt, num), hash)
				require.False(t, seen[hash], "collision")
				seen[hash] = true
				n++
			}
			require.NoError(t, rows.Err())
			require.Equal(t, 9, n)
		})
	}
	// Without delimited columns it is RowHash.
	for _, d := range []Dialect{postgres{}, redshift{}} {
		a, err := d.RowHash([]string{"i", "s"})
		require.NoError(t, err)
		b, err := d.RowHashOf([]HashColumn{{Name: "i"}, {Name: "s"}})
		require.NoError(t, err)
		require.Equal(t, a, b)
	}
}

// PostgreSQL's md5 gives, for the example of Redshift's MD5 documentation, the value
// that page shows: the row hashes of both engines are comparable.
func TestPostgresMD5MatchesRedshiftDocs(t *testing.T) {
	pool := pgDatabase(t)
	var got string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT MD5('Amazon Redshift')`).Scan(&got))
	require.Equal(t, "f7415e33f972c03abd4f3fed36748f7a", got) // docs.aws.amazon.com/redshift/latest/dg/r_MD5.html
}

// refSlice is the 60-bit slice AggregateHash sums: the first 15 hex digits.
func refSlice(t *testing.T, rowHash string) *big.Int {
	v, err := strconv.ParseUint(rowHash[:15], 16, 64)
	require.NoError(t, err)
	return new(big.Int).SetUint64(v)
}

func TestPostgresAggregateHash(t *testing.T) {
	ctx := context.Background()
	const n = 500
	pool := pgDatabase(t,
		`CREATE TABLE a (id int, region text, amount numeric(12,2))`,
		`CREATE TABLE b (LIKE a)`,
		`CREATE TABLE empty (LIKE a)`,
		`INSERT INTO a SELECT g, 'r' || (g % 7), g * 1.25 FROM generate_series(1, `+strconv.Itoa(n)+`) AS g`,
		// The same rows, inserted in reverse order.
		`INSERT INTO b SELECT * FROM a ORDER BY id DESC`,
	)
	d := postgres{}
	rh, err := d.RowHash([]string{"id", "region", "amount"})
	require.NoError(t, err)
	agg := d.AggregateHash(rh)
	aggregate := func(from, where string) (int64, string) {
		t.Helper()
		var rows int64
		var sum string
		require.NoError(t, pool.QueryRow(ctx, `SELECT `+agg+` FROM `+from+` `+where).Scan(&rows, &sum))
		return rows, sum
	}

	// The sum is exact: the same as adding the 60-bit slices in Go.
	hashes, err := pool.Query(ctx, `SELECT `+rh+` FROM a`)
	require.NoError(t, err)
	all, err := pgx.CollectRows(hashes, pgx.RowTo[string])
	require.NoError(t, err)
	want := new(big.Int)
	for _, h := range all {
		want.Add(want, refSlice(t, h))
	}
	rows, sum := aggregate("a", "")
	require.Equal(t, int64(n), rows)
	require.Equal(t, want.String(), sum)
	require.Greater(t, want.BitLen(), 64, "500 slices of 60 bits overflow a bigint: the sum must be numeric")

	// Order does not matter; the aggregate is additive over disjoint key ranges.
	rowsB, sumB := aggregate("b", "")
	require.Equal(t, rows, rowsB)
	require.Equal(t, sum, sumB)
	lowRows, lowSum := aggregate("a", "WHERE id <= 200")
	highRows, highSum := aggregate("a", "WHERE id > 200")
	low, _ := new(big.Int).SetString(lowSum, 10)
	high, _ := new(big.Int).SetString(highSum, 10)
	require.Equal(t, rows, lowRows+highRows)
	require.Equal(t, sum, new(big.Int).Add(low, high).String())

	// A changed value, a missing row or a duplicated one shows.
	_, err = pool.Exec(ctx, `UPDATE b SET amount = amount + 0.01 WHERE id = 250`)
	require.NoError(t, err)
	rowsB, sumB = aggregate("b", "")
	require.Equal(t, rows, rowsB)
	require.NotEqual(t, sum, sumB)
	_, err = pool.Exec(ctx, `UPDATE b SET amount = amount - 0.01 WHERE id = 250`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO b SELECT * FROM a WHERE id = 7`)
	require.NoError(t, err)
	rowsB, _ = aggregate("b", "")
	require.Equal(t, rows+1, rowsB)

	// No rows: a count of 0 and a sum of 0, not NULL.
	rows, sum = aggregate("empty", "")
	require.Equal(t, int64(0), rows)
	require.Equal(t, "0", sum)
}
