package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/objectstore"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "5242880", want: 5 << 20},
		{in: "5MiB", want: 5 << 20},
		{in: "5mib", want: 5 << 20},
		{in: "64 MiB", want: 64 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "512KiB", want: 512 << 10},
		{in: "100B", want: 100},
		{in: "5MB", err: true},
		{in: "1.5GiB", err: true},
		{in: "-1", err: true},
		{in: "MiB", err: true},
		{in: "99999999999GiB", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, err := parseSize(tc.in)
			if tc.err {
				require.ErrorContains(t, err, "is not a size: want bytes, or a whole number of KiB, MiB or GiB (5MiB)")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		})
	}
	require.Equal(t, "64MiB", formatSize(64<<20))
	require.Equal(t, "5GiB", formatSize(5<<30))
	require.Equal(t, "5243905B", formatSize(5<<20+1024+1))
	require.Equal(t, "1025B", formatSize(1025))
}

func TestUploadLine(t *testing.T) {
	for _, tc := range []struct {
		name        string
		file        string
		sent, total int64
		elapsed     time.Duration
		want        string
	}{
		{name: "MiB", file: "orders-2.csv.gz", sent: 12 << 20, total: 64 << 20, elapsed: 2 * time.Second,
			want: "orders-2.csv.gz  12.0/64.0 MiB   19%  6.0 MiB/s"},
		{name: "done", file: "orders-2.csv.gz", sent: 64 << 20, total: 64 << 20, elapsed: 8 * time.Second,
			want: "orders-2.csv.gz  64.0/64.0 MiB  100%  8.0 MiB/s"},
		{name: "GiB", file: "big.csv", sent: 1 << 29, total: 2 << 30, elapsed: 10 * time.Second,
			want: "big.csv  0.5/2.0 GiB   25%  51.2 MiB/s"},
		{name: "bytes", file: "tiny.csv", sent: 0, total: 100, elapsed: 0,
			want: "tiny.csv  0/100 B    0%  -- MiB/s"},
		{name: "long name", file: strings.Repeat("x", 50) + ".csv", sent: 1 << 10, total: 2 << 10, elapsed: time.Second,
			want: "…" + strings.Repeat("x", 35) + ".csv  1.0/2.0 KiB   50%  0.0 MiB/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, uploadLine(tc.file, tc.sent, tc.total, tc.elapsed))
		})
	}
}

// The progress line is redrawn in place, at most every progressEvery, and cleared.
func TestLandProgressThrottles(t *testing.T) {
	var out bytes.Buffer
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	now := t0
	p := &landProgress{w: &out, name: "orders.csv", total: 10 << 20, start: t0, now: func() time.Time { return now }}
	for _, step := range []struct {
		after time.Duration
		sent  int64
	}{{0, 0}, {100 * time.Millisecond, 1 << 20}, {200 * time.Millisecond, 2 << 20}, {250 * time.Millisecond, 3 << 20},
		{600 * time.Millisecond, 4 << 20}, {time.Second, 10 << 20}} {
		now = t0.Add(step.after)
		p.update(step.sent)
	}
	p.clear()
	p.clear()
	require.Equal(t,
		"\rorders.csv  0.0/10.0 MiB    0%  -- MiB/s\x1b[K"+
			"\rorders.csv  3.0/10.0 MiB   30%  12.0 MiB/s\x1b[K"+
			"\rorders.csv  4.0/10.0 MiB   40%  6.7 MiB/s\x1b[K"+
			"\rorders.csv  10.0/10.0 MiB  100%  10.0 MiB/s\x1b[K"+
			"\r\x1b[K", out.String(), "updates 100 ms and 200 ms after the first are skipped; one clear")
}

func TestLandedLine(t *testing.T) {
	up := objectstore.Uploaded{Key: "landing/orders/dt=2026-01-05/big.csv", Size: 12 << 20, ETag: "0123abcd-3", Parts: 3}
	require.Equal(t, "big.csv → s3://b/landing/orders/dt=2026-01-05/big.csv (12582912 bytes, ETag 0123abcd-3, 3 parts, 1.5s, 8.0 MiB/s)",
		landedLine("big.csv", "s3://b/"+up.Key, up, 1500*time.Millisecond))
	up = objectstore.Uploaded{Key: "k", Size: 5, ETag: "e"}
	require.Contains(t, landedLine("a.csv", "s3://b/k", up, 12*time.Millisecond), "(5 bytes, ETag e, 1 PUT, 12ms, ")
}

func TestLandPartSizeFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "orders-2026-01-05.csv")
	require.NoError(t, os.WriteFile(file, []byte("order_id\n1\n"), 0o600))
	args := []string{"land", "--plan", "../examples/demo/plan.yaml", "--source", "orders", "--date", "2026-01-05", "--dry-run"}

	out, _, err := execute(append(args, "--part-size", "5MiB", file)...)
	require.NoError(t, err)
	require.Equal(t, file+" → s3://etl2elt-landing/landing/orders/dt=2026-01-05/orders-2026-01-05.csv\n", out)

	for _, bad := range []struct{ size, msg string }{
		{"4MiB", `invalid argument "4MiB" for "--part-size" flag: want 5MiB to 5GiB`},
		{"6GiB", `invalid argument "6GiB" for "--part-size" flag: want 5MiB to 5GiB`},
		{"5M", `invalid argument "5M" for "--part-size" flag: "5M" is not a size`},
	} {
		_, _, err := execute(append(args, "--part-size", bad.size, file)...)
		require.ErrorContains(t, err, bad.msg)
		require.True(t, isUsage(err), "a bad --part-size is a usage error")
	}

	cmd := newLandCommand()
	require.False(t, cmd.Flags().Lookup("part-size").Hidden, "--part-size is listed by --help")
	require.Equal(t, "64MiB", cmd.Flags().Lookup("part-size").DefValue)
}

func TestIsTerminal(t *testing.T) {
	require.False(t, isTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f), "a regular file is not a terminal")
}

// TestLandRefusesWhatWouldFail: an empty file, two files of one name, a directory.
func TestLandRefusesWhatWouldFail(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	a := filepath.Join(dir, "orders.csv")
	require.NoError(t, os.WriteFile(a, []byte("order_id\n1\n"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "again"), 0o755))
	b := filepath.Join(dir, "again", "orders.csv")
	require.NoError(t, os.WriteFile(b, []byte("order_id\n2\n"), 0o600))
	args := []string{"land", "--plan", "../examples/demo/plan.yaml", "--source", "orders", "--date", "2026-01-05", "--dry-run"}
	for _, tt := range []struct {
		files []string
		want  string
	}{
		{[]string{empty}, empty + " is empty: its load would fail"},
		{[]string{a, b}, a + " and " + b + " would both land as landing/orders/dt=2026-01-05/orders.csv"},
		{[]string{dir}, dir + " is a directory: give files"},
	} {
		_, _, err := execute(append(args, tt.files...)...)
		require.ErrorContains(t, err, tt.want)
		require.True(t, isUsage(err))
	}
}
