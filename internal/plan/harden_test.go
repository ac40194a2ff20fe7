package plan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// parseProblems parses src and returns its problems (none when it is valid).
func parseProblems(t *testing.T, src string) []Problem {
	t.Helper()
	_, err := Parse("plan.yaml", []byte(src))
	if err == nil {
		return nil
	}
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "want a *ValidationError, got %v", err)
	return ve.Problems
}

func TestDurationLimits(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // "" when the plan stays valid
	}{
		{"lookback of 200000 days", "materialized: view}", "materialized: view, lookback: 200000d}", "plan.yaml:17:78: $.models[0].lookback: 200000d is more than the limit of 366d"},
		{"lookback a day over", "materialized: view}", "materialized: view, lookback: 367d}", "$.models[0].lookback: 367d is more than the limit of 366d"},
		{"lookback in hours over", "materialized: view}", "materialized: view, lookback: 8785h}", "$.models[0].lookback: 8785h is more than the limit of 366d"},
		{"lookback at the limit", "materialized: view}", "materialized: view, lookback: 366d}", ""},
		{"lookback that overflows", "materialized: view}", "materialized: view, lookback: 99999999999999999999d}", `$.models[0].lookback: 99999999999999999999d is more than the limit of 366d`},
		{"cadence under a second", "cadence: 1h", "cadence: 500ms", "$.domains[0].parallel_run.cadence: 500ms is less than the minimum of 1s"},
		{"cadence of a second", "cadence: 1h", "cadence: 1s", ""},
		{"cadence over a month", "cadence: 1h", "cadence: 32d", "$.domains[0].parallel_run.cadence: 32d is more than the limit of 31d"},
		{"cadence at 31 days", "cadence: 1h", "cadence: 31d", ""},
		{"cadence of zero", "cadence: 1h", "cadence: 0s", "$.domains[0].parallel_run.cadence: must be more than zero"},
		{"window over a year", "window: 7d", "window: 400d", "$.domains[0].parallel_run.window: 400d is more than the limit of 366d"},
		{"freshness max lag over a year", "max_lag: 6h", "max_lag: 9000h", "$.freshness[0].max_lag: 9000h is more than the limit of 366d"},
		{"freshness warn over a year", "warn: 1h, max_lag: 6h", "warn: 100000d, max_lag: 6h", "$.freshness[0].warn: 100000d is more than the limit of 366d"},
		{"backfill over 50 years", `from: "2025-01-01", to: "2026-01-01"`, `from: "1950-01-01", to: "2026-01-01"`, "$.domains[0].backfill.to: 2026-01-01 is more than the limit of 50 years after from (1950-01-01)"},
		{"backfill of 50 years", `from: "2025-01-01", to: "2026-01-01"`, `from: "1976-01-01", to: "2026-01-01"`, ""},
		{"backfill from year one", `from: "2025-01-01"`, `from: "0001-01-01"`, "$.domains[0].backfill.from: 0001-01-01 is outside the dates a plan may name (1900-01-01 to 2999-12-31)"},
		{"backfill to year 9999", `to: "2026-01-01"`, `to: "9999-12-31"`, "$.domains[0].backfill.to: 9999-12-31 is outside the dates a plan may name"},
		{"trusted until year 0", `trusted_until: "2025-06-01"`, `trusted_until: "0000-01-01"`, "$.domains[0].backfill.trusted_until: 0000-01-01 is outside the dates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := withGovernance()
			changed := strings.Replace(src, tt.old, tt.new, 1)
			require.NotEqual(t, src, changed, "the case must change the plan")
			problems := parseProblems(t, changed)
			if tt.want == "" {
				require.Empty(t, problems)
				return
			}
			require.Len(t, problems, 1, "%v", problems)
			require.Contains(t, problems[0].String("plan.yaml"), tt.want)
			require.NotZero(t, problems[0].Line)
		})
	}
}

func TestParseDurationRefusesOverflow(t *testing.T) {
	maxDays := int64(math.MaxInt64 / int64(24*time.Hour))
	d, err := ParseDuration(fmt.Sprintf("%dd", maxDays))
	require.NoError(t, err)
	require.Equal(t, time.Duration(maxDays)*24*time.Hour, d)
	for _, in := range []string{
		fmt.Sprintf("%dd", maxDays+1), // days × 24h overflows
		"200000000d",
		"99999999999999999999d",              // more days than int64
		"2562048h",                           // beyond Go's own limit
		fmt.Sprintf("%dd23h59m59s", maxDays), // the sum overflows
		"9999999999999999999s",
	} {
		d, err := ParseDuration(in)
		require.ErrorContains(t, err, "too long a duration", in)
		require.Zero(t, d, in)
	}
	for _, in := range []string{"+1d", "1.5d", "1d+1h", ".h", "1d1d", "-0d"} {
		_, err := ParseDuration(in)
		require.ErrorContains(t, err, "is not a duration", in)
	}
}

func TestNonFiniteNumbersRefused(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"infinite tolerance", "absolute: 0.01", "absolute: .inf", "plan.yaml:37:50: $.domains[0].outputs[0].measures[0].tolerance.absolute: must be a finite number, got .inf"},
		{"negative infinite tolerance", "absolute: 0.01", "absolute: -.inf", "$.domains[0].outputs[0].measures[0].tolerance.absolute: must be a finite number, got -.inf"},
		{"NaN tolerance", "absolute: 0.01", "relative: .nan", "$.domains[0].outputs[0].measures[0].tolerance.relative: must be a finite number, got .nan"},
		{"tolerance beyond float64", "absolute: 0.01", "absolute: 1e400", "$.domains[0].outputs[0].measures[0].tolerance.absolute: must be a finite number, got 1e400"},
		{"infinity spelt as a word", "absolute: 0.01", "absolute: inf", "$.domains[0].outputs[0].measures[0].tolerance.absolute: must be a finite number, got inf"},
		{"NaN bad-row fraction", "    primary_key: [order_id]\n", "    primary_key: [order_id]\n    max_bad_fraction: .NaN\n", "$.sources[0].max_bad_fraction: must be a finite number, got .NaN"},
		{"infinite quality threshold", "fail: 0}", "fail: .Inf}", "$.quality[0].fail: must be a finite number, got .Inf"},
		{"infinite cost rate", "warehouse_hour: 3}", "warehouse_hour: 1e999}", "$.cost_rates.warehouse_hour: must be a finite number, got 1e999"},
		{"NaN budget", "budget: {backfill: 100}", "budget: {backfill: .nan}", "$.domains[0].budget.backfill: must be a finite number, got .nan"},
		{"infinite metric tolerance", "tolerance: {absolute: 0.01}\n    dashboards", "tolerance: {relative: -.inf}\n    dashboards", "$.metrics[0].tolerance.relative: must be a finite number, got -.inf"},
		{"infinite version", "version: 1\nname", "version: .inf\nname", "plan.yaml:1:10: $.version: must be a finite whole number, got .inf"},
		{"version beyond float64", "version: 1\nname", "version: 1e400\nname", "$.version: must be a finite whole number, got 1e400"},
		{"concurrency beyond int64", "concurrency: 4", "concurrency: 99999999999999999999", "$.domains[0].backfill.concurrency: is out of range, got 99999999999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := withGovernance()
			changed := strings.Replace(src, tt.old, tt.new, 1)
			require.NotEqual(t, src, changed, "the case must change the plan")
			problems := parseProblems(t, changed)
			require.Len(t, problems, 1, "%v", problems)
			require.Contains(t, problems[0].String("plan.yaml"), tt.want)
			require.NotZero(t, problems[0].Line)
		})
	}
}

func TestValidateRefusesNonFinite(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(withGovernance()))
	require.NoError(t, err)
	inf, nan := math.Inf(1), math.NaN()
	p.Domains[0].Outputs[0].Measures[0].Tolerance.Absolute = &inf
	p.CostRates.WarehouseHour = nan
	var msgs []string
	for _, pr := range Validate(p) {
		msgs = append(msgs, pr.Path+": "+pr.Message)
	}
	require.Contains(t, msgs, "$.domains[0].outputs[0].measures[0].tolerance.absolute: must be a finite number, got +Inf")
	require.Contains(t, msgs, "$.cost_rates.warehouse_hour: must be a finite number, got NaN")
}

func TestEveryTypeErrorAtOnce(t *testing.T) {
	src := withGovernance()
	for _, r := range [][2]string{
		{"version: 1\n", "version: one\n"},
		{"landing: {bucket: landing}", "landing: [landing]"},
		{"primary_key: [order_id]", "primary_key: order_id"},
		{"concurrency: 4", `concurrency: "4"`},
		{"required_approvals: 2", "required_approvals: 1.5"},
		{"variance_breach: true", "variance_breach: yes"},
		{"format: csv", "format: [csv]"},
		{"absolute: 0.01}}", "absolute: {value: 1}}}"},
		{"cost_rates: {currency: USD", "cost_rates: {colour: blue, currency: USD"}, // unknown key: reported too
		{"chunk_size: day", "chunk_size: hour"},                                    // a validation problem: reported too
	} {
		changed := strings.Replace(src, r[0], r[1], 1)
		require.NotEqual(t, src, changed, r[0])
		src = changed
	}
	var got []string
	for _, p := range parseProblems(t, src) {
		require.NotZero(t, p.Line, "every problem has a line: %+v", p)
		require.NotEmpty(t, p.Path, "every problem has a path: %+v", p)
		got = append(got, p.String("plan.yaml"))
	}
	require.Equal(t, []string{
		`plan.yaml:1:10: $.version: must be a whole number, got the string "one"`,
		`plan.yaml:7:10: $.landing: must be a mapping, got a list`,
		`plan.yaml:11:13: $.sources[0].format: must be a string, got a list`,
		`plan.yaml:15:18: $.sources[0].primary_key: must be a list, got the string "order_id"`,
		`plan.yaml:23:25: $.domains[0].required_approvals: must be a whole number, got 1.5`,
		`plan.yaml:25:66: $.domains[0].backfill.chunk_size: must be one of day, week, month, got "hour"`,
		`plan.yaml:25:85: $.domains[0].backfill.concurrency: must be a whole number, got the string "4"`,
		`plan.yaml:28:42: $.domains[0].rollback_triggers.variance_breach: must be true or false, got the string "yes"`,
		`plan.yaml:37:50: $.domains[0].outputs[0].measures[0].tolerance.absolute: must be a number, got a mapping`,
		`plan.yaml:55:14: $.cost_rates: unknown key "colour": valid keys here are base_rpus, currency, legacy_run, per_gb_transferred, per_million_rows, rpu_hour, s3_per_1000_requests, warehouse_hour`,
	}, got)
}

func TestDuplicateKeysReported(t *testing.T) {
	src := strings.Replace(withGovernance(), "name: acme\n", "name: acme\nname: other\n", 1)
	src = strings.Replace(src, "{bucket: landing}", "{bucket: landing, bucket: x}", 1)
	var got []string
	for _, p := range parseProblems(t, src) {
		got = append(got, p.String("plan.yaml"))
	}
	require.Equal(t, []string{
		`plan.yaml:3:1: $: duplicate key "name" (first at line 2)`,
		`plan.yaml:8:28: $.landing: duplicate key "bucket" (first at line 8)`,
	}, got)
}

// aliasBomb is the "billion laughs": 10 levels of 10 aliases, 10¹⁰ nodes expanded,
// under a field that takes a string.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(strings.Replace(base, "name: acme\n", "name: acme\n", 1))
	b.WriteString("people:\n  - id: x\n    name: &a0 lol\n")
	for i := 1; i <= 10; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ",")
		fmt.Fprintf(&b, "  - id: x%d\n    name: &a%d [%s]\n", i, i, refs)
	}
	b.WriteString("description: *a10\n")
	return b.String()
}

func TestHostileInputRefusedBeforeDecoding(t *testing.T) {
	deepBlock := "version: 1\n" + "description:\n" + strings.Repeat("- ", 200_000) + "x\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"alias bomb", aliasBomb(), "plan.yaml:41:44: $.people[5].name[7]: aliases expand to more than 100000 nodes (an alias bomb?)"},
		{"too many aliases", "people:\n  - &p {id: a}\n" + strings.Repeat("  - *p\n", MaxAliases+1), "plan.yaml:1003:5: more than 1000 aliases (*name)"},
		{"deep flow nesting", "description: " + strings.Repeat("[", 1_000_000), "plan.yaml:1:78: nested more than 64 levels deep"},
		{"deep flow mappings", "description: " + strings.Repeat("{a: ", 100_000), "nested more than 64 levels deep"},
		{"deep block nesting", deepBlock, "plan.yaml:3:129: nested more than 64 levels deep"},
		{"deep indentation", "description:\n" + indented(70), "nested more than 64 levels deep"},
		{"too large", base + "description: " + strings.Repeat("x", MaxPlanBytes) + "\n", "plan.yaml: $: the plan is 1049334 bytes, more than the limit of 1048576 (1 MiB)"},
		{"unknown alias", base + "description: *nowhere\n", `plan.yaml:29:14: $.description: unknown alias *nowhere`},
		{"alias to itself", base + "description: &me [*me]\n", `unknown alias *me`},
		{"second document", base + "---\nversion: 2\n", "$: a plan is one YAML document"},
		{"tag", strings.Replace(base, "version: 1", "version: !!int 1", 1), "plan.yaml:1:10: $.version: tags (!!type) are not supported in a plan"},
		{"merge key", strings.Replace(base, "landing: {bucket: landing}", "defaults: &d {bucket: landing}\nlanding: {<<: *d}", 1), "merge keys (<<) are not supported in a plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse("plan.yaml", []byte(tt.src))
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			t.Logf("refused in %v, %d MB allocated", elapsed, (after.TotalAlloc-before.TotalAlloc)>>20)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func indented(levels int) string {
	var b strings.Builder
	for i := range levels {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	return b.String()
}

func TestAliasesWithinLimitsDecode(t *testing.T) {
	src := strings.Replace(withGovernance(), "tolerance: {absolute: 0.01}}", "tolerance: &exact {absolute: 0.01}}", 1)
	src = strings.Replace(src, "    tolerance: {absolute: 0.01}\n    dashboards", "    tolerance: *exact\n    dashboards", 1)
	require.Contains(t, src, "*exact")
	p, err := Parse("plan.yaml", []byte(src))
	require.NoError(t, err)
	require.Equal(t, 0.01, *p.Metrics[0].Tolerance.Absolute)
}

// TestDecodeMatchesTheYAMLLibrary checks that Parse's own decoder fills a plan exactly
// as goccy/go-yaml's Unmarshal does on valid plans (so content hashes do not move).
func TestDecodeMatchesTheYAMLLibrary(t *testing.T) {
	demo, err := os.ReadFile("../../examples/demo/plan.yaml")
	require.NoError(t, err)
	for name, src := range map[string]string{"demo": string(demo), "base": base, "contract": withGovernance()} {
		got, err := Parse("plan.yaml", []byte(src))
		require.NoError(t, err, name)
		var want Plan
		require.NoError(t, yaml.Unmarshal([]byte(src), &want), name)
		require.Equal(t, &want, got, name)
	}
}

func TestFileReaderRefusesLargeFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plan.yaml"), make([]byte, MaxPlanBytes+1), 0o600))
	_, err := Load(context.Background(), FileReader{Dir: dir}, "plan.yaml")
	require.ErrorContains(t, err, "more than the limit of 1048576 bytes")
	require.True(t, IsMissing(err), "not retried: %v", err)
}

// TestLargestPlansStayCheap parses the largest documents the limits let through (times
// and memory are logged, not asserted).
func TestLargestPlansStayCheap(t *testing.T) {
	keys := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	for name, src := range map[string]string{
		"one flow list":           "description: [" + strings.Repeat("a,", MaxEntries-2) + "a]\n",
		"one flow mapping":        "description: {" + keys(MaxEntries-2, "k%d: 1, ") + "a: 1}\n",
		"block list":              "description:\n" + strings.Repeat("- a\n", MaxEntries-2),
		"block list of nulls":     "description:\n" + strings.Repeat("-\n", MaxEntries-2),
		"mappings of nulls":       "description:\n" + strings.Repeat("- a:\n", MaxEntries/2-2),
		"largest block mapping":   "connections:\n" + keys(MaxKeys, "  c%d: {role: x}\n"),
		"largest mapping of null": "connections:\n" + keys(MaxKeys, "  c%d:\n"),
		"big plan":                base + "description: " + strings.Repeat("x", MaxPlanBytes-len(base)-20) + "\n",
	} {
		require.LessOrEqual(t, len(src), MaxPlanBytes, name)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := Parse("plan.yaml", []byte(src))
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		t.Logf("%s: %d bytes parsed in %v, %d MB allocated", name, len(src), elapsed, (after.TotalAlloc-before.TotalAlloc)>>20)
		var ve *ValidationError
		require.True(t, err == nil || errors.As(err, &ve), "%s: %v", name, err)
	}
}
