package warehouse

import (
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"etl2elt/internal/testenv"
)

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t, "migrate"))

	// Three workers starting at once: one applies, the others wait and find nothing to do.
	var g errgroup.Group
	applied := make([][]int64, 3)
	for i := range applied {
		g.Go(func() error {
			var err error
			applied[i], err = Migrate(ctx, pool)
			return err
		})
	}
	require.NoError(t, g.Wait())
	total := 0
	for _, a := range applied {
		total += len(a)
	}
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	require.NoError(t, err)
	require.Equal(t, len(files), total, "each migration is applied exactly once")

	v, err := SchemaVersion(ctx, pool)
	require.NoError(t, err)
	require.EqualValues(t, len(files), v)

	again, err := Migrate(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again)

	for _, table := range []string{"plan_versions", "loads", "quarantine", "model_runs", "reconcile_runs", "reconcile_results", "metric_versions", "model_run_inputs"} {
		var ok bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('etl2elt.' || $1) IS NOT NULL`, table).Scan(&ok))
		require.True(t, ok, table)
	}
}

func TestConnectionsResolveByName(t *testing.T) {
	dsn := testenv.Database(t, "conns")
	c := NewConnections(func(name string) (string, error) {
		if name == "warehouse" {
			return dsn, nil
		}
		return "", errUnknown(name)
	})
	defer c.Close()
	p1, err := c.Get(context.Background(), "warehouse")
	require.NoError(t, err)
	p2, err := c.Get(context.Background(), "warehouse")
	require.NoError(t, err)
	require.Same(t, p1, p2, "one pool per name")
	_, err = c.Get(context.Background(), "legacy")
	require.EqualError(t, err, `connection "legacy" is not configured`)
}

type errUnknown string

func (e errUnknown) Error() string { return "connection \"" + string(e) + "\" is not configured" }

func TestOpenErrorsDoNotLeakTheDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:s3cret@127.0.0.1:1/db?connect_timeout=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
	_, err = Open(context.Background(), "postgres://user:s3cret@[bad")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}
