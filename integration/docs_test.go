package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"etl2elt/internal/demo"
	"etl2elt/internal/searchattr"
	"etl2elt/internal/testenv"
	"etl2elt/workflows"
)

// The docs' examples are executable: every JSON workflow input and every `temporal`
// command in README.md and docs/OPERATIONS.md sits in a fenced block annotated with
// an HTML comment saying what it is and what it must do, e.g.
//
//	<!-- example: {"start": "PipelineRunWorkflow", "id": "...", "expect": "completed"} -->
//	<!-- example: {"cli": true, "setup": "backfill-waiting", "output": "350"} -->
//
// TestDocsExamples runs each one, in document order, against the demo plan on the
// real dev server (in a namespace of its own, so that the documented workflow ids are
// free, and on the documented task queue `etl2elt`), with the stock `temporal` CLI.
var docFiles = []string{"../README.md", "../docs/OPERATIONS.md"}

type exampleSpec struct {
	// Start is a workflow type: the block is its JSON input.
	Start string `json:"start"`
	// ID is the workflow id to start it with (default: generated).
	ID string `json:"id"`
	// Expect is completed (the workflow ends without error) or runs (still running
	// after a few seconds, in Phase when given; then terminated).
	Expect string `json:"expect"`
	Phase  string `json:"phase"`
	// CLI marks a shell block of `temporal` commands: run with bash, exit 0.
	CLI bool `json:"cli"`
	// Setup names the state the test prepares first; Output must appear in the
	// command's output; After names a check of the workflow afterwards.
	Setup  string `json:"setup"`
	Output string `json:"output"`
	After  string `json:"after"`
}

type docExample struct {
	where string
	lang  string
	body  string
	spec  *exampleSpec
}

var annotation = regexp.MustCompile(`^<!-- example: (\{.*\}) -->$`)

// docExamples reads the fenced blocks of a Markdown file with their annotations.
func docExamples(t *testing.T, file string) []docExample {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var out []docExample
	var cur *docExample
	var indent string
	var pending *exampleSpec
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if trimmed == "```" {
				out = append(out, *cur)
				cur = nil
				continue
			}
			cur.body += strings.TrimPrefix(line, indent) + "\n"
			continue
		}
		if m := annotation.FindStringSubmatch(trimmed); m != nil {
			dec := json.NewDecoder(strings.NewReader(m[1]))
			dec.DisallowUnknownFields()
			var spec exampleSpec
			require.NoError(t, dec.Decode(&spec), "%s:%d: annotation", file, n)
			pending = &spec
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			cur = &docExample{where: fmt.Sprintf("%s:%d", filepath.Base(file), n), lang: strings.TrimPrefix(trimmed, "```"), spec: pending}
			pending = nil
			continue
		}
		if trimmed != "" {
			pending = nil // an annotation applies to the block right after it
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: unclosed code block", file)
	return out
}

// TestDocsExamplesAreAnnotated runs without services: no JSON input or `temporal`
// command in the docs escapes TestDocsExamples.
func TestDocsExamplesAreAnnotated(t *testing.T) {
	count := 0
	for _, file := range docFiles {
		for _, ex := range docExamples(t, file) {
			hasCLI := false
			for _, l := range strings.Split(ex.body, "\n") {
				l = strings.TrimSpace(l)
				require.False(t, strings.Contains(l, "# or: temporal"), "%s: put the temporal command in a block of its own, annotated", ex.where)
				hasCLI = hasCLI || strings.HasPrefix(l, "temporal ")
			}
			switch {
			case ex.lang == "json":
				require.NotNil(t, ex.spec, "%s: JSON example without an <!-- example: ... --> annotation", ex.where)
				require.NotEmpty(t, ex.spec.Start, "%s: a JSON example names the workflow it starts", ex.where)
				require.Contains(t, []string{"completed", "runs"}, ex.spec.Expect, ex.where)
				count++
			case hasCLI:
				require.NotNil(t, ex.spec, "%s: temporal command without an <!-- example: ... --> annotation", ex.where)
				require.True(t, ex.spec.CLI, ex.where)
				count++
			}
		}
	}
	require.GreaterOrEqual(t, count, 9, "the docs lost examples")
}

func TestDocsExamples(t *testing.T) {
	c, ns := testenv.TemporalNamespace(t, searchattr.Names)
	cli := os.Getenv("ETL2ELT_TEMPORAL_CLI")
	if cli == "" {
		cli = "temporal"
	}
	_, err := exec.LookPath(cli)
	require.NoError(t, err, "the Temporal CLI (ETL2ELT_TEMPORAL_CLI, set by `make test`)")
	h := newHarnessOn(t, c, "etl2elt")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	h.seed(0)
	require.NoError(t, demo.LinkLegacy(ctx, h.warehouse, h.legacyDSN))
	d := &docsRun{h: h, ctx: ctx, cli: cli, ns: ns, ready: map[string]bool{}}

	ran := 0
	for _, file := range docFiles {
		for _, ex := range docExamples(t, file) {
			if ex.spec == nil {
				continue
			}
			t.Logf("%s: %s", ex.where, strings.SplitN(strings.TrimSpace(ex.body), "\n", 2)[0])
			if ex.spec.Setup != "" {
				d.setup(ex.spec.Setup)
			}
			switch {
			case ex.spec.Start != "":
				d.start(ex)
			case ex.spec.CLI:
				d.runCLI(ex)
			default:
				t.Fatalf("%s: annotation says neither start nor cli", ex.where)
			}
			if ex.spec.After != "" {
				d.after(ex.spec.After, ex.where)
			}
			ran++
		}
	}
	t.Logf("%d documented examples ran as documented", ran)

	// Everything those runs left in Temporal is free of secrets.
	secrets := []string{h.warehouseDSN, h.legacyDSN, os.Getenv("AWS_SECRET_ACCESS_KEY"), "integration-test-key"}
	scanned := requireNoSecrets(t, d.ctx, c, secrets)
	logs := h.logs.String()
	require.NotEmpty(t, logs)
	requireNoSecretText(t, "the worker's log", logs, secrets)
	t.Logf("RELIABILITY secrets: %d workflow histories (payloads, failures, search attributes, memos) and the worker's log (%d lines) scanned, no DSN, key or password found", scanned, strings.Count(logs, "\n"))
}

// secretPattern matches what must never reach Temporal: connection strings and
// password / secret assignments.
var secretPattern = regexp.MustCompile(`(?i)(postgres(ql)?://|password\s*[=:]|secret_access_key|aws_secret|BEGIN [A-Z ]*PRIVATE KEY)`)

// requireNoSecrets reads every workflow of the client's namespace, its whole history
// and its search attributes and memo, and fails on a known secret value or a
// secret-looking pattern. It returns how many histories it read.
func requireNoSecrets(t *testing.T, ctx context.Context, c client.Client, secrets []string) int {
	t.Helper()
	n := 0
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			texts := []string{e.GetSearchAttributes().String(), e.GetMemo().String()}
			it := c.GetWorkflowHistory(ctx, id, e.GetExecution().GetRunId(), false, 0)
			for it.HasNext() {
				ev, err := it.Next()
				require.NoError(t, err)
				texts = append(texts, protojson.Format(ev))
			}
			for _, text := range texts {
				requireNoSecretText(t, "workflow "+id, decodeBase64Fields(text), secrets)
			}
			n++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	require.Positive(t, n)
	return n
}

// requireNoSecretText fails when text (a history, a log) holds a known secret value or
// secret-looking text; where names it in the failure.
func requireNoSecretText(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" {
			require.NotContains(t, text, sec, "%s holds a secret", where)
		}
	}
	if m := secretPattern.FindString(text); m != "" {
		require.Failf(t, "secret-looking text", "%s holds %q", where, m)
	}
}

var base64Field = regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]+)"`)

// decodeBase64Fields appends the decoded payload data of a JSON-formatted event to it.
func decodeBase64Fields(text string) string {
	var b strings.Builder
	b.WriteString(text)
	for _, m := range base64Field.FindAllStringSubmatch(text, -1) {
		if raw, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
			b.WriteString("\n")
			b.Write(raw)
		}
	}
	return b.String()
}

type docsRun struct {
	h     *harness
	ctx   context.Context
	cli   string
	ns    string
	ready map[string]bool
}

const (
	docsBackfillID  = "backfill/orders/2026-01-01..2026-01-08"
	docsWaiting     = "raw.orders@2026-01-03..2026-01-04"
	docsMigrationID = "migration/acme/finance"
)

func (d *docsRun) start(ex docExample) {
	t := d.h.t
	id := ex.spec.ID
	if id == "" {
		id = "docs-" + testenv.Suffix()
	}
	run, err := d.h.client.ExecuteWorkflow(d.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "etl2elt"}, ex.spec.Start, json.RawMessage(ex.body))
	require.NoError(t, err, ex.where)
	switch ex.spec.Expect {
	case "completed":
		ctx, cancel := context.WithTimeout(d.ctx, 4*time.Minute)
		defer cancel()
		require.NoError(t, run.Get(ctx, nil), "%s: the documented %s must complete", ex.where, ex.spec.Start)
	case "runs":
		deadline := time.Now().Add(30 * time.Second)
		for {
			desc, err := d.h.client.DescribeWorkflowExecution(d.ctx, id, "")
			require.NoError(t, err)
			if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
				require.Failf(t, "ended", "%s: the documented %s ended: %v", ex.where, ex.spec.Start, run.Get(d.ctx, nil))
			}
			phase := ""
			if v, err := d.h.client.QueryWorkflow(d.ctx, id, "", workflows.StatusQuery); err == nil {
				var st struct {
					Phase string `json:"phase"`
				}
				require.NoError(t, v.Get(&st))
				phase = st.Phase
			}
			if ex.spec.Phase == "" || phase == ex.spec.Phase {
				break
			}
			require.True(t, time.Now().Before(deadline), "%s: phase %q never reached (at %q)", ex.where, ex.spec.Phase, phase)
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // still running a moment later
		desc, err := d.h.client.DescribeWorkflowExecution(d.ctx, id, "")
		require.NoError(t, err)
		if desc.GetWorkflowExecutionInfo().GetCloseTime() != nil {
			require.Failf(t, "ended", "%s: the documented %s ended: %v", ex.where, ex.spec.Start, run.Get(d.ctx, nil))
		}
		require.NoError(t, d.h.client.TerminateWorkflow(d.ctx, id, "", "docs example checked"))
		// Its children (a migration's backfills) too, so that their ids are free.
		resp, err := d.h.client.ListWorkflow(d.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `ExecutionStatus = "Running"`})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			if child := e.GetExecution().GetWorkflowId(); strings.HasPrefix(child, id+"/") {
				_ = d.h.client.TerminateWorkflow(d.ctx, child, "", "docs example checked")
			}
		}
	default:
		t.Fatalf("%s: expect %q", ex.where, ex.spec.Expect)
	}
}

func (d *docsRun) runCLI(ex docExample) {
	t := d.h.t
	cmd := exec.CommandContext(d.ctx, "bash", "-euo", "pipefail", "-c", ex.body)
	cmd.Env = append(os.Environ(), "TEMPORAL_NAMESPACE="+d.ns, "PATH="+filepath.Dir(d.cli)+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, err, "%s: the documented command failed:\n%s\n%s", ex.where, ex.body, out.String())
	if ex.spec.Output != "" {
		require.Contains(t, out.String(), ex.spec.Output, "%s: output of the documented command", ex.where)
	}
}

func (d *docsRun) backfillStatus() workflows.BackfillStatus {
	v, err := d.h.client.QueryWorkflow(d.ctx, docsBackfillID, "", workflows.StatusQuery)
	require.NoError(d.h.t, err)
	var st workflows.BackfillStatus
	require.NoError(d.h.t, v.Get(&st))
	return st
}

// setup brings the fixture a documented command acts on into the state it needs.
func (d *docsRun) setup(name string) {
	t, h := d.h.t, d.h
	if d.ready[name] {
		return
	}
	d.ready[name] = true
	switch name {
	case "backfill-waiting":
		// The orders object of Jan 3 lost its header: its chunk waits for a person.
		require.NoError(t, h.store.Put(d.ctx, h.bucket, "landing/orders/dt=2026-01-03/orders.csv", []byte("foo,bar\n1,2\n"), ""))
		_, err := h.client.ExecuteWorkflow(d.ctx, client.StartWorkflowOptions{ID: docsBackfillID, TaskQueue: "etl2elt"}, workflows.BackfillWorkflowName,
			workflows.BackfillInput{Plan: "demo/plan.yaml", Target: "orders", From: "2026-01-01", To: "2026-01-08"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return d.backfillStatus().Phase == workflows.PhaseWaitingForOperator }, 2*time.Minute, 200*time.Millisecond)
		require.Equal(t, docsWaiting, d.backfillStatus().Waiting[0].ID)
	case "migration-awaiting-approval":
		// A rehearsal of the documented migration: three recent days, small criteria.
		h.rehearsal(d.ctx, 2)
		_, err := h.client.ExecuteWorkflow(d.ctx, client.StartWorkflowOptions{ID: docsMigrationID, TaskQueue: "etl2elt"},
			workflows.MigrationWorkflowName, workflows.MigrationInput{Plan: "demo/plan.yaml", Domain: "finance", Cadence: "1s", WatchCycles: 100})
		require.NoError(t, err)
		h.waitPhase(d.ctx, docsMigrationID, workflows.PhaseAwaitingApproval)
	case "migration-cut-over":
		_, err := h.approve(d.ctx, docsMigrationID, workflows.ApproveCutoverRequest{Approver: "lee", Comment: "second approver"})
		require.NoError(t, err)
		h.waitPhase(d.ctx, docsMigrationID, workflows.PhaseWatch)
	default:
		t.Fatalf("unknown setup %q", name)
	}
}

// after checks what a documented command must have done.
func (d *docsRun) after(name, where string) {
	t, h := d.h.t, d.h
	switch name {
	case "retry-requested":
		require.Eventually(t, func() bool {
			return strings.Contains(strings.Join(d.backfillStatus().Notices, "\n"), "retry of "+docsWaiting+" requested by dana")
		}, 30*time.Second, 200*time.Millisecond, "%s: the retry was not applied", where)
	case "rolled-back":
		st := h.waitPhase(d.ctx, docsMigrationID, workflows.PhaseParallelRun)
		require.NotEmpty(t, st.Rollbacks, where)
		require.Equal(t, "dana", st.Rollbacks[len(st.Rollbacks)-1].By, where)
	default:
		t.Fatalf("%s: unknown check %q", where, name)
	}
}
