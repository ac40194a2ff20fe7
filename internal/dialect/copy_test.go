package dialect

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/ident"
)

const role = "arn:aws:iam::123456789012:role/etl2elt-load"

var rawOrders = ident.MustRelation("raw.orders")

func TestRedshiftCopyFromS3(t *testing.T) {
	tests := []struct {
		name    string
		columns []string
		src     S3Source
		want    string
	}{
		{
			name: "csv, defaults",
			src:  S3Source{URI: "s3://landing/orders/dt=2026-01-01/", Format: FormatCSV, IAMRole: role},
			want: `COPY "raw"."orders" FROM 's3://landing/orders/dt=2026-01-01/' IAM_ROLE '` + role + `'` +
				` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto'`,
		},
		{
			name:    "csv, every option",
			columns: []string{"order_id", "region", "amount", "ordered_at"},
			src: S3Source{URI: "s3://landing/orders/dt=2026-01-01/part-0.csv.gz", Format: FormatCSV, Gzip: true,
				IAMRole: role, Region: "eu-west-1", MaxErrors: 10},
			want: `COPY "raw"."orders" ("order_id", "region", "amount", "ordered_at") FROM 's3://landing/orders/dt=2026-01-01/part-0.csv.gz'` +
				` IAM_ROLE '` + role + `' FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' GZIP MAXERROR 10 REGION 'eu-west-1'`,
		},
		{
			name: "csv from a manifest",
			src:  S3Source{URI: "s3://landing/manifests/orders-2026-01-01.json", Format: FormatCSV, IAMRole: role, Manifest: true},
			want: `COPY "raw"."orders" FROM 's3://landing/manifests/orders-2026-01-01.json' IAM_ROLE '` + role + `'` +
				` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' MANIFEST`,
		},
		{
			name:    "jsonl",
			columns: []string{"order_id", "amount"},
			src:     S3Source{URI: "s3://landing/orders/", Format: FormatJSONL, Gzip: true, IAMRole: role, MaxErrors: 1},
			want: `COPY "raw"."orders" ("order_id", "amount") FROM 's3://landing/orders/' IAM_ROLE '` + role + `'` +
				` FORMAT AS JSON 'auto ignorecase' DATEFORMAT 'auto' TIMEFORMAT 'auto' GZIP MAXERROR 1`,
		},
		{
			name: "parquet",
			src:  S3Source{URI: "s3://landing/orders/dt=2026-01-01/", Format: FormatParquet, IAMRole: role},
			want: `COPY "raw"."orders" FROM 's3://landing/orders/dt=2026-01-01/' IAM_ROLE '` + role + `' FORMAT AS PARQUET`,
		},
		{
			name: "parquet from a manifest",
			src:  S3Source{URI: "s3://landing/m.manifest", Format: FormatParquet, IAMRole: role, Manifest: true},
			want: `COPY "raw"."orders" FROM 's3://landing/m.manifest' IAM_ROLE '` + role + `' FORMAT AS PARQUET MANIFEST`,
		},
		{
			name: "single quotes in the key are doubled",
			src:  S3Source{URI: "s3://landing/o'brien's/', x'", Format: FormatCSV, IAMRole: role},
			want: `COPY "raw"."orders" FROM 's3://landing/o''brien''s/'', x''' IAM_ROLE '` + role + `'` +
				` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto'`,
		},
		{
			name: "unicode, spaces and = in the key",
			src:  S3Source{URI: "s3://my.bucket-01/exports/ventes été/dt=2026-01-01/", Format: FormatCSV, IAMRole: role},
			want: `COPY "raw"."orders" FROM 's3://my.bucket-01/exports/ventes été/dt=2026-01-01/' IAM_ROLE '` + role + `'` +
				` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto'`,
		},
		{
			name: "role in a path, China partition",
			src:  S3Source{URI: "s3://landing/x", Format: FormatParquet, IAMRole: "arn:aws-cn:iam::123456789012:role/service-role/etl2elt.load@team"},
			want: `COPY "raw"."orders" FROM 's3://landing/x' IAM_ROLE 'arn:aws-cn:iam::123456789012:role/service-role/etl2elt.load@team' FORMAT AS PARQUET`,
		},
		{
			name: "GovCloud region",
			src:  S3Source{URI: "s3://landing/x", Format: FormatJSONL, IAMRole: "arn:aws-us-gov:iam::123456789012:role/r", Region: "us-gov-west-1"},
			want: `COPY "raw"."orders" FROM 's3://landing/x' IAM_ROLE 'arn:aws-us-gov:iam::123456789012:role/r'` +
				` FORMAT AS JSON 'auto ignorecase' DATEFORMAT 'auto' TIMEFORMAT 'auto' REGION 'us-gov-west-1'`,
		},
		{
			name: "max errors at the limit",
			src:  S3Source{URI: "s3://landing/x", Format: FormatCSV, IAMRole: role, MaxErrors: MaxCopyErrors},
			want: `COPY "raw"."orders" FROM 's3://landing/x' IAM_ROLE '` + role + `'` +
				` FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto' MAXERROR 100000`,
		},
	}
	d := mustFor(t, Redshift)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.CopyFromS3(rawOrders, tt.columns, tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// A temporary staging table (unqualified) is a valid COPY target: the Redshift loader
// copies into one and inserts from it with the lineage columns.
func TestRedshiftCopyFromS3IntoTemporaryTable(t *testing.T) {
	d, err := For(Redshift)
	require.NoError(t, err)
	got, err := d.CopyFromS3(ident.Relation{Name: "_etl2elt_stage"}, []string{"id"}, S3Source{URI: "s3://landing/m.json", Format: FormatJSONL, IAMRole: role, Manifest: true})
	require.NoError(t, err)
	require.Equal(t, `COPY "_etl2elt_stage" ("id") FROM 's3://landing/m.json' IAM_ROLE '`+role+`' FORMAT AS JSON 'auto ignorecase' DATEFORMAT 'auto' TIMEFORMAT 'auto' MANIFEST`, got)
}

func TestRedshiftCopyFromS3Rejects(t *testing.T) {
	ok := S3Source{URI: "s3://landing/orders/", Format: FormatCSV, IAMRole: role}
	with := func(f func(*S3Source)) S3Source { s := ok; f(&s); return s }
	tests := []struct {
		name    string
		target  ident.Relation
		columns []string
		src     S3Source
		msg     string
	}{
		// target and columns
		{"bad temporary target", ident.Relation{Name: "stage;"}, nil, ok, `target: "stage;" is not a safe SQL identifier`},
		{"bad target", ident.Relation{Schema: "raw", Name: "orders'"}, nil, ok, `target: "orders'" is not a safe SQL identifier`},
		{"bad column", rawOrders, []string{"id", "Amount"}, ok, `column: "Amount" is not a safe SQL identifier`},
		{"duplicate column", rawOrders, []string{"id", "id"}, ok, `column "id" is listed twice`},
		// URI
		{"empty URI", rawOrders, nil, with(func(s *S3Source) { s.URI = "" }), `URI "": it must start with s3://`},
		{"https URI", rawOrders, nil, with(func(s *S3Source) { s.URI = "https://landing.s3.amazonaws.com/orders/" }), `it must start with s3://`},
		{"upper-case scheme", rawOrders, nil, with(func(s *S3Source) { s.URI = "S3://landing/orders/" }), `it must start with s3://`},
		{"upper-case bucket", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://Landing/orders/" }), `"Landing" is not a valid S3 bucket name`},
		{"short bucket", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://ab/orders/" }), `"ab" is not a valid S3 bucket name`},
		{"bucket with ..", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://land..ing/orders/" }), `"land..ing" is not a valid S3 bucket name`},
		{"IP bucket", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://192.168.5.4/orders/" }), `"192.168.5.4" is not a valid S3 bucket name`},
		{"quote in bucket", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://land'ing/orders/" }), `"land'ing" is not a valid S3 bucket name`},
		{"whole bucket", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing" }), `it names a whole bucket`},
		{"whole bucket, slash", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing/" }), `it names a whole bucket`},
		{"backslash", rawOrders, nil, with(func(s *S3Source) { s.URI = `s3://landing/orders\' MAXERROR 100000 --` }), `backslashes are not accepted`},
		{"newline", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing/orders/\nMANIFEST" }), `the key contains a control character`},
		{"NUL", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing/orders/\x00" }), `the key contains a control character`},
		{"invalid UTF-8", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing/orders/\xff" }), `the key is not valid UTF-8`},
		{"long key", rawOrders, nil, with(func(s *S3Source) { s.URI = "s3://landing/" + strings.Repeat("k", 1025) }), `longer than S3's 1024 bytes`},
		{"manifest prefix", rawOrders, nil, with(func(s *S3Source) { s.Manifest = true }), `a manifest is one object, not a prefix`},
		// IAM role
		{"no role", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "" }), `IAM role "" is not a role ARN`},
		{"user ARN", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "arn:aws:iam::123456789012:user/etl" }), `is not a role ARN`},
		{"short account", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "arn:aws:iam::12345678901:role/etl" }), `is not a role ARN`},
		{"other service", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "arn:aws:sts::123456789012:role/etl" }), `is not a role ARN`},
		{"role chain", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = role + ",arn:aws:iam::210987654321:role/other" }), `is not a role ARN`},
		{"quote injection", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = role + "' MAXERROR 100000 --" }), `is not a role ARN`},
		{"name too long", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "arn:aws:iam::123456789012:role/" + strings.Repeat("r", 65) }), `is not a role ARN`},
		{"trailing newline", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = role + "\n" }), `is not a role ARN`},
		{"default keyword", rawOrders, nil, with(func(s *S3Source) { s.IAMRole = "default" }), `is not a role ARN`},
		// region and limits
		{"bad region", rawOrders, nil, with(func(s *S3Source) { s.Region = "EU-WEST-1" }), `region "EU-WEST-1" is not an AWS region name`},
		{"region injection", rawOrders, nil, with(func(s *S3Source) { s.Region = "eu-west-1' MANIFEST --" }), `is not an AWS region name`},
		{"negative max errors", rawOrders, nil, with(func(s *S3Source) { s.MaxErrors = -1 }), `max errors -1 is out of range: Redshift's MAXERROR takes 0 to 100000`},
		{"too many max errors", rawOrders, nil, with(func(s *S3Source) { s.MaxErrors = MaxCopyErrors + 1 }), `max errors 100001 is out of range`},
		// format
		{"no format", rawOrders, nil, with(func(s *S3Source) { s.Format = "" }), `format "" is not one of csv, jsonl, parquet`},
		{"json", rawOrders, nil, with(func(s *S3Source) { s.Format = "json" }), `format "json" is not one of csv, jsonl, parquet`},
		{"upper-case format", rawOrders, nil, with(func(s *S3Source) { s.Format = "CSV" }), `format "CSV" is not one of`},
		{"parquet column list", rawOrders, []string{"id"}, with(func(s *S3Source) { s.Format = FormatParquet }), `a column list is not supported for parquet`},
		{"parquet gzip", rawOrders, nil, with(func(s *S3Source) { s.Format, s.Gzip = FormatParquet, true }), `gzip is not an option for parquet`},
		{"parquet max errors", rawOrders, nil, with(func(s *S3Source) { s.Format, s.MaxErrors = FormatParquet, 5 }), `max errors is not supported for parquet`},
		{"parquet region", rawOrders, nil, with(func(s *S3Source) { s.Format, s.Region = FormatParquet, "eu-west-1" }), `region is not supported for parquet`},
	}
	d := mustFor(t, Redshift)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.CopyFromS3(tt.target, tt.columns, tt.src)
			requireBadInput(t, err, "redshift CopyFromS3: ")
			require.ErrorContains(t, err, tt.msg)
			require.Empty(t, got)
		})
	}
}

// FuzzRedshiftCopyURI checks that whatever URI is accepted comes back, unchanged, as
// exactly one SQL string literal right after FROM: no input can end the literal early.
func FuzzRedshiftCopyURI(f *testing.F) {
	for _, seed := range []string{
		"s3://landing/orders/", "s3://landing/'", "s3://landing/''; DROP TABLE x; --", `s3://landing/\'`,
		"s3://landing/a' IAM_ROLE 'arn:aws:iam::000000000000:role/evil", "s3://landing/\u2019", "s3://landing/%27",
	} {
		f.Add(seed)
	}
	d := redshift{}
	f.Fuzz(func(t *testing.T, uri string) {
		sql, err := d.CopyFromS3(rawOrders, nil, S3Source{URI: uri, Format: FormatCSV, IAMRole: role})
		if err != nil {
			return
		}
		rest, ok := strings.CutPrefix(sql, `COPY "raw"."orders" FROM '`)
		require.True(t, ok, sql)
		var lit strings.Builder
		for {
			i := strings.IndexByte(rest, '\'')
			require.GreaterOrEqual(t, i, 0, "unterminated literal in %s", sql)
			lit.WriteString(rest[:i])
			rest = rest[i+1:]
			if !strings.HasPrefix(rest, "'") {
				break // the closing quote
			}
			lit.WriteByte('\'')
			rest = rest[1:]
		}
		require.Equal(t, uri, lit.String())
		require.NotContains(t, uri, `\`)
		require.Equal(t, ` IAM_ROLE '`+role+`' FORMAT AS CSV IGNOREHEADER 1 DATEFORMAT 'auto' TIMEFORMAT 'auto'`, rest)
	})
}
