package warehouse

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ControlSchema is the schema of the audit trail.
const ControlSchema = "etl2elt"

// Connections opens one pool per connection name on first use.
type Connections struct {
	resolve func(name string) (string, error)

	mu    sync.Mutex
	pools map[string]*pgxpool.Pool
}

// NewConnections returns a registry that resolves names to DSNs with resolve.
func NewConnections(resolve func(name string) (string, error)) *Connections {
	return &Connections{resolve: resolve, pools: map[string]*pgxpool.Pool{}}
}

// Get returns the pool of a named connection, opening and pinging it the first time.
func (c *Connections) Get(ctx context.Context, name string) (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pools[name]; ok {
		return p, nil
	}
	dsn, err := c.resolve(name)
	if err != nil {
		return nil, err
	}
	p, err := Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", name, err)
	}
	c.pools[name] = p
	return p, nil
}

// Close closes every pool.
func (c *Connections) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, p := range c.pools {
		p.Close()
		delete(c.pools, name)
	}
}

// Open opens a pool and checks that the server answers. Errors never include the DSN.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: invalid connection string")
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "etl2elt"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("ping %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return p, nil
}
