package opinput_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/opinput"
)

type override struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

type input struct {
	Plan     string         `json:"plan"`
	Domain   string         `json:"domain"`
	Count    int            `json:"count,omitempty"`
	Ratio    float64        `json:"ratio,omitempty"`
	DryRun   bool           `json:"dry_run,omitempty"`
	Outputs  []string       `json:"outputs,omitempty"`
	Override *override      `json:"override_trusted,omitempty"`
	Carry    map[string]any `json:"carry,omitempty"`
}

func (in *input) UnmarshalJSON(b []byte) error {
	type plain input
	return opinput.Decode(b, (*plain)(in))
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []string // substrings of the problems, in order; nil: no error
	}{
		{"valid", `{"plan": "p.yaml", "domain": "finance", "count": 3, "outputs": ["a"]}`, nil},
		{"valid nested", `{"plan": "p", "override_trusted": {"by": "dana", "reason": "restatement"}}`, nil},
		{"null field is omitted", `{"plan": "p", "override_trusted": null}`, nil},
		{"carry is lenient", `{"plan": "p", "carry": {"anything": 1}}`, nil},
		{"misspelt key", `{"plan": "p", "domian": "x"}`, []string{`unknown key "domian": did you mean "domain"?`}},
		{"wrong case", `{"Plan": "p"}`, []string{`unknown key "Plan": did you mean "plan"?`}},
		{"far key lists the valid ones", `{"zzzzzzzzzz": 1}`, []string{`valid keys are count, domain, dry_run, outputs, override_trusted, plan, ratio`}},
		{"string instead of object", `"dana"`, []string{`want a JSON object with keys {plan, domain, count, ratio, dry_run, outputs, override_trusted}, got a string "dana"`}},
		{"null payload", `null`, []string{`got null`}},
		{"empty payload", ``, []string{`got an empty payload`}},
		{"list payload", `[1]`, []string{`got a list`}},
		{"number payload", `42`, []string{`got a number 42`}},
		{"wrong type", `{"plan": 42}`, []string{`plan: want a string, got a number 42`}},
		{"int gets fraction", `{"count": 1.5}`, []string{`count: want a whole number, got a number 1.5`}},
		{"bool gets string", `{"dry_run": "yes"}`, []string{`dry_run: want true or false, got a string "yes"`}},
		{"list gets string", `{"outputs": "a"}`, []string{`outputs: want a list of strings, got a string "a"`}},
		{"nested unknown key", `{"override_trusted": {"by": "d", "reasn": "x"}}`, []string{`override_trusted: unknown key "reasn": did you mean "reason"?`}},
		{"nested string", `{"override_trusted": "dana"}`, []string{`override_trusted: want a JSON object with keys {by, reason}, got a string "dana"`}},
		{"every problem at once", `{"plan": 1, "domian": "x", "count": "3"}`, []string{`count: want a whole number`, `unknown key "domian"`, `plan: want a string`}},
		{"syntax error", `{"plan": `, []string{`not valid JSON`}},
		{"huge payload", `{"plan": "` + strings.Repeat("x", opinput.MaxBytes) + `"}`, []string{`over the limit of 65536 bytes`}},
		{"huge key is cut", `{"` + strings.Repeat("k", 500) + `": 1}`, []string{`…`}},
		{"duplicate key", `{"plan": "a", "plan": "b"}`, []string{`key "plan" is given twice`}},
		{"number out of range", `{"ratio": 1e400}`, []string{`ratio: 1e400 is out of range for a number`}},
		{"nested duplicate key", `{"override_trusted": {"by": "dana", "by": "mallory"}}`, []string{`override_trusted: key "by" is given twice`}},
		{"problems are capped", `{"a1": 1, "a2": 1, "a3": 1, "a4": 1, "a5": 1, "a6": 1, "a7": 1, "a8": 1, "a9": 1, "b1": 1, "b2": 1, "b3": 1}`,
			[]string{`"a1"`, `"a2"`, `"a3"`, `"a4"`, `"a5"`, `"a6"`, `"a7"`, `"a8"`, `"a9"`, `"b1"`, `and 2 more problem(s)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in input
			// Called directly: json.Unmarshal refuses invalid JSON before it gets here,
			// a signal's raw payload does not.
			err := in.UnmarshalJSON([]byte(tt.json))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			problems := opinput.Problems(err)
			require.Len(t, problems, len(tt.want), "problems: %q", problems)
			for i, w := range tt.want {
				require.Contains(t, problems[i], w)
				require.Less(t, len(problems[i]), 400, "one short line")
				require.NotContains(t, problems[i], "\n")
			}
		})
	}
}

func TestDecodeKeepsValues(t *testing.T) {
	var in input
	require.NoError(t, json.Unmarshal([]byte(`{"plan": "p", "domain": "d", "count": 2, "ratio": 0.5, "dry_run": true, "outputs": ["x", "y"], "override_trusted": {"by": "dana", "reason": "why not"}}`), &in))
	require.Equal(t, input{Plan: "p", Domain: "d", Count: 2, Ratio: 0.5, DryRun: true, Outputs: []string{"x", "y"}, Override: &override{By: "dana", Reason: "why not"}}, in)
}

func TestText(t *testing.T) {
	tests := []struct {
		s       string
		min     int
		wantErr string
	}{
		{"", 0, ""},
		{"", 1, "reason is required"},
		{"   ", 1, "reason is required"},
		{"ok", opinput.MinReason, "too short: at least 10"},
		{"restatement of Q3", opinput.MinReason, ""},
		{strings.Repeat("é", opinput.MaxText), 1, ""},
		{strings.Repeat("é", opinput.MaxText+1), 1, "at most 2000"},
		{"full-year\u0000 restatement", 1, "control character (U+0000"},
		{"full-year\u001b restatement", 1, "control character (U+001B"},
		{"gap in EMEA\u2028numbers", 1, "control character (U+2028"},
		{"line one\nline two\ttabbed", 1, ""},
	}
	for _, tt := range tests {
		err := opinput.Text("reason", tt.s, tt.min)
		if tt.wantErr == "" {
			require.NoError(t, err, tt.s)
		} else {
			require.ErrorContains(t, err, tt.wantErr)
		}
	}
}

func TestExcerpt(t *testing.T) {
	require.Equal(t, "ab…", opinput.Excerpt("abc", 2))
	require.Equal(t, "a b", opinput.Excerpt("a\nb", 5))
	require.Equal(t, "abc", opinput.Excerpt("abc", 3))
	require.Equal(t, "a b c", opinput.Excerpt("a\u2028b\u2029c", 10), "line and paragraph separators never start a line")
}

func TestRefusedAndLenientKeys(t *testing.T) {
	var in input
	err := opinput.DecodeWith([]byte(`{"plan": "p", "carry": {"x": 1}}`), &in, opinput.Options{Refused: map[string]string{"carry": "internal state"}})
	require.ErrorContains(t, err, `key "carry" is not accepted here: internal state`)
	in = input{}
	require.NoError(t, opinput.DecodeWith([]byte(`{"plan": "p", "carry": {"x": 1}}`), &in, opinput.Options{Lenient: []string{"carry"}}))
	require.Equal(t, map[string]any{"x": 1.0}, in.Carry)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"plan": "p"}`, `"dana"`, `null`, `{"override_trusted": {"by": 1}}`, `{"outputs": [1, "a"]}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var in input
		err := json.Unmarshal([]byte(s), &in)
		if err != nil {
			for _, p := range opinput.Problems(err) {
				if p == "" {
					t.Fatalf("empty problem for %q", s)
				}
			}
		}
	})
}
