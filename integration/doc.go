// Package integration holds end-to-end tests that run the real worker code
// (internal/workerapp) in-process against the real local Temporal dev server,
// PostgreSQL and S3-compatible server that scripts/dev-up.sh starts. Each test gets its
// own databases, bucket and task queue.
package integration
