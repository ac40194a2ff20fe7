// Package warehouse connects to the Postgres-wire databases a plan names (the
// warehouse, the legacy DB) and owns the control schema `etl2elt`: its versioned
// migrations and the records the engines write there (plan versions, the load ledger,
// quarantined rows, model runs, reconciliation results). The control schema is the
// migration's audit trail.
//
// Connections are opened lazily by name; the DSN of a name comes from the worker's
// environment (see internal/config), never from a plan or a workflow input.
package warehouse
