package warehouse

import (
	"fmt"
	"regexp"
	"strings"
)

// redshiftForbidden are PostgreSQL-only tokens that must never reach Redshift: they
// fail there, or (pg_depend, which does not track late-binding views) give wrong
// answers.
var redshiftForbidden = []string{"pg_advisory", "hashtext", "bit(", "lock_timeout", "regclass", "pg_depend", "ON CONFLICT", "RETURNING"}

var (
	writeVerb   = regexp.MustCompile(`^(?i)(DELETE|INSERT|UPDATE|MERGE)\b`)
	placeholder = regexp.MustCompile(`\$\d+`)
	castParam   = regexp.MustCompile(`(?i)CAST\(\$\d+ AS `)
	tempTarget  = regexp.MustCompile(`^(?i)(DELETE FROM|INSERT INTO|UPDATE|MERGE INTO) "_etl2elt_`)
)

// RedshiftViolations checks a statement sequence sent to Redshift against the rules
// every Redshift path follows (docs/DIALECTS.md) and returns what breaks them:
//
//   - a write transaction (BEGIN … COMMIT holding a DELETE, INSERT, UPDATE or MERGE on
//     a table that is not the session's own staging table) starts with its LOCK:
//     Redshift takes a transaction's snapshot at its first statement, so anything
//     before the LOCK would let the writes work on a snapshot older than the lock;
//   - every parameter in a select list is cast (a bare $n has no type there);
//   - no PostgreSQL-only token (advisory locks, hashtext, bit strings, lock_timeout,
//     regclass, pg_depend, ON CONFLICT, RETURNING).
func RedshiftViolations(sql []string) []string {
	var out []string
	for i, s := range sql {
		for _, tok := range redshiftForbidden {
			if strings.Contains(s, tok) {
				out = append(out, fmt.Sprintf("statement %d uses %s, which Redshift does not have: %.120s", i, tok, s))
			}
		}
		for _, list := range selectLists(s) {
			n := len(placeholder.FindAllString(list, -1))
			if n > len(castParam.FindAllString(list, -1)) {
				out = append(out, fmt.Sprintf("statement %d has a parameter not cast in a select list: %.120s", i, s))
			}
		}
		if strings.TrimSpace(s) != "BEGIN" {
			continue
		}
		writes, end := false, len(sql)
		for j := i + 1; j < len(sql); j++ {
			t := strings.TrimSpace(sql[j])
			if t == "COMMIT" || t == "ROLLBACK" {
				end = j
				break
			}
			if writeVerb.MatchString(t) && !tempTarget.MatchString(t) {
				writes = true
			}
		}
		if writes && (i+1 >= end || !strings.HasPrefix(strings.TrimSpace(sql[i+1]), "LOCK ")) {
			next := "nothing"
			if i+1 < len(sql) {
				next = sql[i+1]
			}
			out = append(out, fmt.Sprintf("the write transaction at statement %d does not start with its LOCK (first: %.80s)", i, next))
		}
	}
	return out
}

// selectLists returns the text between each SELECT and its FROM (or the statement's
// end), at any depth: close enough for the statements this project generates.
func selectLists(s string) []string {
	var out []string
	upper := strings.ToUpper(s)
	for at := 0; ; {
		i := strings.Index(upper[at:], "SELECT ")
		if i < 0 {
			return out
		}
		start := at + i + len("SELECT ")
		j := strings.Index(upper[start:], " FROM ")
		end := len(s)
		if j >= 0 {
			end = start + j
		}
		out = append(out, s[start:end])
		at = start
	}
}
