package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// fakeStorage answers through the funcs set by a test; an unset func fails
// the call, so a test notices a handler reaching storage it should not.
type fakeStorage struct {
	write    func(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error)
	snapshot func(ctx context.Context, rctx *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error)
}

func (f *fakeStorage) Write(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
	if f.write == nil {
		return nil, nil, status.Error(codes.FailedPrecondition, "test: unexpected Write")
	}
	return f.write(ctx, rctx, cmds)
}

func (f *fakeStorage) Snapshot(ctx context.Context, rctx *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error) {
	if f.snapshot == nil {
		return nil, nil, nil, status.Error(codes.FailedPrecondition, "test: unexpected Snapshot")
	}
	return f.snapshot(ctx, rctx)
}

func (f *fakeStorage) ChangePeer(context.Context, *kvrpcpb.Context, kvrpcpb.ConfChangeType, *metapb.Peer) (*metapb.Region, *errorpb.Error, error) {
	return nil, nil, ErrUnsupported
}

func (f *fakeStorage) TransferLeader(context.Context, *kvrpcpb.Context, *metapb.Peer) (*errorpb.Error, error) {
	return nil, ErrUnsupported
}

var testLimits = Limits{MaxKeySize: 16, MaxValueSize: 32, MaxBatchKeys: 3, MaxScanLimit: 10}

type testServer struct {
	kv     kvrpcpb.KVClient
	conn   *grpc.ClientConn
	reg    *prometheus.Registry
	logs   *observer.ObservedLogs
	server *Server
}

// startServer serves st over real gRPC on 127.0.0.1 with port 0.
func startServer(t *testing.T, st Storage) *testServer {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	srv, err := New(Config{Limits: testLimits, SlowRequestThreshold: time.Hour, MaxMessageSize: 1 << 20}, st, zap.New(core), reg)
	require.NoError(t, err)
	conn := serveTest(t, srv)
	return &testServer{kv: kvrpcpb.NewKVClient(conn), conn: conn, reg: reg, logs: logs, server: srv}
}

// serveTest serves srv on a loopback port and dials it; cleanup closes the
// connection and stops the server, which must have served without error.
func serveTest(t *testing.T, srv *Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		srv.Stop(5 * time.Second)
		require.NoError(t, <-served)
	})
	return conn
}

func TestValidationRejectsBadRequests(t *testing.T) {
	ts := startServer(t, &fakeStorage{})
	ctx := context.Background()
	long := []byte(strings.Repeat("k", 17))
	big := []byte(strings.Repeat("v", 33))
	tests := []struct {
		name string
		call func() error
		msg  string
	}{
		{"get empty key", func() error { _, err := ts.kv.RawGet(ctx, &kvrpcpb.RawGetRequest{}); return err }, "key is empty"},
		{"get long key", func() error { _, err := ts.kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: long}); return err },
			"key is 17 bytes, over the max key size of 16 bytes"},
		{"versioned get empty key", func() error { _, err := ts.kv.Get(ctx, &kvrpcpb.GetRequest{}); return err }, "key is empty"},
		{"put empty key", func() error { _, err := ts.kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Value: []byte("v")}); return err }, "key is empty"},
		{"put big value", func() error {
			_, err := ts.kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: big})
			return err
		}, "value is 33 bytes, over the max value size of 32 bytes"},
		{"delete long key", func() error { _, err := ts.kv.RawDelete(ctx, &kvrpcpb.RawDeleteRequest{Key: long}); return err },
			"over the max key size of 16 bytes"},
		{"batch get too many", func() error {
			_, err := ts.kv.RawBatchGet(ctx, &kvrpcpb.RawBatchGetRequest{Keys: [][]byte{{1}, {2}, {3}, {4}}})
			return err
		}, "batch has 4 keys, over the max batch size of 3 keys"},
		{"batch get empty key", func() error {
			_, err := ts.kv.RawBatchGet(ctx, &kvrpcpb.RawBatchGetRequest{Keys: [][]byte{{1}, {}}})
			return err
		}, "keys[1] is empty"},
		{"batch put too many", func() error {
			p := &kvrpcpb.KvPair{Key: []byte("k")}
			_, err := ts.kv.RawBatchPut(ctx, &kvrpcpb.RawBatchPutRequest{Pairs: []*kvrpcpb.KvPair{p, p, p, p}})
			return err
		}, "over the max batch size of 3 keys"},
		{"batch put big value", func() error {
			_, err := ts.kv.RawBatchPut(ctx, &kvrpcpb.RawBatchPutRequest{Pairs: []*kvrpcpb.KvPair{{Key: []byte("a")}, {Key: []byte("b"), Value: big}}})
			return err
		}, "pairs[1].value is 33 bytes, over the max value size of 32 bytes"},
		{"batch delete too many", func() error {
			_, err := ts.kv.RawBatchDelete(ctx, &kvrpcpb.RawBatchDeleteRequest{Keys: [][]byte{{1}, {2}, {3}, {4}}})
			return err
		}, "over the max batch size of 3 keys"},
		{"scan start after end", func() error {
			_, err := ts.kv.RawScan(ctx, &kvrpcpb.RawScanRequest{StartKey: []byte("b"), EndKey: []byte("a")})
			return err
		}, "must sort before end_key"},
		{"scan start equals end", func() error {
			_, err := ts.kv.RawScan(ctx, &kvrpcpb.RawScanRequest{StartKey: []byte("a"), EndKey: []byte("a")})
			return err
		}, "must sort before end_key"},
		{"scan limit too big", func() error {
			_, err := ts.kv.RawScan(ctx, &kvrpcpb.RawScanRequest{Limit: 11})
			return err
		}, "limit 11 is over the max scan limit of 10"},
		{"scan long bound", func() error {
			_, err := ts.kv.RawScan(ctx, &kvrpcpb.RawScanRequest{StartKey: long})
			return err
		}, "start_key is 17 bytes, over the max key size of 16 bytes"},
		{"delete range without end", func() error {
			_, err := ts.kv.RawDeleteRange(ctx, &kvrpcpb.RawDeleteRangeRequest{StartKey: []byte("a")})
			return err
		}, "end_key is empty"},
		{"delete range reversed", func() error {
			_, err := ts.kv.RawDeleteRange(ctx, &kvrpcpb.RawDeleteRangeRequest{StartKey: []byte("b"), EndKey: []byte("a")})
			return err
		}, "must sort before end_key"},
		{"cas big value", func() error {
			_, err := ts.kv.CompareAndSwap(ctx, &kvrpcpb.CompareAndSwapRequest{Key: []byte("k"), Value: big})
			return err
		}, "over the max value size of 32 bytes"},
		{"cas empty key", func() error { _, err := ts.kv.CompareAndSwap(ctx, &kvrpcpb.CompareAndSwapRequest{}); return err }, "key is empty"},
		{"change peer without peer", func() error { _, err := ts.kv.ChangePeer(ctx, &kvrpcpb.ChangePeerRequest{}); return err }, "peer is required"},
		{"transfer leader without peer", func() error {
			_, err := ts.kv.TransferLeader(ctx, &kvrpcpb.TransferLeaderRequest{})
			return err
		}, "peer is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Equal(t, codes.InvalidArgument, status.Code(err), "error: %v", err)
			require.Contains(t, status.Convert(err).Message(), tt.msg)
		})
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	st := &fakeStorage{write: func(context.Context, *kvrpcpb.Context, []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
		panic("boom")
	}}
	ts := startServer(t, st)
	_, err := ts.kv.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
	require.Equal(t, codes.Internal, status.Code(err), "error: %v", err)

	logged := ts.logs.FilterMessage("panic in grpc handler").All()
	require.Len(t, logged, 1)
	require.Equal(t, zapcore.ErrorLevel, logged[0].Level)
	require.Equal(t, "boom", logged[0].ContextMap()["panic"])
	require.Equal(t, 1.0, counterValue(t, ts.server.m.panics))
	require.Equal(t, 1.0, counterValue(t, ts.server.m.requests.WithLabelValues("RawPut", "Internal")))

	// The server survives and keeps answering.
	_, err = ts.kv.RawGet(context.Background(), &kvrpcpb.RawGetRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestRoutingErrorTravelsInBody(t *testing.T) {
	rerr := NewRegionNotFound(7)
	st := &fakeStorage{
		write: func(context.Context, *kvrpcpb.Context, []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			return nil, rerr, nil
		},
		snapshot: func(context.Context, *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error) {
			return nil, nil, rerr, nil
		},
	}
	ts := startServer(t, st)
	ctx := context.Background()
	rctx := &kvrpcpb.Context{RegionId: 7}

	put, err := ts.kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Context: rctx, Key: []byte("k")})
	require.NoError(t, err)
	require.Equal(t, uint64(7), put.GetRegionError().GetRegionNotFound().GetRegionId())

	get, err := ts.kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: rctx, Key: []byte("k")})
	require.NoError(t, err)
	require.NotNil(t, get.GetRegionError().GetRegionNotFound())

	scan, err := ts.kv.RawScan(ctx, &kvrpcpb.RawScanRequest{Context: rctx})
	require.NoError(t, err)
	require.NotNil(t, scan.GetRegionError().GetRegionNotFound())

	cas, err := ts.kv.CompareAndSwap(ctx, &kvrpcpb.CompareAndSwapRequest{Context: rctx, Key: []byte("k")})
	require.NoError(t, err)
	require.NotNil(t, cas.GetRegionError().GetRegionNotFound())
}

func TestAdminUnsupportedIsUnimplemented(t *testing.T) {
	ts := startServer(t, &fakeStorage{})
	_, err := ts.kv.ChangePeer(context.Background(), &kvrpcpb.ChangePeerRequest{Peer: &metapb.Peer{Id: 2, StoreId: 2}})
	require.Equal(t, codes.Unimplemented, status.Code(err))
	_, err = ts.kv.TransferLeader(context.Background(), &kvrpcpb.TransferLeaderRequest{Peer: &metapb.Peer{Id: 2, StoreId: 2}})
	require.Equal(t, codes.Unimplemented, status.Code(err))
}

func TestHealthServingAndMetricsStartAtZero(t *testing.T) {
	ts := startServer(t, &fakeStorage{})
	// Every KV method and code exists before its first request.
	families, err := ts.reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, f := range families {
		if f.GetName() == "flaredb_kv_requests_total" {
			n = len(f.GetMetric())
		}
	}
	require.Equal(t, len(kvrpcpb.KV_ServiceDesc.Methods)*17, n)
	require.Equal(t, 0.0, counterValue(t, ts.server.m.requests.WithLabelValues("RawScan", "OK")))

	resp, err := healthpb.NewHealthClient(ts.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "kvrpcpb.KV"})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
}

func TestToStatus(t *testing.T) {
	tests := []struct {
		err  error
		code codes.Code
	}{
		{invalidf("bad"), codes.InvalidArgument},
		{fmt.Errorf("apply: %w", kvcmd.ErrInvalid), codes.InvalidArgument},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{ErrUnsupported, codes.Unimplemented},
		{storage.ErrClosed, codes.Unavailable},
		{status.Error(codes.ResourceExhausted, "x"), codes.ResourceExhausted},
		{storage.ErrUnknownCF, codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			require.Equal(t, tt.code, status.Code(toStatus(tt.err)))
		})
	}
	require.NoError(t, toStatus(nil))
}

// counterValue reads one counter without the testutil package (whose diff
// dependency the module does not carry).
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
