package reconcile

import (
	"context"
	"testing"
	"time"

	"math/big"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/testenv"
	"etl2elt/internal/window"
)

func TestCompareSegmentsCatchesOffsetsThatCancel(t *testing.T) {
	pair := plan.OutputPair{Segments: []string{"region"}, Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Absolute: f(0.01)}}}}
	mk := func(rows, rev string) Totals {
		return Totals{Rows: r(rows), Sums: map[string]*big.Rat{"revenue": r(rev)}, Nulls: map[string]*big.Rat{"revenue": r("0")}}
	}
	legacy := map[string]Totals{"region=amer": mk("10", "100"), "region=emea": mk("10", "200"), "region=apac": mk("5", "50")}
	elt := map[string]Totals{"region=amer": mk("10", "150"), "region=emea": mk("10", "150"), "region=latam": mk("5", "50")}
	res := CompareSegments(pair, legacy, elt)
	require.Equal(t, []string{"region=apac"}, res.OnlyInLegacy)
	require.Equal(t, []string{"region=latam"}, res.OnlyInELT)
	failed := map[string]bool{}
	for _, c := range res.Checks {
		if c.Status == Fail {
			failed[c.Segment+"/"+c.Metric] = true
		}
	}
	require.True(t, failed["region=amer/sum"], "+50 on amer")
	require.True(t, failed["region=emea/sum"], "-50 on emea: cancels amer in the totals")
	require.True(t, failed["region=apac/row_count"])
	require.True(t, failed["region=latam/row_count"])
}

func seedSales(t *testing.T, pool *pgxpool.Pool, extra string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `CREATE SCHEMA s; CREATE TABLE s.sales (day date, region text, channel text, revenue numeric, orders bigint);
INSERT INTO s.sales SELECT date '2026-01-01' + (g % 7), (ARRAY['amer','emea','apac'])[1 + g % 3], (ARRAY['web','store'])[1 + g % 2], (g % 100)::numeric / 4, 1 FROM generate_series(1, 3000) g;`+extra)
	require.NoError(t, err)
}

func TestSegmentsOnTwoDatabases(t *testing.T) {
	ctx := context.Background()
	legacy := testenv.Pool(t, testenv.Database(t, "seg_legacy"))
	elt := testenv.Pool(t, testenv.Database(t, "seg_elt"))
	seedSales(t, legacy, "")
	// ELT moves 5.00 of revenue from emea/web to amer/web (totals unchanged) and has a
	// channel legacy never had.
	seedSales(t, elt, `UPDATE s.sales SET revenue = revenue + 5 WHERE ctid = (SELECT min(ctid) FROM s.sales WHERE region = 'amer' AND channel = 'web');
UPDATE s.sales SET revenue = revenue - 5 WHERE ctid = (SELECT min(ctid) FROM s.sales WHERE region = 'emea' AND channel = 'web' AND revenue >= 5);
INSERT INTO s.sales VALUES ('2026-01-02', 'amer', NULL, 1, 1);`)
	pair := plan.OutputPair{Name: "sales", TimeColumn: "day", Segments: []string{"region", "channel"},
		Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Absolute: f(0.01)}}, {Name: "orders", Tolerance: &plan.Tolerance{Absolute: f(0)}}}}
	w := window.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)}

	same, err := ComputeSegments(ctx, legacy, "s.sales", "day", pair.Segments, pair.Measures, w)
	require.NoError(t, err)
	require.Len(t, same, 6)
	none := CompareSegments(pair, same, same)
	require.Zero(t, Breaches(none.Checks), "no false positive on identical data")

	l, err := ComputeSegments(ctx, legacy, "s.sales", "day", pair.Segments, pair.Measures, w)
	require.NoError(t, err)
	e, err := ComputeSegments(ctx, elt, "s.sales", "day", pair.Segments, pair.Measures, w)
	require.NoError(t, err)
	res := CompareSegments(pair, l, e)
	require.Equal(t, []string{"region=amer|channel=<null>"}, res.OnlyInELT)
	var failing []string
	for _, c := range res.Checks {
		if c.Status == Fail && c.Metric == MetricSum && c.Measure == "revenue" {
			failing = append(failing, c.Segment+" "+c.Difference)
		}
	}
	require.Equal(t, []string{"region=amer|channel=<null> ", "region=amer|channel=web 5", "region=emea|channel=web -5"}, failing)

	_, err = ComputeSegments(ctx, legacy, "s.sales", "day", []string{"region; drop"}, pair.Measures, w)
	require.ErrorContains(t, err, "is not a safe SQL identifier")
}

// A text column whose ” became NULL on 200 rows of one segment: the segment checks
// find it by its NULL count, and accept it (saying so) when the plan normalises
// null_equals_empty.
func TestSegmentColumnNulls(t *testing.T) {
	ctx := context.Background()
	legacy := testenv.Pool(t, testenv.Database(t, "segnull_legacy"))
	elt := testenv.Pool(t, testenv.Database(t, "segnull_elt"))
	seed := `CREATE SCHEMA s; CREATE TABLE s.notes (day date, region text, note text, revenue numeric);
INSERT INTO s.notes SELECT date '2026-01-01' + (g % 7), (ARRAY['amer','emea','apac'])[1 + g % 3], CASE WHEN g % 3 = 1 AND g <= 600 THEN '' ELSE 'n' || g END, 1 FROM generate_series(1, 900) g;`
	_, err := legacy.Exec(ctx, seed)
	require.NoError(t, err)
	_, err = elt.Exec(ctx, seed+`UPDATE s.notes SET note = NULL WHERE note = ''`)
	require.NoError(t, err)
	pair := plan.OutputPair{Name: "notes", TimeColumn: "day", Segments: []string{"region"},
		Measures: []plan.Measure{{Name: "revenue", Tolerance: &plan.Tolerance{Absolute: f(0)}}}}
	w := window.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)}

	tests := []struct {
		name  string
		nulls ColumnNulls
		want  []string // checks of the note column: segment metric difference status
	}{
		{
			name:  "found",
			nulls: ColumnNulls{Columns: []string{"note"}},
			want:  []string{" null_count 200 fail", "region=amer null_count 0 pass", "region=apac null_count 0 pass", "region=emea null_count 200 fail"},
		},
		{
			name:  "accepted under null_equals_empty, as a normalisation-only difference",
			nulls: ColumnNulls{Columns: []string{"note"}, NullEqualsEmpty: true, Trim: true},
			want: []string{" null_or_empty_count 0 pass", " null_count_unnormalised 200 pass", "region=amer null_or_empty_count 0 pass",
				"region=apac null_or_empty_count 0 pass", "region=emea null_or_empty_count 0 pass", "region=emea null_count_unnormalised 200 pass"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt, err := ComputeTotalsWith(ctx, legacy, "s.notes", "day", pair.Measures, tt.nulls, w)
			require.NoError(t, err)
			et, err := ComputeTotalsWith(ctx, elt, "s.notes", "day", pair.Measures, tt.nulls, w)
			require.NoError(t, err)
			ls, err := ComputeSegmentsWith(ctx, legacy, "s.notes", "day", pair.Segments, pair.Measures, tt.nulls, w)
			require.NoError(t, err)
			es, err := ComputeSegmentsWith(ctx, elt, "s.notes", "day", pair.Segments, pair.Measures, tt.nulls, w)
			require.NoError(t, err)
			checks := append(CompareTotals(pair, lt, et), CompareSegments(pair, ls, es).Checks...)
			var got []string
			for _, c := range checks {
				if c.Measure == "note" {
					got = append(got, c.Segment+" "+c.Metric+" "+c.Difference+" "+c.Status)
				}
			}
			require.Equal(t, tt.want, got)
		})
	}
	_, err = ComputeTotalsWith(ctx, legacy, "s.notes", "day", pair.Measures, ColumnNulls{Columns: []string{"note; drop"}}, w)
	require.ErrorContains(t, err, "is not a safe SQL identifier")
}
