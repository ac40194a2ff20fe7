package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, "etl2elt", c.TaskQueue)
	require.Equal(t, "warehouse", c.ControlConnection)
	require.Equal(t, "json", c.LogFormat)
	require.True(t, c.MigrateOnStart)
	require.Equal(t, 30*time.Second, c.ShutdownTimeout)
	require.Empty(t, c.RedshiftIAMRole)
	require.Equal(t, "stl", c.RedshiftLoadErrors)
	require.Equal(t, 1, c.LoadStreams)
}

func TestLoadRedshift(t *testing.T) {
	c, err := Load(env(map[string]string{
		"ETL2ELT_REDSHIFT_IAM_ROLE":    "arn:aws:iam::123456789012:role/etl2elt-load",
		"ETL2ELT_REDSHIFT_S3_REGION":   "eu-west-1",
		"ETL2ELT_REDSHIFT_LOAD_ERRORS": "sys",
	}))
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:role/etl2elt-load", c.RedshiftIAMRole)
	require.Equal(t, "eu-west-1", c.RedshiftS3Region)
	require.Equal(t, "sys", c.RedshiftLoadErrors)
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"ETL2ELT_LOG_FORMAT": "xml"}, `ETL2ELT_LOG_FORMAT="xml": want json or console`},
		{map[string]string{"ETL2ELT_S3_PATH_STYLE": "yes please"}, `ETL2ELT_S3_PATH_STYLE="yes please": want true or false`},
		{map[string]string{"ETL2ELT_SHUTDOWN_TIMEOUT": "soon"}, `ETL2ELT_SHUTDOWN_TIMEOUT="soon"`},
		{map[string]string{"ETL2ELT_CONTROL_CONNECTION": "Ware House"}, `ETL2ELT_CONTROL_CONNECTION`},
		{map[string]string{"ETL2ELT_REDSHIFT_IAM_ROLE": "arn:aws:iam::123456789012:user/bob"}, `ETL2ELT_REDSHIFT_IAM_ROLE="arn:aws:iam::123456789012:user/bob": want one IAM role ARN`},
		{map[string]string{"ETL2ELT_REDSHIFT_IAM_ROLE": "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b"}, `ETL2ELT_REDSHIFT_IAM_ROLE`},
		{map[string]string{"ETL2ELT_REDSHIFT_S3_REGION": "Europe"}, `ETL2ELT_REDSHIFT_S3_REGION="Europe"`},
		{map[string]string{"ETL2ELT_LOAD_STREAMS": "0"}, `ETL2ELT_LOAD_STREAMS="0": want 1 to 8`},
		{map[string]string{"ETL2ELT_REDSHIFT_LOAD_ERRORS": "both"}, `ETL2ELT_REDSHIFT_LOAD_ERRORS="both": want stl or sys`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Load(env(tt.env))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestConnDSN(t *testing.T) {
	c, err := Load(env(map[string]string{"ETL2ELT_CONN_LEGACY": "postgres://secret@db/legacy"}))
	require.NoError(t, err)
	dsn, err := c.ConnDSN("legacy")
	require.NoError(t, err)
	require.Equal(t, "postgres://secret@db/legacy", dsn)

	_, err = c.ConnDSN("warehouse")
	require.EqualError(t, err, `connection "warehouse" is not configured: set ETL2ELT_CONN_WAREHOUSE (or ETL2ELT_CONN_WAREHOUSE_FILE, a file holding it) in the worker's environment`)
	_, err = c.ConnDSN("x; drop")
	require.ErrorContains(t, err, "not a safe SQL identifier")

	// A DSN from a mounted secret file; the variable wins when both are set.
	secret := filepath.Join(t.TempDir(), "dsn")
	require.NoError(t, os.WriteFile(secret, []byte("postgres://u:p@rds/control\n"), 0o600))
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	c, err = Load(env(map[string]string{"ETL2ELT_CONN_WAREHOUSE_FILE": secret, "ETL2ELT_CONN_LEGACY": "postgres://l", "ETL2ELT_CONN_LEGACY_FILE": secret,
		"ETL2ELT_CONN_EMPTY_FILE": empty, "ETL2ELT_CONN_GONE_FILE": "/nonexistent/dsn"}))
	require.NoError(t, err)
	dsn, err = c.ConnDSN("warehouse")
	require.NoError(t, err)
	require.Equal(t, "postgres://u:p@rds/control", dsn)
	dsn, err = c.ConnDSN("legacy")
	require.NoError(t, err)
	require.Equal(t, "postgres://l", dsn)
	_, err = c.ConnDSN("empty")
	require.ErrorContains(t, err, "ETL2ELT_CONN_EMPTY_FILE names an empty file")
	_, err = c.ConnDSN("gone")
	require.ErrorContains(t, err, "ETL2ELT_CONN_GONE_FILE")
}

func TestConcurrencySettings(t *testing.T) {
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, 16, c.MaxConcurrentActivities, "not the SDK's 1,000")
	require.Zero(t, c.MaxConcurrentWorkflowTasks)
	c, err = Load(env(map[string]string{"ETL2ELT_MAX_CONCURRENT_ACTIVITIES": "4", "ETL2ELT_MAX_CONCURRENT_WORKFLOW_TASKS": "8"}))
	require.NoError(t, err)
	require.Equal(t, [2]int{4, 8}, [2]int{c.MaxConcurrentActivities, c.MaxConcurrentWorkflowTasks})
	for _, bad := range []string{"0", "-1", "1001", "ten"} {
		_, err := Load(env(map[string]string{"ETL2ELT_MAX_CONCURRENT_ACTIVITIES": bad}))
		require.ErrorContains(t, err, `ETL2ELT_MAX_CONCURRENT_ACTIVITIES="`+bad+`": want 1 to 1000`)
	}
}
