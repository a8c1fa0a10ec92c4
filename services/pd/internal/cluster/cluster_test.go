package cluster

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/id"
	"github.com/flaredb/flaredb/services/pd/internal/metastore"
)

type env struct {
	c     *Cluster
	clock *atomic.Int64 // unix ms
	close func()
}

func open(t *testing.T, dir string, clock *atomic.Int64) *env {
	t.Helper()
	eng, err := rocksdb.Open(dir, rocksdb.NewConfig(), zap.NewNop())
	require.NoError(t, err)
	st := metastore.New(eng)
	ids, err := id.New(st, 0)
	require.NoError(t, err)
	c, err := New(Config{
		MaxReplicas: 3, MaxStoreDownTime: 30 * time.Second, StepTimeout: time.Minute,
		Now: func() time.Time { return time.UnixMilli(clock.Load()) },
	}, st, ids, zap.NewNop())
	require.NoError(t, err)
	return &env{c: c, clock: clock, close: func() { require.NoError(t, eng.Close()) }}
}

func newClock() *atomic.Int64 {
	c := &atomic.Int64{}
	c.Store(1_700_000_000_000)
	return c
}

func epoch(confVer, version uint64) *metapb.RegionEpoch {
	return &metapb.RegionEpoch{ConfVer: confVer, Version: version}
}

func bootstrap(t *testing.T, c *Cluster) {
	t.Helper()
	require.NoError(t, c.Bootstrap(&metapb.Store{Id: 1, Address: "s1:1"},
		&metapb.Region{Id: 2, RegionEpoch: epoch(1, 1), Peers: []*metapb.Peer{{Id: 3, StoreId: 1}}}))
}

func heartbeat(r *metapb.Region) *pdpb.RegionHeartbeatRequest {
	return &pdpb.RegionHeartbeatRequest{Region: r, Leader: r.GetPeers()[0]}
}

func TestNotBootstrapped(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	require.False(t, e.c.IsBootstrapped())
	_, _, err := e.c.GetRegion([]byte("a"))
	require.ErrorIs(t, err, ErrNotBootstrapped)
	require.ErrorIs(t, e.c.PutStore(&metapb.Store{Id: 5, Address: "x:1"}), ErrNotBootstrapped)
}

func TestBootstrapValidation(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	store := &metapb.Store{Id: 1, Address: "s1:1"}
	peers := []*metapb.Peer{{Id: 3, StoreId: 1}}
	tests := []struct {
		name   string
		store  *metapb.Store
		region *metapb.Region
	}{
		{"nil store", nil, &metapb.Region{Id: 2, Peers: peers}},
		{"store without address", &metapb.Store{Id: 1}, &metapb.Region{Id: 2, Peers: peers}},
		{"nil region", store, nil},
		{"region not whole key space", store, &metapb.Region{Id: 2, StartKey: []byte("a"), Peers: peers}},
		{"no peer on the store", store, &metapb.Region{Id: 2, Peers: []*metapb.Peer{{Id: 3, StoreId: 9}}}},
		{"peer id zero", store, &metapb.Region{Id: 2, Peers: []*metapb.Peer{{StoreId: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, e.c.Bootstrap(tt.store, tt.region), ErrInvalidArgument)
		})
	}
	bootstrap(t, e.c)
	require.ErrorIs(t, e.c.Bootstrap(store, &metapb.Region{Id: 2, Peers: peers}), ErrAlreadyBootstrapped)
}

func TestStaleRegionHeartbeatRejected(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	bootstrap(t, e.c)
	peers := []*metapb.Peer{{Id: 3, StoreId: 1}}
	_, err := e.c.RegionHeartbeat(heartbeat(&metapb.Region{Id: 2, RegionEpoch: epoch(5, 5), Peers: peers}))
	require.NoError(t, err)

	tests := []struct {
		name  string
		epoch *metapb.RegionEpoch
	}{
		{"lower version", epoch(5, 4)},
		{"lower conf_ver", epoch(4, 5)},
		{"both lower", epoch(1, 1)},
		{"lower conf_ver, higher version", epoch(4, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.c.RegionHeartbeat(heartbeat(&metapb.Region{Id: 2, RegionEpoch: tt.epoch, Peers: peers}))
			require.ErrorIs(t, err, ErrStaleRegion)
			r, _, err := e.c.GetRegionByID(2)
			require.NoError(t, err)
			require.Equal(t, uint64(5), r.GetRegionEpoch().GetVersion(), "stale heartbeat must not overwrite")
			require.Equal(t, uint64(5), r.GetRegionEpoch().GetConfVer())
		})
	}
}

// TestSplitAndPersistence reports a split, checks routing and that a stale
// pre-split report of the parent is rejected, then reopens the data
// directory and finds the same regions.
func TestSplitAndPersistence(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	e := open(t, dir, clock)
	bootstrap(t, e.c)
	peers := []*metapb.Peer{{Id: 3, StoreId: 1}}
	// Region 2 splits at "m": 2 keeps [m, +inf), new region 7 takes [, m).
	_, err := e.c.RegionHeartbeat(heartbeat(&metapb.Region{Id: 7, EndKey: []byte("m"), RegionEpoch: epoch(1, 2), Peers: []*metapb.Peer{{Id: 8, StoreId: 1}}}))
	require.NoError(t, err)
	r, _, err := e.c.GetRegion([]byte("a"))
	require.NoError(t, err)
	require.Equal(t, uint64(7), r.GetId())
	_, _, err = e.c.GetRegion([]byte("z"))
	require.ErrorIs(t, err, ErrRegionNotFound, "the parent was replaced by the newer overlapping region")

	_, err = e.c.RegionHeartbeat(heartbeat(&metapb.Region{Id: 2, StartKey: []byte("m"), RegionEpoch: epoch(1, 2), Peers: peers}))
	require.NoError(t, err)
	// A delayed report of the unsplit parent overlaps newer regions.
	_, err = e.c.RegionHeartbeat(heartbeat(&metapb.Region{Id: 2, RegionEpoch: epoch(1, 1), Peers: peers}))
	require.ErrorIs(t, err, ErrStaleRegion)

	infos, err := e.c.ScanRegions(nil, nil, 0)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.Equal(t, uint64(7), infos[0].GetRegion().GetId())
	require.Equal(t, uint64(3), infos[1].GetLeader().GetId())
	infos, err = e.c.ScanRegions([]byte("n"), nil, 1)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, uint64(2), infos[0].GetRegion().GetId())
	_, err = e.c.ScanRegions([]byte("z"), []byte("a"), 0)
	require.ErrorIs(t, err, ErrInvalidArgument)
	e.close()

	e = open(t, dir, clock)
	defer e.close()
	require.True(t, e.c.IsBootstrapped())
	require.Equal(t, 2, e.c.RegionCount())
	r, leader, err := e.c.GetRegion([]byte("x"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), r.GetId())
	require.Equal(t, []byte("m"), r.GetStartKey())
	require.Nil(t, leader, "leaders are not persisted; the next heartbeat reports one")
	s, _, err := e.c.GetStore(1)
	require.NoError(t, err)
	require.Equal(t, "s1:1", s.GetAddress())
}

func TestStoreLiveness(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	bootstrap(t, e.c)
	require.NoError(t, e.c.PutStore(&metapb.Store{Id: 4, Address: "s4:1"}))
	require.ErrorIs(t, e.c.PutStore(&metapb.Store{Id: 5, Address: "s4:1"}), ErrInvalidArgument, "address taken")
	require.ErrorIs(t, e.c.StoreHeartbeat(&pdpb.StoreStats{StoreId: 99}), ErrStoreNotFound)
	require.ErrorIs(t, e.c.StoreHeartbeat(nil), ErrInvalidArgument)

	e.clock.Add(20_000)
	require.NoError(t, e.c.StoreHeartbeat(&pdpb.StoreStats{StoreId: 4, RegionCount: 3}))
	e.clock.Add(20_000) // store 1 silent for 40s, store 4 for 20s
	stores, err := e.c.GetAllStores(false)
	require.NoError(t, err)
	require.Len(t, stores, 2)
	require.Equal(t, metapb.NodeState_Down, stores[0].GetNodeState())
	require.Equal(t, metapb.NodeState_Serving, stores[1].GetNodeState())
	require.Equal(t, int64(1_700_000_020_000), stores[1].GetLastHeartbeatUnixMs())
	_, stats, err := e.c.GetStore(4)
	require.NoError(t, err)
	require.Equal(t, uint32(3), stats.GetRegionCount())
}

// TestHeartbeatSchedulesReplica: a one-peer region with two more up stores
// gets an AddNode step, once, and an operator queued by hand comes next.
func TestHeartbeatSchedulesReplica(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	bootstrap(t, e.c)
	require.NoError(t, e.c.PutStore(&metapb.Store{Id: 4, Address: "s4:1"}))
	r := &metapb.Region{Id: 2, RegionEpoch: epoch(1, 1), Peers: []*metapb.Peer{{Id: 3, StoreId: 1}}}
	step, err := e.c.RegionHeartbeat(heartbeat(r))
	require.NoError(t, err)
	require.Equal(t, kvrpcpb.ConfChangeType_AddNode, step.ChangePeer.GetChangeType())
	require.Equal(t, uint64(4), step.ChangePeer.GetPeer().GetStoreId())
	require.Greater(t, step.ChangePeer.GetPeer().GetId(), uint64(3), "new peer ids come from AllocID above bootstrap ids")
	step, err = e.c.RegionHeartbeat(heartbeat(r))
	require.NoError(t, err)
	require.Nil(t, step, "one step in flight per region")

	require.ErrorIs(t, e.c.QueueOperator(2, nil, nil), ErrInvalidArgument)
	require.ErrorIs(t, e.c.QueueOperator(9, nil, &pdpb.TransferLeader{Peer: &metapb.Peer{StoreId: 1}}), ErrRegionNotFound)
	require.ErrorIs(t, e.c.QueueOperator(2, &pdpb.ChangePeer{Peer: &metapb.Peer{StoreId: 1}, ChangeType: kvrpcpb.ConfChangeType_RemoveNode + 10}, nil), ErrInvalidArgument)
	require.NoError(t, e.c.QueueOperator(2, &pdpb.ChangePeer{Peer: &metapb.Peer{StoreId: 1}, ChangeType: kvrpcpb.ConfChangeType_RemoveNode}, nil))
	r2 := &metapb.Region{Id: 2, RegionEpoch: epoch(2, 1), Peers: []*metapb.Peer{{Id: 3, StoreId: 1}, step0Peer(t, e)}}
	step, err = e.c.RegionHeartbeat(heartbeat(r2))
	require.NoError(t, err)
	require.Equal(t, kvrpcpb.ConfChangeType_RemoveNode, step.ChangePeer.GetChangeType())
	require.Equal(t, uint64(3), step.ChangePeer.GetPeer().GetId())
}

func step0Peer(t *testing.T, e *env) *metapb.Peer {
	t.Helper()
	id, err := e.c.ids.Alloc()
	require.NoError(t, err)
	return &metapb.Peer{Id: id, StoreId: 4}
}
