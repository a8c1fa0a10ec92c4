package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// engineStorage is a real single-region Storage over a RocksDB engine, so
// batched and unary requests can be compared on real reads and writes.
type engineStorage struct {
	e  storage.Engine
	mu sync.Mutex // serialises Write: the Applier reads, then writes versions
}

func newEngineStorage(t *testing.T) *engineStorage {
	cfg := rocksdb.NewConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 1<<20, 1<<20
	e, err := rocksdb.Open(t.TempDir(), cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return &engineStorage{e: e}
}

func (s *engineStorage) Write(_ context.Context, _ *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wb := s.e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(s.e, wb)
	var out []kvcmd.Result
	for _, c := range cmds {
		res, err := a.Apply(c)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, res)
	}
	return out, nil, s.e.Write(wb, storage.WriteOptions{})
}

func (s *engineStorage) Snapshot(context.Context, *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error) {
	snap, err := s.e.NewSnapshot()
	return snap, &metapb.Region{Id: 1}, nil, err
}

func (s *engineStorage) ChangePeer(context.Context, *kvrpcpb.Context, kvrpcpb.ConfChangeType, *metapb.Peer) (*metapb.Region, *errorpb.Error, error) {
	return nil, nil, ErrUnsupported
}

func (s *engineStorage) TransferLeader(context.Context, *kvrpcpb.Context, *metapb.Peer) (*errorpb.Error, error) {
	return nil, ErrUnsupported
}

// batchStream is a test client of one BatchCommands stream.
type batchStream struct {
	t      *testing.T
	stream kvrpcpb.KV_BatchCommandsClient
	nextID uint64
	// msgs counts response messages received.
	msgs int
}

func openBatch(t *testing.T, ts *testServer) *batchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := ts.kv.BatchCommands(ctx)
	require.NoError(t, err)
	return &batchStream{t: t, stream: stream, nextID: 1000}
}

// do sends reqs in one message and returns their answers in request order.
func (b *batchStream) do(reqs ...*kvrpcpb.BatchCommandsRequest_Request) []*kvrpcpb.BatchCommandsResponse_Response {
	b.t.Helper()
	msg := &kvrpcpb.BatchCommandsRequest{Requests: reqs}
	index := map[uint64]int{}
	for i := range reqs {
		b.nextID++
		msg.RequestIds = append(msg.RequestIds, b.nextID)
		index[b.nextID] = i
	}
	require.NoError(b.t, b.stream.Send(msg))
	out := make([]*kvrpcpb.BatchCommandsResponse_Response, len(reqs))
	for n := 0; n < len(reqs); {
		resp, err := b.stream.Recv()
		require.NoError(b.t, err)
		b.msgs++
		require.Len(b.t, resp.GetRequestIds(), len(resp.GetResponses()))
		for j, id := range resp.GetRequestIds() {
			i, ok := index[id]
			require.True(b.t, ok, "unknown request id %d", id)
			require.Nil(b.t, out[i], "request id %d answered twice", id)
			out[i] = resp.GetResponses()[j]
			n++
		}
	}
	return out
}

type batchReq = kvrpcpb.BatchCommandsRequest_Request

func rawPut(k, v string) *batchReq {
	return &batchReq{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawPut{RawPut: &kvrpcpb.RawPutRequest{Key: []byte(k), Value: []byte(v)}}}
}

func rawGet(k string) *batchReq {
	return &batchReq{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawGet{RawGet: &kvrpcpb.RawGetRequest{Key: []byte(k)}}}
}

// unaryCall sends r as its unary RPC and wraps the outcome like a batch
// response, for comparison.
func unaryCall(ctx context.Context, kv kvrpcpb.KVClient, r *batchReq) *kvrpcpb.BatchCommandsResponse_Response {
	var (
		resp any
		err  error
	)
	switch c := r.GetCmd().(type) {
	case *kvrpcpb.BatchCommandsRequest_Request_RawGet:
		resp, err = kv.RawGet(ctx, c.RawGet)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchGet:
		resp, err = kv.RawBatchGet(ctx, c.RawBatchGet)
	case *kvrpcpb.BatchCommandsRequest_Request_RawPut:
		resp, err = kv.RawPut(ctx, c.RawPut)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchPut:
		resp, err = kv.RawBatchPut(ctx, c.RawBatchPut)
	case *kvrpcpb.BatchCommandsRequest_Request_RawDelete:
		resp, err = kv.RawDelete(ctx, c.RawDelete)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchDelete:
		resp, err = kv.RawBatchDelete(ctx, c.RawBatchDelete)
	case *kvrpcpb.BatchCommandsRequest_Request_RawScan:
		resp, err = kv.RawScan(ctx, c.RawScan)
	case *kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange:
		resp, err = kv.RawDeleteRange(ctx, c.RawDeleteRange)
	case *kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap:
		resp, err = kv.CompareAndSwap(ctx, c.CompareAndSwap)
	case *kvrpcpb.BatchCommandsRequest_Request_Get:
		resp, err = kv.Get(ctx, c.Get)
	default:
		panic(fmt.Sprintf("unaryCall: %T", c))
	}
	if err != nil {
		return errResponse(err)
	}
	return okResponse(resp)
}

func TestBatchAnswersLikeUnary(t *testing.T) {
	ctx := context.Background()
	unarySrv := startServer(t, newEngineStorage(t))
	batchSrv := startServer(t, newEngineStorage(t))
	b := openBatch(t, batchSrv)
	long := strings.Repeat("k", 17)

	// Phases run one after the other; the commands of one phase touch
	// different keys, so running them concurrently cannot change their
	// answers.
	phases := [][]*batchReq{
		{
			rawPut("a", "1"), rawPut("b", "2"), rawPut(long, "x"),
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchPut{RawBatchPut: &kvrpcpb.RawBatchPutRequest{
				Pairs: []*kvrpcpb.KvPair{{Key: []byte("c"), Value: []byte("3")}, {Key: []byte("d"), Value: []byte("4")}}}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap{CompareAndSwap: &kvrpcpb.CompareAndSwapRequest{
				Key: []byte("e"), Value: []byte("5")}}},
			rawGet("z"),
		},
		{
			rawPut("a", "1b"),
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap{CompareAndSwap: &kvrpcpb.CompareAndSwapRequest{
				Key: []byte("b"), Value: []byte("x"), ExpectedVersion: 7}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap{CompareAndSwap: &kvrpcpb.CompareAndSwapRequest{
				Key: []byte("e"), Value: []byte("5b"), ExpectedVersion: 1}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawDelete{RawDelete: &kvrpcpb.RawDeleteRequest{Key: []byte("c")}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_Get{Get: &kvrpcpb.GetRequest{Key: []byte("d")}}},
		},
		{
			rawGet("a"), rawGet("c"), rawGet(""),
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_Get{Get: &kvrpcpb.GetRequest{Key: []byte("e")}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchGet{RawBatchGet: &kvrpcpb.RawBatchGetRequest{
				Keys: [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawScan{RawScan: &kvrpcpb.RawScanRequest{StartKey: []byte("a"), Limit: 10}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawScan{RawScan: &kvrpcpb.RawScanRequest{Reverse: true, KeyOnly: true}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawScan{RawScan: &kvrpcpb.RawScanRequest{Limit: 11}}},
		},
		{
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange{RawDeleteRange: &kvrpcpb.RawDeleteRangeRequest{
				StartKey: []byte("a"), EndKey: []byte("c")}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchDelete{RawBatchDelete: &kvrpcpb.RawBatchDeleteRequest{
				Keys: [][]byte{[]byte("d"), []byte("e")}}}},
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange{RawDeleteRange: &kvrpcpb.RawDeleteRangeRequest{
				StartKey: []byte("x")}}},
		},
		{
			{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawScan{RawScan: &kvrpcpb.RawScanRequest{}}},
		},
	}
	seen := map[codes.Code]bool{}
	total := 0
	for p, reqs := range phases {
		total += len(reqs)
		got := b.do(reqs...)
		for i, r := range reqs {
			want := unaryCall(ctx, unarySrv.kv, r)
			require.True(t, proto.Equal(want, got[i]), "phase %d request %d:\nunary %v\nbatch %v", p, i, want, got[i])
			seen[codes.Code(want.GetCode())] = true
		}
	}
	require.True(t, seen[codes.OK] && seen[codes.InvalidArgument], "the phases exercise success and refusal")
	// Every command was counted under its unary method, like unary calls.
	for _, method := range []string{"RawPut", "RawGet", "CompareAndSwap", "RawScan", "Get"} {
		for _, code := range []string{"OK", "InvalidArgument"} {
			require.Equal(t,
				counterValue(t, unarySrv.server.m.requests.WithLabelValues(method, code)),
				counterValue(t, batchSrv.server.m.requests.WithLabelValues(method, code)), "%s %s", method, code)
		}
	}
	require.Equal(t, 3.0, counterValue(t, batchSrv.server.m.requests.WithLabelValues("RawPut", "OK")))
	h := histogram(t, batchSrv.server.m.batchSize)
	require.Equal(t, uint64(len(phases)), h.GetSampleCount())
	require.Equal(t, float64(total), h.GetSampleSum())
	require.Equal(t, 0.0, gaugeValue(t, batchSrv.server.m.inFlight))
	// And logged like unary calls: one debug line each, with its method.
	logged := batchSrv.logs.FilterMessage("handled request").All()
	require.Len(t, logged, total)
	require.Contains(t, []any{"RawPut", "RawGet", "Get", "RawScan", "CompareAndSwap", "RawBatchPut", "RawBatchGet",
		"RawDelete", "RawBatchDelete", "RawDeleteRange"}, logged[0].ContextMap()["method"])
	require.Contains(t, logged[0].ContextMap(), "remote-addr")
}

func TestBatchBadRequestsFailAlone(t *testing.T) {
	ts := startServer(t, newEngineStorage(t))
	b := openBatch(t, ts)
	b.do(rawPut("k", "v"))
	got := b.do(rawPut("j", "v"), rawPut("", "v"), &batchReq{}, rawGet("k"), &batchReq{TimeoutMs: 5})
	require.Equal(t, uint32(codes.OK), got[0].GetCode())
	require.NotZero(t, got[0].GetRawPut().GetVersion())
	require.Equal(t, uint32(codes.InvalidArgument), got[1].GetCode())
	require.Equal(t, "key is empty", got[1].GetMessage())
	require.Nil(t, got[1].GetCmd())
	require.Equal(t, uint32(codes.InvalidArgument), got[2].GetCode())
	require.Equal(t, "batch request 2 has no command", got[2].GetMessage())
	require.Equal(t, uint32(codes.OK), got[3].GetCode())
	require.Equal(t, "v", string(got[3].GetRawGet().GetValue()))
	require.Equal(t, "batch request 4 has no command", got[4].GetMessage())

	// Over the per-message cap: every request is refused, none runs, and
	// the stream lives on.
	var many []*batchReq
	for i := 0; i <= maxBatchCommands; i++ {
		many = append(many, rawPut(fmt.Sprintf("m%d", i), "v"))
	}
	for _, r := range b.do(many...) {
		require.Equal(t, uint32(codes.InvalidArgument), r.GetCode())
		require.Equal(t, "batch has 1025 requests, over the max of 1024 requests per message", r.GetMessage())
	}
	require.Equal(t, "v", string(b.do(rawGet("k"))[0].GetRawGet().GetValue()))
	// Refused with the message, not run: only the empty key counted.
	require.Equal(t, 1.0, counterValue(t, ts.server.m.requests.WithLabelValues("RawPut", "InvalidArgument")))

	// Answers that could not be routed end the stream.
	require.NoError(t, b.stream.Send(&kvrpcpb.BatchCommandsRequest{Requests: []*batchReq{rawGet("k")}}))
	_, err := b.stream.Recv()
	require.Equal(t, codes.InvalidArgument, status.Code(err), "error: %v", err)
	require.Contains(t, status.Convert(err).Message(), "batch has 1 requests but 0 request ids")
}

func TestBatchPanicFailsOnlyItsCommand(t *testing.T) {
	st := newEngineStorage(t)
	ts := startServer(t, &fakeStorage{
		write: func(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			if string(cmds[0].Key) == "boom" {
				panic("boom")
			}
			return st.Write(ctx, rctx, cmds)
		},
		snapshot: st.Snapshot,
	})
	b := openBatch(t, ts)
	got := b.do(rawPut("a", "1"), rawPut("boom", "1"), rawPut("b", "2"))
	require.Equal(t, uint32(codes.OK), got[0].GetCode())
	require.Equal(t, uint32(codes.Internal), got[1].GetCode())
	require.Equal(t, "internal error in RawPut", got[1].GetMessage())
	require.Equal(t, uint32(codes.OK), got[2].GetCode())
	require.Equal(t, 1.0, counterValue(t, ts.server.m.panics))
	require.Equal(t, 1.0, counterValue(t, ts.server.m.requests.WithLabelValues("RawPut", "Internal")))
	require.Len(t, ts.logs.FilterMessage("panic in grpc handler").All(), 1)
	// The stream and the server survive.
	require.Equal(t, "2", string(b.do(rawGet("b"))[0].GetRawGet().GetValue()))
}

// blockingStorage blocks every Write until its context ends and reports
// the context's error on done.
func blockingStorage(done chan<- error) *fakeStorage {
	return &fakeStorage{write: func(ctx context.Context, _ *kvrpcpb.Context, _ []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return nil, nil, ctx.Err()
	}}
}

func TestBatchInvalidUTF8ErrorFailsAlone(t *testing.T) {
	// A unary status message may hold any bytes; a proto3 string may not,
	// so the batched one is made valid rather than failing the message.
	st := newEngineStorage(t)
	ts := startServer(t, &fakeStorage{
		write: func(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			if string(cmds[0].Key) == "bad" {
				return nil, nil, errors.New("engine: bad \xff\xfe bytes")
			}
			return st.Write(ctx, rctx, cmds)
		},
	})
	b := openBatch(t, ts)
	got := b.do(rawPut("bad", "1"), rawPut("good", "1"))
	require.Equal(t, uint32(codes.Internal), got[0].GetCode())
	require.Equal(t, "engine: bad \uFFFD bytes", got[0].GetMessage())
	require.Equal(t, uint32(codes.OK), got[1].GetCode())
}

func TestBatchTimeoutAppliesPerCommand(t *testing.T) {
	done := make(chan error, 1)
	ts := startServer(t, blockingStorage(done))
	b := openBatch(t, ts)
	r := rawPut("k", "v")
	r.TimeoutMs = 50
	start := time.Now()
	got := b.do(r)
	require.Equal(t, uint32(codes.DeadlineExceeded), got[0].GetCode(), "message: %s", got[0].GetMessage())
	require.ErrorIs(t, <-done, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 1.0, counterValue(t, ts.server.m.requests.WithLabelValues("RawPut", "DeadlineExceeded")))
}

func TestBatchClientGoneCancelsCommands(t *testing.T) {
	done := make(chan error, 1)
	ts := startServer(t, blockingStorage(done))
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := ts.kv.BatchCommands(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&kvrpcpb.BatchCommandsRequest{Requests: []*batchReq{rawPut("k", "v")}, RequestIds: []uint64{1}}))
	require.Eventually(t, func() bool { return gaugeValue(t, ts.server.m.inFlight) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("the command was not cancelled when its stream ended")
	}
	require.Eventually(t, func() bool { return gaugeValue(t, ts.server.m.inFlight) == 0 }, 5*time.Second, time.Millisecond)
}

func TestBatchStreamEndsWhenServerStops(t *testing.T) {
	release := make(chan struct{})
	st := newEngineStorage(t)
	ts := startServer(t, &fakeStorage{
		write: func(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			<-release
			return st.Write(ctx, rctx, cmds)
		},
	})
	b := openBatch(t, ts)
	require.NoError(t, b.stream.Send(&kvrpcpb.BatchCommandsRequest{Requests: []*batchReq{rawPut("k", "v")}, RequestIds: []uint64{1}}))
	require.Eventually(t, func() bool { return gaugeValue(t, ts.server.m.inFlight) == 1 }, 5*time.Second, time.Millisecond)

	stopped := make(chan struct{})
	go func() {
		ts.server.Stop(time.Minute)
		close(stopped)
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	// The command in flight is answered, then the stream ends.
	resp, err := b.stream.Recv()
	require.NoError(t, err)
	require.Equal(t, []uint64{1}, resp.GetRequestIds())
	require.Equal(t, uint32(codes.OK), resp.GetResponses()[0].GetCode())
	_, err = b.stream.Recv()
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	require.Equal(t, []string{"true"}, b.stream.Trailer().Get(drainedTrailer),
		"the client learns that what was not answered did not run")
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for the open BatchCommands stream")
	}
}

func TestBatchTooLargeResponseFailsAlone(t *testing.T) {
	st := newEngineStorage(t)
	big := strings.Repeat("v", 1<<20) // the server's max message is 1 MiB
	_, _, err := st.Write(context.Background(), nil, []*kvcmd.Command{{Op: kvcmd.OpPut, Key: []byte("big"), Value: []byte(big)}})
	require.NoError(t, err)
	ts := startServer(t, st)
	_, err = ts.kv.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("big")})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "unary: %v", err)

	b := openBatch(t, ts)
	got := b.do(rawPut("small", "v"), rawGet("big"))
	require.Equal(t, uint32(codes.OK), got[0].GetCode())
	require.Equal(t, uint32(codes.ResourceExhausted), got[1].GetCode())
	require.Contains(t, got[1].GetMessage(), "larger than max")
}

func TestBatchManyRequestsInOneMessage(t *testing.T) {
	ts := startServer(t, newEngineStorage(t))
	b := openBatch(t, ts)
	var reqs []*batchReq
	for i := 0; i < 300; i++ {
		reqs = append(reqs, rawPut(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
	}
	b.do(reqs...)
	reqs = reqs[:0]
	for i := 0; i < 300; i++ {
		reqs = append(reqs, rawGet(fmt.Sprintf("k%d", i)))
	}
	for i, r := range b.do(reqs...) {
		require.Equal(t, fmt.Sprintf("v%d", i), string(r.GetRawGet().GetValue()), "answers go to their requests")
	}
}

// captureStream records what the sender sends.
type captureStream struct {
	kvrpcpb.KV_BatchCommandsServer
	sent []*kvrpcpb.BatchCommandsResponse
}

func (c *captureStream) Send(m *kvrpcpb.BatchCommandsResponse) error {
	c.sent = append(c.sent, m)
	return nil
}

func TestBatchSenderPacksWhatIsReady(t *testing.T) {
	s := &kvService{maxMsg: 64 << 20}
	small := okResponse(&kvrpcpb.RawPutResponse{Version: 1})
	big := okResponse(&kvrpcpb.RawGetResponse{Value: make([]byte, 3<<20)})
	for _, tt := range []struct {
		name  string
		resps []*kvrpcpb.BatchCommandsResponse_Response
		want  []int // responses per message
	}{
		{"up to the count cap", repeat(small, 300), []int{256, 44}},
		{"up to the byte cap", []*kvrpcpb.BatchCommandsResponse_Response{small, big, small, big, big}, []int{3, 1, 1}},
		{"one alone", []*kvrpcpb.BatchCommandsResponse_Response{small}, []int{1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			respc := make(chan batchResult, len(tt.resps))
			for i, r := range tt.resps {
				respc <- s.result(uint64(i), r)
			}
			close(respc)
			cs := &captureStream{}
			require.NoError(t, s.sendBatches(cs, respc, func() {}))
			var got []int
			next := uint64(0)
			for _, sent := range cs.sent {
				// What the client decodes from the wire.
				b, err := proto.Marshal(sent)
				require.NoError(t, err)
				var m kvrpcpb.BatchCommandsResponse
				require.NoError(t, proto.Unmarshal(b, &m))
				got = append(got, len(m.GetResponses()))
				require.Len(t, m.GetRequestIds(), len(m.GetResponses()))
				for i, id := range m.GetRequestIds() {
					require.Equal(t, next, id, "answers keep the order they were ready in")
					require.True(t, proto.Equal(tt.resps[id], m.GetResponses()[i]))
					next++
				}
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func repeat(r *kvrpcpb.BatchCommandsResponse_Response, n int) []*kvrpcpb.BatchCommandsResponse_Response {
	out := make([]*kvrpcpb.BatchCommandsResponse_Response, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func TestBatchSizeMetricStartsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := New(Config{Limits: testLimits, SlowRequestThreshold: time.Hour, MaxMessageSize: 1 << 20}, &fakeStorage{}, zap.NewNop(), reg)
	require.NoError(t, err)
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.Contains(t, names, "flaredb_kv_batch_commands_size")
}

func histogram(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.Write(&m))
	return m.GetHistogram()
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, g.Write(&m))
	return m.GetGauge().GetValue()
}
