// Package testenv gives integration tests isolated resources on the real local
// services that scripts/dev-up.sh starts: a fresh PostgreSQL database per test, a
// fresh S3 bucket, a Temporal client. When a service's variable is missing, the test
// is skipped, unless ETL2ELT_REQUIRE_INTEGRATION=1 (set by `make test` and CI), where
// it fails: CI never passes by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"google.golang.org/protobuf/types/known/durationpb"

	"etl2elt/internal/codec"
	"etl2elt/internal/objectstore"
)

// need returns the variable's value, or skips / fails the test when it is unset.
func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("ETL2ELT_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%s is not set: run the tests with `make test`, which starts the services", name)
		}
		t.Skipf("%s is not set: integration test skipped (run `make test`)", name)
	}
	return v
}

// Suffix is a short random suffix for resource names.
func Suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Database creates a fresh database, returns its DSN and drops it when the test ends.
func Database(t testing.TB, label string) string {
	t.Helper()
	admin := need(t, "ETL2ELT_TEST_PG_ADMIN_DSN")
	ctx := context.Background()
	name := fmt.Sprintf("it_%s_%s", label, Suffix())
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err, "connect to the test PostgreSQL server")
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// Pool opens a pool on dsn, closed when the test ends.
func Pool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

// Bucket creates a fresh bucket on the S3-compatible server and returns a store.
func Bucket(t testing.TB) (*objectstore.Store, string) {
	t.Helper()
	need(t, "AWS_ENDPOINT_URL_S3")
	ctx := context.Background()
	store, err := objectstore.New(ctx, objectstore.Options{PathStyle: true})
	require.NoError(t, err)
	bucket := "it-" + strings.ToLower(Suffix())
	require.NoError(t, store.EnsureBucket(ctx, bucket))
	return store, bucket
}

// Temporal dials the Temporal server named by the SDK's environment variables.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	need(t, "TEMPORAL_ADDRESS")
	opts, err := envconfig.LoadDefaultClientOptions()
	require.NoError(t, err)
	_, err = codec.Apply(&opts, os.Getenv)
	require.NoError(t, err)
	c, err := client.Dial(opts)
	require.NoError(t, err, "connect to Temporal")
	t.Cleanup(c.Close)
	return c
}

// TemporalNamespace registers a fresh namespace with the given search attributes
// (name → type, as searchattr.Names) and returns a client in it and its name: a test
// can then use the workflow ids the docs use without meeting other runs' workflows.
func TemporalNamespace(t testing.TB, searchAttributes map[string]string) (client.Client, string) {
	t.Helper()
	base := Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := "it-" + Suffix()
	_, err := base.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err, "register namespace %s", ns)
	sa := map[string]enums.IndexedValueType{}
	for name, typ := range searchAttributes {
		v, ok := enums.IndexedValueType_value["INDEXED_VALUE_TYPE_"+strings.ToUpper(typ)]
		require.True(t, ok, "search attribute type %s", typ)
		sa[name] = enums.IndexedValueType(v)
	}
	_, err = base.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: sa})
	require.NoError(t, err, "register search attributes in %s", ns)
	opts, err := envconfig.LoadDefaultClientOptions()
	require.NoError(t, err)
	opts.Namespace = ns
	c, err := client.Dial(opts)
	require.NoError(t, err, "connect to Temporal namespace %s", ns)
	t.Cleanup(c.Close)
	return c, ns
}
