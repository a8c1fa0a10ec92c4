package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/flaredb/flaredb/services/kv/internal/raftstore"
	"github.com/flaredb/flaredb/services/kv/internal/transport"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// RegionID is the id of the one region every cluster starts with.
const RegionID = 1

// Node is one store of the cluster. Its fields are nil while it is down.
type Node struct {
	ID    uint64
	Dir   string
	Addr  string
	Eng   storage.Engine
	Store *raftstore.Store
	trans *transport.Transport
	srv   *grpc.Server
}

// Cluster is n stores replicating region 1 (the whole key space).
type Cluster struct {
	t        testing.TB
	Filter   *Filter
	Nodes    []*Node
	resolver transport.StaticResolver
	lg       *zap.Logger
}

// Start starts n stores, each hosting a peer of region 1.
func Start(t testing.TB, n int) *Cluster {
	c := &Cluster{t: t, Filter: &Filter{}, resolver: transport.StaticResolver{}, lg: zap.NewNop()}
	region := &metapb.Region{Id: RegionID, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}}
	for i := 1; i <= n; i++ {
		region.Peers = append(region.Peers, &metapb.Peer{Id: uint64(100 + i), StoreId: uint64(i)})
	}
	// Every address is known before the first store starts: the
	// transports read the resolver without a lock.
	liss := make([]net.Listener, n)
	for i := 1; i <= n; i++ {
		node := &Node{ID: uint64(i), Dir: t.TempDir()}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		node.Addr = lis.Addr().String()
		c.resolver[node.ID] = node.Addr
		eng, err := rocksdb.Open(node.Dir, rocksdb.NewConfig(), c.lg)
		require.NoError(t, err)
		require.NoError(t, raftstore.BootstrapRegion(eng, region))
		require.NoError(t, eng.Close())
		c.Nodes = append(c.Nodes, node)
		liss[i-1] = lis
	}
	for i, node := range c.Nodes {
		c.startNode(node, liss[i])
	}
	t.Cleanup(c.Stop)
	return c
}

// StoreConfig is the Raft configuration of every store: fast ticks so tests
// elect within a fraction of a second.
func StoreConfig() *raftstore.Config {
	cfg := raftstore.NewConfig()
	cfg.TickInterval = 20 * time.Millisecond
	cfg.LogGCThreshold = 200
	cfg.LogGCKeep = 20
	return cfg
}

func (c *Cluster) startNode(node *Node, lis net.Listener) {
	var err error
	if lis == nil {
		// Reuse the address: peers resolved it once and keep dialing it.
		for i := 0; i < 50; i++ {
			if lis, err = net.Listen("tcp", node.Addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		require.NoError(c.t, err)
	}
	node.Eng, err = rocksdb.Open(node.Dir, rocksdb.NewConfig(), c.lg)
	require.NoError(c.t, err)
	node.Store, err = raftstore.NewStore(StoreConfig(), node.ID, node.Eng, c.lg, nil)
	require.NoError(c.t, err)
	node.trans = transport.New(node.ID, c.resolver, node.Store, c.Filter.knobs(), c.lg, nil)
	node.Store.SetTransport(node.trans)
	node.srv = grpc.NewServer()
	raft_serverpb.RegisterRaftServer(node.srv, node.trans.Service())
	go func() { _ = node.srv.Serve(lis) }()
	require.NoError(c.t, node.Store.Start())
}

// StopNode stops a store abruptly (its writes were synced when acknowledged,
// so this is what a crash leaves on disk).
func (c *Cluster) StopNode(i int) {
	node := c.Nodes[i]
	if node.Store == nil {
		return
	}
	node.srv.Stop()
	node.trans.Stop()
	node.Store.Stop()
	_ = node.Eng.Close()
	node.Store, node.Eng, node.trans, node.srv = nil, nil, nil, nil
}

// RestartNode starts a stopped store on its data dir and address.
func (c *Cluster) RestartNode(i int) {
	if c.Nodes[i].Store == nil {
		c.startNode(c.Nodes[i], nil)
	}
}

// Stop stops every store.
func (c *Cluster) Stop() {
	for i := range c.Nodes {
		c.StopNode(i)
	}
}

// ErrNoLeader is returned when no store accepted a request in time.
var ErrNoLeader = errors.New("cluster: no store served the request")

// Leader returns the index of a node leading region 1, or -1.
func (c *Cluster) Leader() int {
	for i, n := range c.Nodes {
		if n.Store == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := n.Store.LeaderStatus(ctx)
		cancel()
		if err == nil && st[RegionID] {
			return i
		}
	}
	return -1
}

// Write tries stores until one leads and applies cmds. A non-nil error
// other than ErrNoLeader means the outcome is unknown.
func (c *Cluster) Write(ctx context.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, error) {
	var last error = ErrNoLeader
	for ctx.Err() == nil {
		for _, n := range c.Nodes {
			st := n.Store
			if st == nil {
				continue
			}
			res, rerr, err := st.Write(ctx, &kvrpcpb.Context{RegionId: RegionID}, cmds)
			switch {
			case err != nil:
				// Timed out or lost leadership after proposing: unknown.
				return nil, fmt.Errorf("cluster: write outcome unknown: %w", err)
			case rerr == nil:
				return res, nil
			default:
				last = rerrError(rerr)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, last
}

// Get reads key linearizably from whichever store leads.
func (c *Cluster) Get(ctx context.Context, key []byte) (value []byte, found bool, err error) {
	for ctx.Err() == nil {
		for _, n := range c.Nodes {
			st := n.Store
			if st == nil {
				continue
			}
			snap, _, rerr, err := st.Snapshot(ctx, &kvrpcpb.Context{RegionId: RegionID})
			if err != nil || rerr != nil {
				continue
			}
			v, ver, err := kvcmd.Get(snap, key)
			snap.Close()
			return v, err == nil && ver != 0, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, false, ErrNoLeader
}

func rerrError(e *errorpb.Error) error { return errors.New(e.GetMessage()) }
