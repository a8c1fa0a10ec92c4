package pdclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

type options struct {
	reg          prometheus.Registerer
	retryTimeout time.Duration
}

// Option configures New.
type Option func(*options)

// WithRegisterer registers client metrics (TSO batch size and latency,
// stream reconnects) on reg; nil records none.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithRetryTimeout bounds retries of a call whose ctx has no deadline
// (default 30s). A ctx deadline always wins.
func WithRetryTimeout(d time.Duration) Option { return func(o *options) { o.retryTimeout = d } }

const (
	backoffBase = 20 * time.Millisecond
	backoffMax  = 500 * time.Millisecond
)

// Client talks to PD. It is safe for concurrent use.
type Client struct {
	lg        *zap.Logger
	opts      options
	m         *metrics
	endpoints []string
	conns     []*grpc.ClientConn
	cur       atomic.Int32 // index of the endpoint in use
	clusterID atomic.Uint64

	tsoKickc chan struct{} // wakes the TSO dispatcher; capacity 1
	tsoMu    struct {
		sync.Mutex
		cur  *tsoBatch   // batch callers are joining
		full []*tsoBatch // batches that hit maxTSOBatch, waiting to be sent
		// closed is set by the dispatcher's final sweep on Close.
		closed bool
	}
	hbc       chan *pdpb.RegionHeartbeatRequest
	hbHandler atomic.Pointer[func(*pdpb.RegionHeartbeatResponse)]

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New dials endpoints (host:port), learns the cluster id from PD (retrying
// until ctx is done) and starts the TSO and heartbeat goroutines.
func New(ctx context.Context, endpoints []string, lg *zap.Logger, opts ...Option) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("pdclient: no PD endpoints given")
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	o := options{retryTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{
		lg: lg, opts: o, m: newMetrics(o.reg), endpoints: append([]string(nil), endpoints...),
		tsoKickc: make(chan struct{}, 1),
		hbc:      make(chan *pdpb.RegionHeartbeatRequest, 1024),
	}
	for _, ep := range endpoints {
		if ep == "" {
			c.closeConns()
			return nil, errors.New("pdclient: empty PD endpoint")
		}
		cc, err := grpc.NewClient(ep,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}),
		)
		if err != nil {
			c.closeConns()
			return nil, fmt.Errorf("pdclient: dial %s: %w", ep, err)
		}
		c.conns = append(c.conns, cc)
	}
	c.tsoMu.cur = newTSOBatch()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.GetMembersResponse, error) {
		return pd.GetMembers(ctx, &pdpb.GetMembersRequest{Header: c.header()})
	})
	if err != nil {
		c.cancel()
		c.closeConns()
		return nil, fmt.Errorf("pdclient: get members from %v: %w", endpoints, err)
	}
	c.clusterID.Store(resp.GetHeader().GetClusterId())
	c.wg.Add(2)
	go c.tsoLoop()
	go c.heartbeatLoop()
	lg.Info("connected to pd", zap.Strings("endpoints", endpoints), zap.Uint64("cluster-id", c.ClusterID()))
	return c, nil
}

func (c *Client) closeConns() {
	for _, cc := range c.conns {
		_ = cc.Close()
	}
}

// ClusterID is the id PD reported when the client connected.
func (c *Client) ClusterID() uint64 { return c.clusterID.Load() }

func (c *Client) header() *pdpb.RequestHeader {
	return &pdpb.RequestHeader{ClusterId: c.clusterID.Load()}
}

func (c *Client) pd() pdpb.PDClient {
	return pdpb.NewPDClient(c.conns[int(c.cur.Load())%len(c.conns)])
}

// rotate moves to the next endpoint after a failure on the current one.
func (c *Client) rotate() {
	if len(c.conns) > 1 {
		c.cur.Add(1)
	}
}

// sleep waits d or until ctx or the client is done.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

type withHeader interface{ GetHeader() *pdpb.ResponseHeader }

// call runs fn against the current PD, retrying with backoff while PD is
// unavailable, within ctx's deadline (or the retry timeout when ctx has
// none). Header errors become sentinel errors.
func call[R withHeader](ctx context.Context, c *Client, fn func(context.Context, pdpb.PDClient) (R, error)) (R, error) {
	var zero R
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.retryTimeout)
		defer cancel()
	}
	backoff := backoffBase
	for {
		if c.ctx != nil && c.ctx.Err() != nil {
			return zero, ErrClosed
		}
		resp, err := fn(ctx, c.pd())
		if err == nil {
			if herr := HeaderError(resp.GetHeader()); herr != nil {
				return resp, herr
			}
			return resp, nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return zero, convertStatus(err)
		}
		c.rotate()
		if serr := c.sleep(ctx, backoff); serr != nil {
			return zero, fmt.Errorf("%w (last error: %v)", serr, err)
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// AllocID returns a cluster-unique id.
func (c *Client) AllocID(ctx context.Context) (uint64, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.AllocIDResponse, error) {
		return pd.AllocID(ctx, &pdpb.AllocIDRequest{Header: c.header()})
	})
	return resp.GetId(), err
}

// IsBootstrapped reports whether the cluster has been bootstrapped.
func (c *Client) IsBootstrapped(ctx context.Context) (bool, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.IsBootstrappedResponse, error) {
		return pd.IsBootstrapped(ctx, &pdpb.IsBootstrappedRequest{Header: c.header()})
	})
	return resp.GetBootstrapped(), err
}

// Bootstrap records the first store and the first region (covering the
// whole key space). A second call fails with ErrAlreadyBootstrapped.
func (c *Client) Bootstrap(ctx context.Context, store *metapb.Store, region *metapb.Region) error {
	_, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.BootstrapResponse, error) {
		return pd.Bootstrap(ctx, &pdpb.BootstrapRequest{Header: c.header(), Store: store, Region: region})
	})
	return err
}

// PutStore adds or updates a store.
func (c *Client) PutStore(ctx context.Context, store *metapb.Store) error {
	_, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.PutStoreResponse, error) {
		return pd.PutStore(ctx, &pdpb.PutStoreRequest{Header: c.header(), Store: store})
	})
	return err
}

// GetStore returns a store with node_state and last_heartbeat_unix_ms
// filled in by PD; ErrStoreNotFound when unknown.
func (c *Client) GetStore(ctx context.Context, id uint64) (*metapb.Store, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.GetStoreResponse, error) {
		return pd.GetStore(ctx, &pdpb.GetStoreRequest{Header: c.header(), StoreId: id})
	})
	return resp.GetStore(), err
}

// GetAllStores returns every store, tombstones included.
func (c *Client) GetAllStores(ctx context.Context) ([]*metapb.Store, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.GetAllStoresResponse, error) {
		return pd.GetAllStores(ctx, &pdpb.GetAllStoresRequest{Header: c.header()})
	})
	return resp.GetStores(), err
}

// StoreHeartbeat reports a store's stats and keeps it Serving.
func (c *Client) StoreHeartbeat(ctx context.Context, stats *pdpb.StoreStats) error {
	_, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.StoreHeartbeatResponse, error) {
		return pd.StoreHeartbeat(ctx, &pdpb.StoreHeartbeatRequest{Header: c.header(), Stats: stats})
	})
	return err
}

// GetRegion returns the region containing key and its last reported
// leader, which may be nil.
func (c *Client) GetRegion(ctx context.Context, key []byte) (*metapb.Region, *metapb.Peer, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.GetRegionResponse, error) {
		return pd.GetRegion(ctx, &pdpb.GetRegionRequest{Header: c.header(), RegionKey: key})
	})
	if err != nil {
		return nil, nil, err
	}
	return resp.GetRegion(), resp.GetLeader(), nil
}

// GetRegionByID returns a region and its last reported leader (may be nil).
func (c *Client) GetRegionByID(ctx context.Context, id uint64) (*metapb.Region, *metapb.Peer, error) {
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.GetRegionResponse, error) {
		return pd.GetRegionByID(ctx, &pdpb.GetRegionByIDRequest{Header: c.header(), RegionId: id})
	})
	if err != nil {
		return nil, nil, err
	}
	return resp.GetRegion(), resp.GetLeader(), nil
}

// ScanRegions returns up to limit regions intersecting [start, end) in key
// order; empty end means to the end of the key space, limit <= 0 no limit.
func (c *Client) ScanRegions(ctx context.Context, start, end []byte, limit int) ([]*pdpb.RegionInfo, error) {
	if limit < 0 {
		limit = 0
	}
	resp, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.ScanRegionsResponse, error) {
		return pd.ScanRegions(ctx, &pdpb.ScanRegionsRequest{Header: c.header(), StartKey: start, EndKey: end, Limit: int32(min(limit, 1<<31-1))})
	})
	return resp.GetRegions(), err
}

// Operator queues a ChangePeer or TransferLeader for a region; PD hands it
// to the leader in a later heartbeat response.
func (c *Client) Operator(ctx context.Context, req *pdpb.OperatorRequest) error {
	_, err := call(ctx, c, func(ctx context.Context, pd pdpb.PDClient) (*pdpb.OperatorResponse, error) {
		r := &pdpb.OperatorRequest{Header: c.header(), RegionId: req.GetRegionId(), ChangePeer: req.GetChangePeer(), TransferLeader: req.GetTransferLeader()}
		return pd.Operator(ctx, r)
	})
	return err
}

// Close stops the background streams and fails pending and future calls
// with ErrClosed. It is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.closeConns()
	})
	return nil
}
