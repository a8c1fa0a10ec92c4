package batch

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/client/internal/batchtest"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// memStore is an in-memory store with the unary RawGet and RawPut, serving
// BatchCommands through batchtest unless batch is set.
type memStore struct {
	kvrpcpb.UnimplementedKVServer
	mu    sync.Mutex
	data  map[string]string
	unary atomic.Int64 // unary RPCs served
	// batch, when set, replaces the BatchCommands handler.
	batch func(stream kvrpcpb.KV_BatchCommandsServer) error
	// unsupported makes BatchCommands Unimplemented, like an older store.
	unsupported bool
}

func newMemStore() *memStore { return &memStore{data: map[string]string{}} }

func (s *memStore) RawGet(ctx context.Context, req *kvrpcpb.RawGetRequest) (*kvrpcpb.RawGetResponse, error) {
	if !isBatched(ctx) {
		s.unary.Add(1)
	}
	if len(req.GetKey()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "key is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[string(req.GetKey())]
	return &kvrpcpb.RawGetResponse{Value: []byte(v), NotFound: !ok}, nil
}

func (s *memStore) RawPut(ctx context.Context, req *kvrpcpb.RawPutRequest) (*kvrpcpb.RawPutResponse, error) {
	if !isBatched(ctx) {
		s.unary.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[string(req.GetKey())] = string(req.GetValue())
	return &kvrpcpb.RawPutResponse{Version: uint64(len(s.data))}, nil
}

func (s *memStore) BatchCommands(stream kvrpcpb.KV_BatchCommandsServer) error {
	if s.unsupported {
		return s.UnimplementedKVServer.BatchCommands(stream)
	}
	if s.batch != nil {
		return s.batch(stream)
	}
	return batchtest.Serve(s, stream)
}

// isBatched tells the store's handlers apart from unary calls: grpc puts
// the method on a unary call's context.
func isBatched(ctx context.Context) bool {
	m, _ := grpc.Method(ctx)
	return m == kvrpcpb.KV_BatchCommands_FullMethodName
}

// serve starts s on loopback and returns a connection to it.
func serve(t *testing.T, s kvrpcpb.KVServer) (*grpc.Server, *grpc.ClientConn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	kvrpcpb.RegisterKVServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return srv, dial(t, lis.Addr().String())
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// sizes records the requests per message a Client sent.
type sizes struct {
	mu sync.Mutex
	n  []int
}

func (s *sizes) observe(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n = append(s.n, n)
}

func (s *sizes) all() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.n...)
}

func (s *sizes) max() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := 0
	for _, n := range s.n {
		m = max(m, n)
	}
	return m
}

func newClient(t *testing.T, cc grpc.ClientConnInterface) (*Client, *sizes) {
	var sz sizes
	c := New(cc, sz.observe)
	t.Cleanup(c.Close)
	return c, &sz
}

func TestConcurrentCallsGetTheirOwnAnswers(t *testing.T) {
	st := newMemStore()
	_, cc := serve(t, st)
	c, sz := newClient(t, cc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 200)
	for g := 0; g < 200; g++ {
		wg.Go(func() {
			<-start
			for i := 0; i < 10; i++ {
				k, v := fmt.Sprintf("k%d-%d", g, i), fmt.Sprintf("v%d-%d", g, i)
				if _, err := c.RawPut(ctx, &kvrpcpb.RawPutRequest{Key: []byte(k), Value: []byte(v)}); err != nil {
					errs <- err
					return
				}
				got, err := c.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: []byte(k)})
				if err != nil {
					errs <- err
					return
				}
				if string(got.GetValue()) != v {
					errs <- fmt.Errorf("get %s = %q, want %q", k, got.GetValue(), v)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, st.unary.Load(), "every call went on the stream")
	require.Eventually(t, func() bool { return sz.max() > 1 }, 10*time.Second, time.Millisecond,
		"concurrent calls share messages")
}

func TestSenderPacksQueuedRequests(t *testing.T) {
	// Requests queued before the sender runs leave in as few messages as
	// the caps allow, in queue order.
	st := newMemStore()
	var (
		mu   sync.Mutex
		msgs [][]uint64
	)
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		for {
			msg, err := stream.Recv()
			if err != nil {
				return err
			}
			mu.Lock()
			msgs = append(msgs, msg.GetRequestIds())
			mu.Unlock()
			resp := &kvrpcpb.BatchCommandsResponse{RequestIds: msg.GetRequestIds()}
			for i, r := range msg.GetRequests() {
				resp.Responses = append(resp.Responses, batchtest.Do(stream.Context(), st, i, r))
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
	_, cc := serve(t, st)
	var sz sizes
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{kv: kvrpcpb.NewKVClient(cc), observe: sz.observe, reqc: make(chan *entry, queueLen),
		ctx: ctx, cancel: cancel, senderDone: make(chan struct{})}
	defer b.close()
	c := &Client{plain: kvrpcpb.NewKVClient(cc), b: b}

	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Go(func() {
			_, err := c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte(fmt.Sprint(i)), Value: []byte("v")})
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return len(b.reqc) == n }, 10*time.Second, time.Millisecond)
	go b.run()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// The sender observes a message after sending it, maybe after its
	// answers arrived.
	require.Eventually(t, func() bool { return len(sz.all()) == 3 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []int{128, 128, 44}, sz.all())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, msgs, 3)
}

func TestMessageDecodesAsBatchCommandsRequest(t *testing.T) {
	reqs := []*kvrpcpb.BatchCommandsRequest_Request{
		{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawPut{RawPut: &kvrpcpb.RawPutRequest{
			Context: &kvrpcpb.Context{RegionId: 7}, Key: []byte("k"), Value: []byte("v")}}, TimeoutMs: 250},
		{Cmd: &kvrpcpb.BatchCommandsRequest_Request_Get{Get: &kvrpcpb.GetRequest{Key: []byte("k")}}},
		{},
	}
	ids := []uint64{1, 300, 1 << 40}
	var entries []*entry
	for i, r := range reqs {
		enc, err := encodeRequest(r)
		require.NoError(t, err)
		entries = append(entries, &entry{id: ids[i], enc: enc})
	}
	b, err := proto.Marshal(message(entries))
	require.NoError(t, err)
	var got kvrpcpb.BatchCommandsRequest
	require.NoError(t, proto.Unmarshal(b, &got))
	want := &kvrpcpb.BatchCommandsRequest{Requests: reqs, RequestIds: ids}
	require.True(t, proto.Equal(want, &got), "got %v", &got)
}

func TestUnreachableStoreFailsLikeUnary(t *testing.T) {
	// Nothing listens on port 1: the stream cannot be opened, and the call
	// fails with the status a unary call gets, which proves nothing was
	// sent ("connection refused", "Error while dialing").
	cc := dial(t, "127.0.0.1:1")
	c, _ := newClient(t, cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, uerr := kvrpcpb.NewKVClient(cc).RawPut(ctx, &kvrpcpb.RawPutRequest{Key: []byte("k")})
	_, berr := c.RawPut(ctx, &kvrpcpb.RawPutRequest{Key: []byte("k")})
	require.Equal(t, codes.Unavailable, status.Code(uerr), "unary: %v", uerr)
	require.Equal(t, codes.Unavailable, status.Code(berr), "batched: %v", berr)
	for _, err := range []error{uerr, berr} {
		msg := status.Convert(err).Message()
		require.True(t, strings.Contains(msg, "connection refused") && strings.Contains(msg, "Error while dialing"), msg)
	}
	require.False(t, IsBroken(status.Convert(berr)))
	require.False(t, NotRun(status.Convert(berr)))
}

func TestStreamBrokenAfterSend(t *testing.T) {
	received := make(chan struct{}, 1)
	st := newMemStore()
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		received <- struct{}{}
		// The store dies before answering.
		return status.Error(codes.Unavailable, "transport is closing")
	}
	_, cc := serve(t, st)
	c, _ := newClient(t, cc)
	_, err := c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
	<-received
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	require.True(t, IsBroken(status.Convert(err)), "error: %v", err)
	require.Contains(t, err.Error(), "transport is closing", "the cause is kept")

	// The next call opens a new stream.
	st.batch = nil
	_, err = c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
	require.NoError(t, err)
}

func TestDrainedStreamMeansNotRun(t *testing.T) {
	st := newMemStore()
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		// A stopping store that says it answered all it read.
		stream.SetTrailer(metadata.Pairs(drainedTrailer, "true"))
		return status.Error(codes.Unavailable, "kv-service is stopping")
	}
	_, cc := serve(t, st)
	c, _ := newClient(t, cc)
	_, err := c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	require.True(t, NotRun(status.Convert(err)), "error: %v", err)
	require.False(t, IsBroken(status.Convert(err)), "error: %v", err)
	require.Contains(t, err.Error(), "kv-service is stopping", "the cause is kept")
}

func TestServerStopMidFlight(t *testing.T) {
	arrived := make(chan struct{})
	st := newMemStore()
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		close(arrived)
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	srv, cc := serve(t, st)
	c, _ := newClient(t, cc)
	go func() {
		<-arrived
		srv.Stop()
	}()
	_, err := c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	require.True(t, IsBroken(status.Convert(err)), "error: %v", err)
}

func TestCallerDeadlineEndsTheWait(t *testing.T) {
	timeouts := make(chan uint64, 1)
	st := newMemStore()
	release := make(chan struct{})
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		timeouts <- msg.GetRequests()[0].GetTimeoutMs()
		<-release
		// The late answer is dropped; later requests are answered.
		if err := stream.Send(&kvrpcpb.BatchCommandsResponse{
			Responses:  []*kvrpcpb.BatchCommandsResponse_Response{{}},
			RequestIds: msg.GetRequestIds(),
		}); err != nil {
			return err
		}
		return batchtest.Serve(st, stream)
	}
	_, cc := serve(t, st)
	c, _ := newClient(t, cc)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "error: %v", err)
	require.Equal(t, context.DeadlineExceeded.Error(), status.Convert(err).Message())
	ms := <-timeouts
	require.True(t, ms > 0 && ms <= 300, "timeout_ms %d carries the caller's deadline", ms)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.RawGet(ctx, &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.Canceled, status.Code(err), "error: %v", err)

	close(release)
	got, err := c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.NoError(t, err)
	require.True(t, got.GetNotFound())
}

func TestCommandStatusBecomesError(t *testing.T) {
	_, cc := serve(t, newMemStore())
	c, _ := newClient(t, cc)
	_, err := c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "key is empty", status.Convert(err).Message())
}

func TestLargeRequestsAndCallOptionsGoUnary(t *testing.T) {
	st := newMemStore()
	_, cc := serve(t, st)
	c, _ := newClient(t, cc)
	big := make([]byte, maxBatchedRequestBytes)
	_, err := c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("big"), Value: big})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.unary.Load())
	_, err = c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("big")}, grpc.WaitForReady(true))
	require.NoError(t, err)
	require.Equal(t, int64(2), st.unary.Load())
	_, err = c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("big")})
	require.NoError(t, err)
	require.Equal(t, int64(2), st.unary.Load())
}

func TestStoreWithoutBatchCommandsGetsUnary(t *testing.T) {
	st := newMemStore()
	st.unsupported = true
	_, cc := serve(t, st)
	c, sz := newClient(t, cc)
	for i := 0; i < 3; i++ {
		_, err := c.RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
		require.NoError(t, err)
	}
	require.Equal(t, int64(3), st.unary.Load())
	require.LessOrEqual(t, len(sz.all()), 1, "after the refusal nothing more is batched")
}

func TestCloseFailsWaitingCalls(t *testing.T) {
	st := newMemStore()
	arrived := make(chan struct{})
	st.batch = func(stream kvrpcpb.KV_BatchCommandsServer) error {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		close(arrived)
		_, err := stream.Recv()
		if err == io.EOF {
			err = nil
		}
		return err
	}
	_, cc := serve(t, st)
	c := New(cc, nil)
	go func() {
		<-arrived
		c.Close()
	}()
	_, err := c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.Canceled, status.Code(err), "error: %v", err)
	_, err = c.RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.Canceled, status.Code(err), "error: %v", err)
	c.Close()

	cs := NewClients(nil)
	require.Same(t, cs.Get(cc), cs.Get(cc))
	cs.Close()
	_, err = cs.Get(cc).RawGet(context.Background(), &kvrpcpb.RawGetRequest{Key: []byte("k")})
	require.Equal(t, codes.Canceled, status.Code(err), "error: %v", err)
}
