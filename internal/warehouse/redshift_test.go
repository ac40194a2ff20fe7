package warehouse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsRedshift(t *testing.T) {
	// version() on Redshift, as its documentation shows it.
	require.True(t, IsRedshift("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.12103"))
	require.False(t, IsRedshift("PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"))
	err := &ControlOnRedshiftError{}
	require.True(t, err.BadInput())
	require.Contains(t, err.Error(), "point it at a PostgreSQL database")
}
