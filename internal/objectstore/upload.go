package objectstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"etl2elt/internal/cost"
)

// S3's multipart limits.
const (
	// MinPartSize is the smallest part S3 accepts (but for the last one).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// MaxParts is the most parts an upload may have.
	MaxParts = 10000
	// MaxObjectSize is the largest object S3 stores.
	MaxObjectSize = 5 << 40
	// DefaultPartSize is UploadFile's part size (and threshold) when none is given.
	DefaultPartSize = 64 << 20
)

// abortTimeout bounds the AbortMultipartUpload made after a failure or a cancel.
const abortTimeout = 30 * time.Second

// Part is one part of a multipart upload: its number (from 1) and its byte range.
type Part struct {
	Number int32
	Offset int64
	Size   int64
}

// PlanParts splits size bytes into parts of partSize bytes, the last one shorter
// when size is not a multiple of it.
func PlanParts(size, partSize int64) ([]Part, error) {
	switch {
	case partSize < MinPartSize:
		return nil, fmt.Errorf("part size %d bytes: S3's minimum is %d (5 MiB)", partSize, MinPartSize)
	case partSize > MaxPartSize:
		return nil, fmt.Errorf("part size %d bytes: S3's maximum is %d (5 GiB)", partSize, int64(MaxPartSize))
	case size <= 0:
		return nil, fmt.Errorf("%d bytes: nothing to upload in parts", size)
	case size > MaxObjectSize:
		return nil, fmt.Errorf("%d bytes: larger than S3's largest object (5 TiB)", size)
	}
	n := (size + partSize - 1) / partSize
	if n > MaxParts {
		return nil, fmt.Errorf("%d bytes in parts of %d bytes make %d parts: S3 allows %d", size, partSize, n, MaxParts)
	}
	parts := make([]Part, n)
	for i := range parts {
		off := int64(i) * partSize
		parts[i] = Part{Number: int32(i + 1), Offset: off, Size: min(partSize, size-off)}
	}
	return parts, nil
}

// partSizeFor is partSize, raised (to whole MiB) when size would need more than
// MaxParts parts of it.
func partSizeFor(size, partSize int64) int64 {
	if (size+partSize-1)/partSize <= MaxParts {
		return partSize
	}
	need := (size + MaxParts - 1) / MaxParts
	return (need + 1<<20 - 1) >> 20 << 20
}

// UploadOptions tune UploadFile.
type UploadOptions struct {
	// PartSize is the size of each part and the threshold: a file no larger is put
	// with one PutObject (DefaultPartSize when 0; at least MinPartSize). It is raised
	// when a file would need more than MaxParts parts.
	PartSize int64
	// Parallel is how many parts are sent at once (1 when 0). Each holds one part in
	// memory; parts are read from the file one at a time.
	Parallel int
	// ContentType is the object's Content-Type, when not empty.
	ContentType string
	// Progress, when set, is called with the bytes of the file sent so far, as they
	// are sent, from the goroutines sending parts (so possibly at the same time). A
	// part sent again (an SDK retry) counts from zero again.
	Progress func(sent int64)
}

// Uploaded is the object UploadFile made.
type Uploaded struct {
	Key  string
	Size int64
	ETag string
	// Parts is the number of parts of a multipart upload, 0 for a single PutObject.
	Parts int
}

// UploadFile uploads the file at path as bucket/key: with one PutObject when it is no
// larger than the part size, otherwise with a multipart upload whose parts are read
// from the file one at a time (memory: one part per part in flight). On any failure,
// or when ctx is cancelled, the multipart upload is aborted, so that no parts stay
// behind. A file whose size or modification time changes while it is read is
// refused (and nothing is published). The errors name the step ("upload part 3 of
// 7: ..."), not the file.
func (s *Store) UploadFile(ctx context.Context, bucket, key, path string, opts UploadOptions) (Uploaded, error) {
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < MinPartSize || opts.PartSize > MaxPartSize {
		return Uploaded{}, fmt.Errorf("part size %d bytes: want %d (5 MiB) to %d (5 GiB)", opts.PartSize, MinPartSize, int64(MaxPartSize))
	}
	opts.Parallel = max(opts.Parallel, 1)
	f, err := os.Open(path)
	if err != nil {
		return Uploaded{}, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return Uploaded{}, err
	}
	if !before.Mode().IsRegular() {
		return Uploaded{}, fmt.Errorf("not a regular file")
	}
	up := &upload{store: s, bucket: bucket, key: key, path: path, f: f, before: before, opts: opts}
	if before.Size() <= opts.PartSize {
		return up.single(ctx)
	}
	return up.multipart(ctx)
}

// upload is one UploadFile call.
type upload struct {
	store       *Store
	bucket, key string
	path        string
	f           *os.File
	before      os.FileInfo
	opts        UploadOptions
	sent        atomic.Int64 // bytes sent, for Progress
	partsSent   atomic.Int64
}

// single reads the whole (small) file, checks it did not change while read, and puts
// it with one request.
func (u *upload) single(ctx context.Context) (Uploaded, error) {
	size := u.before.Size()
	buf := make([]byte, size)
	if n, err := u.f.ReadAt(buf, 0); int64(n) < size {
		return Uploaded{}, u.readError(err)
	}
	if err := u.unchanged(); err != nil {
		return Uploaded{}, err
	}
	in := &s3.PutObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key), Body: bytes.NewReader(buf), ContentLength: aws.Int64(size)}
	if u.opts.ContentType != "" {
		in.ContentType = aws.String(u.opts.ContentType)
	}
	cost.FromContext(ctx).S3(1, 0, size)
	out, err := u.store.client.PutObject(ctx, in, u.counting(size))
	if err != nil {
		if ctx.Err() != nil {
			return Uploaded{}, fmt.Errorf("interrupted during the put: %w", context.Cause(ctx))
		}
		return Uploaded{}, fmt.Errorf("put: %w", err)
	}
	return Uploaded{Key: u.key, Size: size, ETag: strings.Trim(aws.ToString(out.ETag), `"`)}, nil
}

// multipart uploads the file in parts, aborting the upload on any failure.
func (u *upload) multipart(ctx context.Context) (Uploaded, error) {
	size := u.before.Size()
	parts, err := PlanParts(size, partSizeFor(size, u.opts.PartSize))
	if err != nil {
		return Uploaded{}, err
	}
	cost.FromContext(ctx).S3(1, 0, 0)
	// A full-object CRC32: S3 checks the whole object against the file as read, and
	// readers can check it (a composite checksum of parts they cannot).
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: types.ChecksumTypeFullObject}
	if u.opts.ContentType != "" {
		in.ContentType = aws.String(u.opts.ContentType)
	}
	created, err := u.store.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return Uploaded{}, fmt.Errorf("start multipart upload: %w", err)
	}
	id := aws.ToString(created.UploadId)
	done, crc, err := u.sendParts(ctx, id, parts)
	if err == nil {
		err = u.unchanged()
	}
	var etag string
	if err == nil {
		cost.FromContext(ctx).S3(1, 0, 0)
		var out *s3.CompleteMultipartUploadOutput
		out, err = u.store.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
			ChecksumCRC32:   aws.String(crc), ChecksumType: types.ChecksumTypeFullObject,
		})
		if err != nil {
			err = fmt.Errorf("complete multipart upload: %w", err)
		} else {
			etag = strings.Trim(aws.ToString(out.ETag), `"`)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted after %d of %d parts were sent, the multipart upload was aborted: %w", u.partsSent.Load(), len(parts), context.Cause(ctx))
		}
		if aerr := u.abort(ctx, id); aerr != nil {
			return Uploaded{}, fmt.Errorf("%w; and aborting the multipart upload failed, so its parts stay until a lifecycle rule removes them or `aws s3api abort-multipart-upload --bucket %s --key %s --upload-id %s`: %v",
				err, u.bucket, u.key, id, aerr)
		}
		return Uploaded{}, err
	}
	return Uploaded{Key: u.key, Size: size, ETag: etag, Parts: len(parts)}, nil
}

// sendParts reads the parts in order, one at a time, and sends up to opts.Parallel of
// them at once. On the first failure it reads no more and waits for the parts in
// flight (cancelled) before returning. It returns the parts and the file's CRC32
// (base64, as S3 gives checksums).
func (u *upload) sendParts(ctx context.Context, id string, parts []Part) ([]types.CompletedPart, string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel(err)
		}
	}
	buffers := make(chan []byte, u.opts.Parallel)
	for range u.opts.Parallel {
		buffers <- nil // allocated on first use: a 2-part file needs no third buffer
	}
	done := make([]types.CompletedPart, len(parts))
	whole := crc32.NewIEEE()
read:
	for i, p := range parts {
		var buf []byte
		select {
		case buf = <-buffers:
		case <-ctx.Done():
			fail(context.Cause(ctx))
			break read
		}
		if buf == nil {
			buf = make([]byte, parts[0].Size)
		}
		buf = buf[:p.Size]
		if n, err := u.f.ReadAt(buf, p.Offset); int64(n) < p.Size {
			fail(fmt.Errorf("read part %d of %d: %w", p.Number, len(parts), u.readError(err)))
			break
		}
		whole.Write(buf)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { buffers <- buf[:cap(buf)] }()
			cost.FromContext(ctx).S3(1, 0, p.Size)
			out, err := u.store.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: aws.String(id),
				PartNumber: aws.Int32(p.Number), Body: bytes.NewReader(buf), ContentLength: aws.Int64(p.Size),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			}, u.counting(p.Size))
			if err != nil {
				fail(fmt.Errorf("upload part %d of %d: %w", p.Number, len(parts), err))
				return
			}
			done[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			u.partsSent.Add(1)
		}()
	}
	wg.Wait()
	return done, base64.StdEncoding.EncodeToString(whole.Sum(nil)), firstErr
}

// abort aborts the multipart upload, even when ctx is cancelled. An upload already
// gone is no error.
func (u *upload) abort(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	cost.FromContext(ctx).S3(1, 0, 0)
	_, err := u.store.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: aws.String(id)})
	var nsu *types.NoSuchUpload
	var api smithy.APIError
	if err == nil || errors.As(err, &nsu) || errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload" {
		return nil
	}
	return err
}

// unchanged refuses a file whose size or modification time is not what it was when
// the upload began, or whose path now names another file.
func (u *upload) unchanged() error {
	now, err := u.f.Stat()
	if err != nil {
		return err
	}
	if now.Size() != u.before.Size() || !now.ModTime().Equal(u.before.ModTime()) {
		return fmt.Errorf("the file changed during the upload (%d bytes modified %s, now %d bytes modified %s): nothing was published, upload it again once it is complete",
			u.before.Size(), u.before.ModTime().Format(time.RFC3339Nano), now.Size(), now.ModTime().Format(time.RFC3339Nano))
	}
	if st, err := os.Stat(u.path); err != nil || !os.SameFile(st, now) {
		return fmt.Errorf("the file was replaced or removed during the upload: nothing was published, upload it again once it is complete")
	}
	return nil
}

// readError explains a short read.
func (u *upload) readError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		now := "fewer"
		if st, err := u.f.Stat(); err == nil {
			now = strconv.FormatInt(st.Size(), 10)
		}
		return fmt.Errorf("the file changed during the upload: it has %s bytes, it had %d when the upload began: nothing was published, upload it again once it is complete",
			now, u.before.Size())
	}
	return err
}

// counting is a per-request option that reports the request body's bytes as they
// are sent (at most size: an aws-chunked body's framing is not the file's).
func (u *upload) counting(size int64) func(*s3.Options) {
	return func(o *s3.Options) {
		if u.opts.Progress == nil {
			return
		}
		o.HTTPClient = &progressClient{base: o.HTTPClient, u: u, size: size}
	}
}

// progressClient counts the bytes of one request's body (each attempt from zero).
type progressClient struct {
	base    s3.HTTPClient
	u       *upload
	size    int64
	counted atomic.Int64
}

func (c *progressClient) Do(req *http.Request) (*http.Response, error) {
	if old := c.counted.Swap(0); old != 0 {
		c.u.opts.Progress(c.u.sent.Add(-old))
	}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressBody{ReadCloser: req.Body, c: c}
	}
	return c.base.Do(req)
}

// progressBody reports what the transport reads of a request body.
type progressBody struct {
	io.ReadCloser
	c *progressClient
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		c := b.c
		for {
			old := c.counted.Load()
			add := min(int64(n), c.size-old)
			if add <= 0 {
				break
			}
			if c.counted.CompareAndSwap(old, old+add) {
				c.u.opts.Progress(c.u.sent.Add(add))
				break
			}
		}
	}
	return n, err
}

// PendingUpload is a multipart upload begun and neither completed nor aborted: its
// parts are stored (and billed) until it is.
type PendingUpload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}

// PendingUploads lists the multipart uploads under prefix that are neither completed
// nor aborted.
func (s *Store) PendingUploads(ctx context.Context, bucket, prefix string) ([]PendingUpload, error) {
	var out []PendingUpload
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		cost.FromContext(ctx).S3(1, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, up := range page.Uploads {
			out = append(out, PendingUpload{Key: aws.ToString(up.Key), UploadID: aws.ToString(up.UploadId), Initiated: aws.ToTime(up.Initiated)})
		}
	}
	return out, nil
}
