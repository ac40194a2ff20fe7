package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"etl2elt/internal/backfill"
	"etl2elt/internal/codec"
	"etl2elt/internal/opinput"
	"etl2elt/internal/plan"
)

// What a person types reaches the workflows as JSON: workflow inputs pasted in the
// Temporal UI, signal and update payloads from the UI or the `temporal` CLI. Every
// such type decodes strictly (internal/opinput): an unknown key is refused naming the
// nearest valid one, a wrong type names the field and the type wanted, a string or
// null where an object goes says so. Signals and updates are received as raw payloads
// and decoded here, so that a payload the SDK could not decode never leaves a handler
// waiting: it becomes a notice in the status (and a decision-log row), and the
// workflow goes on.

// operatorInputVersion guards what changed for running workflows when operator
// input became strict: refused signals recorded as decisions, `by` checked against
// the plan's people, the paused phase and Etl2eltNeedsAction search attribute, an
// abort ending the workflow as cancelled.
const operatorInputVersion = "operator-input-v2"

// ErrTypeRefused is the error type of a refused update (bad payload or not allowed).
const ErrTypeRefused = "Refused"

// refusal is a non-retryable error a person caused: the message says what to fix.
func refusal(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRefused, nil)
}

// Workflow input types decode as encoding/json always decoded them (unknown keys
// ignored), so that the histories of workflows started before operatorInputVersion
// replay as they were recorded, and keep the raw JSON: once the workflow knows it runs
// the new logic, checkInputJSON checks it strictly.

func (in *MigrationInput) UnmarshalJSON(b []byte) error {
	type plain MigrationInput
	return keepRaw(b, (*plain)(in), &in.raw)
}

func (in *BackfillInput) UnmarshalJSON(b []byte) error {
	type plain BackfillInput
	return keepRaw(b, (*plain)(in), &in.raw)
}

func (in *PipelineRunInput) UnmarshalJSON(b []byte) error {
	type plain PipelineRunInput
	return keepRaw(b, (*plain)(in), &in.raw)
}

func (in *ReconcileInput) UnmarshalJSON(b []byte) error {
	type plain ReconcileInput
	return keepRaw(b, (*plain)(in), &in.raw)
}

func keepRaw(b []byte, v any, raw *[]byte) error {
	if err := json.Unmarshal(b, v); err != nil {
		// It failed before too (the run fails at start either way): say why in one
		// line naming the field.
		fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if perr := opinput.DecodeWith(b, fresh, opinput.Options{Lenient: []string{"carry"}}); perr != nil {
			return perr
		}
		return err
	}
	*raw = bytes.Clone(b)
	return nil
}

// checkInputJSON checks a workflow input's JSON strictly into a fresh value of its
// type: unknown keys, wrong types, null. carry (continue-as-new state) is accepted
// only by a run that continues another: a person cannot hand a workflow its state.
func checkInputJSON(ctx workflow.Context, what string, raw []byte, fresh any) error {
	if raw == nil {
		return nil // built in code, not decoded from a payload
	}
	o := opinput.Options{Refused: map[string]string{"carry": "it is the state a workflow hands to its next run (continue-as-new), not an input"}}
	if workflow.GetInfo(ctx).ContinuedExecutionRunID != "" {
		o = opinput.Options{Lenient: []string{"carry"}}
	}
	//workflowcheck:ignore decoding a payload: no map order, time or I/O involved
	if err := opinput.DecodeWith(raw, fresh, o); err != nil {
		return badInputError(what+" input", err)
	}
	return nil
}

// decodeRaw decodes a signal's or update's raw payload into v. strict (runs since
// operatorInputVersion) refuses unknown keys, wrong types, a missing payload or null
// with one line each; otherwise the payload decodes as the SDK decoded it before
// (unknown keys ignored, no payload or null giving the zero value).
func decodeRaw(raw converter.RawValue, v any, strict bool) error {
	p := raw.Payload()
	enc := ""
	if p != nil {
		enc = string(p.GetMetadata()[converter.MetadataEncoding])
	}
	var data []byte
	switch enc {
	case converter.MetadataEncodingJSON:
		data = p.GetData()
	case converter.MetadataEncodingNil, "":
	default:
		return &opinput.Error{Problems: []string{fmt.Sprintf("payload encoding %q: send JSON (encoding json/plain)%s", opinput.Excerpt(enc, 40), undecryptable(p))}}
	}
	if strict {
		//workflowcheck:ignore decoding a payload: no map order, time or I/O involved
		return opinput.Decode(data, v)
	}
	if data == nil {
		return nil
	}
	//workflowcheck:ignore decoding a payload: no map order, time or I/O involved
	return json.Unmarshal(data, v)
}

// undecryptable explains a payload the codec could not decrypt.
func undecryptable(p *commonpb.Payload) string {
	if e := p.GetMetadata()[codec.MetadataDecryptError]; len(e) > 0 {
		return ": " + opinput.Excerpt(string(e), 200)
	}
	return ""
}

// rawExcerpt is a short, printable excerpt of a raw payload for notices and the
// decision log.
func rawExcerpt(raw converter.RawValue) string {
	p := raw.Payload()
	if p == nil {
		return "(no payload)"
	}
	return opinput.Excerpt(string(p.GetData()), 120)
}

// People of a plan who may act on a domain: the plan's people, and the domain's
// owners and approvers (listed even when people is empty). d nil: every domain's.
func planPeople(p *plan.Plan, d *plan.Domain) []string {
	var out []string
	for _, person := range p.People {
		out = append(out, person.ID)
	}
	domains := p.Domains
	if d != nil {
		domains = []plan.Domain{*d}
	}
	for _, dm := range domains {
		out = append(out, dm.Owners...)
		out = append(out, dm.Approvers...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkPerson refuses a `by` that is empty or not one of people.
func checkPerson(field, by string, people []string, planName string) error {
	by = strings.TrimSpace(by)
	if by == "" {
		return fmt.Errorf("%s is required: who asks for it (a person of plan %s: %s)", field, planName, strings.Join(people, ", "))
	}
	if err := opinput.Text(field, by, 1); err != nil {
		return err
	}
	if len(people) == 0 {
		return nil // the plan names nobody: anyone named is recorded as given
	}
	if !slices.Contains(people, by) {
		return fmt.Errorf("%s %q is not a person of plan %s (people: %s); add them to the plan's people to let them act", field, opinput.Excerpt(by, 40), planName, strings.Join(people, ", "))
	}
	return nil
}

// maxRefusalsRecorded bounds the decision-log rows one run writes for refused inputs
// (a script sending bad signals in a loop must not fill the log); later refusals are
// counted in the status only.
const maxRefusalsRecorded = 20

// refusedInputDecision is the decision-log row of a refused signal.
func refusedInputDecision(domain, target, signal, by string, problems error, raw string) backfill.Decision {
	return backfill.Decision{
		Kind: "input-refused", Domain: domain, Target: target, Subject: signal, By: orText(opinput.Excerpt(by, 80), "unknown"),
		Reason: opinput.Excerpt(problems.Error(), 500), Evidence: map[string]any{"signal": signal, "payload_excerpt": raw},
	}
}

// badInputError is a refused workflow input: non-retryable, every problem in one line.
func badInputError(what string, err error) error {
	var oe *opinput.Error
	if errors.As(err, &oe) {
		return badInput("%s: %s", what, oe.Error())
	}
	return badInput("%s: %v", what, err)
}

// recordAside records a decision in a workflow goroutine, so that nothing waits
// behind it (a valid signal after a refused one is acted on at once); inflight counts
// recordings not finished yet: the caller waits for 0 before it ends or continues as
// new. onErr reports a recording that failed after its retries.
func recordAside(ctx workflow.Context, inflight *int, d backfill.Decision, onErr func(workflow.Context, error)) {
	*inflight++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { *inflight-- }()
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retryPolicy})
		if err := workflow.ExecuteActivity(actx, a.RecordDecision, d).Get(ctx, nil); err != nil {
			onErr(ctx, err)
		}
	})
}

// maxNotices is how many notices a status keeps (the latest).
const maxNotices = 20

// appendNotice adds a timestamped notice (one line, bounded) to notices, keeping the
// latest maxNotices, and returns it.
func appendNotice(ctx workflow.Context, notices *[]string, format string, args ...any) string {
	msg := workflow.Now(ctx).UTC().Format(time.RFC3339) + " " + opinput.Excerpt(fmt.Sprintf(format, args...), 600)
	*notices = append(*notices, msg)
	if len(*notices) > maxNotices {
		*notices = (*notices)[len(*notices)-maxNotices:]
	}
	return msg
}

// receiveRaw takes the signal the selector found waiting on c, and the ones after it
// while apply refuses them as undecodable (apply returns false only in a run from
// before operatorInputVersion: there the SDK dropped such a payload and the handler
// waited for the next one, and its history replays only if it still does). Payloads
// are taken raw with ReceiveAsync, so no decoding can leave it waiting; the wait for a
// next one is an Await on the channel.
func receiveRaw(ctx workflow.Context, c workflow.ReceiveChannel, apply func(converter.RawValue) bool) {
	for {
		var raw converter.RawValue
		if c.ReceiveAsync(&raw) {
			if apply(raw) {
				return
			}
			continue
		}
		if err := workflow.Await(ctx, func() bool { return c.Len() > 0 }); err != nil {
			return // cancelled: the caller sees ctx.Err()
		}
	}
}
