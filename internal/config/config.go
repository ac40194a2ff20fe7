// Package config reads the worker's and the starter's settings from the environment,
// in one place. Secrets (DSNs, keys) only ever come from here, never from plans or
// workflow inputs: a plan names a connection, and ConnDSN resolves the name to the
// DSN in ETL2ELT_CONN_<NAME>.
//
// Temporal settings are the SDK's own TEMPORAL_* variables (and the optional TOML
// profile file) read by go.temporal.io/sdk/contrib/envconfig; S3 settings are the AWS
// SDK's standard variables (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3, ...).
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
)

// DefaultTaskQueue is the task queue the worker polls and the starter uses.
const DefaultTaskQueue = "etl2elt"

// Config is every setting the processes read from the environment.
type Config struct {
	// TaskQueue (ETL2ELT_TASK_QUEUE).
	TaskQueue string
	// PlanDir is the directory plan references are resolved in (ETL2ELT_PLAN_DIR).
	PlanDir string
	// ControlConnection hosts the control schema (ETL2ELT_CONTROL_CONNECTION,
	// default warehouse).
	ControlConnection string
	// MetricsAddr serves Prometheus /metrics ("" disables; ETL2ELT_METRICS_ADDR).
	MetricsAddr string
	// LogFormat is json or console (ETL2ELT_LOG_FORMAT); LogLevel debug..error.
	LogFormat string
	LogLevel  string
	// S3PathStyle addresses buckets by path, as local S3-compatible servers need
	// (ETL2ELT_S3_PATH_STYLE).
	S3PathStyle bool
	// ReportBucket receives reports (ETL2ELT_S3_BUCKET).
	ReportBucket string
	// TemporalUI is the Web UI base address printed in links (ETL2ELT_TEMPORAL_UI).
	TemporalUI string
	// ShutdownTimeout bounds graceful shutdown (ETL2ELT_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// MigrateOnStart applies control-schema migrations when the worker starts
	// (ETL2ELT_MIGRATE_ON_START, default true).
	MigrateOnStart bool
	// PIIHashKey keys the HMAC of pii: hash columns (ETL2ELT_PII_HASH_KEY). A secret:
	// never logged, never in a plan or workflow input.
	PIIHashKey []byte
	// RedshiftIAMRole is the role Redshift assumes to read the landing bucket when a
	// plan's warehouse.dialect is redshift (ETL2ELT_REDSHIFT_IAM_ROLE,
	// arn:aws:iam::<account>:role/<name>). Not a secret, but worker configuration: a
	// plan cannot choose which role the cluster assumes.
	RedshiftIAMRole string
	// RedshiftS3Region is the landing bucket's region when it is not the cluster's
	// (ETL2ELT_REDSHIFT_S3_REGION, e.g. eu-west-1; empty: the cluster's).
	RedshiftS3Region string
	// RedshiftLoadErrors is where rows rejected by Redshift's COPY are read back from:
	// stl (STL_LOAD_ERRORS, provisioned clusters; default) or sys
	// (SYS_LOAD_ERROR_DETAIL: Serverless, concurrency scaling; no raw line)
	// (ETL2ELT_REDSHIFT_LOAD_ERRORS).
	RedshiftLoadErrors string
	// LoadStreams is how many COPY streams (connections) the PostgreSQL loader splits
	// an object of 8 MB or more across (ETL2ELT_LOAD_STREAMS, 1..8, default 1: every
	// object in one transaction). With more than 1, readers may see part of an
	// object's new rows for the moment between the streams' commits
	// (docs/BENCHMARKS.md).
	LoadStreams int
	// MaxConcurrentActivities bounds the activities one worker runs at once
	// (ETL2ELT_MAX_CONCURRENT_ACTIVITIES, default 16; the SDK's own default, 1,000,
	// would open that many warehouse statements); MaxConcurrentWorkflowTasks the
	// workflow tasks (ETL2ELT_MAX_CONCURRENT_WORKFLOW_TASKS, 0: the SDK's default).
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int

	getenv func(string) string
}

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Load reads the configuration through getenv.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		TaskQueue:          or(getenv("ETL2ELT_TASK_QUEUE"), DefaultTaskQueue),
		PlanDir:            or(getenv("ETL2ELT_PLAN_DIR"), "."),
		ControlConnection:  or(getenv("ETL2ELT_CONTROL_CONNECTION"), "warehouse"),
		MetricsAddr:        getenv("ETL2ELT_METRICS_ADDR"),
		LogFormat:          or(getenv("ETL2ELT_LOG_FORMAT"), "json"),
		LogLevel:           or(getenv("ETL2ELT_LOG_LEVEL"), "info"),
		ReportBucket:       getenv("ETL2ELT_S3_BUCKET"),
		TemporalUI:         or(getenv("ETL2ELT_TEMPORAL_UI"), "http://127.0.0.1:8233"),
		ShutdownTimeout:    30 * time.Second,
		MigrateOnStart:     true,
		PIIHashKey:         []byte(getenv("ETL2ELT_PII_HASH_KEY")),
		RedshiftIAMRole:    getenv("ETL2ELT_REDSHIFT_IAM_ROLE"),
		RedshiftS3Region:   getenv("ETL2ELT_REDSHIFT_S3_REGION"),
		RedshiftLoadErrors: or(getenv("ETL2ELT_REDSHIFT_LOAD_ERRORS"), "stl"),
		getenv:             getenv,
	}
	var err error
	if c.S3PathStyle, err = boolVar(getenv, "ETL2ELT_S3_PATH_STYLE", false); err != nil {
		return Config{}, err
	}
	if c.MigrateOnStart, err = boolVar(getenv, "ETL2ELT_MIGRATE_ON_START", true); err != nil {
		return Config{}, err
	}
	if v := getenv("ETL2ELT_SHUTDOWN_TIMEOUT"); v != "" {
		if c.ShutdownTimeout, err = time.ParseDuration(v); err != nil {
			return Config{}, fmt.Errorf("ETL2ELT_SHUTDOWN_TIMEOUT=%q: %w", v, err)
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return Config{}, fmt.Errorf("ETL2ELT_LOG_FORMAT=%q: want json or console", c.LogFormat)
	}
	c.MaxConcurrentActivities = 16
	for _, n := range []struct {
		name string
		dst  *int
		max  int
	}{{"ETL2ELT_MAX_CONCURRENT_ACTIVITIES", &c.MaxConcurrentActivities, 1000}, {"ETL2ELT_MAX_CONCURRENT_WORKFLOW_TASKS", &c.MaxConcurrentWorkflowTasks, 1000}} {
		if v := getenv(n.name); v != "" {
			k, err := strconv.Atoi(v)
			if err != nil || k < 1 || k > n.max {
				return Config{}, fmt.Errorf("%s=%q: want 1 to %d", n.name, v, n.max)
			}
			*n.dst = k
		}
	}
	c.LoadStreams = 1
	if v := getenv("ETL2ELT_LOAD_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 8 {
			return Config{}, fmt.Errorf("ETL2ELT_LOAD_STREAMS=%q: want 1 to 8", v)
		}
		c.LoadStreams = n
	}
	if c.RedshiftIAMRole != "" && !dialect.ValidIAMRole(c.RedshiftIAMRole) {
		return Config{}, fmt.Errorf("ETL2ELT_REDSHIFT_IAM_ROLE=%q: want one IAM role ARN, arn:aws:iam::<12-digit account id>:role/<name>", c.RedshiftIAMRole)
	}
	if c.RedshiftS3Region != "" && !dialect.ValidRegion(c.RedshiftS3Region) {
		return Config{}, fmt.Errorf("ETL2ELT_REDSHIFT_S3_REGION=%q: want an AWS region name such as eu-west-1", c.RedshiftS3Region)
	}
	if c.RedshiftLoadErrors != "stl" && c.RedshiftLoadErrors != "sys" {
		return Config{}, fmt.Errorf("ETL2ELT_REDSHIFT_LOAD_ERRORS=%q: want stl or sys", c.RedshiftLoadErrors)
	}
	if err := ident.Validate(c.ControlConnection); err != nil {
		return Config{}, fmt.Errorf("ETL2ELT_CONTROL_CONNECTION: %w", err)
	}
	return c, nil
}

// ConnEnvVar is the variable that holds the DSN of a named connection.
func ConnEnvVar(name string) string { return "ETL2ELT_CONN_" + strings.ToUpper(name) }

// ConnDSN resolves a connection name to its DSN. The error names the variable to set
// and never contains a DSN.
func (c Config) ConnDSN(name string) (string, error) {
	if err := ident.Validate(name); err != nil {
		return "", fmt.Errorf("connection name: %w", err)
	}
	dsn := c.getenv(ConnEnvVar(name))
	if file := c.getenv(ConnEnvVar(name) + "_FILE"); dsn == "" && file != "" {
		// A DSN with a password from a mounted secret (Kubernetes, Docker secrets).
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("connection %q: %s_FILE: %w", name, ConnEnvVar(name), err)
		}
		if dsn = strings.TrimSpace(string(b)); dsn == "" {
			return "", fmt.Errorf("connection %q: %s_FILE names an empty file (%s)", name, ConnEnvVar(name), file)
		}
	}
	if dsn == "" {
		return "", fmt.Errorf("connection %q is not configured: set %s (or %s_FILE, a file holding it) in the worker's environment", name, ConnEnvVar(name), ConnEnvVar(name))
	}
	return dsn, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}
