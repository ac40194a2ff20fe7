package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// FuzzParse feeds Parse arbitrary documents (seeds: testdata/fuzz/FuzzParse, run by
// go test). Parse must not panic; it returns a plan or a *ValidationError whose
// problems all have a message; a plan it accepts has finite numbers (it hashes as
// JSON), durations within the limits, and is what the YAML library decodes too.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(withGovernance()))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a finding too: crash with the input rather than stall the fuzzer.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse took over 10 s on %q", data)) })
		defer watchdog.Stop()
		p, err := Parse("plan.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("want a *ValidationError with problems, got %v", err)
			}
			for _, pr := range ve.Problems {
				if pr.Message == "" {
					t.Fatalf("problem without a message: %+v", pr)
				}
			}
			return
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("an accepted plan does not hash: %v", err)
		}
		for _, m := range p.Models {
			if d, err := ParseDuration(m.Lookback); m.Lookback != "" && (err != nil || d > MaxLookback) {
				t.Fatalf("lookback %q accepted", m.Lookback)
			}
		}
		for _, d := range p.Domains {
			if pr := d.ParallelRun; pr != nil {
				if c, err := ParseDuration(pr.Cadence); err != nil || c < MinCadence || c > MaxCadence {
					t.Fatalf("cadence %q accepted", pr.Cadence)
				}
			}
		}
		var want Plan
		if err := yaml.Unmarshal(data, &want); err != nil {
			t.Fatalf("Parse accepted what the YAML library refuses: %v", err)
		}
		if a, b := mustJSON(t, &want), mustJSON(t, p); a != b {
			t.Fatalf("Parse and the YAML library disagree:\n%s\n%s", b, a)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
