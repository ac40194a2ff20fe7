package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"etl2elt/internal/plan"
)

// Notifier delivers alerts to webhooks: a Slack-compatible JSON body ({"text": ...}
// plus the alert's fields under "etl2elt"), retried with backoff, never longer than
// its attempts allow. The URL comes from the target's environment variable.
type Notifier struct {
	Client *http.Client
	// Getenv reads the worker's environment (os.Getenv).
	Getenv func(string) string
	// Backoff is the wait before each retry (default 1 s, 2 s, 4 s: 4 attempts).
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
		backoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	a.Attempts = 0
	for i := 0; ; i++ {
		a.Attempts++
		err = n.post(ctx, client, url, body)
		if err == nil {
			a.Delivery, a.Error = DeliveryDelivered, ""
			return a
		}
		if i >= len(backoff) || ctx.Err() != nil {
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

func (n Notifier) post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the URL: keep only its cause.
		var cause error = err
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			cause = ue.Unwrap()
		}
		return fmt.Errorf("post: %v", cause)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
