package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"etl2elt/internal/objectstore"
	"etl2elt/internal/testenv"
)

// landDay is where the tests land: the demo plan's orders source on 2026-01-05.
const landDay = "landing/orders/dt=2026-01-05/"

// landFile writes size bytes of pseudo-random data (S3 servers cannot shortcut it) as
// a .csv file.
func landFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size), byte(size >> 8), byte(size >> 16)})
	_, _ = r.Read(b)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path, b
}

// noUploadLeft checks that no multipart upload stays open under the day, and that the
// object was not made.
func noUploadLeft(t *testing.T, store *objectstore.Store, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	pending, err := store.PendingUploads(ctx, bucket, landDay)
	require.NoError(t, err)
	require.Empty(t, pending, "no multipart upload stays open: its parts would stay billed")
	objs, err := store.List(ctx, bucket, key)
	require.NoError(t, err)
	require.Empty(t, objs, "nothing was published")
}

// s3Proxy forwards requests to the S3-compatible server, unless intercept handles
// them (returns true). The Host header is kept, so that signatures still match.
func s3Proxy(t *testing.T, intercept func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(os.Getenv("AWS_ENDPOINT_URL_S3"))
	require.NoError(t, err)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}, ErrorLog: log.New(io.Discard, "", 0)} // a request the starter gave up is no news
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// uploadPart tells the number of the part an UploadPart request sends (0 for other
// requests).
func uploadPart(r *http.Request) string {
	if r.Method != http.MethodPut || r.URL.Query().Get("uploadId") == "" {
		return ""
	}
	return r.URL.Query().Get("partNumber")
}

// TestLandMultipart runs `starter land` on files larger than the part size: a round
// trip, a part the server refuses, and a Ctrl-C during a part. A failed or interrupted
// upload is aborted: no multipart upload stays open.
func TestLandMultipart(t *testing.T) {
	store, bucket := testenv.Bucket(t)
	planDir := t.TempDir()
	copyDemoPlan(t, planDir, bucket)
	starter := buildStarter(t)
	command := func(endpoint string, files ...string) *exec.Cmd {
		args := append([]string{"land", "--plan", "demo/plan.yaml", "--source", "orders", "--date", "2026-01-05", "--part-size", "5MiB"}, files...)
		cmd := exec.Command(starter, args...)
		cmd.Env = append(os.Environ(), "ETL2ELT_PLAN_DIR="+planDir, "AWS_ENDPOINT_URL_S3="+endpoint, "ETL2ELT_S3_PATH_STYLE=true")
		return cmd
	}
	ctx := context.Background()

	t.Run("round trip", func(t *testing.T) {
		big, bigBody := landFile(t, "orders-big.csv", 12_000_000)
		small, smallBody := landFile(t, "orders-small.csv", 1000)
		var out, errOut bytes.Buffer
		cmd := command(os.Getenv("AWS_ENDPOINT_URL_S3"), big, small)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		began := time.Now()
		require.NoError(t, cmd.Run(), errOut.String())
		took := time.Since(began)
		require.Empty(t, errOut.String(), "stderr is not a terminal: no progress")
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 3, out.String())
		require.Regexp(t, `^`+regexp.QuoteMeta(big+" → s3://"+bucket+"/"+landDay+"orders-big.csv")+` \(12000000 bytes, ETag [0-9a-f]+-3, 3 parts, [0-9.]+m?s, [0-9.]+ MiB/s\)$`, lines[0])
		require.Regexp(t, `^`+regexp.QuoteMeta(small+" → s3://"+bucket+"/"+landDay+"orders-small.csv")+` \(1000 bytes, ETag [0-9a-f]{32}, 1 PUT, `, lines[1])
		require.Contains(t, lines[2], "landed in S3; the next pipeline run over 2026-01-05 lands them")
		t.Logf("starter land of 12,000,000 bytes in 5 MiB parts + 1,000 bytes: %s in all (process, plan, S3); the upload itself: %s", took.Round(time.Millisecond), strings.TrimSuffix(lines[0][strings.LastIndex(lines[0], "3 parts, ")+9:], ")"))

		objs, err := store.List(ctx, bucket, landDay)
		require.NoError(t, err)
		require.Len(t, objs, 2)
		for _, o := range objs {
			require.True(t, strings.HasPrefix(o.Key, landDay), "under the day's prefix: %s", o.Key)
		}
		got, err := store.ReadAll(ctx, bucket, landDay+"orders-big.csv")
		require.NoError(t, err)
		require.True(t, bytes.Equal(bigBody, got), "the object is the file, byte for byte")
		got, err = store.ReadAll(ctx, bucket, landDay+"orders-small.csv")
		require.NoError(t, err)
		require.Equal(t, smallBody, got)
		pending, err := store.PendingUploads(ctx, bucket, landDay)
		require.NoError(t, err)
		require.Empty(t, pending)
	})

	t.Run("a part refused", func(t *testing.T) {
		path, _ := landFile(t, "orders-refused.csv", 12_000_000)
		endpoint := s3Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
			if uploadPart(r) != "3" {
				return false
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>it-refused</RequestId></Error>`))
			return true
		})
		var errOut bytes.Buffer
		cmd := command(endpoint, path)
		cmd.Stderr = &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "got %v", err)
		require.Equal(t, 1, exit.ExitCode())
		require.Regexp(t, `^error: `+regexp.QuoteMeta(path+": upload part 3 of 3: operation error S3: UploadPart, ")+`.*api error AccessDenied: Access Denied\n$`, errOut.String(), "one line naming the file, the part and the cause")
		noUploadLeft(t, store, bucket, landDay+"orders-refused.csv")
	})

	t.Run("interrupted", func(t *testing.T) {
		path, _ := landFile(t, "orders-interrupted.csv", 12_000_000)
		partTwo := make(chan struct{})
		var once sync.Once
		endpoint := s3Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
			if uploadPart(r) != "2" {
				return false
			}
			once.Do(func() { close(partTwo) })
			// Hold the part until the interrupted starter gives it up (the server sees
			// the connection close once the body is read).
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return true
		})
		var errOut bytes.Buffer
		cmd := command(endpoint, path)
		cmd.Stderr = &errOut
		require.NoError(t, cmd.Start())
		select {
		case <-partTwo:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("part 2 was never sent")
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		signalled := time.Now()
		err := cmd.Wait()
		t.Logf("the starter ended %s after SIGINT", time.Since(signalled).Round(time.Millisecond))
		require.Less(t, time.Since(signalled), 10*time.Second, "Ctrl-C is acted on at once")
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "got %v", err)
		require.Equal(t, 130, exit.ExitCode(), "interrupted: 128 + SIGINT")
		require.Regexp(t, `^error: `+regexp.QuoteMeta(path+": interrupted after ")+`[0-2]`+regexp.QuoteMeta(" of 3 parts were sent, the multipart upload was aborted: interrupt signal received")+"\n$", errOut.String())
		noUploadLeft(t, store, bucket, landDay+"orders-interrupted.csv")
	})
}

// A file that changes while it is uploaded is refused and the multipart upload
// aborted: shortened (a part reads short), or grown (checked before completing).
func TestLandFileChangedDuringUpload(t *testing.T) {
	store, bucket := testenv.Bucket(t)
	for _, tc := range []struct {
		name   string
		change func(path string) error
		err    string
	}{
		{name: "truncated", change: func(path string) error { return os.Truncate(path, 7<<20) },
			err: "read part 3 of 3: the file changed during the upload: it has 7340032 bytes, it had 12000000 when the upload began: nothing was published"},
		{name: "appended", change: func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteString("late,row\n")
			return errors.Join(err, f.Close())
		}, err: "the file changed during the upload (12000000 bytes modified "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := landFile(t, "orders-"+tc.name+".csv", 12_000_000)
			key := landDay + filepath.Base(path)
			var once sync.Once
			var changeErr error
			_, err := store.UploadFile(context.Background(), bucket, key, path, objectstore.UploadOptions{
				PartSize: 5 << 20, Parallel: 2,
				// While part 1 is being sent (and before part 3 is read).
				Progress: func(int64) { once.Do(func() { changeErr = tc.change(path) }) },
			})
			require.NoError(t, changeErr)
			require.ErrorContains(t, err, tc.err)
			noUploadLeft(t, store, bucket, key)
		})
	}
}

// A context cancelled after the first part (Ctrl-C) aborts the multipart upload.
func TestLandCancelledAfterFirstPart(t *testing.T) {
	store, bucket := testenv.Bucket(t)
	path, _ := landFile(t, "orders-cancelled.csv", 12_000_000)
	key := landDay + "orders-cancelled.csv"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := store.UploadFile(ctx, bucket, key, path, objectstore.UploadOptions{
		PartSize: 5 << 20, Parallel: 1,
		// One part at a time: a byte of part 2 sent means part 1 is stored.
		Progress: func(sent int64) {
			if sent > 5<<20 {
				cancel()
			}
		},
	})
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	require.EqualError(t, err, "interrupted after 1 of 3 parts were sent, the multipart upload was aborted: context canceled")
	noUploadLeft(t, store, bucket, key)
}
