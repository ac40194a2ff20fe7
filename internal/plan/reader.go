package plan

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"
)

// ObjectReader reads an S3 object (implemented by internal/objectstore).
type ObjectReader interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, error)
}

// FileReader resolves plan references: a relative path inside Dir (never outside it:
// ".." and absolute paths are refused), or an s3://bucket/key URI read with S3.
type FileReader struct {
	Dir string
	S3  ObjectReader
	// IsNotFound tells S3's missing-object errors (so that they are not retried).
	IsNotFound func(error) bool
}

// ReadFile reads a plan file or a model's SQL.
func (r FileReader) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if strings.HasPrefix(name, "s3://") {
		if r.S3 == nil {
			return nil, fmt.Errorf("%s: no S3 client configured", name)
		}
		u, err := url.Parse(name)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%q is not an s3://bucket/key URI", name)
		}
		b, err := r.S3.ReadAll(ctx, u.Host, strings.TrimPrefix(u.Path, "/"))
		if err != nil && r.IsNotFound != nil && r.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if err == nil && len(b) > MaxPlanBytes {
			return nil, fmt.Errorf("%s: %w", name, ErrTooLarge)
		}
		return b, err
	}
	root, err := os.OpenRoot(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("plan directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s (in plan directory %s): %w", name, r.Dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPlanBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s (in plan directory %s): %w", name, r.Dir, err)
	}
	if len(b) > MaxPlanBytes {
		return nil, fmt.Errorf("%s (in plan directory %s): %w", name, r.Dir, ErrTooLarge)
	}
	return b, nil
}

// ErrTooLarge is a plan or model SQL file larger than MaxPlanBytes; IsMissing counts it
// (retrying cannot fix it).
var ErrTooLarge = fmt.Errorf("more than the limit of %d bytes", MaxPlanBytes)

// join resolves rel against the directory of ref, for local paths and s3:// URIs.
func join(ref, rel string) string {
	if rest, ok := strings.CutPrefix(ref, "s3://"); ok {
		bucket, key, _ := strings.Cut(rest, "/")
		return "s3://" + bucket + "/" + strings.TrimPrefix(path.Join(path.Dir(key), rel), "/")
	}
	return path.Join(path.Dir(ref), rel)
}
