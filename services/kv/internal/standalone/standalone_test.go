package standalone_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/services/kv/internal/server"
	"github.com/flaredb/flaredb/services/kv/internal/standalone"
)

const storeID = 1

func wholeRegion() *metapb.Region {
	return &metapb.Region{
		Id:          2,
		RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers:       []*metapb.Peer{{Id: 3, StoreId: storeID}},
	}
}

func openEngine(t *testing.T) *rocksdb.Engine {
	t.Helper()
	cfg := rocksdb.NewConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 1<<20, 1<<20
	e, err := rocksdb.Open(t.TempDir(), cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// serve runs the real KV handlers over a standalone Storage for region on a
// fresh engine, over gRPC on 127.0.0.1 port 0.
func serve(t *testing.T, region *metapb.Region) kvrpcpb.KVClient {
	t.Helper()
	st := standalone.New(openEngine(t), storeID, region, kvcmd.DefaultLimits(), zaptest.NewLogger(t))
	srv, err := server.New(server.Config{
		Limits:               server.Limits{MaxKeySize: 4096, MaxValueSize: 1 << 20, MaxBatchKeys: 100, MaxScanLimit: 100},
		SlowRequestThreshold: time.Hour,
		MaxMessageSize:       4 << 20,
	}, st, zaptest.NewLogger(t), prometheus.NewRegistry())
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		srv.Stop(5 * time.Second)
	})
	return kvrpcpb.NewKVClient(conn)
}

func put(t *testing.T, kv kvrpcpb.KVClient, k, v string) uint64 {
	t.Helper()
	resp, err := kv.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte(k), Value: []byte(v)})
	require.NoError(t, err)
	require.Nil(t, resp.GetRegionError())
	return resp.GetVersion()
}

func TestVersionsIncreaseAcrossDelete(t *testing.T) {
	kv := serve(t, wholeRegion())
	ctx := context.Background()

	get, err := kv.Get(ctx, &kvrpcpb.GetRequest{Key: []byte("k")})
	require.NoError(t, err)
	require.True(t, get.GetNotFound())
	require.Zero(t, get.GetVersion())

	require.Equal(t, uint64(1), put(t, kv, "k", "a"))
	require.Equal(t, uint64(2), put(t, kv, "k", "b"))
	get, err = kv.Get(ctx, &kvrpcpb.GetRequest{Key: []byte("k")})
	require.NoError(t, err)
	require.False(t, get.GetNotFound())
	require.Equal(t, "b", string(get.GetValue()))
	require.Equal(t, uint64(2), get.GetVersion())

	_, err = kv.RawDelete(ctx, &kvrpcpb.RawDeleteRequest{Key: []byte("k")})
	require.NoError(t, err)
	raw, err := kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.NoError(t, err)
	require.True(t, raw.GetNotFound())
	require.Greater(t, put(t, kv, "k", "c"), uint64(2), "a re-created key never reuses a version")
}

func TestBatchPutGetDelete(t *testing.T) {
	kv := serve(t, wholeRegion())
	ctx := context.Background()
	put(t, kv, "b", "old")
	bp, err := kv.RawBatchPut(ctx, &kvrpcpb.RawBatchPutRequest{Pairs: []*kvrpcpb.KvPair{
		{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")},
	}})
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, bp.GetVersions())

	bg, err := kv.RawBatchGet(ctx, &kvrpcpb.RawBatchGetRequest{Keys: [][]byte{[]byte("b"), []byte("missing"), []byte("a")}})
	require.NoError(t, err)
	require.Len(t, bg.GetPairs(), 2, "only found keys, in request order")
	require.Equal(t, "b", string(bg.GetPairs()[0].GetKey()))
	require.Equal(t, "2", string(bg.GetPairs()[0].GetValue()))
	require.Equal(t, uint64(2), bg.GetPairs()[0].GetVersion())
	require.Equal(t, "a", string(bg.GetPairs()[1].GetKey()))

	_, err = kv.RawBatchDelete(ctx, &kvrpcpb.RawBatchDeleteRequest{Keys: [][]byte{[]byte("a"), []byte("b")}})
	require.NoError(t, err)
	bg, err = kv.RawBatchGet(ctx, &kvrpcpb.RawBatchGetRequest{Keys: [][]byte{[]byte("a"), []byte("b")}})
	require.NoError(t, err)
	require.Empty(t, bg.GetPairs())
}

func TestCompareAndSwap(t *testing.T) {
	kv := serve(t, wholeRegion())
	ctx := context.Background()
	cas := func(k, v string, expect uint64, del bool) *kvrpcpb.CompareAndSwapResponse {
		t.Helper()
		resp, err := kv.CompareAndSwap(ctx, &kvrpcpb.CompareAndSwapRequest{
			Key: []byte(k), Value: []byte(v), ExpectedVersion: expect, Delete: del,
		})
		require.NoError(t, err)
		require.Nil(t, resp.GetRegionError())
		return resp
	}
	tests := []struct {
		name      string
		value     string
		expect    uint64
		del       bool
		succeeded bool
		version   uint64
		got       string
	}{
		{"create only when absent", "v1", 0, false, true, 1, "v1"},
		{"create again conflicts", "x", 0, false, false, 1, "v1"},
		{"stale version conflicts", "x", 7, false, false, 1, "v1"},
		{"matching version swaps", "v2", 1, false, true, 2, "v2"},
		{"delete with stale version conflicts", "", 1, true, false, 2, "v2"},
		{"delete with matching version", "", 2, true, true, 0, ""},
		{"absent again: create only", "v3", 0, false, true, 3, "v3"},
	}
	for _, tt := range tests {
		resp := cas("k", tt.value, tt.expect, tt.del)
		require.Equal(t, tt.succeeded, resp.GetSucceeded(), tt.name)
		require.Equal(t, tt.version, resp.GetVersion(), tt.name)
		require.Equal(t, tt.got, string(resp.GetValue()), tt.name)
	}
}

func TestScan(t *testing.T) {
	kv := serve(t, wholeRegion())
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		put(t, kv, k, "v"+k)
	}
	_, err := kv.RawDelete(context.Background(), &kvrpcpb.RawDeleteRequest{Key: []byte("c")})
	require.NoError(t, err)

	tests := []struct {
		name string
		req  *kvrpcpb.RawScanRequest
		keys []string
	}{
		{"all", &kvrpcpb.RawScanRequest{}, []string{"a", "b", "d", "e"}},
		{"range", &kvrpcpb.RawScanRequest{StartKey: []byte("b"), EndKey: []byte("e")}, []string{"b", "d"}},
		{"limit", &kvrpcpb.RawScanRequest{Limit: 2}, []string{"a", "b"}},
		{"reverse", &kvrpcpb.RawScanRequest{Reverse: true}, []string{"e", "d", "b", "a"}},
		{"reverse range limit", &kvrpcpb.RawScanRequest{StartKey: []byte("a"), EndKey: []byte("e"), Reverse: true, Limit: 2}, []string{"d", "b"}},
		{"key only", &kvrpcpb.RawScanRequest{StartKey: []byte("d"), KeyOnly: true}, []string{"d", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := kv.RawScan(context.Background(), tt.req)
			require.NoError(t, err)
			require.Nil(t, resp.GetRegionError())
			var keys []string
			for _, p := range resp.GetKvs() {
				keys = append(keys, string(p.GetKey()))
				require.Equal(t, uint64(1), p.GetVersion())
				if tt.req.GetKeyOnly() {
					require.Empty(t, p.GetValue())
				} else {
					require.Equal(t, "v"+string(p.GetKey()), string(p.GetValue()))
				}
			}
			require.Equal(t, tt.keys, keys)
		})
	}
}

func TestDeleteRange(t *testing.T) {
	kv := serve(t, wholeRegion())
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		put(t, kv, k, "v")
	}
	_, err := kv.RawDeleteRange(ctx, &kvrpcpb.RawDeleteRangeRequest{StartKey: []byte("b"), EndKey: []byte("d")})
	require.NoError(t, err)
	resp, err := kv.RawScan(ctx, &kvrpcpb.RawScanRequest{KeyOnly: true})
	require.NoError(t, err)
	require.Len(t, resp.GetKvs(), 2)
	require.Equal(t, "a", string(resp.GetKvs()[0].GetKey()))
	require.Equal(t, "d", string(resp.GetKvs()[1].GetKey()))
	require.Greater(t, put(t, kv, "b", "again"), uint64(1), "versions survive delete-range")
}

func TestRoutingErrors(t *testing.T) {
	narrow := wholeRegion()
	narrow.StartKey, narrow.EndKey = []byte("m"), []byte("t")
	kv := serve(t, narrow)
	ctx := context.Background()
	epoch := &metapb.RegionEpoch{ConfVer: 1, Version: 1}

	tests := []struct {
		name  string
		rctx  *kvrpcpb.Context
		key   string
		check func(t *testing.T, resp *kvrpcpb.RawPutResponse)
	}{
		{"unknown region", &kvrpcpb.Context{RegionId: 9}, "n", func(t *testing.T, r *kvrpcpb.RawPutResponse) {
			require.Equal(t, uint64(9), r.GetRegionError().GetRegionNotFound().GetRegionId())
		}},
		{"stale epoch", &kvrpcpb.Context{RegionId: 2, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 0}}, "n",
			func(t *testing.T, r *kvrpcpb.RawPutResponse) {
				cur := r.GetRegionError().GetEpochNotMatch().GetCurrentRegions()
				require.Len(t, cur, 1)
				require.Equal(t, uint64(1), cur[0].GetRegionEpoch().GetVersion())
			}},
		{"other store", &kvrpcpb.Context{RegionId: 2, Peer: &metapb.Peer{Id: 3, StoreId: 5}}, "n",
			func(t *testing.T, r *kvrpcpb.RawPutResponse) {
				require.Equal(t, uint64(5), r.GetRegionError().GetStoreNotMatch().GetRequestStoreId())
			}},
		{"key below region", &kvrpcpb.Context{RegionId: 2, RegionEpoch: epoch}, "a", func(t *testing.T, r *kvrpcpb.RawPutResponse) {
			require.Equal(t, "a", string(r.GetRegionError().GetKeyNotInRegion().GetKey()))
		}},
		{"key at region end", &kvrpcpb.Context{}, "t", func(t *testing.T, r *kvrpcpb.RawPutResponse) {
			require.NotNil(t, r.GetRegionError().GetKeyNotInRegion())
		}},
		{"matching context", &kvrpcpb.Context{RegionId: 2, RegionEpoch: epoch, Peer: &metapb.Peer{Id: 3, StoreId: storeID}}, "n",
			func(t *testing.T, r *kvrpcpb.RawPutResponse) {
				require.Nil(t, r.GetRegionError())
				require.Equal(t, uint64(1), r.GetVersion())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Context: tt.rctx, Key: []byte(tt.key), Value: []byte("v")})
			require.NoError(t, err)
			tt.check(t, resp)
		})
	}

	// Reads are routed the same way; a scan missing the region entirely is
	// re-routed rather than answered empty.
	get, err := kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: []byte("z")})
	require.NoError(t, err)
	require.NotNil(t, get.GetRegionError().GetKeyNotInRegion())
	scan, err := kv.RawScan(ctx, &kvrpcpb.RawScanRequest{StartKey: []byte("u")})
	require.NoError(t, err)
	require.NotNil(t, scan.GetRegionError().GetKeyNotInRegion())
	scan, err = kv.RawScan(ctx, &kvrpcpb.RawScanRequest{StartKey: []byte("a")})
	require.NoError(t, err)
	require.Nil(t, scan.GetRegionError(), "a scan overlapping the region is clipped to it")
	require.Len(t, scan.GetKvs(), 1)
	dr, err := kv.RawDeleteRange(ctx, &kvrpcpb.RawDeleteRangeRequest{StartKey: []byte("n"), EndKey: []byte("z")})
	require.NoError(t, err)
	require.NotNil(t, dr.GetRegionError().GetKeyNotInRegion())
}

func TestNoRegionAndNoReplication(t *testing.T) {
	kv := serve(t, nil)
	ctx := context.Background()
	resp, err := kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Key: []byte("k")})
	require.NoError(t, err)
	require.NotNil(t, resp.GetRegionError().GetRegionNotFound())

	_, err = kv.ChangePeer(ctx, &kvrpcpb.ChangePeerRequest{Peer: &metapb.Peer{Id: 4, StoreId: 2}})
	require.Equal(t, codes.Unimplemented, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "Raft backend")
	_, err = kv.TransferLeader(ctx, &kvrpcpb.TransferLeaderRequest{Peer: &metapb.Peer{Id: 4, StoreId: 2}})
	require.Equal(t, codes.Unimplemented, status.Code(err))
}

func TestWriteIsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := rocksdb.NewConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 1<<20, 1<<20
	e, err := rocksdb.Open(dir, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	st := standalone.New(e, storeID, wholeRegion(), kvcmd.DefaultLimits(), nil)
	res, rerr, err := st.Write(context.Background(), &kvrpcpb.Context{},
		[]*kvcmd.Command{{Op: kvcmd.OpPut, Key: []byte("k"), Value: []byte("v")}, {Op: kvcmd.OpPut, Key: []byte("k"), Value: []byte("w")}})
	require.NoError(t, err)
	require.Nil(t, rerr)
	require.Equal(t, []uint64{1, 2}, []uint64{res[0].Version, res[1].Version}, "commands of one write apply in order")
	require.NoError(t, e.Close())

	e, err = rocksdb.Open(dir, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer e.Close()
	v, ver, err := kvcmd.Get(e, []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "w", string(v))
	require.Equal(t, uint64(2), ver)
}
