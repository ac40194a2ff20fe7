package cost

import "etl2elt/internal/plan"

// Breakdown is a priced usage, by what the money is for.
type Breakdown struct {
	Warehouse float64 `json:"warehouse"`
	Rows      float64 `json:"rows"`
	S3        float64 `json:"s3"`
}

// Total is the sum of the parts.
func (b Breakdown) Total() float64 { return b.Warehouse + b.Rows + b.S3 }

// Price turns usage into money with the plan's rates:
//
//	warehouse = statement hours × warehouse_hour              (PostgreSQL, provisioned Redshift)
//	          = statement hours × base_rpus × rpu_hour        (Redshift Serverless)
//	rows      = (rows read + rows written) / 10^6 × per_million_rows
//	s3        = (bytes read + written) / 10^9 × per_gb_transferred + requests / 1000 × s3_per_1000_requests
func Price(r plan.CostRates, serverless bool, u Usage) Breakdown {
	hours := u.StatementSeconds / 3600
	b := Breakdown{
		Rows: float64(u.RowsRead+u.RowsWritten) / 1e6 * r.PerMillionRows,
		S3:   float64(u.S3BytesRead+u.S3BytesWritten)/1e9*r.PerGBTransferred + float64(u.S3Requests)/1000*r.S3Per1000Requests,
	}
	if serverless {
		b.Warehouse = hours * r.BaseRPUs * r.RPUHour
	} else {
		b.Warehouse = hours * r.WarehouseHour
	}
	return b
}

// Phases of the ledger.
const (
	PhaseBackfill    = "backfill"
	PhaseParallelRun = "parallel-run"
	PhaseWatch       = "watch"
	// PhaseScheduled is a pipeline run outside a migration (a schedule or a start).
	PhaseScheduled = "scheduled"
	// PhaseManual is an operator's run (reconcile, check, backfill started alone).
	PhaseManual = "manual"
)

// Kinds of work of the ledger.
const (
	KindBackfill       = "backfill"
	KindLoad           = "load"
	KindModels         = "models"
	KindReconciliation = "reconciliation"
	KindQuality        = "quality"
	KindLegacyRun      = "legacy-run"
	// KindControl is bookkeeping: plans, decisions, views, reports.
	KindControl = "control"
)
