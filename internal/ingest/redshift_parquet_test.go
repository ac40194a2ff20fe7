package ingest

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/plan"
	"etl2elt/internal/warehouse"
)

// flatEvent is a flat Parquet file whose columns are not in the plan's order and
// include an undeclared one (note).
type flatEvent struct {
	Amount float64 `parquet:"amount"`
	Note   string  `parquet:"note"`
	ID     int64   `parquet:"ID"`
	Qty    int32   `parquet:"qty"`
}

// countingReaderAt counts the reads a footer costs.
type countingReaderAt struct {
	r     *bytes.Reader
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

func TestRedshiftParquetStageMirrorsTheFile(t *testing.T) {
	body := writeParquet(t, []flatEvent{{Amount: 1.5, Note: "n", ID: 7, Qty: 2}})
	src := plan.Source{Name: "events", Format: "parquet", Columns: []plan.Column{{Name: "id", Type: "bigint"}, {Name: "qty", Type: "integer"}, {Name: "amount", Type: "numeric"}}}
	r := &countingReaderAt{r: bytes.NewReader(body)}
	stage, extra, err := RedshiftParquetStage(r, int64(len(body)), src, "e.parquet")
	require.NoError(t, err)
	require.Equal(t, []string{`"amount" NUMERIC(38,10)`, `"_etl2elt_extra_2" VARCHAR(65535)`, `"id" BIGINT`, `"qty" INTEGER`}, stage, "the file's order, declared columns by name")
	require.Equal(t, []string{"note"}, extra)

	// The load: COPY into a stage that mirrors the file, the INSERT by name.
	rec := &warehouse.Recorder{Rows: map[string][][]any{"pg_last_copy_id": {{int64(1), int64(1)}}}}
	opts := redshiftOpts
	opts.ParquetStage, opts.ParquetExtra = stage, extra
	req := redshiftReq(src, "e.parquet")
	res, _, err := CopyObjectRedshift(context.Background(), rec, req, opts, loadedAt, 7)
	require.NoError(t, err)
	require.Equal(t, []string{"note"}, res.ExtraColumns)
	sql := rec.SQL()
	require.Equal(t, `CREATE TEMP TABLE "_etl2elt_stage" ("amount" NUMERIC(38,10), "_etl2elt_extra_2" VARCHAR(65535), "id" BIGINT, "qty" INTEGER)`, sql[1])
	require.Contains(t, sql[2], `COPY "_etl2elt_stage" FROM `, "no column list for Parquet")
	require.Contains(t, sql[8], `INSERT INTO "raw"."orders" ("id", "qty", "amount", `)
	require.Empty(t, warehouse.RedshiftViolations(sql))

	for _, tt := range []struct {
		name string
		src  plan.Source
		want string
	}{
		{"a declared column missing", plan.Source{Name: "e", Columns: []plan.Column{{Name: "id", Type: "bigint"}, {Name: "region", Type: "text"}}}, "object e.parquet: schema lacks declared column(s) region"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := RedshiftParquetStage(bytes.NewReader(body), int64(len(body)), tt.src, "e.parquet")
			require.EqualError(t, err, tt.want)
		})
	}
	nested := writeParquet(t, []parquetEvent{{ID: 1, Tags: []string{"a"}}})
	_, _, err = RedshiftParquetStage(bytes.NewReader(nested), int64(len(nested)), plan.Source{Name: "e", Columns: []plan.Column{{Name: "id", Type: "bigint"}}}, "n.parquet")
	require.ErrorContains(t, err, "nested or repeated: only flat columns load")
	_, _, err = RedshiftParquetStage(bytes.NewReader(nil), 0, src, "z.parquet")
	var empty *EmptyObjectError
	require.ErrorAs(t, err, &empty)
	_, _, err = RedshiftParquetStage(bytes.NewReader([]byte("not parquet at all")), 18, src, "x.parquet")
	var perr *ParseError
	require.ErrorAs(t, err, &perr)

	opts.ParquetStage = nil
	_, _, err = CopyObjectRedshift(context.Background(), &warehouse.Recorder{}, req, opts, loadedAt, 7)
	require.ErrorContains(t, err, "the Parquet footer's columns are needed")
}
