package pdclient

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/pdserver"
)

func TestComposeParseTS(t *testing.T) {
	tests := []struct {
		physical, logical int64
		want              uint64
	}{
		{0, 0, 0},
		{0, 1, 1},
		{1, 0, 1 << 18},
		{1_700_000_000_000, 262143, 1_700_000_000_000<<18 | 262143},
	}
	for _, tt := range tests {
		ts := ComposeTS(tt.physical, tt.logical)
		require.Equal(t, tt.want, ts)
		p, l := ParseTS(ts)
		require.Equal(t, tt.physical, p)
		require.Equal(t, tt.logical, l)
	}
}

func TestHeaderErrorSentinels(t *testing.T) {
	tests := []struct {
		typ  pdpb.ErrorType
		want error
	}{
		{pdpb.ErrorType_NOT_BOOTSTRAPPED, ErrNotBootstrapped},
		{pdpb.ErrorType_ALREADY_BOOTSTRAPPED, ErrAlreadyBootstrapped},
		{pdpb.ErrorType_REGION_NOT_FOUND, ErrRegionNotFound},
		{pdpb.ErrorType_STALE_REGION, ErrStaleRegion},
		{pdpb.ErrorType_STORE_TOMBSTONE, ErrStoreTombstone},
		{pdpb.ErrorType_CLUSTER_MISMATCH, ErrClusterMismatch},
		{pdpb.ErrorType_INCOMPATIBLE_VERSION, ErrIncompatibleVersion},
		{pdpb.ErrorType(99), ErrUnknown},
	}
	for _, tt := range tests {
		err := HeaderError(&pdpb.ResponseHeader{Error: &pdpb.Error{Type: tt.typ, Message: "detail"}})
		require.ErrorIs(t, err, tt.want)
		require.ErrorContains(t, err, "detail")
	}
	require.NoError(t, HeaderError(&pdpb.ResponseHeader{}))
	require.NoError(t, HeaderError(nil))
}

func TestNewFailsClearly(t *testing.T) {
	_, err := New(context.Background(), nil, nil)
	require.ErrorContains(t, err, "no PD endpoints")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = New(ctx, []string{"127.0.0.1:1"}, nil)
	require.Error(t, err, "nothing listens there; New gives up at the ctx deadline")
}

// TestSurvivesPDRestart stops PD and starts it again on the same address
// and data while callers keep asking: calls block and retry rather than
// fail, and timestamps keep increasing.
func TestSurvivesPDRestart(t *testing.T) {
	dir := t.TempDir()
	pd := startPD(t, dir)
	addr := pd.Addr()
	c := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := c.GetTS(ctx)
	require.NoError(t, err)
	id1, err := c.AllocID(ctx)
	require.NoError(t, err)
	pd.Stop()

	var wg sync.WaitGroup
	results := make([]uint64, 50)
	errs := make([]error, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.GetTS(ctx)
		}()
	}
	var id2 uint64
	var idErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		id2, idErr = c.AllocID(ctx)
	}()

	cfg := pdserver.NewConfig()
	cfg.Addr, cfg.StatusAddr, cfg.DataDir = addr, "", dir
	var pd2 *pdserver.Server
	require.Eventually(t, func() bool {
		s, err := pdserver.New(cfg, zap.NewNop(), nil)
		if err != nil {
			return false
		}
		if err := s.Start(); err != nil {
			s.Stop()
			return false
		}
		pd2 = s
		return true
	}, 20*time.Second, 50*time.Millisecond)
	defer pd2.Stop()

	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i])
		require.Greater(t, results[i], before)
	}
	require.NoError(t, idErr)
	require.Greater(t, id2, id1)
	require.Equal(t, c.ClusterID(), pd2.ClusterID(), "the cluster id is persisted")
}

func TestRegionHeartbeatHandler(t *testing.T) {
	pd := startPD(t, t.TempDir())
	defer pd.Stop()
	c := newClient(t, pd.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	respc := make(chan *pdpb.RegionHeartbeatResponse, 16)
	c.SetRegionHeartbeatHandler(func(r *pdpb.RegionHeartbeatResponse) { respc <- r })
	leader := &metapb.Peer{Id: 3, StoreId: 1}
	region := &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 2, Version: 2}, Peers: []*metapb.Peer{leader}}
	require.NoError(t, c.Bootstrap(ctx, &metapb.Store{Id: 1, Address: "127.0.0.1:20160"}, region))
	require.NoError(t, c.PutStore(ctx, &metapb.Store{Id: 4, Address: "127.0.0.1:20161"}))
	require.NoError(t, c.StoreHeartbeat(ctx, &pdpb.StoreStats{StoreId: 4}))
	stores, err := c.GetAllStores(ctx)
	require.NoError(t, err)
	require.Len(t, stores, 2)
	require.NotZero(t, stores[1].GetLastHeartbeatUnixMs())

	// Too few replicas: PD answers with an AddNode for store 4.
	require.NoError(t, c.ReportRegion(&pdpb.RegionHeartbeatRequest{Region: region, Leader: leader}))
	resp := <-respc
	require.NoError(t, HeaderError(resp.GetHeader()))
	require.Equal(t, kvrpcpb.ConfChangeType_AddNode, resp.GetChangePeer().GetChangeType())
	require.Equal(t, uint64(4), resp.GetChangePeer().GetPeer().GetStoreId())

	// A stale epoch is rejected in the header.
	stale := &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 2}, Peers: []*metapb.Peer{leader}}
	require.NoError(t, c.ReportRegion(&pdpb.RegionHeartbeatRequest{Region: stale, Leader: leader}))
	resp = <-respc
	require.ErrorIs(t, HeaderError(resp.GetHeader()), ErrStaleRegion)

	// A queued operator reaches the leader on its next heartbeat, once the
	// AddNode step is done (conf_ver moved).
	require.NoError(t, c.Operator(ctx, &pdpb.OperatorRequest{RegionId: 2, TransferLeader: &pdpb.TransferLeader{Peer: &metapb.Peer{StoreId: 1}}}))
	require.ErrorIs(t, c.Operator(ctx, &pdpb.OperatorRequest{RegionId: 99, TransferLeader: &pdpb.TransferLeader{Peer: &metapb.Peer{StoreId: 1}}}), ErrRegionNotFound)
	moved := &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 3, Version: 2}, Peers: []*metapb.Peer{leader, {Id: 9, StoreId: 4}}}
	require.NoError(t, c.ReportRegion(&pdpb.RegionHeartbeatRequest{Region: moved, Leader: leader}))
	resp = <-respc
	require.Equal(t, uint64(1), resp.GetTransferLeader().GetPeer().GetStoreId())

	got, gotLeader, err := c.GetRegionByID(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, uint64(3), got.GetRegionEpoch().GetConfVer())
	require.Equal(t, uint64(3), gotLeader.GetId())
	infos, err := c.ScanRegions(ctx, nil, nil, 10)
	require.NoError(t, err)
	require.Len(t, infos, 1)
}

func TestClosedClient(t *testing.T) {
	pd := startPD(t, t.TempDir())
	defer pd.Stop()
	c := newClient(t, pd.Addr())
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err := c.GetTS(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.AllocID(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, c.ReportRegion(&pdpb.RegionHeartbeatRequest{}), ErrClosed)
}
