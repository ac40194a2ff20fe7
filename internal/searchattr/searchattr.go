// Package searchattr declares the custom search attributes the workflows upsert, so
// that operators can list workflows in the Temporal UI by domain, phase or plan (for
// example `Etl2eltPhase = "awaiting-approval"`). The dev server registers them at
// start (scripts/dev-up.sh); a production namespace registers them once with
// `temporal operator search-attribute create`.
package searchattr

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
)

var (
	// Domain is the business area (plan domain name).
	Domain = temporal.NewSearchAttributeKeyKeyword("Etl2eltDomain")
	// Phase is the workflow's current phase.
	Phase = temporal.NewSearchAttributeKeyKeyword("Etl2eltPhase")
	// Plan is the plan name.
	Plan = temporal.NewSearchAttributeKeyKeyword("Etl2eltPlan")
	// NeedsAction says what a person must do for the workflow to move on
	// (approval, decision, resume, stuck-chunk, budget, rollback-failing); empty
	// when nothing: `Etl2eltNeedsAction != ""` lists everything waiting for people.
	NeedsAction = temporal.NewSearchAttributeKeyKeyword("Etl2eltNeedsAction")
)

// Names lists every attribute with its type, as `temporal operator
// search-attribute create` and the dev server's --search-attribute take them.
var Names = map[string]string{
	"Etl2eltDomain":      "Keyword",
	"Etl2eltPhase":       "Keyword",
	"Etl2eltPlan":        "Keyword",
	"Etl2eltNeedsAction": "Keyword",
}

// Query is a visibility query (Temporal UI filter, `temporal workflow list --query`,
// `starter migration list`) for workflows of a type, optionally in a phase and a
// domain. Quotes are removed from the values: they are names, never expressions.
func Query(workflowType, phase, domain string) string {
	clean := func(v string) string { return strings.NewReplacer("'", "", `"`, "", `\`, "").Replace(v) }
	q := "WorkflowType = '" + clean(workflowType) + "'"
	if phase != "" {
		q += " AND " + Phase.GetName() + " = '" + clean(phase) + "'"
	}
	if domain != "" {
		q += " AND " + Domain.GetName() + " = '" + clean(domain) + "'"
	}
	return q
}

// Lister lists a namespace's custom search attributes and their types (name →
// "Keyword"...): the operator service's ListSearchAttributes, adapted.
type Lister interface {
	CustomSearchAttributes(ctx context.Context, namespace string) (map[string]string, error)
}

// MissingError names the search attributes a namespace lacks, or holds with another
// type, and how to register them.
type MissingError struct {
	Namespace string
	Missing   []string // "Name (Keyword)"
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("namespace %s lacks the search attributes %s that the workflows upsert: register them (Temporal Cloud: tcld namespace search-attributes add, the Cloud UI or Terraform; self-hosted: temporal operator search-attribute create --name NAME --type Keyword)",
		e.Namespace, strings.Join(e.Missing, ", "))
}

// Check verifies that namespace holds every attribute of Names with its type.
func Check(ctx context.Context, l Lister, namespace string) error {
	have, err := l.CustomSearchAttributes(ctx, namespace)
	if err != nil {
		return fmt.Errorf("list the search attributes of %s: %w", namespace, err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(Names)) {
		if !strings.EqualFold(have[name], Names[name]) {
			missing = append(missing, name+" ("+Names[name]+")")
		}
	}
	if len(missing) > 0 {
		return &MissingError{Namespace: namespace, Missing: missing}
	}
	return nil
}
