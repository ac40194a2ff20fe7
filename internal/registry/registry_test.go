package registry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/warehouse"
)

func snapshot(metrics ...plan.Metric) *plan.Snapshot {
	return &plan.Snapshot{Hash: "h", Plan: &plan.Plan{Name: "acme", Metrics: metrics}}
}

func metric(version int, expr string) plan.Metric {
	return plan.Metric{Name: "daily_revenue", Owner: "cfo", Version: version,
		Definition: plan.MetricDefinition{Expression: expr, Relation: "reporting.daily_revenue", TimeColumn: "day"}}
}

func TestSyncRefusesSilentDefinitionChanges(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "registry"))
	_, err := warehouse.Migrate(ctx, pool)
	require.NoError(t, err)

	res, err := Sync(ctx, pool, snapshot(metric(1, "sum(revenue)")), "wf-1")
	require.NoError(t, err)
	require.Len(t, res.Recorded, 1)

	// Same definition (layout aside): nothing new.
	res, err = Sync(ctx, pool, snapshot(metric(1, "\n  sum(revenue)\n")), "wf-2")
	require.NoError(t, err)
	require.Empty(t, res.Recorded)
	require.Equal(t, 1, res.Unchanged)

	// Changed without a bump: refused, nothing recorded.
	_, err = Sync(ctx, pool, snapshot(metric(1, "sum(revenue) - sum(refunds)")), "wf-3")
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	require.True(t, ce.BadInput())
	require.Contains(t, err.Error(), "metric daily_revenue: version 1: definition changed without a version bump")
	require.Contains(t, err.Error(), "bump version to 2 and give change_reason")

	// A bump with the same definition is refused too.
	_, err = Sync(ctx, pool, snapshot(metric(2, "sum(revenue)")), "wf-4")
	require.ErrorContains(t, err, "version 2 has the same definition as recorded version 1")

	// A real bump is recorded with who, why and the previous hash.
	bumped := metric(2, "sum(revenue) - sum(refunds)")
	bumped.ChangedBy, bumped.ChangeReason = "cfo", "net of refunds from Q3"
	res, err = Sync(ctx, pool, snapshot(bumped), "wf-5")
	require.NoError(t, err)
	require.Len(t, res.Recorded, 1)
	require.Equal(t, metric(1, "sum(revenue)").DefinitionHash(), res.Recorded[0].PreviousHash)

	var by, why, prev, recordedBy string
	require.NoError(t, pool.QueryRow(ctx, `SELECT changed_by, change_reason, previous_hash, recorded_by FROM etl2elt.metric_versions WHERE metric = 'daily_revenue' AND version = 2`).
		Scan(&by, &why, &prev, &recordedBy))
	require.Equal(t, "cfo", by)
	require.Equal(t, "net of refunds from Q3", why)
	require.Equal(t, res.Recorded[0].PreviousHash, prev)
	require.Equal(t, "wf-5", recordedBy)

	// Going back to an unrecorded older version is refused; the recorded v1 still loads.
	_, err = Sync(ctx, pool, snapshot(metric(1, "sum(revenue)")), "wf-6")
	require.NoError(t, err)
	other := metric(1, "count(*)")
	other.Name = "order_count"
	_, err = Sync(ctx, pool, snapshot(other), "wf-7")
	require.NoError(t, err)
}

func TestCheck(t *testing.T) {
	h1 := metric(1, "a").DefinitionHash()
	h2 := metric(1, "b").DefinitionHash()
	history := []recorded{{1, h1}, {3, h2}}
	c, isNew := check(metric(2, "c"), metric(2, "c").DefinitionHash(), history)
	require.Equal(t, "version 2 is older than the recorded version 3 and was never recorded", c)
	require.False(t, isNew)
	c, isNew = check(metric(4, "c"), metric(4, "c").DefinitionHash(), history)
	require.Empty(t, c)
	require.True(t, isNew)
}
