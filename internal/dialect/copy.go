package dialect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"etl2elt/internal/ident"
)

// Formats of S3Source.Format, as a plan's source declares them.
const (
	FormatCSV     = "csv"
	FormatJSONL   = "jsonl"
	FormatParquet = "parquet"
)

// MaxCopyErrors is the largest MAXERROR Redshift accepts.
const MaxCopyErrors = 100000

// S3Source describes the S3 objects a server-side COPY reads.
type S3Source struct {
	// URI is s3://bucket/key: a key prefix (every object under it is loaded, so
	// s3://b/orders loads orders.bak too: end prefixes with "/") or, with Manifest,
	// the manifest object. It becomes a SQL literal (COPY takes no parameter here):
	// it is validated and its single quotes are doubled; backslashes and control
	// characters are refused.
	URI string
	// Format is csv (with a header line, skipped), jsonl (one JSON object per line,
	// keys matched to lowercase column names) or parquet.
	Format string
	// Gzip says the objects are gzip-compressed (csv and jsonl; Redshift detects
	// compression of parquet files by itself).
	Gzip bool
	// IAMRole is the ARN of the role Redshift assumes to read the bucket:
	// arn:aws:iam::<12-digit account>:role/<name> (aws-cn and aws-us-gov partitions
	// and role paths accepted; role chaining is not).
	IAMRole string
	// Region is the bucket's region when it differs from the cluster's, e.g.
	// eu-west-1; empty means the cluster's region. Not supported for parquet.
	Region string
	// MaxErrors is COPY's MAXERROR: the load fails when it meets this many bad rows
	// (0, the default, fails at the first). At most MaxCopyErrors; not supported for
	// parquet. Rejected rows go to Redshift's load-error system tables, not to
	// etl2elt.quarantine.
	MaxErrors int
	// Manifest says URI is a manifest file listing the objects to load.
	Manifest bool
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipAddress  = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	// The name part excludes ',' (IAM allows it, but COPY reads a comma as a role
	// chain separator) and, like every character outside the class, any quote.
	iamRoleARN = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([A-Za-z0-9+=.@_-]+/)*[A-Za-z0-9+=.@_-]{1,64}$`)
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// ValidIAMRole tells whether role is an IAM role ARN CopyFromS3 accepts.
func ValidIAMRole(role string) bool { return iamRoleARN.MatchString(role) }

// ValidRegion tells whether region is an AWS region name CopyFromS3 accepts.
func ValidRegion(region string) bool { return awsRegion.MatchString(region) }

// CopyFromS3 builds Redshift's COPY from S3. The statement is one line:
//
//	COPY "raw"."orders" ("id", "amount") FROM 's3://bucket/orders/dt=2026-01-01/'
//	IAM_ROLE 'arn:aws:iam::123456789012:role/etl2elt' FORMAT AS CSV IGNOREHEADER 1
//	DATEFORMAT 'auto' TIMEFORMAT 'auto' GZIP MAXERROR 10 REGION 'eu-west-1' MANIFEST
//
// jsonl is FORMAT AS JSON 'auto' (no IGNOREHEADER); parquet is FORMAT AS PARQUET with
// MANIFEST only: COPY from columnar files supports neither a column list here (the
// file's columns map to the table's by position), GZIP, MAXERROR nor REGION, and
// those are refused rather than left for Redshift to reject.
func (redshift) CopyFromS3(target ident.Relation, columns []string, src S3Source) (string, error) {
	const op = "CopyFromS3"
	fail := func(format string, args ...any) (string, error) {
		return "", inputErr(Redshift, op, format, args...)
	}
	// An unqualified target is a temporary staging table (the loader copies into one,
	// then inserts with the lineage columns).
	table, err := quoteTable(Redshift, op, "target", target, true)
	if err != nil {
		return "", err
	}
	cols, err := quoteColumns(Redshift, op, "column", columns)
	if err != nil {
		return "", err
	}
	if reason := checkS3URI(src.URI, src.Manifest); reason != "" {
		return fail("URI %q: %s", src.URI, reason)
	}
	if !iamRoleARN.MatchString(src.IAMRole) {
		return fail("IAM role %q is not a role ARN of the form arn:aws:iam::<12-digit account id>:role/<name> (one role, no quotes or commas)", src.IAMRole)
	}
	if src.Region != "" && !awsRegion.MatchString(src.Region) {
		return fail("region %q is not an AWS region name such as eu-west-1", src.Region)
	}
	if src.MaxErrors < 0 || src.MaxErrors > MaxCopyErrors {
		return fail("max errors %d is out of range: Redshift's MAXERROR takes 0 to %d", src.MaxErrors, MaxCopyErrors)
	}

	var format []string
	switch src.Format {
	case FormatCSV:
		format = []string{"FORMAT AS CSV", "IGNOREHEADER 1", "DATEFORMAT 'auto'", "TIMEFORMAT 'auto'"}
	case FormatJSONL:
		// 'auto ignorecase': keys match the column names whatever their case, as the
		// streaming loader matches them ('auto' alone is case-sensitive).
		format = []string{"FORMAT AS JSON 'auto ignorecase'", "DATEFORMAT 'auto'", "TIMEFORMAT 'auto'"}
	case FormatParquet:
		switch {
		case len(columns) > 0:
			return fail("a column list is not supported for parquet: COPY maps a columnar file's columns to the table's by position")
		case src.Gzip:
			return fail("gzip is not an option for parquet: Redshift reads the compression from the file")
		case src.MaxErrors > 0:
			return fail("max errors is not supported for parquet: COPY from columnar files fails at the first error")
		case src.Region != "":
			return fail("region is not supported for parquet: the bucket must be in the cluster's region")
		}
		format = []string{"FORMAT AS PARQUET"}
	default:
		return fail("format %q is not one of %s, %s, %s", src.Format, FormatCSV, FormatJSONL, FormatParquet)
	}

	parts := []string{"COPY " + table}
	if len(cols) > 0 {
		parts = append(parts, "("+strings.Join(cols, ", ")+")")
	}
	parts = append(parts, "FROM "+quoteLiteral(src.URI), "IAM_ROLE "+quoteLiteral(src.IAMRole))
	parts = append(parts, format...)
	if src.Gzip {
		parts = append(parts, "GZIP")
	}
	if src.MaxErrors > 0 {
		parts = append(parts, "MAXERROR "+strconv.Itoa(src.MaxErrors))
	}
	if src.Region != "" {
		parts = append(parts, "REGION "+quoteLiteral(src.Region))
	}
	if src.Manifest {
		parts = append(parts, "MANIFEST")
	}
	return strings.Join(parts, " "), nil
}

// checkS3URI returns why uri is refused, or "". It accepts s3://<bucket>/<key> with a valid bucket name and a non-empty key
// of at most 1024 bytes of UTF-8 without control characters or backslashes. A
// backslash is refused because Redshift string literals treat it as an escape
// character (QUOTE_LITERAL doubles it), so the literal's meaning would depend on the
// server; single quotes are fine (doubled by quoteLiteral).
func checkS3URI(uri string, manifest bool) string {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "it must start with s3://"
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") || ipAddress.MatchString(bucket) {
		return fmt.Sprintf("%q is not a valid S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)", bucket)
	}
	switch {
	case key == "":
		return "it names a whole bucket: give the key prefix (or manifest object) to load"
	case len(key) > 1024:
		return "the key is longer than S3's 1024 bytes"
	case !utf8.ValidString(key):
		return "the key is not valid UTF-8"
	case strings.ContainsRune(key, '\\'):
		return "backslashes are not accepted in the key (Redshift string literals treat them as escapes)"
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "the key contains a control character"
	case manifest && strings.HasSuffix(key, "/"):
		return "a manifest is one object, not a prefix"
	}
	return ""
}

// quoteLiteral returns s as a SQL string literal, single quotes doubled. Callers make
// sure s holds no backslash (see checkS3URI) so that the literal reads the same
// whether or not the server treats backslash as an escape.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
