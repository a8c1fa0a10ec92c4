package kvnode

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/flaredb/flaredb/libs/pdclient"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/services/kv/internal/server"
)

// testConfig is a dev-mode node on free ports with small caches.
func testConfig(dir string) Config {
	cfg := NewConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.StatusAddr = "127.0.0.1:0"
	cfg.DevPDAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.RocksDB.BlockCacheSize = 1 << 20
	cfg.RocksDB.WriteBufferSize = 1 << 20
	return cfg
}

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg, zaptest.NewLogger(t), prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(n.Stop)
	return n
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitReady polls ready until it holds. A replicated backend answers
// NotLeader until its freshly started region has elected itself; clients
// retry that, and so do these tests.
func waitReady(t *testing.T, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		require.True(t, time.Now().Before(deadline), "region never got a leader")
		time.Sleep(20 * time.Millisecond)
	}
}

func putWhenReady(t *testing.T, kv kvrpcpb.KVClient, k, v string) *kvrpcpb.RawPutResponse {
	t.Helper()
	var resp *kvrpcpb.RawPutResponse
	waitReady(t, func() bool {
		var err error
		resp, err = kv.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte(k), Value: []byte(v)})
		require.NoError(t, err)
		return resp.GetRegionError().GetNotLeader() == nil
	})
	require.Nil(t, resp.GetRegionError())
	return resp
}

func getStatus(t *testing.T, n *Node) server.StatusInfo {
	t.Helper()
	resp, err := http.Get("http://" + n.StatusAddr() + "/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st server.StatusInfo
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func TestNodeServesAndRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	n := startNode(t, testConfig(dir))
	storeID := n.StoreID()
	require.NotZero(t, storeID)
	require.Len(t, n.PDEndpoints(), 1)

	conn := dial(t, n.Addr())
	kv := kvrpcpb.NewKVClient(conn)
	put := putWhenReady(t, kv, "hello", "world")
	require.Equal(t, uint64(1), put.GetVersion())

	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, health.GetStatus())

	st := getStatus(t, n)
	require.Equal(t, storeID, st.StoreID)
	require.Equal(t, n.Addr(), st.Address)
	require.Equal(t, 1, st.RegionCount)
	require.True(t, st.DevMode)
	require.Equal(t, Version, st.Version)

	metrics, err := http.Get("http://" + n.StatusAddr() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	require.NoError(t, err)
	// At least one: the put may have been retried while the region elected.
	require.Regexp(t, `flaredb_kv_requests_total\{code="OK",method="RawPut"\} [1-9]`, string(body))
	require.Contains(t, string(body), "flaredb_engine_written_bytes_total")

	// PD knows the store at the address actually bound.
	pdc, err := pdclient.New(ctx, n.PDEndpoints(), zaptest.NewLogger(t))
	require.NoError(t, err)
	store, err := pdc.GetStore(ctx, storeID)
	require.NoError(t, err)
	require.Equal(t, n.Addr(), store.GetAddress())
	require.NoError(t, pdc.Close())

	n.Stop()
	n.Stop() // idempotent

	// Same data dir: same identity and region, data intact, no new
	// bootstrap.
	again := startNode(t, testConfig(dir))
	require.Equal(t, storeID, again.StoreID())
	kv = kvrpcpb.NewKVClient(dial(t, again.Addr()))
	var get *kvrpcpb.GetResponse
	waitReady(t, func() bool {
		get, err = kv.Get(ctx, &kvrpcpb.GetRequest{Key: []byte("hello")})
		require.NoError(t, err)
		return get.GetRegionError().GetNotLeader() == nil
	})
	require.Nil(t, get.GetRegionError())
	require.Equal(t, "world", string(get.GetValue()))
	require.Equal(t, uint64(1), get.GetVersion())
	require.Equal(t, 1, getStatus(t, again).RegionCount)

	pdc, err = pdclient.New(ctx, again.PDEndpoints(), zaptest.NewLogger(t))
	require.NoError(t, err)
	defer pdc.Close()
	stores, err := pdc.GetAllStores(ctx)
	require.NoError(t, err)
	require.Len(t, stores, 1)
	require.Equal(t, again.Addr(), stores[0].GetAddress(), "restart re-registers the new address")
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Limits.MaxValueSize = 0
	_, err := New(cfg, nil, nil)
	require.ErrorContains(t, err, "limits.max-value-size")
}

func TestFailedStartReleasesEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	// The status address is taken, so Start fails after the engine and PD
	// are up; a later node on the same dir must still start.
	blocker := startNode(t, testConfig(t.TempDir()))
	cfg.StatusAddr = blocker.StatusAddr()
	n, err := New(cfg, zaptest.NewLogger(t), prometheus.NewRegistry())
	require.NoError(t, err)
	err = n.Start()
	require.ErrorContains(t, err, "status address")
	n.Stop()

	ok := startNode(t, testConfig(dir))
	require.NotZero(t, ok.StoreID())
}

func TestDataDirIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	n, err := New(testConfig(file), nil, nil)
	require.NoError(t, err)
	err = n.Start()
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "data dir"), err.Error())
	n.Stop()
}

func TestStopFinishesWithinTimeout(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.GracefulStopTimeout = 5 * time.Second
	n := startNode(t, cfg)
	kv := kvrpcpb.NewKVClient(dial(t, n.Addr()))
	putWhenReady(t, kv, "k", "v")
	n.Stop()
	_, err := kv.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Error(t, err, "a stopped node serves nothing")
}
