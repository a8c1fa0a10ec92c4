package client

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/client/internal/batch"
	"github.com/flaredb/flaredb/libs/client/internal/conns"
	"github.com/flaredb/flaredb/libs/client/internal/locate"
	"github.com/flaredb/flaredb/libs/client/internal/retry"
	"github.com/flaredb/flaredb/libs/pdclient"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// Config configures a Client. Only PDEndpoints is required; zero values take
// the defaults documented on each field.
type Config struct {
	// PDEndpoints are PD's gRPC addresses (host:port).
	PDEndpoints []string
	// RequestTimeout bounds one RPC attempt; an attempt that times out is
	// retried on another peer while the caller's context allows. Default 5s.
	RequestTimeout time.Duration
	// OperationTimeout bounds a whole call, retries included, when the
	// caller's context has no deadline. Default 20s.
	OperationTimeout time.Duration
	// MaxRetries is how many times one call is retried. Default 20.
	MaxRetries int
	// BackoffBase and BackoffCap shape the exponential backoff between
	// retries. Defaults 10ms and 1s.
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// DisableBatching sends every request as its own unary RPC. By default
	// (false) the data requests that goroutines make concurrently to one
	// store share messages of one BatchCommands stream per store, which
	// saves the store most of gRPC's per-request cost; each request still
	// has its own deadline, result and retries. Admin calls are always
	// unary.
	DisableBatching bool
}

func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.OperationTimeout <= 0 {
		c.OperationTimeout = 20 * time.Second
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 20
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = retry.DefaultPolicy.Base
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = retry.DefaultPolicy.Cap
	}
	return c
}

// Option customizes New.
type Option func(*options)

type options struct {
	lg  *zap.Logger
	reg prometheus.Registerer
}

// WithLogger makes the client log to lg (default: no logging).
func WithLogger(lg *zap.Logger) Option { return func(o *options) { o.lg = lg } }

// WithRegisterer registers the client's metrics on reg (default: none).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// pd is what the client uses of libs/pdclient.
type pd interface {
	locate.PD
	GetTS(ctx context.Context) (uint64, error)
	GetAllStores(ctx context.Context) ([]*metapb.Store, error)
}

// Client is safe for concurrent use by many goroutines; share one per
// process.
type Client struct {
	cfg     Config
	lg      *zap.Logger
	metrics *metrics
	pd      pd
	closePD func() error
	cache   *locate.Cache
	pool    *conns.Pool
	// batches holds the batching KV client of each store connection; nil
	// when batching is disabled.
	batches *batch.Clients
	closed  atomic.Bool
}

// New connects to PD and returns a client. It fails if no PD endpoint
// answers within ctx; stores are dialed lazily on first use.
func New(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	if len(cfg.PDEndpoints) == 0 {
		return nil, invalidf("no PD endpoints configured")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.lg == nil {
		o.lg = zap.NewNop()
	}
	var pdOpts []pdclient.Option
	if o.reg != nil {
		pdOpts = append(pdOpts, pdclient.WithRegisterer(o.reg))
	}
	pdc, err := pdclient.New(ctx, cfg.PDEndpoints, o.lg.Named("pd"), pdOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect to PD %v: %w", cfg.PDEndpoints, err)
	}
	c := newClient(cfg, o, pdc)
	c.closePD = pdc.Close
	return c, nil
}

// newClient assembles a client around any PD implementation.
func newClient(cfg Config, o options, pdc pd) *Client {
	if o.lg == nil {
		o.lg = zap.NewNop()
	}
	m := newMetrics(o.reg)
	c := &Client{
		cfg:     cfg.withDefaults(),
		lg:      o.lg,
		metrics: m,
		pd:      pdc,
		closePD: func() error { return nil },
		cache:   locate.New(pdc, o.lg, m.observeLookup),
		pool:    conns.New(),
	}
	if !cfg.DisableBatching {
		c.batches = batch.NewClients(m.observeBatch)
	}
	return c
}

// Close releases connections to PD and stores. Calls in flight fail; later
// calls return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.batches != nil {
		c.batches.Close()
	}
	return errors.Join(c.closePD(), c.pool.Close())
}

// GetTS returns a fresh timestamp from PD's oracle: physical milliseconds
// shifted left by 18 bits plus a logical counter, strictly increasing.
func (c *Client) GetTS(ctx context.Context) (uint64, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	start := time.Now()
	defer c.observe("get_ts", start)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	ts, err := c.pd.GetTS(ctx)
	if err != nil {
		return 0, fmt.Errorf("get timestamp: %w", err)
	}
	return ts, nil
}

// ParseTS splits a timestamp from GetTS into Unix milliseconds and the
// logical counter.
func ParseTS(ts uint64) (physicalMs, logical int64) {
	return pdclient.ParseTS(ts)
}

// Stores lists the stores PD knows, with their liveness as PD sees it.
func (c *Client) Stores(ctx context.Context) ([]*metapb.Store, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	stores, err := c.pd.GetAllStores(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	return stores, nil
}

// Regions lists every region with its leader as last reported to PD, in
// key order. It also refreshes the client's region cache.
func (c *Client) Regions(ctx context.Context) ([]*pdpb.RegionInfo, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.cache.Regions(ctx)
}

// withTimeout applies OperationTimeout to contexts without a deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.OperationTimeout)
}

func (c *Client) observe(cmd string, start time.Time) {
	c.metrics.duration.WithLabelValues(cmd).Observe(time.Since(start).Seconds())
}

// errClosedIfClosed turns the pool's error after Close into ErrClosed.
func (c *Client) errClosedIfClosed(err error) error {
	if c.closed.Load() || errors.Is(err, conns.ErrClosed) {
		return ErrClosed
	}
	return err
}
