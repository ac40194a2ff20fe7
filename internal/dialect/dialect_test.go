package dialect

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// badInput is the interface the activities use to classify errors as non-retryable.
type badInput interface{ BadInput() bool }

// requireBadInput checks err is classified as bad input and its message contains msg.
func requireBadInput(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorContains(t, err, msg)
	var bi badInput
	require.True(t, errors.As(err, &bi), "%T is not a BadInput error", err)
	require.True(t, bi.BadInput())
}

func mustFor(t *testing.T, name string) Dialect {
	t.Helper()
	d, err := For(name)
	require.NoError(t, err)
	return d
}

var (
	orders = ident.MustRelation("marts.orders")
	stage  = ident.MustRelation("staging.orders")
)

func TestFor(t *testing.T) {
	for _, name := range []string{Postgres, Redshift} {
		d, err := For(name)
		require.NoError(t, err)
		require.Equal(t, name, d.Name())
	}
	for _, name := range []string{"", "mysql", "Postgres", "redshift "} {
		_, err := For(name)
		requireBadInput(t, err, `unknown dialect "`+name+`": valid dialects are postgres, redshift`)
	}
}

// The dialect names are the plan's: warehouse.dialect chooses the dialect as is.
func TestNamesMatchThePlan(t *testing.T) {
	require.Equal(t, []string{plan.DialectPostgres, plan.DialectRedshift}, Names())
	p := plan.Plan{}
	require.Equal(t, Postgres, p.Dialect(), "the plan's default dialect must be one For knows")
}

func TestLockTarget(t *testing.T) {
	tests := []struct {
		dialect string
		sql     string
		args    []any
	}{
		{Postgres, `SELECT pg_advisory_xact_lock(hashtext($1))`, []any{"etl2elt.target:marts.orders"}},
		{Redshift, `LOCK "marts"."orders"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			sql, args, err := mustFor(t, tt.dialect).LockTarget(orders)
			require.NoError(t, err)
			require.Equal(t, tt.sql, sql)
			require.Equal(t, tt.args, args)
		})
	}
}

func TestLockTargetRejects(t *testing.T) {
	tests := []struct {
		name   string
		target ident.Relation
		msg    string
	}{
		{"no schema", ident.Relation{Name: "orders"}, `LockTarget: target "orders" must be schema-qualified`},
		{"bad schema", ident.Relation{Schema: "Marts", Name: "orders"}, `LockTarget: target schema: "Marts" is not a safe SQL identifier`},
		{"injection", ident.Relation{Schema: "marts", Name: `orders"; DROP TABLE x; --`}, `LockTarget: target: "orders\"; DROP TABLE x; --" is not a safe SQL identifier`},
		{"empty", ident.Relation{}, `LockTarget: target "" must be schema-qualified`},
	}
	for _, tt := range tests {
		for _, name := range Names() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				sql, args, err := mustFor(t, name).LockTarget(tt.target)
				requireBadInput(t, err, name+" "+tt.msg)
				require.Empty(t, sql)
				require.Nil(t, args)
			})
		}
	}
}

func TestReplaceWindow(t *testing.T) {
	del := `DELETE FROM "marts"."orders" WHERE "ordered_at" >= $1 AND "ordered_at" < $2`
	tests := []struct {
		name    string
		columns []string
		sql     string
		want    []string
	}{
		{
			name:    "column list",
			columns: []string{"order_id", "ordered_at", "amount"},
			sql:     "SELECT order_id, ordered_at, amount FROM raw.orders",
			want: []string{del, `INSERT INTO "marts"."orders" ("order_id", "ordered_at", "amount") SELECT "order_id", "ordered_at", "amount" FROM (
SELECT order_id, ordered_at, amount FROM raw.orders
) AS "src" WHERE "src"."ordered_at" >= $1 AND "src"."ordered_at" < $2`},
		},
		{
			name: "all columns in table order",
			sql:  "SELECT * FROM raw.orders",
			want: []string{del, `INSERT INTO "marts"."orders" SELECT * FROM (
SELECT * FROM raw.orders
) AS "src" WHERE "src"."ordered_at" >= $1 AND "src"."ordered_at" < $2`},
		},
		{
			name:    "trailing semicolon and line comment",
			columns: []string{"ordered_at"},
			sql:     "\n  SELECT ordered_at FROM raw.orders -- all of them\n;\n",
			want: []string{del, `INSERT INTO "marts"."orders" ("ordered_at") SELECT "ordered_at" FROM (
SELECT ordered_at FROM raw.orders -- all of them
) AS "src" WHERE "src"."ordered_at" >= $1 AND "src"."ordered_at" < $2`},
		},
	}
	for _, tt := range tests {
		// The text is standard SQL on both warehouses; each dialect still owns it.
		for _, name := range Names() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := mustFor(t, name).ReplaceWindow(orders, "ordered_at", tt.columns, tt.sql)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	}
}

func TestReplaceWindowRejects(t *testing.T) {
	tests := []struct {
		name      string
		target    ident.Relation
		eventTime string
		columns   []string
		sql       string
		msg       string
	}{
		{"unqualified target", ident.Relation{Name: "orders"}, "ordered_at", nil, "SELECT 1", `target "orders" must be schema-qualified`},
		{"bad event time", orders, "Ordered At", nil, "SELECT 1", `event time column: "Ordered At" is not a safe SQL identifier`},
		{"empty event time", orders, "", nil, "SELECT 1", `event time column: "" is not a safe SQL identifier`},
		{"bad column", orders, "ordered_at", []string{"ordered_at", "amount;"}, "SELECT 1", `column: "amount;" is not a safe SQL identifier`},
		{"duplicate column", orders, "ordered_at", []string{"ordered_at", "id", "id"}, "SELECT 1", `column "id" is listed twice`},
		{"event time not written", orders, "ordered_at", []string{"id", "amount"}, "SELECT 1", `the columns must include the event time column "ordered_at"`},
		{"empty select", orders, "ordered_at", nil, " ;\n ", `the SELECT is empty`},
	}
	for _, tt := range tests {
		for _, name := range Names() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := mustFor(t, name).ReplaceWindow(tt.target, tt.eventTime, tt.columns, tt.sql)
				requireBadInput(t, err, name+" ReplaceWindow: "+tt.msg)
				require.Nil(t, got)
			})
		}
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name    string
		dialect string
		target  ident.Relation
		source  ident.Relation
		key     []string
		columns []string
		want    string
	}{
		{
			name: "upsert", dialect: Postgres, target: orders, source: stage,
			key: []string{"order_id"}, columns: []string{"order_id", "region", "amount"},
			want: `MERGE INTO "marts"."orders" AS "tgt" USING "staging"."orders" AS "src" ON "tgt"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN UPDATE SET "region" = "src"."region", "amount" = "src"."amount"` +
				` WHEN NOT MATCHED THEN INSERT ("order_id", "region", "amount") VALUES ("src"."order_id", "src"."region", "src"."amount")`,
		},
		{
			name: "upsert", dialect: Redshift, target: orders, source: stage,
			key: []string{"order_id"}, columns: []string{"order_id", "region", "amount"},
			want: `MERGE INTO "marts"."orders" USING "staging"."orders" AS "src" ON "orders"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN UPDATE SET "order_id" = "src"."order_id", "region" = "src"."region", "amount" = "src"."amount"` +
				` WHEN NOT MATCHED THEN INSERT ("order_id", "region", "amount") VALUES ("src"."order_id", "src"."region", "src"."amount")`,
		},
		{
			name: "composite key, key left out of columns", dialect: Postgres, target: orders, source: stage,
			key: []string{"day", "region"}, columns: []string{"revenue"},
			want: `MERGE INTO "marts"."orders" AS "tgt" USING "staging"."orders" AS "src" ON "tgt"."day" = "src"."day" AND "tgt"."region" = "src"."region"` +
				` WHEN MATCHED THEN UPDATE SET "revenue" = "src"."revenue"` +
				` WHEN NOT MATCHED THEN INSERT ("day", "region", "revenue") VALUES ("src"."day", "src"."region", "src"."revenue")`,
		},
		{
			name: "composite key, key left out of columns", dialect: Redshift, target: orders, source: stage,
			key: []string{"day", "region"}, columns: []string{"revenue"},
			want: `MERGE INTO "marts"."orders" USING "staging"."orders" AS "src" ON "orders"."day" = "src"."day" AND "orders"."region" = "src"."region"` +
				` WHEN MATCHED THEN UPDATE SET "day" = "src"."day", "region" = "src"."region", "revenue" = "src"."revenue"` +
				` WHEN NOT MATCHED THEN INSERT ("day", "region", "revenue") VALUES ("src"."day", "src"."region", "src"."revenue")`,
		},
		{
			name: "key only", dialect: Postgres, target: orders, source: stage,
			key: []string{"order_id"},
			want: `MERGE INTO "marts"."orders" AS "tgt" USING "staging"."orders" AS "src" ON "tgt"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED THEN INSERT ("order_id") VALUES ("src"."order_id")`,
		},
		{
			name: "key only", dialect: Redshift, target: orders, source: stage,
			key: []string{"order_id"},
			want: `MERGE INTO "marts"."orders" USING "staging"."orders" AS "src" ON "orders"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN UPDATE SET "order_id" = "src"."order_id" WHEN NOT MATCHED THEN INSERT ("order_id") VALUES ("src"."order_id")`,
		},
		{
			name: "temporary source", dialect: Postgres, target: orders, source: ident.Relation{Name: "batch"},
			key: []string{"order_id"}, columns: []string{"amount"},
			want: `MERGE INTO "marts"."orders" AS "tgt" USING "batch" AS "src" ON "tgt"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN UPDATE SET "amount" = "src"."amount" WHEN NOT MATCHED THEN INSERT ("order_id", "amount") VALUES ("src"."order_id", "src"."amount")`,
		},
		{
			name: "temporary source", dialect: Redshift, target: orders, source: ident.Relation{Name: "batch"},
			key: []string{"order_id"}, columns: []string{"amount"},
			want: `MERGE INTO "marts"."orders" USING "batch" AS "src" ON "orders"."order_id" = "src"."order_id"` +
				` WHEN MATCHED THEN UPDATE SET "order_id" = "src"."order_id", "amount" = "src"."amount" WHEN NOT MATCHED THEN INSERT ("order_id", "amount") VALUES ("src"."order_id", "src"."amount")`,
		},
		{
			// Redshift's target has no alias: a target named src must not clash.
			name: "target named like the source alias", dialect: Redshift, target: ident.MustRelation("marts.src"), source: stage,
			key: []string{"id"},
			want: `MERGE INTO "marts"."src" USING "staging"."orders" AS "src_" ON "src"."id" = "src_"."id"` +
				` WHEN MATCHED THEN UPDATE SET "id" = "src_"."id" WHEN NOT MATCHED THEN INSERT ("id") VALUES ("src_"."id")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.dialect, func(t *testing.T) {
			got, err := mustFor(t, tt.dialect).Merge(tt.target, tt.source, tt.key, tt.columns)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMergeRejects(t *testing.T) {
	tests := []struct {
		name    string
		target  ident.Relation
		source  ident.Relation
		key     []string
		columns []string
		msg     string
	}{
		{"no key", orders, stage, nil, []string{"amount"}, `the key is empty`},
		{"same table", orders, orders, []string{"id"}, nil, `source and target are the same table marts.orders`},
		{"unqualified target", ident.Relation{Name: "orders"}, stage, []string{"id"}, nil, `target "orders" must be schema-qualified`},
		{"bad source", orders, ident.Relation{Schema: "staging", Name: "Orders"}, []string{"id"}, nil, `source: "Orders" is not a safe SQL identifier`},
		{"bad unqualified source", orders, ident.Relation{Name: "x y"}, []string{"id"}, nil, `source: "x y" is not a safe SQL identifier`},
		{"bad key", orders, stage, []string{"id", "Region"}, nil, `key column: "Region" is not a safe SQL identifier`},
		{"duplicate key", orders, stage, []string{"id", "id"}, nil, `key column "id" is listed twice`},
		{"bad column", orders, stage, []string{"id"}, []string{"amount", `a"b`}, `column: "a\"b" is not a safe SQL identifier`},
		{"duplicate column", orders, stage, []string{"id"}, []string{"amount", "amount"}, `column "amount" is listed twice`},
	}
	for _, tt := range tests {
		for _, name := range Names() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := mustFor(t, name).Merge(tt.target, tt.source, tt.key, tt.columns)
				requireBadInput(t, err, name+" Merge: "+tt.msg)
				require.Empty(t, got)
			})
		}
	}
}

func TestRowHash(t *testing.T) {
	tests := []struct {
		dialect string
		columns []string
		want    string
	}{
		{Postgres, []string{"order_id"}, `MD5(CONCAT(LENGTH(CAST("order_id" AS text)), CASE WHEN CAST("order_id" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("order_id" AS text)))`},
		{Redshift, []string{"order_id"}, `MD5(COALESCE(CAST(LENGTH(CAST("order_id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("order_id" AS VARCHAR(65535)), 'n'))`},
		{Postgres, []string{"order_id", "region", "amount"}, `MD5(CONCAT(LENGTH(CAST("order_id" AS text)), CASE WHEN CAST("order_id" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("order_id" AS text)` +
			`, LENGTH(CAST("region" AS text)), CASE WHEN CAST("region" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("region" AS text)` +
			`, LENGTH(CAST("amount" AS text)), CASE WHEN CAST("amount" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("amount" AS text)))`},
		{Redshift, []string{"order_id", "region", "amount"}, `MD5(COALESCE(CAST(LENGTH(CAST("order_id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("order_id" AS VARCHAR(65535)), 'n')` +
			` || COALESCE(CAST(LENGTH(CAST("region" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("region" AS VARCHAR(65535)), 'n') || COALESCE(CAST(LENGTH(CAST("amount" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("amount" AS VARCHAR(65535)), 'n'))`},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			got, err := mustFor(t, tt.dialect).RowHash(tt.columns)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRowHashOf(t *testing.T) {
	cols := []HashColumn{{Name: "order_id", Delimited: true}, {Name: "region"}}
	got, err := mustFor(t, Postgres).RowHashOf(cols)
	require.NoError(t, err)
	require.Equal(t, `MD5(CONCAT(CAST("order_id" AS text), '|', LENGTH(CAST("region" AS text)), CASE WHEN CAST("region" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("region" AS text)))`, got)
	got, err = mustFor(t, Redshift).RowHashOf(cols)
	require.NoError(t, err)
	require.Equal(t, `MD5(COALESCE(CAST("order_id" AS VARCHAR(65535)), '') || '|' || COALESCE(CAST(LENGTH(CAST("region" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("region" AS VARCHAR(65535)), 'n'))`, got)
	for _, name := range Names() {
		_, err := mustFor(t, name).RowHashOf([]HashColumn{{Name: `a"b`, Delimited: true}})
		requireBadInput(t, err, name+" RowHash: column")
		_, err = mustFor(t, name).RowHashOf(nil)
		requireBadInput(t, err, name+" RowHash: no columns to hash")
	}
}

func TestRowHashRejects(t *testing.T) {
	tests := []struct {
		name    string
		columns []string
		msg     string
	}{
		{"no columns", nil, `no columns to hash`},
		{"bad column", []string{"id", "1x"}, `column: "1x" is not a safe SQL identifier`},
		{"expression", []string{"lower(region)"}, `column: "lower(region)" is not a safe SQL identifier`},
		{"duplicate", []string{"id", "id"}, `column "id" is listed twice`},
	}
	for _, tt := range tests {
		for _, name := range Names() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := mustFor(t, name).RowHash(tt.columns)
				requireBadInput(t, err, name+" RowHash: "+tt.msg)
				require.Empty(t, got)
			})
		}
	}
}

func TestAggregateHash(t *testing.T) {
	tests := []struct {
		dialect string
		want    string
	}{
		{Postgres, `COUNT(*) AS "row_count", CAST(COALESCE(SUM(CAST(CAST('x' || SUBSTRING("h", 1, 15) AS bit(60)) AS bigint)), 0) AS text) AS "hash_sum"`},
		{Redshift, `COUNT(*) AS "row_count", CAST(COALESCE(SUM(CAST(STRTOL(SUBSTRING("h", 1, 15), 16) AS NUMERIC(38,0))), 0) AS VARCHAR(40)) AS "hash_sum"`},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			require.Equal(t, tt.want, mustFor(t, tt.dialect).AggregateHash(`"h"`))
		})
	}
}

// AggregateHash composes with RowHash: the row hash expression is embedded as is.
func TestAggregateHashOfRowHash(t *testing.T) {
	d := mustFor(t, Redshift)
	rh, err := d.RowHash([]string{"id"})
	require.NoError(t, err)
	require.Equal(t,
		`COUNT(*) AS "row_count", CAST(COALESCE(SUM(CAST(STRTOL(SUBSTRING(MD5(COALESCE(CAST(LENGTH(CAST("id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("id" AS VARCHAR(65535)), 'n')), 1, 15), 16) AS NUMERIC(38,0))), 0) AS VARCHAR(40)) AS "hash_sum"`,
		d.AggregateHash(rh))
}

func TestPostgresCopyFromS3IsUnsupported(t *testing.T) {
	sql, err := mustFor(t, Postgres).CopyFromS3(orders, nil, S3Source{URI: "s3://bucket/key", Format: FormatCSV, IAMRole: "arn:aws:iam::123456789012:role/r"})
	require.ErrorIs(t, err, ErrUnsupported)
	require.EqualError(t, err, "postgres CopyFromS3: not supported by this warehouse dialect: PostgreSQL cannot read S3; stream the object into COPY FROM STDIN")
	require.Empty(t, sql)
	var bi badInput
	require.False(t, errors.As(err, &bi), "an unsupported operation is a wiring error, not bad input")
}
