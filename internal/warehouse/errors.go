package warehouse

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrorClass is what a caller should do with a warehouse error.
type ErrorClass int

// Error classes.
const (
	// Transient: retry with the activity's usual backoff (connection lost, server
	// restarting, an internal error of unknown cause).
	Transient ErrorClass = iota
	// Conflict: a serialization conflict with a concurrent transaction on Redshift
	// (error 1023, "conflict with concurrent transaction"): retry after a longer
	// wait, the other transaction may hold its tables for minutes. PostgreSQL's
	// serialization failures and deadlocks (40001, 40P01) resolve at once: Transient.
	Conflict
	// BadData: the data or the statement is wrong (a value that does not convert, a
	// load error, an unknown relation, a Spectrum scan error): retrying changes
	// nothing.
	BadData
)

// redshiftBadData are message fragments of Redshift errors that retrying cannot fix.
// Redshift reports most errors as SQLSTATE XX000 (internal error), so the message is
// all there is to tell them apart (Amazon Redshift Database Developer Guide: "Load
// error reference", "Troubleshooting queries").
var redshiftBadData = []string{
	"check 'stl_load_errors'",
	"check 'sys_load_error_detail'",
	"spectrum scan error",
	"invalid digit",
	"numeric data overflow",
	"overflow (",
	"value too long for type",
	"invalid input syntax",
	"invalid timestamp format",
	"invalid date format",
	"date/time field value out of range",
	"division by zero",
	"does not exist",
	"permission denied",
	"syntax error at or near",
	"cannot cast type",
	"not supported",
}

// ClassifyError tells how to handle err from PostgreSQL or Redshift.
func ClassifyError(err error) ErrorClass {
	if err == nil {
		return Transient
	}
	msg := strings.ToLower(err.Error())
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	if isPg {
		// Redshift puts the code in the message ("1023") and the words in DETAIL.
		msg += " " + strings.ToLower(pgErr.Detail)
		if strings.TrimSpace(pgErr.Message) == "1023" {
			return Conflict
		}
	}
	if strings.Contains(msg, "1023") && strings.Contains(msg, "serializable isolation violation") ||
		strings.Contains(msg, "conflict with concurrent transaction") {
		return Conflict
	}
	if isPg {
		switch {
		case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"), strings.HasPrefix(pgErr.Code, "42"):
			return BadData
		case pgErr.Code == "XX000":
			for _, frag := range redshiftBadData {
				if strings.Contains(msg, frag) {
					return BadData
				}
			}
		}
	}
	return Transient
}
