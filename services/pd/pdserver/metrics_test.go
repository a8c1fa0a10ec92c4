package pdserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// sample is what gather found for one series: the value of a counter or
// gauge, or the count and sum of a histogram.
type sample struct {
	value float64
	count uint64
	sum   float64
}

// gather returns the series of family name whose labels include all of
// labels (name, value pairs); ok is false when there is none.
func gather(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (s sample, ok bool) {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			h := m.GetHistogram()
			return sample{value: m.GetCounter().GetValue() + m.GetGauge().GetValue(),
				count: h.GetSampleCount(), sum: h.GetSampleSum()}, true
		}
	}
	return sample{}, false
}

// value is gather's value, failing when the series is missing.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	s, ok := gather(t, g, name, labels...)
	require.True(t, ok, "no series %s%v", name, labels)
	return s.value
}

// startServerAt starts PD with its liveness clock read from clock (unix ms).
func startServerAt(t *testing.T, reg *prometheus.Registry, clock *atomic.Int64) pdpb.PDClient {
	t.Helper()
	cfg := NewConfig()
	cfg.Addr, cfg.StatusAddr, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	cfg.Knobs = &Knobs{Now: func() time.Time { return time.UnixMilli(clock.Load()) }}
	s, err := New(cfg, zap.NewNop(), reg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return pdpb.NewPDClient(cc)
}

// TestClusterMetrics checks the scrape-time view of the cluster: stores by
// state as heartbeats age, per-store capacity and PD's region and leader
// counts, and regions without a leader or with missing or down peers.
func TestClusterMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clock := &atomic.Int64{}
	clock.Store(time.Now().UnixMilli())
	pd := startServerAt(t, reg, clock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stores := func(state string) float64 { return value(t, reg, "flaredb_pd_stores", "state", state) }

	// Every unlabelled gauge and every state starts at zero.
	require.Zero(t, value(t, reg, "flaredb_pd_bootstrapped"))
	for _, st := range []string{"up", "down", "offline", "tombstone"} {
		require.Zero(t, stores(st), st)
	}
	for _, n := range []string{"regions", "regions_without_leader", "regions_miss_peer", "regions_extra_peer", "regions_down_peer"} {
		require.Zero(t, value(t, reg, "flaredb_pd_"+n), n)
	}

	bootstrap(t, ctx, pd) // store 1, region 2 with one peer (3 on store 1)
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_bootstrapped"))
	require.Equal(t, 1.0, stores("up"))
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_regions_without_leader"), "no region heartbeat yet")
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_regions_miss_peer"), "1 peer, max-replicas 3")
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_store_regions", "store", "1"))
	_, ok := gather(t, reg, "flaredb_pd_store_capacity_bytes", "store", "1")
	require.False(t, ok, "no capacity before the first store heartbeat")

	for _, s := range []*metapb.Store{{Id: 4, Address: "127.0.0.1:20161"}, {Id: 5, Address: "127.0.0.1:20162"}} {
		_, err := pd.PutStore(ctx, &pdpb.PutStoreRequest{Store: s})
		require.NoError(t, err)
	}
	_, err := pd.StoreHeartbeat(ctx, &pdpb.StoreHeartbeatRequest{Stats: &pdpb.StoreStats{
		StoreId: 4, Capacity: 100 << 30, Available: 60 << 30, UsedSize: 30 << 30}})
	require.NoError(t, err)
	peers := []*metapb.Peer{{Id: 3, StoreId: 1}, {Id: 6, StoreId: 4}, {Id: 7, StoreId: 5}}
	hb, err := pd.RegionHeartbeat(ctx)
	require.NoError(t, err)
	require.NoError(t, hb.Send(&pdpb.RegionHeartbeatRequest{
		Region: &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 3, Version: 1}, Peers: peers},
		Leader: peers[1]}))
	require.Eventually(t, func() bool { return value(t, reg, "flaredb_pd_regions_without_leader") == 0 },
		5*time.Second, 10*time.Millisecond)
	require.Equal(t, 3.0, stores("up"))
	require.Zero(t, value(t, reg, "flaredb_pd_regions_miss_peer"))
	require.Equal(t, float64(100<<30), value(t, reg, "flaredb_pd_store_capacity_bytes", "store", "4"))
	require.Equal(t, float64(60<<30), value(t, reg, "flaredb_pd_store_available_bytes", "store", "4"))
	require.Equal(t, float64(30<<30), value(t, reg, "flaredb_pd_store_used_bytes", "store", "4"))
	for _, id := range []string{"1", "4", "5"} {
		require.Equal(t, 1.0, value(t, reg, "flaredb_pd_store_regions", "store", id), id)
	}
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_store_leaders", "store", "4"))
	require.Zero(t, value(t, reg, "flaredb_pd_store_leaders", "store", "1"))

	// Stores 1 and 5 miss heartbeats for longer than max-store-down-time.
	clock.Add(20_000)
	_, err = pd.StoreHeartbeat(ctx, &pdpb.StoreHeartbeatRequest{Stats: &pdpb.StoreStats{StoreId: 4, Capacity: 100 << 30, Available: 50 << 30}})
	require.NoError(t, err)
	clock.Add(20_000)
	require.Equal(t, 1.0, stores("up"))
	require.Equal(t, 2.0, stores("down"))
	require.Equal(t, float64(50<<30), value(t, reg, "flaredb_pd_store_available_bytes", "store", "4"))
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_regions_down_peer"))
	require.Zero(t, value(t, reg, "flaredb_pd_regions_without_leader"), "the leader's store is up")

	// Then the leader's store too: PD no longer knows a usable leader.
	clock.Add(31_000)
	require.Equal(t, 3.0, stores("down"))
	require.Zero(t, stores("up"))
	require.Equal(t, 1.0, value(t, reg, "flaredb_pd_regions_without_leader"))
	require.Zero(t, value(t, reg, "flaredb_pd_store_leaders", "store", "4"))
}

// TestRegionHeartbeatMetrics checks heartbeats are counted by result and
// each one is timed.
func TestRegionHeartbeatMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, pd, _ := startServer(t, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := []string{"ok", "stale", "not_bootstrapped", "cluster_mismatch", "invalid", "error"}
	for _, r := range results {
		require.Zero(t, value(t, reg, "flaredb_pd_region_heartbeats_total", "result", r), r)
	}
	hb, err := pd.RegionHeartbeat(ctx)
	require.NoError(t, err)
	leader := &metapb.Peer{Id: 3, StoreId: 1}
	region := func(confVer uint64) *metapb.Region {
		return &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: confVer, Version: 1}, Peers: []*metapb.Peer{leader}}
	}
	send := func(req *pdpb.RegionHeartbeatRequest, wantErr pdpb.ErrorType) {
		t.Helper()
		require.NoError(t, hb.Send(req))
		resp, err := hb.Recv()
		require.NoError(t, err)
		require.Equal(t, wantErr, resp.GetHeader().GetError().GetType())
	}
	send(&pdpb.RegionHeartbeatRequest{Region: region(1), Leader: leader}, pdpb.ErrorType_NOT_BOOTSTRAPPED)
	bootstrap(t, ctx, pd)
	// Accepted; the answer is a step adding a replica only if there is a
	// store for it, so there is no reply to wait for here.
	require.NoError(t, hb.Send(&pdpb.RegionHeartbeatRequest{Region: region(2), Leader: leader}))
	send(&pdpb.RegionHeartbeatRequest{Region: region(1), Leader: leader}, pdpb.ErrorType_STALE_REGION)
	send(&pdpb.RegionHeartbeatRequest{Header: &pdpb.RequestHeader{ClusterId: s.ClusterID() + 1}, Region: region(2)},
		pdpb.ErrorType_CLUSTER_MISMATCH)

	want := map[string]float64{"ok": 1, "stale": 1, "not_bootstrapped": 1, "cluster_mismatch": 1, "invalid": 0, "error": 0}
	check := func() bool {
		var total float64
		for r, n := range want {
			total += n
			if value(t, reg, "flaredb_pd_region_heartbeats_total", "result", r) != n {
				return false
			}
		}
		d, ok := gather(t, reg, "flaredb_pd_region_heartbeat_duration_seconds")
		return ok && float64(d.count) == total && d.sum > 0
	}
	require.Eventually(t, check, 5*time.Second, 10*time.Millisecond)

	// A heartbeat without a region is a client bug: the stream ends.
	require.NoError(t, hb.Send(&pdpb.RegionHeartbeatRequest{}))
	_, err = hb.Recv()
	require.Error(t, err)
	want["invalid"] = 1
	require.Eventually(t, check, 5*time.Second, 10*time.Millisecond)
}

// TestTsoMetrics checks each Tso stream request is timed and its requested
// count recorded.
func TestTsoMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, pd, _ := startServer(t, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range []string{"flaredb_pd_tso_request_duration_seconds", "flaredb_pd_tso_batch_size"} {
		s, ok := gather(t, reg, n)
		require.True(t, ok, n)
		require.Zero(t, s.count, n)
	}
	tso, err := pd.Tso(ctx)
	require.NoError(t, err)
	for _, n := range []uint32{10, 3} {
		require.NoError(t, tso.Send(&pdpb.TsoRequest{Count: n}))
		_, err := tso.Recv()
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		d, _ := gather(t, reg, "flaredb_pd_tso_request_duration_seconds")
		b, _ := gather(t, reg, "flaredb_pd_tso_batch_size")
		return d.count == 2 && d.sum > 0 && b.count == 2 && b.sum == 13
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 13.0, value(t, reg, "flaredb_pd_tso_issued_total"))
}
