package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"google.golang.org/protobuf/encoding/protojson"

	"etl2elt/internal/codec"
	"etl2elt/workflows"
)

// TestPayloadEncryption runs a pipeline with ETL2ELT_PAYLOAD_KEY set on the worker and
// the client: it works as without, and what Temporal stores is unreadable without the
// key (read back with a plain client), failures included.
func TestPayloadEncryption(t *testing.T) {
	t.Setenv("ETL2ELT_PAYLOAD_KEY", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	t.Setenv("ETL2ELT_PAYLOAD_KEY_ID", "it-key")
	h := newHarness(t)
	h.seed(0)
	run, res, err := h.run(demoInput)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusPass, res.Status, "the pipeline works with encrypted payloads")

	opts, err := envconfig.LoadDefaultClientOptions()
	require.NoError(t, err)
	plain, err := client.Dial(opts) // no codec
	require.NoError(t, err)
	defer plain.Close()
	ctx := context.Background()
	it := plain.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	payloads := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		text := protojson.Format(ev)
		require.NotContains(t, text, base64.StdEncoding.EncodeToString([]byte(`"demo/plan.yaml"`))[:12], "a plain JSON payload")
		decoded := decodeBase64Fields(text)
		require.NotContains(t, decoded, "demo/plan.yaml", "event %s is readable without the key", ev.GetEventType())
		payloads += strings.Count(text, codec.MetadataKeyID) + strings.Count(text, base64.StdEncoding.EncodeToString([]byte(codec.MetadataKeyID)))
	}
	require.Positive(t, payloads, "payloads carry the key id")

	// Signals are decoded by the workflow from raw payloads: with encryption too.
	require.NoError(t, h.store.Put(ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", []byte("foo,bar\n1,2\n"), ""))
	bf, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-codec-backfill-" + run.GetRunID(), TaskQueue: h.taskQueue}, workflows.BackfillWorkflowName,
		workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "orders", From: "2026-01-01", To: "2026-01-08"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := h.client.QueryWorkflow(ctx, bf.GetID(), "", workflows.StatusQuery)
		var st workflows.BackfillStatus
		return err == nil && v.Get(&st) == nil && st.Phase == workflows.PhaseWaitingForOperator
	}, time.Minute, 200*time.Millisecond)
	require.NoError(t, h.client.SignalWorkflow(ctx, bf.GetID(), "", workflows.SkipChunkSignal,
		workflows.ChunkSignal{ChunkID: "raw.orders@2026-01-03..2026-01-04", By: "dana", Reason: "header lost at the source; re-sent later"}))
	var bres workflows.BackfillResult
	require.NoError(t, bf.Get(ctx, &bres))
	require.Equal(t, 1, bres.Counters.Skipped)
}
