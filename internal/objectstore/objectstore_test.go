package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/testenv"
)

func TestStoreAgainstS3CompatibleServer(t *testing.T) {
	ctx := context.Background()
	store, bucket := testenv.Bucket(t)
	require.NoError(t, store.EnsureBucket(ctx, bucket), "ensuring an existing bucket is a no-op")

	require.NoError(t, store.Put(ctx, bucket, "a/dt=2026-01-01/x.csv", []byte("id\n1\n"), "text/csv"))
	require.NoError(t, store.Put(ctx, bucket, "a/dt=2026-01-01/y.csv", []byte("id\n2\n"), ""))
	require.NoError(t, store.Put(ctx, bucket, "a/dt=2026-01-02/z.csv", []byte("id\n3\n"), ""))

	objs, err := store.List(ctx, bucket, "a/dt=2026-01-01/")
	require.NoError(t, err)
	require.Len(t, objs, 2)
	require.Equal(t, "a/dt=2026-01-01/x.csv", objs[0].Key)
	require.EqualValues(t, 5, objs[0].Size)
	require.NotEmpty(t, objs[0].ETag)

	body, info, err := store.Open(ctx, bucket, "a/dt=2026-01-02/z.csv")
	require.NoError(t, err)
	b, err := io.ReadAll(body)
	require.NoError(t, body.Close())
	require.NoError(t, err)
	require.Equal(t, "id\n3\n", string(b))
	require.EqualValues(t, 5, info.Size)

	_, _, err = store.Open(ctx, bucket, "a/missing.csv")
	require.True(t, errors.Is(err, objectstore.ErrNotFound), "got %v", err)
	require.ErrorContains(t, err, "s3://"+bucket+"/a/missing.csv")

	_, err = store.List(ctx, bucket+"-nope", "a/")
	require.True(t, errors.Is(err, objectstore.ErrNotFound), "got %v", err)

	// A ranged read of an object's first bytes (a CSV header on Redshift).
	big := bytes.Repeat([]byte("0123456789"), 10_000)
	require.NoError(t, store.Put(ctx, bucket, "a/big.csv", big, ""))
	prefix, err := store.ReadPrefix(ctx, bucket, "a/big.csv", 65536)
	require.NoError(t, err)
	require.Equal(t, big[:65536], prefix)
	prefix, err = store.ReadPrefix(ctx, bucket, "a/dt=2026-01-02/z.csv", 65536)
	require.NoError(t, err)
	require.Equal(t, "id\n3\n", string(prefix), "a smaller object whole")
	_, err = store.ReadPrefix(ctx, bucket, "a/missing.csv", 10)
	require.True(t, errors.Is(err, objectstore.ErrNotFound), "got %v", err)

	// Reads at offsets (a Parquet footer): inside the tail fetched first, and outside it.
	ra := store.ReaderAt(ctx, bucket, "a/big.csv", int64(len(big)), 4096)
	for _, at := range []struct{ off, n int }{{len(big) - 8, 8}, {len(big) - 4000, 100}, {10, 30}, {len(big) - 5000, 2000}} {
		p := make([]byte, at.n)
		n, err := ra.ReadAt(p, int64(at.off))
		require.NoError(t, err)
		require.Equal(t, at.n, n)
		require.Equal(t, big[at.off:at.off+at.n], p)
	}
	n, err := ra.ReadAt(make([]byte, 20), int64(len(big)-10))
	require.Equal(t, 10, n)
	require.ErrorIs(t, err, io.EOF, "a read past the end")
}

func TestParseURI(t *testing.T) {
	b, k, err := objectstore.ParseURI("s3://bucket/plans/plan.yaml")
	require.NoError(t, err)
	require.Equal(t, "bucket", b)
	require.Equal(t, "plans/plan.yaml", k)
	for _, bad := range []string{"http://x/y", "s3:///key", "plans/plan.yaml"} {
		_, _, err := objectstore.ParseURI(bad)
		require.ErrorContains(t, err, "is not an s3://bucket/key URI", bad)
	}
	require.Equal(t, "s3://b/k", objectstore.URI("b", "k"))
}
