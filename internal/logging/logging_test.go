package logging

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestTemporalAdapter(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	l := NewTemporal(zap.New(core)).With("WorkflowID", "wf-1")
	l.Info("chunk loaded", "rows", 42, "error", errors.New("boom"), "dangling")

	entries := logs.All()
	require.Len(t, entries, 1)
	ctx := entries[0].ContextMap()
	require.Equal(t, "wf-1", ctx["WorkflowID"])
	require.EqualValues(t, 42, ctx["rows"])
	require.Equal(t, "boom", ctx["error"])
	require.Equal(t, "(missing value)", ctx["dangling"])
}

func TestNew(t *testing.T) {
	for _, f := range []string{"json", "console"} {
		_, err := New(f, "info")
		require.NoError(t, err)
	}
	_, err := New("xml", "info")
	require.ErrorContains(t, err, `log format "xml"`)
	_, err = New("json", "loud")
	require.ErrorContains(t, err, `log level "loud"`)
}
