package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"etl2elt/internal/plan"
)

// errBadURL is a webhook URL that does not parse (not retried).
var errBadURL = errors.New("the URL in the environment variable is not a valid URL")

// Notifier delivers alerts to webhooks: a Slack-compatible JSON body ({"text": ...}
// plus the alert's fields under "etl2elt"), retried with backoff, never longer than
// its attempts allow. The URL comes from the target's environment variable.
type Notifier struct {
	Client *http.Client
	// Getenv reads the worker's environment (os.Getenv).
	Getenv func(string) string
	// Backoff is the wait before each retry (default 1 s, 2 s: 3 attempts, each of at
	// most 5 s).
	Backoff []time.Duration
}

// Deliver sends a to target and returns it with its delivery, attempts and error set:
// log targets are "logged"; a webhook is "delivered" on a 2xx answer, else "failed"
// after the retries (an unset variable fails at once, naming it).
func (n Notifier) Deliver(ctx context.Context, target plan.AlertTarget, a Alert, payload map[string]any) Alert {
	if target.Kind != "webhook" {
		a.Delivery = DeliveryLogged
		return a
	}
	url := ""
	if n.Getenv != nil {
		url = n.Getenv(target.URLEnv)
	}
	if url == "" {
		a.Delivery, a.Error = DeliveryFailed, fmt.Sprintf("alert target %s: environment variable %s is not set on the worker", target.Name, target.URLEnv)
		return a
	}
	body, err := json.Marshal(map[string]any{"text": a.Message, "etl2elt": payload})
	if err != nil {
		a.Delivery, a.Error = DeliveryFailed, err.Error()
		return a
	}
	backoff := n.Backoff
	if backoff == nil {
		backoff = []time.Duration{time.Second, 2 * time.Second}
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	a.Attempts = 0
	for i := 0; ; i++ {
		a.Attempts++
		err = n.post(ctx, client, url, strconv.FormatInt(a.ID, 10), body)
		if err == nil {
			a.Delivery, a.Error = DeliveryDelivered, ""
			return a
		}
		if i >= len(backoff) || ctx.Err() != nil || errors.Is(err, errBadURL) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff[i]):
		}
	}
	// The error names the target, never the URL (it may carry a token).
	a.Delivery, a.Error = DeliveryFailed, fmt.Sprintf("alert target %s: %d attempts: %v", target.Name, a.Attempts, err)
	return a
}

// redactNetError says what went wrong without the URL or the address (a webhook URL
// may carry a token; its host is not for logs either).
func redactNetError(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var sys *os.SyscallError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dnsErr):
		return "name lookup failed"
	case errors.As(err, &sys):
		op := "network"
		if errors.As(err, &opErr) {
			op = opErr.Op
		}
		return op + ": " + sys.Err.Error() // an errno text (connection refused...), no address
	case errors.As(err, &opErr):
		return opErr.Op + " failed"
	}
	return "request failed"
}

func (n Notifier) post(ctx context.Context, client *http.Client, url, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errBadURL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Etl2elt-Alert-Id", id) // a receiver can drop a retried duplicate
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %s", redactNetError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
