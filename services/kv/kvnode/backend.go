package kvnode

import (
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/flaredb/flaredb/services/kv/internal/bootstrap"
	"github.com/flaredb/flaredb/services/kv/internal/raftstore"
	"github.com/flaredb/flaredb/services/kv/internal/server"
	"github.com/flaredb/flaredb/services/kv/internal/standalone"
	"github.com/flaredb/flaredb/services/kv/internal/transport"
)

// backend is a storage backend as the node drives it: the handlers' Storage
// seam plus what heartbeats, /status and shutdown need.
type backend interface {
	server.Storage
	// RegionCount is the number of regions hosted on this store.
	RegionCount() int
	// LeaderCount is the number of regions this store leads.
	LeaderCount() int
	// RegionHeartbeats returns one report per region this store leads.
	RegionHeartbeats() []*pdpb.RegionHeartbeatRequest
	// HandleRegionHeartbeatResponse carries out a scheduling step from PD.
	HandleRegionHeartbeatResponse(*pdpb.RegionHeartbeatResponse)
	// Close stops the backend; the engine is closed by the node afterwards.
	Close() error
}

// prepareFirstRegion is the backend's hook into cluster bootstrap: extra state
// written atomically with the first region. The single-node backend needs
// none; the Raft backend writes the region's initial Raft state here.
var prepareFirstRegion bootstrap.PrepareFunc = raftstore.PrepareFirstRegion

// newBackend is the one place that chooses how data is kept. The Raft
// backend replaces standalone here.
func (n *Node) newBackend(engine storage.Engine, regions []*raft_serverpb.RegionLocalState) (backend, error) {
	if !useStandaloneBackend {
		return n.newRaftBackend(engine)
	}
	var region *metapb.Region
	for _, st := range regions {
		if st.GetState() == raft_serverpb.PeerState_Normal {
			region = st.GetRegion()
			break
		}
	}
	lim := kvcmd.DefaultLimits()
	lim.MaxValueSize = n.cfg.Limits.MaxValueSize
	lim.MaxBatchKeys = n.cfg.Limits.MaxBatchKeys
	st := standalone.New(engine, n.storeID, region, lim, n.lg.Named("standalone"))
	return &standaloneBackend{Storage: st, storeID: n.storeID, engine: engine}, nil
}

// useStandaloneBackend switches back to the single-node backend (no Raft),
// the fallback should the Raft backend need to be bypassed.
var useStandaloneBackend = false

// raftBackend replicates every region through its own Raft group.
type raftBackend struct {
	*raftstore.Store
	trans *transport.Transport
}

func (n *Node) newRaftBackend(engine storage.Engine) (backend, error) {
	rcfg := raftstore.NewConfig()
	rcfg.TickInterval = n.cfg.Raft.TickInterval
	rcfg.ElectionTicks = n.cfg.Raft.ElectionTicks
	rcfg.HeartbeatTicks = n.cfg.Raft.HeartbeatTicks
	rcfg.ReadMode = n.cfg.Raft.ReadMode
	rcfg.LogGCThreshold = n.cfg.Raft.LogGCThreshold
	rcfg.LogGCKeep = n.cfg.Raft.LogGCKeep
	rcfg.RegionHeartbeatInterval = n.cfg.PD.RegionHeartbeatInterval
	st, err := raftstore.NewStore(rcfg, n.storeID, engine, n.lg.Named("raftstore"), n.reg)
	if err != nil {
		return nil, err
	}
	trans := transport.New(n.storeID, transport.NewPDResolver(n.pdc), st, nil, n.lg.Named("transport"), n.reg)
	st.SetTransport(trans)
	// The store reports a region the moment it becomes its leader (and then
	// every interval), so clients can route to a new leader at once.
	st.SetPD(n.pdc)
	if err := st.Start(); err != nil {
		trans.Stop()
		return nil, err
	}
	return &raftBackend{Store: st, trans: trans}, nil
}

func (b *raftBackend) Close() error {
	b.trans.Stop()
	return b.Store.Close()
}

// standaloneBackend adapts standalone.Storage: it leads its one region.
type standaloneBackend struct {
	*standalone.Storage
	storeID uint64
	engine  storage.Engine
}

func (b *standaloneBackend) RegionCount() int { return len(b.Regions()) }

// LeaderCount: the single replica leads every region it hosts.
func (b *standaloneBackend) LeaderCount() int { return len(b.Regions()) }

func (b *standaloneBackend) RegionHeartbeats() []*pdpb.RegionHeartbeatRequest {
	var reqs []*pdpb.RegionHeartbeatRequest
	stats := b.engine.Stats()
	for _, r := range b.Regions() {
		var leader *metapb.Peer
		for _, p := range r.GetPeers() {
			if p.GetStoreId() == b.storeID {
				leader = proto.Clone(p).(*metapb.Peer)
			}
		}
		if leader == nil {
			continue
		}
		reqs = append(reqs, &pdpb.RegionHeartbeatRequest{
			Region:          r,
			Leader:          leader,
			ApproximateSize: stats.LiveDataBytes,
			ApproximateKeys: stats.EstimatedKeys,
			// A single replica never elects; term 1 keeps PD's "newer
			// term wins" comparison meaningful.
			Term: 1,
		})
	}
	return reqs
}

// HandleRegionHeartbeatResponse ignores scheduling: with one replica there
// is nothing to move.
func (b *standaloneBackend) HandleRegionHeartbeatResponse(*pdpb.RegionHeartbeatResponse) {}

func (b *standaloneBackend) Close() error { return nil }
