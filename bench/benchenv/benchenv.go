// Package benchenv gives the benchmark programs a throwaway database on the local
// PostgreSQL server and a description of the machine they ran on.
package benchenv

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/warehouse"
)

// CreateDatabase creates database name through the admin DSN and returns its DSN and
// a function that drops it.
func CreateDatabase(ctx context.Context, admin, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return "", nil, err
	}
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	drop := func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return dsn, drop, nil
}

// PeakRSSKB is this process's peak resident set size (VmHWM), in KiB; -1 when unknown.
func PeakRSSKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			if f := strings.Fields(line); len(f) > 1 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return -1
}

// Machine describes the CPU the benchmark ran on.
func Machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := "unknown CPU"
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
			break
		}
	}
	return fmt.Sprintf("%s, %d CPUs", model, runtime.NumCPU())
}

// Warehouse creates a database named prefix_<time>, opens a pool on it and applies
// the control schema; cleanup closes the pool and drops the database.
func Warehouse(ctx context.Context, admin, prefix string) (dsn string, pool *pgxpool.Pool, cleanup func(), err error) {
	dsn, drop, err := CreateDatabase(ctx, admin, fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()))
	if err != nil {
		return "", nil, nil, err
	}
	pool, err = pgxpool.New(ctx, dsn)
	if err != nil {
		drop()
		return "", nil, nil, err
	}
	if _, err := warehouse.Migrate(ctx, pool); err != nil {
		pool.Close()
		drop()
		return "", nil, nil, err
	}
	return dsn, pool, func() { pool.Close(); drop() }, nil
}
