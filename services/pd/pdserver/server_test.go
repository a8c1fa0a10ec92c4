package pdserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad addr", func(c *Config) { c.Addr = "nope" }, "addr"},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "x" }, "advertise-addr"},
		{"status disabled", func(c *Config) { c.StatusAddr = "" }, ""},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data-dir"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "log-level"},
		{"zero replicas", func(c *Config) { c.MaxReplicas = 0 }, "max-replicas"},
		{"zero down time", func(c *Config) { c.MaxStoreDownTime = 0 }, "max-store-down-time"},
		{"window too small", func(c *Config) { c.TSOSaveWindow = c.TSOTickInterval }, "tso-save-window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func startServer(t *testing.T, reg prometheus.Registerer) (*Server, pdpb.PDClient, *grpc.ClientConn) {
	t.Helper()
	cfg := NewConfig()
	cfg.Addr, cfg.StatusAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	s, err := New(cfg, zap.NewNop(), reg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return s, pdpb.NewPDClient(cc), cc
}

func bootstrap(t *testing.T, ctx context.Context, pd pdpb.PDClient) {
	t.Helper()
	resp, err := pd.Bootstrap(ctx, &pdpb.BootstrapRequest{
		Store: &metapb.Store{Id: 1, Address: "127.0.0.1:20160"},
		Region: &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
			Peers: []*metapb.Peer{{Id: 3, StoreId: 1}}},
	})
	require.NoError(t, err)
	require.Nil(t, resp.GetHeader().GetError())
}

func TestErrorsOnTheWire(t *testing.T) {
	s, pd, _ := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Routing and bootstrap errors travel in the header.
	resp, err := pd.GetRegion(ctx, &pdpb.GetRegionRequest{RegionKey: []byte("a")})
	require.NoError(t, err)
	require.Equal(t, pdpb.ErrorType_NOT_BOOTSTRAPPED, resp.GetHeader().GetError().GetType())
	require.Equal(t, s.ClusterID(), resp.GetHeader().GetClusterId())

	ar, err := pd.AllocID(ctx, &pdpb.AllocIDRequest{Header: &pdpb.RequestHeader{ClusterId: s.ClusterID() + 1}})
	require.NoError(t, err)
	require.Equal(t, pdpb.ErrorType_CLUSTER_MISMATCH, ar.GetHeader().GetError().GetType())
	require.Zero(t, ar.GetId())

	// Bad input is InvalidArgument naming the problem.
	_, err = pd.Bootstrap(ctx, &pdpb.BootstrapRequest{Store: &metapb.Store{Id: 1}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "empty address")

	bootstrap(t, ctx, pd)
	_, err = pd.GetStore(ctx, &pdpb.GetStoreRequest{StoreId: 77})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = pd.GetRegionByID(ctx, &pdpb.GetRegionByIDRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	tso, err := pd.Tso(ctx)
	require.NoError(t, err)
	require.NoError(t, tso.Send(&pdpb.TsoRequest{Count: 10}))
	tr, err := tso.Recv()
	require.NoError(t, err)
	require.Equal(t, uint32(10), tr.GetCount())
	require.NoError(t, tso.Send(&pdpb.TsoRequest{Count: 0}))
	_, err = tso.Recv()
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestRegionHeartbeatStream(t *testing.T) {
	_, pd, _ := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bootstrap(t, ctx, pd)
	_, err := pd.PutStore(ctx, &pdpb.PutStoreRequest{Store: &metapb.Store{Id: 4, Address: "127.0.0.1:20161"}})
	require.NoError(t, err)

	hb, err := pd.RegionHeartbeat(ctx)
	require.NoError(t, err)
	leader := &metapb.Peer{Id: 3, StoreId: 1}
	region := &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 3, Version: 3}, Peers: []*metapb.Peer{leader}}
	require.NoError(t, hb.Send(&pdpb.RegionHeartbeatRequest{Region: region, Leader: leader}))
	resp, err := hb.Recv()
	require.NoError(t, err)
	require.Nil(t, resp.GetHeader().GetError())
	require.Equal(t, uint64(4), resp.GetChangePeer().GetPeer().GetStoreId(), "too few replicas: add on store 4")

	stale := &metapb.Region{Id: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 2, Version: 3}, Peers: []*metapb.Peer{leader}}
	require.NoError(t, hb.Send(&pdpb.RegionHeartbeatRequest{Region: stale, Leader: leader}))
	resp, err = hb.Recv()
	require.NoError(t, err)
	require.Equal(t, pdpb.ErrorType_STALE_REGION, resp.GetHeader().GetError().GetType())

	gr, err := pd.GetRegion(ctx, &pdpb.GetRegionRequest{RegionKey: []byte("k")})
	require.NoError(t, err)
	require.Equal(t, uint64(3), gr.GetRegion().GetRegionEpoch().GetConfVer())
	require.Equal(t, uint64(3), gr.GetLeader().GetId())
}

func TestStatusHealthAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, pd, cc := startServer(t, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bootstrap(t, ctx, pd)

	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "pdpb.PD"})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, h.GetStatus())

	get := func(path string) string {
		resp, err := http.Get("http://" + s.StatusAddr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	var st Status
	require.NoError(t, json.Unmarshal([]byte(get("/status")), &st))
	require.True(t, st.Bootstrapped)
	require.Equal(t, s.ClusterID(), st.ClusterID)
	require.Len(t, st.Stores, 1)
	require.Equal(t, 1, st.RegionCount)

	m := get("/metrics")
	require.Contains(t, m, `flaredb_pd_grpc_requests_total{code="OK",method="/pdpb.PD/Bootstrap"} 1`)
	require.Contains(t, m, `flaredb_pd_regions 1`)
	require.True(t, strings.Contains(get("/debug/pprof/"), "goroutine"))
}

// TestStopEndsStreams checks that an open Tso stream does not hold Stop
// up and that its client sees Unavailable.
func TestStopEndsStreams(t *testing.T) {
	s, pd, _ := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tso, err := pd.Tso(ctx)
	require.NoError(t, err)
	require.NoError(t, tso.Send(&pdpb.TsoRequest{Count: 1}))
	_, err = tso.Recv()
	require.NoError(t, err)
	s.Stop()
	_, err = tso.Recv()
	require.Equal(t, codes.Unavailable, status.Code(err))
}
