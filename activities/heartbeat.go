package activities

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeater records an activity's latest progress detail on a ticker, so that a
// long statement (a lock wait, a big DELETE, a slow model) still heartbeats, and a
// retried attempt finds the progress of the one before.
type heartbeater struct {
	mu     sync.Mutex
	detail any
	done   chan struct{}
}

// startHeartbeat heartbeats detail now and then every third of the activity's
// heartbeat timeout (at most every 5 s) until stop.
func startHeartbeat(ctx context.Context, detail any) *heartbeater {
	h := &heartbeater{detail: detail, done: make(chan struct{})}
	every := 5 * time.Second
	if hb := activity.GetInfo(ctx).HeartbeatTimeout; hb > 0 && hb/3 < every {
		every = hb / 3
	}
	activity.RecordHeartbeat(ctx, detail)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				d := h.detail
				h.mu.Unlock()
				activity.RecordHeartbeat(ctx, d)
			}
		}
	}()
	return h
}

// set replaces the detail the next heartbeat sends.
func (h *heartbeater) set(detail any) {
	h.mu.Lock()
	h.detail = detail
	h.mu.Unlock()
}

// stop ends the background heartbeats.
func (h *heartbeater) stop() { close(h.done) }
