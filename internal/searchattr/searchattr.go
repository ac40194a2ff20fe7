// Package searchattr declares the custom search attributes the workflows upsert, so
// that operators can list workflows in the Temporal UI by domain, phase or plan (for
// example `Etl2eltPhase = "awaiting-approval"`). The dev server registers them at
// start (scripts/dev-up.sh); a production namespace registers them once with
// `temporal operator search-attribute create`.
package searchattr

import (
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
