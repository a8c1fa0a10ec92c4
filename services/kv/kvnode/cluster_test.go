package kvnode

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/flaredb/flaredb/libs/client"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/pdserver"
)

// testCluster is an in-process PD and stores replicating through Raft.
type testCluster struct {
	t     *testing.T
	pd    *pdserver.Server
	nodes []*Node
	c     *client.Client
}

// startCluster starts a PD and n stores on it, one after the other (the
// first bootstraps the cluster), and waits until PD has added a replica on
// every store and the region has a leader.
func startCluster(t *testing.T, n int, gracefulStopTimeout time.Duration) *testCluster {
	t.Helper()
	pcfg := pdserver.NewConfig()
	pcfg.Addr = "127.0.0.1:0"
	pcfg.StatusAddr = ""
	pcfg.DataDir = filepath.Join(t.TempDir(), "pd")
	pcfg.MaxReplicas = n
	pd, err := pdserver.New(pcfg, zaptest.NewLogger(t).Named("pd"), prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, pd.Start())
	t.Cleanup(pd.Stop)

	tc := &testCluster{t: t, pd: pd}
	for i := range n {
		cfg := testConfig(t.TempDir())
		cfg.PDEndpoints = []string{pd.Addr()}
		cfg.GracefulStopTimeout = gracefulStopTimeout
		cfg.Raft.TickInterval = 50 * time.Millisecond
		cfg.PD.StoreHeartbeatInterval = 300 * time.Millisecond
		cfg.PD.RegionHeartbeatInterval = 300 * time.Millisecond
		node, err := New(cfg, zaptest.NewLogger(t).Named(fmt.Sprintf("store%d", i+1)), prometheus.NewRegistry())
		require.NoError(t, err)
		require.NoError(t, node.Start())
		t.Cleanup(node.Stop)
		tc.nodes = append(tc.nodes, node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tc.c, err = client.New(ctx, client.Config{PDEndpoints: []string{pd.Addr()}})
	require.NoError(t, err)
	t.Cleanup(func() { tc.c.Close() })
	tc.waitRegion(func(r *pdpb.RegionInfo) bool {
		return len(r.GetRegion().GetPeers()) == n && r.GetLeader().GetId() != 0
	})
	return tc
}

// waitRegion polls PD until ok holds for the first region.
func (tc *testCluster) waitRegion(ok func(*pdpb.RegionInfo) bool) *pdpb.RegionInfo {
	tc.t.Helper()
	var last *pdpb.RegionInfo
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		regions, err := tc.c.Regions(ctx)
		cancel()
		if err == nil && len(regions) > 0 {
			if last = regions[0]; ok(last) {
				return last
			}
		}
	}
	tc.t.Fatalf("region never reached the expected state; last seen: %v", last)
	return nil
}

// leader returns the node PD reports as the region's leader.
func (tc *testCluster) leader() *Node {
	tc.t.Helper()
	var leader *Node
	tc.waitRegion(func(r *pdpb.RegionInfo) bool {
		for _, n := range tc.nodes {
			if n.StoreID() == r.GetLeader().GetStoreId() {
				leader = n
			}
		}
		return leader != nil
	})
	return leader
}

// A store's peers keep their Raft streams to it open for as long as it
// runs; stopping it must end them rather than wait out the graceful-stop
// timeout. The other stores elect a new leader and keep serving.
func TestStopInClusterEndsRaftStreams(t *testing.T) {
	const timeout = 20 * time.Second
	tc := startCluster(t, 3, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Writes commit only once the followers acknowledge them: Raft
	// traffic flows both ways on every store.
	for i := range 10 {
		_, err := tc.c.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		require.NoError(t, err)
	}

	stopped := tc.leader()
	start := time.Now()
	stopped.Stop()
	took := time.Since(start)
	require.Less(t, took, timeout/4, "Stop waited for the peers' Raft streams (took %s)", took)
	t.Logf("leader stopped in %s", took)

	_, err := tc.c.Put(ctx, []byte("after"), []byte("stop"))
	require.NoError(t, err)
	got, err := tc.c.Get(ctx, []byte("k3"))
	require.NoError(t, err)
	require.Equal(t, "v", string(got.Value))
	require.NotEqual(t, stopped.StoreID(), tc.leader().StoreID())
}
