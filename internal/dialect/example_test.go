package dialect_test

import (
	"fmt"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
)

// A backfill chunk on Redshift: lock the target, then replace the window's rows.
// Every statement of ReplaceWindow takes the window bounds as $1 and $2.
func Example() {
	d, err := dialect.For("redshift") // plan.Plan.Dialect() in the worker
	if err != nil {
		panic(err)
	}
	target := ident.MustRelation("marts.daily_revenue")
	lock, _, _ := d.LockTarget(target)
	stmts, _ := d.ReplaceWindow(target, "day", []string{"day", "region", "revenue"},
		"SELECT day, region, sum(amount) AS revenue FROM staging.orders GROUP BY 1, 2")
	fmt.Println(lock)
	for _, s := range stmts {
		fmt.Println(s)
	}
	// Output:
	// LOCK "marts"."daily_revenue"
	// DELETE FROM "marts"."daily_revenue" WHERE "day" >= $1 AND "day" < $2
	// INSERT INTO "marts"."daily_revenue" ("day", "region", "revenue") SELECT "day", "region", "revenue" FROM (
	// SELECT day, region, sum(amount) AS revenue FROM staging.orders GROUP BY 1, 2
	// ) AS "src" WHERE "src"."day" >= $1 AND "src"."day" < $2
}

// COPY's S3 URI and IAM role are literals: validated, quotes doubled.
func ExampleDialect_copyFromS3() {
	d, _ := dialect.For(dialect.Redshift)
	sql, err := d.CopyFromS3(ident.MustRelation("raw.orders"), []string{"order_id", "amount"}, dialect.S3Source{
		URI:     "s3://landing/orders/dt=2026-01-01/",
		Format:  dialect.FormatCSV,
		Gzip:    true,
		IAMRole: "arn:aws:iam::123456789012:role/etl2elt-load",
	})
	fmt.Println(sql, err)

	_, err = d.CopyFromS3(ident.MustRelation("raw.orders"), nil, dialect.S3Source{
		URI: "s3://landing/orders/", Format: dialect.FormatCSV,
		IAMRole: "arn:aws:iam::123456789012:role/x' MAXERROR 100000 --",
	})
	fmt.Println(err)

	_, err = dialect.For("postgres")
	fmt.Println(err)
	// Output:
	// COPY "raw"."orders" ("order_id", "amount") FROM 's3://landing/orders/dt=2026-01-01/' IAM_ROLE 'arn:aws:iam::123456789012:role/etl2elt-load' FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' GZIP <nil>
	// redshift CopyFromS3: IAM role "arn:aws:iam::123456789012:role/x' MAXERROR 100000 --" is not a role ARN of the form arn:aws:iam::<12-digit account id>:role/<name> (one role, no quotes or commas)
	// <nil>
}

// Row fingerprints for reconciliation, the same on both engines.
func ExampleDialect_rowHash() {
	for _, name := range dialect.Names() {
		d, _ := dialect.For(name)
		h, _ := d.RowHash([]string{"order_id", "amount"})
		fmt.Printf("SELECT %s FROM marts.orders WHERE order_id BETWEEN $1 AND $2\n", d.AggregateHash(h))
	}
	// Output:
	// SELECT COUNT(*) AS "row_count", CAST(COALESCE(SUM(CAST(CAST('x' || SUBSTRING(MD5(CONCAT(LENGTH(CAST("order_id" AS text)), CASE WHEN CAST("order_id" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("order_id" AS text), LENGTH(CAST("amount" AS text)), CASE WHEN CAST("amount" AS text) IS NULL THEN 'n' ELSE ':' END, CAST("amount" AS text))), 1, 15) AS bit(60)) AS bigint)), 0) AS text) AS "hash_sum" FROM marts.orders WHERE order_id BETWEEN $1 AND $2
	// SELECT COUNT(*) AS "row_count", CAST(COALESCE(SUM(CAST(STRTOL(SUBSTRING(MD5(COALESCE(CAST(LENGTH(CAST("order_id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("order_id" AS VARCHAR(65535)), 'n') || COALESCE(CAST(LENGTH(CAST("amount" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST("amount" AS VARCHAR(65535)), 'n')), 1, 15), 16) AS NUMERIC(38,0))), 0) AS VARCHAR(40)) AS "hash_sum" FROM marts.orders WHERE order_id BETWEEN $1 AND $2
}
