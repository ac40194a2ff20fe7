// Package objectstore is the S3 landing zone: listing a day's objects, streaming an
// object, putting reports and plans. It speaks to Amazon S3 or any S3-compatible
// server through the AWS SDK's standard configuration (AWS_REGION, credentials,
// AWS_ENDPOINT_URL_S3); nothing S3-specific is emulated.
package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"etl2elt/internal/cost"
)

// ErrNotFound is returned (wrapped, with the bucket and key) for a missing object or
// bucket.
var ErrNotFound = errors.New("not found")

// Object is one listed object.
type Object struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
}

// Store reads and writes objects.
type Store struct {
	client *s3.Client
}

// Options tune the client beyond the AWS SDK's standard configuration.
type Options struct {
	// PathStyle addresses buckets as http://host/bucket, as local servers need.
	PathStyle bool
}

// New loads the AWS SDK's default configuration and returns a Store.
func New(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.PathStyle
	})
	return &Store{client: client}, nil
}

// EnsureBucket creates bucket if it does not exist.
func (s *Store) EnsureBucket(ctx context.Context, bucket string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("head bucket %s: %w", bucket, err)
	}
	_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// List returns every object under prefix, in key order.
func (s *Store) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		cost.FromContext(ctx).S3(1, 0, 0)
		if err != nil {
			if isNotFound(err) {
				return nil, fmt.Errorf("list s3://%s/%s: bucket %w", bucket, prefix, ErrNotFound)
			}
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
				LastModified: aws.ToTime(o.LastModified),
			})
		}
	}
	return out, nil
}

// Open streams an object. The caller closes the body.
func (s *Store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	m := cost.FromContext(ctx)
	m.S3(1, 0, 0)
	if err != nil {
		if isNotFound(err) {
			return nil, Object{}, fmt.Errorf("get s3://%s/%s: %w", bucket, key, ErrNotFound)
		}
		return nil, Object{}, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	var body io.ReadCloser = out.Body
	if m != nil {
		body = &countingBody{ReadCloser: out.Body, m: m}
	}
	return body, Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         strings.Trim(aws.ToString(out.ETag), `"`),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// ReadPrefix reads at most n bytes from the start of an object (one ranged GET): a
// CSV header without downloading the object.
func (s *Store) ReadPrefix(ctx context.Context, bucket, key string, n int64) ([]byte, error) {
	return s.readRange(ctx, bucket, key, 0, n)
}

// ReaderAt reads an object of the given size through ranged GETs: a Parquet footer
// without downloading the file. The first read fetches the object's last tail bytes
// (or all of it when smaller) at once and later reads inside them are served from
// memory: opening a footer costs one or two GETs.
func (s *Store) ReaderAt(ctx context.Context, bucket, key string, size, tail int64) io.ReaderAt {
	return &rangeReader{ctx: ctx, s: s, bucket: bucket, key: key, size: size, tail: tail}
}

type rangeReader struct {
	ctx         context.Context
	s           *Store
	bucket, key string
	size, tail  int64
	buf         []byte
	bufAt       int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= r.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	if r.buf == nil {
		r.bufAt = max(0, r.size-r.tail)
		b, err := r.s.readRange(r.ctx, r.bucket, r.key, r.bufAt, r.size-r.bufAt)
		if err != nil {
			return 0, err
		}
		r.buf = b
	}
	if off >= r.bufAt && end <= r.bufAt+int64(len(r.buf)) {
		n := copy(p, r.buf[off-r.bufAt:end-r.bufAt])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	b, err := r.s.readRange(r.ctx, r.bucket, r.key, off, end-off)
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readRange reads n bytes of an object from offset off (one ranged GET).
func (s *Store) readRange(ctx context.Context, bucket, key string, off, n int64) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))})
	m := cost.FromContext(ctx)
	m.S3(1, 0, 0)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, ErrNotFound)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, n))
	if m != nil {
		m.S3(0, int64(len(b)), 0)
	}
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// ReadAll reads a whole (small) object.
func (s *Store) ReadAll(ctx context.Context, bucket, key string) ([]byte, error) {
	body, _, err := s.Open(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// Put writes data as an object.
func (s *Store) Put(ctx context.Context, bucket, key string, data []byte, contentType string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	cost.FromContext(ctx).S3(1, 0, int64(len(data)))
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// PutFile uploads a file as an object, streaming it (a seekable body lets the SDK
// sign the payload without holding it in memory).
func (s *Store) PutFile(ctx context.Context, bucket, key string, f io.ReadSeeker, contentType string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f}
	if m := cost.FromContext(ctx); m != nil {
		var size int64
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
			if end, err := f.Seek(0, io.SeekEnd); err == nil {
				size = end - pos
			}
			if _, err := f.Seek(pos, io.SeekStart); err != nil {
				return fmt.Errorf("put s3://%s/%s: rewind: %w", bucket, key, err)
			}
		}
		m.S3(1, 0, size)
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes an object (no error when it is already gone).
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	cost.FromContext(ctx).S3(1, 0, 0)
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// ParseURI splits s3://bucket/key.
func ParseURI(uri string) (bucket, key string, err error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URI", uri)
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
}

// URI formats s3://bucket/key.
func URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nsb) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return true
		}
	}
	return false
}

// countingBody adds the bytes read from an object to the cost meter.
type countingBody struct {
	io.ReadCloser
	m *cost.Meter
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.m.S3(0, int64(n), 0)
	return n, err
}
