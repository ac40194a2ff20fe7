// Package ident validates and quotes the SQL identifiers that come from plans (schemas,
// tables, columns). Plans are user input: every identifier that reaches SQL text goes
// through Validate and Quote; values always travel as bound parameters.
//
// Only lowercase unquoted-style names are accepted (letters, digits and underscores,
// starting with a letter or underscore, at most 63 bytes) so that a name means the same
// thing quoted or unquoted in PostgreSQL and Redshift.
package ident

import (
	"fmt"
	"regexp"
	"strings"
)

var safe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Error reports an identifier that is not safe to use in SQL.
type Error struct {
	Name   string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a safe SQL identifier: %s", e.Name, e.Reason)
}

// BadInput marks the error as a problem with the plan, not a transient failure.
func (e *Error) BadInput() bool { return true }

// Validate returns an *Error when name is not a safe identifier.
func Validate(name string) error {
	if name == "" {
		return &Error{Name: name, Reason: "it is empty"}
	}
	if !safe.MatchString(name) {
		return &Error{Name: name, Reason: "use lowercase letters, digits and _, start with a letter or _, at most 63 characters"}
	}
	return nil
}

// Quote returns name as a quoted identifier. Callers validate first; Quote still
// escapes embedded quotes so that it is safe on its own.
func Quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Relation is a schema-qualified table or view name.
type Relation struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// ParseRelation parses "schema.name" and validates both parts.
func ParseRelation(s string) (Relation, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok {
		return Relation{}, &Error{Name: s, Reason: "a relation must be schema-qualified, as schema.name"}
	}
	if err := Validate(schema); err != nil {
		return Relation{}, err
	}
	if err := Validate(name); err != nil {
		return Relation{}, err
	}
	return Relation{Schema: schema, Name: name}, nil
}

// MustRelation is ParseRelation for names known at compile time.
func MustRelation(s string) Relation {
	r, err := ParseRelation(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Quoted returns the relation as "schema"."name".
func (r Relation) Quoted() string { return Quote(r.Schema) + "." + Quote(r.Name) }

// String returns schema.name.
func (r Relation) String() string { return r.Schema + "." + r.Name }
