package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
)

// Redshift's COPY converts dates, timestamps and numbers by its own rules:
// DATEFORMAT/TIMEFORMAT 'auto' accept MM/DD/YYYY, Julian and YYMMDD forms the
// streaming loader quarantines, and a NUMERIC(38,10) column rounds extra decimals
// without a word. So CSV and JSON objects stage those columns as text, and the
// streaming loader's rules are applied in SQL on the stage before anything is written:
// a value they refuse is quarantined with the same reason, the rest is cast in the
// INSERT. Parquet columns are typed in the file and stay typed.

// textStaged reports whether a column of type typ is staged as text for format.
func textStaged(format, typ string) bool {
	if format == formatParquet {
		return false
	}
	switch typ {
	case "date", "timestamptz", "numeric":
		return true
	}
	return false
}

// Patterns of the forms the streaming loader accepts (convert.go), as POSIX regular
// expressions (Redshift's ~ operator) over the trimmed value.
const (
	datePattern = `^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`
	// RFC 3339, or a space for the T, with or without a zone (no zone: UTC); a
	// fraction of at most 9 digits; a zone as Z or ±hh:mm.
	timestampPattern = `^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$`
	numberPattern    = `^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`
	// NUMERIC(38,10): at most 28 digits before the point (leading zeros aside), at
	// most 10 after it (trailing zeros aside).
	numericFitsPattern = `^[+-]?0*[0-9]{0,28}(\.[0-9]{0,10}0*)?$`
)

// trimmed is a staged text column's value, trimmed; NULL for an empty one (an empty
// field is NULL for every type but text, as on PostgreSQL).
func trimmed(q string) string { return `NULLIF(TRIM(` + q + `), '')` }

// invalidReason is a CASE giving the reason a staged text value of type typ is refused
// (NULL when it is accepted), in the streaming loader's words with the value redacted.
// It is plain SQL both engines run alike (the tests run it on PostgreSQL against the
// streaming loader's converters): a CASE tries its branches in order, so the day
// check's casts only see values the pattern accepted.
func invalidReason(c plan.Column) string {
	q := ident.Quote(c.Name)
	v := trimmed(q)
	col := "column " + c.Name + `: "…" `
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch c.Type {
	case "date", "timestamptz":
		pattern, why := datePattern, col+"is not a date (YYYY-MM-DD)"
		if c.Type == "timestamptz" {
			pattern, why = timestampPattern, col+"is not a timestamp (RFC 3339 or YYYY-MM-DD HH:MM:SS)"
		}
		return `CASE WHEN ` + v + ` IS NULL THEN NULL WHEN ` + v + ` !~ '` + pattern + `' OR LEFT(` + v + `, 4) = '0000' THEN ` + lit(why) +
			` WHEN NOT (` + dayFits(v) + `) THEN ` + lit(why) + ` END`
	case "numeric":
		return `CASE WHEN ` + v + ` IS NULL THEN NULL WHEN ` + v + ` !~ '` + numberPattern + `' THEN ` + lit(col+"is not a number") +
			` WHEN ` + v + ` !~ '` + numericFitsPattern + `' THEN ` + lit(col+"does not fit NUMERIC(38,10) on Redshift (more than 28 digits before the point or 10 after it): it would be rounded or refused") + ` END`
	}
	return "NULL"
}

// dayFits says whether the day of month of v (YYYY-MM-DD...) exists in its month
// (30 February does not), without a date function whose leniency differs between the
// engines.
func dayFits(v string) string {
	year := `CAST(LEFT(` + v + `, 4) AS INT)`
	leap := `((` + year + ` % 4 = 0 AND ` + year + ` % 100 <> 0) OR ` + year + ` % 400 = 0)`
	return `CAST(SUBSTRING(` + v + `, 9, 2) AS INT) <= CASE SUBSTRING(` + v + `, 6, 2) WHEN '02' THEN CASE WHEN ` + leap +
		` THEN 29 ELSE 28 END WHEN '04' THEN 30 WHEN '06' THEN 30 WHEN '09' THEN 30 WHEN '11' THEN 30 ELSE 31 END`
}

// castStaged is the INSERT's expression of a text-staged column: the value cast to
// its type, a timestamp without a zone read as UTC (as the streaming loader does,
// whatever the session's time zone).
func castStaged(c plan.Column) string {
	q := ident.Quote(c.Name)
	v := trimmed(q)
	switch c.Type {
	case "date":
		return `CAST(` + v + ` AS DATE)`
	case "numeric":
		return `CAST(` + v + ` AS ` + RedshiftNumeric + `)`
	case "timestamptz":
		// The T becomes a space, Z becomes +00:00, no zone gets +00:00.
		spaced := `CASE WHEN SUBSTRING(` + v + `, 11, 1) = 'T' THEN LEFT(` + v + `, 10) || ' ' || SUBSTRING(` + v + `, 12) ELSE ` + v + ` END`
		return `CAST(CASE WHEN ` + v + ` IS NULL THEN NULL WHEN RIGHT(` + v + `, 1) = 'Z' THEN LEFT(` + spaced + `, LENGTH(` + spaced + `) - 1) || '+00:00' ` +
			`WHEN ` + v + ` ~ '[+-][0-9]{2}:[0-9]{2}$' THEN ` + spaced + ` ELSE ` + spaced + ` || '+00:00' END AS TIMESTAMPTZ)`
	}
	return q
}

// redshiftConversions applies the streaming loader's conversion rules to the stage's
// text-staged columns: refused rows are read back (at most room, as JSON objects of
// their values, line 0: COPY does not tell lines) with the first refused column's
// reason, and deleted from the stage. It returns them and how many were deleted.
func redshiftConversions(ctx context.Context, s warehouse.Session, req Request, format string, room int) ([]BadRow, int64, error) {
	var reasons []string
	for _, c := range req.Source.Columns {
		if textStaged(format, c.Type) {
			reasons = append(reasons, invalidReason(c))
		}
	}
	if len(reasons) == 0 {
		return nil, 0, nil
	}
	stage := ident.Quote(redshiftStage)
	reason := `COALESCE(` + strings.Join(reasons, ", ") + `)`
	var bad []BadRow
	if room > 0 {
		vals := make([]*string, len(req.Source.Columns))
		dest := make([]any, len(vals)+1)
		var why string
		dest[0] = &why
		for i := range vals {
			dest[i+1] = &vals[i]
		}
		err := s.Query(ctx, `SELECT `+reason+`, `+stagedAsText(req.Source)+` FROM `+stage+` WHERE `+reason+` IS NOT NULL`+fmt.Sprintf(` LIMIT %d`, room), nil,
			func(scan func(...any) error) error {
				if err := scan(dest...); err != nil {
					return err
				}
				bad = append(bad, redshiftBadRow(0, stagedRowJSON(req.Source, vals), why))
				return nil
			})
		if err != nil {
			return nil, 0, fmt.Errorf("load %s: values the streaming loader refuses: %w", req.Object.Key, err)
		}
	}
	n, err := s.Exec(ctx, `DELETE FROM `+stage+` WHERE `+reason+` IS NOT NULL`)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: values the streaming loader refuses: %w", req.Object.Key, err)
	}
	return bad, n, nil
}

// stagedAsText is the select list of a staged row's columns as text (plan order), to
// read a refused row back for the quarantine.
func stagedAsText(src plan.Source) string {
	sel := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		q := ident.Quote(c.Name)
		if c.Type == "boolean" {
			sel[i] = `CASE WHEN ` + q + ` THEN 'true' WHEN NOT ` + q + ` THEN 'false' END`
		} else {
			sel[i] = `CAST(` + q + ` AS VARCHAR(65535))`
		}
	}
	return strings.Join(sel, ", ")
}

// stagedRowJSON renders a staged row's values (text, in plan order) as a JSON object.
func stagedRowJSON(src plan.Source, vals []*string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range src.Columns {
		name, _ := json.Marshal(c.Name)
		v := []byte("null")
		if vals[i] != nil {
			v, _ = json.Marshal(strings.ToValidUTF8(*vals[i], "\ufffd"))
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}
