package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// memNet delivers messages between in-process stores through goroutines,
// dropping messages to stores that are down or cut off.
type memNet struct {
	mu     sync.Mutex
	stores map[uint64]*Store
	cut    map[uint64]bool
}

type memTransport struct {
	net  *memNet
	from uint64
}

func (t *memTransport) Send(m *raft_serverpb.RaftMessage) {
	t.net.mu.Lock()
	to := t.net.stores[m.GetToPeer().GetStoreId()]
	cut := t.net.cut[t.from] || t.net.cut[m.GetToPeer().GetStoreId()]
	t.net.mu.Unlock()
	if to == nil || cut {
		return
	}
	go to.HandleRaftMessage(m)
}

type testNode struct {
	dir   string
	eng   storage.Engine
	store *Store
}

func testConfig() *Config {
	cfg := NewConfig()
	cfg.TickInterval = 10 * time.Millisecond
	cfg.LogGCThreshold = 50
	cfg.LogGCKeep = 10
	return cfg
}

func startNode(t *testing.T, net *memNet, dir string, storeID uint64, region *metapb.Region) *testNode {
	t.Helper()
	return startNodeConfig(t, net, dir, storeID, region, testConfig())
}

func startNodeConfig(t *testing.T, net *memNet, dir string, storeID uint64, region *metapb.Region, cfg *Config) *testNode {
	t.Helper()
	eng, err := rocksdb.Open(dir, rocksdb.NewConfig(), zaptest.NewLogger(t))
	require.NoError(t, err)
	if region != nil {
		require.NoError(t, BootstrapRegion(eng, region))
	}
	s, err := NewStore(cfg, storeID, eng, nil, nil)
	require.NoError(t, err)
	s.SetTransport(&memTransport{net: net, from: storeID})
	require.NoError(t, s.Start())
	net.mu.Lock()
	net.stores[storeID] = s
	net.mu.Unlock()
	return &testNode{dir: dir, eng: eng, store: s}
}

func (n *testNode) stop(net *memNet) {
	net.mu.Lock()
	delete(net.stores, n.store.StoreID())
	net.mu.Unlock()
	n.store.Stop()
	n.eng.Close()
}

func put(key, value string) []*kvcmd.Command {
	return []*kvcmd.Command{{Op: kvcmd.OpPut, Key: []byte(key), Value: []byte(value)}}
}

// writeAnywhere tries every node until one leads the region and accepts.
func writeAnywhere(t *testing.T, nodes []*testNode, regionID uint64, cmds []*kvcmd.Command) []kvcmd.Result {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			res, rerr, err := n.store.Write(ctx, &kvrpcpb.Context{RegionId: regionID}, cmds)
			cancel()
			if err == nil && rerr == nil {
				return res
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no node accepted the write")
	return nil
}

func readAnywhere(t *testing.T, nodes []*testNode, regionID uint64, key string) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			snap, _, rerr, err := n.store.Snapshot(ctx, &kvrpcpb.Context{RegionId: regionID})
			cancel()
			if err == nil && rerr == nil {
				v, ver, gerr := kvcmd.Get(snap, []byte(key))
				snap.Close()
				require.NoError(t, gerr)
				return string(v), ver != 0
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no node served the read")
	return "", false
}

func threePeerRegion() *metapb.Region {
	return &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{
		{Id: 11, StoreId: 1}, {Id: 12, StoreId: 2}, {Id: 13, StoreId: 3}}}
}

func TestSingleNodeWriteReadRestart(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	dir := t.TempDir()
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n := startNode(t, net, dir, 1, region)
	nodes := []*testNode{n}
	for i := 0; i < 120; i++ { // crosses the log GC threshold
		writeAnywhere(t, nodes, 1, put(fmt.Sprintf("k%03d", i), fmt.Sprintf("v%d", i)))
	}
	v, ok := readAnywhere(t, nodes, 1, "k007")
	require.True(t, ok)
	require.Equal(t, "v7", v)

	n.stop(net)
	n = startNode(t, net, dir, 1, nil)
	defer n.stop(net)
	nodes = []*testNode{n}
	for i := 0; i < 120; i++ {
		v, ok := readAnywhere(t, nodes, 1, fmt.Sprintf("k%03d", i))
		require.True(t, ok)
		require.Equal(t, fmt.Sprintf("v%d", i), v)
	}
}

func TestRoutingErrors(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	region := &metapb.Region{Id: 1, StartKey: []byte("b"), EndKey: []byte("m"),
		RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n := startNode(t, net, t.TempDir(), 1, region)
	defer n.stop(net)
	writeAnywhere(t, []*testNode{n}, 1, put("c", "1")) // waits for leadership
	ctx := context.Background()
	tests := []struct {
		name  string
		rctx  *kvrpcpb.Context
		key   string
		check func(t *testing.T, rerr *errorpb.Error)
	}{
		{"unknown region", &kvrpcpb.Context{RegionId: 9}, "c", func(t *testing.T, e *errorpb.Error) { require.NotNil(t, e.GetRegionNotFound()) }},
		{"stale epoch", &kvrpcpb.Context{RegionId: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 0, Version: 1}}, "c",
			func(t *testing.T, e *errorpb.Error) { require.NotNil(t, e.GetEpochNotMatch()) }},
		{"key below range", &kvrpcpb.Context{RegionId: 1}, "a", func(t *testing.T, e *errorpb.Error) { require.NotNil(t, e.GetKeyNotInRegion()) }},
		{"key at end", &kvrpcpb.Context{RegionId: 1}, "m", func(t *testing.T, e *errorpb.Error) { require.NotNil(t, e.GetKeyNotInRegion()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, rerr, err := n.store.Write(ctx, tc.rctx, put(tc.key, "x"))
			require.NoError(t, err)
			require.NotNil(t, rerr)
			tc.check(t, rerr)
		})
	}
}

func TestThreeNodesFailoverAndCatchUp(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = startNode(t, net, dirs[i], uint64(i+1), threePeerRegion())
	}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.stop(net)
			}
		}
	}()
	writeAnywhere(t, nodes, 1, put("a", "1"))

	// Stop one follower-or-leader, keep writing past the GC threshold so it
	// must catch up by snapshot.
	down := 2
	nodes[down].stop(net)
	nodes[down] = nil
	for i := 0; i < 150; i++ {
		writeAnywhere(t, nodes, 1, put(fmt.Sprintf("k%03d", i), "v"))
	}
	nodes[down] = startNode(t, net, dirs[down], uint64(down+1), nil)

	// Cut off another node: the restarted one must now be part of a quorum.
	other := (down + 1) % 3
	net.mu.Lock()
	net.cut[uint64(other+1)] = true
	net.mu.Unlock()
	writeAnywhere(t, nodes, 1, put("after", "x"))
	v, ok := readAnywhere(t, nodes, 1, "k149")
	require.True(t, ok)
	require.Equal(t, "v", v)
	net.mu.Lock()
	net.cut[uint64(other+1)] = false
	net.mu.Unlock()
}

func TestChangePeer(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n1 := startNode(t, net, t.TempDir(), 1, region)
	defer n1.stop(net)
	n2 := startNode(t, net, t.TempDir(), 2, nil)
	defer n2.stop(net)
	writeAnywhere(t, []*testNode{n1}, 1, put("a", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, rerr, err := n1.store.ChangePeer(ctx, &kvrpcpb.Context{RegionId: 1}, kvrpcpb.ConfChangeType_AddNode, &metapb.Peer{Id: 21, StoreId: 2})
	require.NoError(t, err)
	require.Nil(t, rerr)
	require.Len(t, r.GetPeers(), 2)
	require.Equal(t, uint64(2), r.GetRegionEpoch().GetConfVer())
	writeAnywhere(t, []*testNode{n1}, 1, put("b", "2"))
	// The new peer got the data by snapshot and log.
	require.Eventually(t, func() bool {
		v, _, err := kvcmd.Get(n2.eng, []byte("b"))
		return err == nil && string(v) == "2"
	}, 10*time.Second, 20*time.Millisecond)
	v, ver, err := kvcmd.Get(n2.eng, []byte("a"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), ver)
	require.Equal(t, "1", string(v))

	r, rerr, err = n1.store.ChangePeer(ctx, &kvrpcpb.Context{RegionId: 1}, kvrpcpb.ConfChangeType_RemoveNode, &metapb.Peer{Id: 21, StoreId: 2})
	require.NoError(t, err)
	require.Nil(t, rerr)
	require.Len(t, r.GetPeers(), 1)
	// The removed peer's data is gone from the engine, records and all.
	require.Eventually(t, func() bool {
		_, err := n2.eng.Get(storage.CFDefault, []byte("a"))
		return err == storage.ErrNotFound
	}, 10*time.Second, 20*time.Millisecond)
}

// startThree starts three stores replicating threePeerRegion, stopped when
// the test ends.
func startThree(t *testing.T) (*memNet, []*testNode) {
	t.Helper()
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = startNode(t, net, t.TempDir(), uint64(i+1), threePeerRegion())
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop(net)
		}
	})
	return net, nodes
}

// startSingle starts one store leading a one-replica region 1.
func startSingle(t *testing.T) (*testNode, *metapb.Region) {
	t.Helper()
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n := startNode(t, net, t.TempDir(), 1, region)
	t.Cleanup(func() { n.stop(net) })
	return n, region
}

// TestApproximateSizeSkipsTombstones checks the size reported to PD counts
// live keys with their user values, not the tombstones of deleted keys nor
// the record headers that share CFDefault with them.
func TestApproximateSizeSkipsTombstones(t *testing.T) {
	n, region := startSingle(t)
	nodes := []*testNode{n}
	writeAnywhere(t, nodes, 1, put("a", "1"))
	writeAnywhere(t, nodes, 1, put("bb", "22"))
	writeAnywhere(t, nodes, 1, []*kvcmd.Command{{Op: kvcmd.OpDelete, Key: []byte("bb")}})
	writeAnywhere(t, nodes, 1, put("ccc", "333"))
	size, keys := n.store.approximateSize(region)
	require.Equal(t, uint64(2), keys)
	require.Equal(t, uint64(len("a1")+len("ccc333")), size)
}

// Heartbeats reuse a region's size estimate for sizeTTL instead of walking
// the region again, unless the region's range changed.
func TestRegionSizeIsCached(t *testing.T) {
	n, region := startSingle(t)
	nodes := []*testNode{n}
	writeAnywhere(t, nodes, 1, put("a", "1"))
	_, keys := n.store.regionSize(region)
	require.Equal(t, uint64(1), keys)

	writeAnywhere(t, nodes, 1, put("b", "2"))
	_, keys = n.store.regionSize(region)
	require.Equal(t, uint64(1), keys, "a fresh estimate is reused")

	narrowed := cloneRegion(region)
	narrowed.EndKey = []byte("b")
	_, keys = n.store.regionSize(narrowed)
	require.Equal(t, uint64(1), keys, "measured again over [\"\", b)")
	_, keys = n.store.regionSize(region)
	require.Equal(t, uint64(2), keys, "the range changed back, so measured again")

	n.store.sizes.Lock()
	e := n.store.sizes.m[1]
	e.measuredAt = e.measuredAt.Add(-sizeTTL)
	n.store.sizes.m[1] = e
	n.store.sizes.Unlock()
	writeAnywhere(t, nodes, 1, put("c", "3"))
	_, keys = n.store.regionSize(region)
	require.Equal(t, uint64(3), keys, "an expired estimate is measured again")
}
