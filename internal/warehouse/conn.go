package warehouse

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/cost"
)

// ControlSchema is the schema of the audit trail.
const ControlSchema = "etl2elt"

// Connections opens one pool per connection name on first use. Opening one name
// never blocks users of another (a slow or unreachable legacy DB does not stall the
// warehouse).
type Connections struct {
	resolve func(name string) (string, error)

	mu    sync.Mutex
	slots map[string]*slot
}

type slot struct {
	mu   sync.Mutex
	pool *pgxpool.Pool
}

// NewConnections returns a registry that resolves names to DSNs with resolve.
func NewConnections(resolve func(name string) (string, error)) *Connections {
	return &Connections{resolve: resolve, slots: map[string]*slot{}}
}

// Get returns the pool of a named connection, opening and pinging it the first time.
func (c *Connections) Get(ctx context.Context, name string) (*pgxpool.Pool, error) {
	c.mu.Lock()
	s, ok := c.slots[name]
	if !ok {
		s = &slot{}
		c.slots[name] = s
	}
	c.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool != nil {
		return s.pool, nil
	}
	dsn, err := c.resolve(name)
	if err != nil {
		return nil, err
	}
	p, err := OpenNamed(ctx, name, dsn)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", name, err)
	}
	s.pool = p
	return p, nil
}

// Close closes every pool.
func (c *Connections) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, s := range c.slots {
		s.mu.Lock()
		if s.pool != nil {
			s.pool.Close()
		}
		s.mu.Unlock()
		delete(c.slots, name)
	}
}

// Open opens a pool and checks that the server answers. Errors never include the DSN.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	return OpenNamed(ctx, "", dsn)
}

// OpenNamed opens a pool whose statements the cost meter attributes to the named
// connection (warehouse time is priced; other connections' time is recorded only).
func OpenNamed(ctx context.Context, name, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: invalid connection string")
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "etl2elt"
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 15 * time.Second
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// Statements run with a cost meter in their context are measured (cost ledger).
	cfg.ConnConfig.Tracer = cost.Tracer{Conn: name}
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
