package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
)

// fakePeer is a peer service whose Raft streams, like the transport's, stay
// open until the sender closes them or end is called.
type fakePeer struct {
	raft_serverpb.UnimplementedRaftServer
	started  chan struct{} // a value per stream whose handler runs
	received chan struct{} // a value per batch received
	endc     chan struct{}
	endOnce  sync.Once
}

func newFakePeer() *fakePeer {
	return &fakePeer{started: make(chan struct{}, 16), received: make(chan struct{}, 16), endc: make(chan struct{})}
}

func (p *fakePeer) end() { p.endOnce.Do(func() { close(p.endc) }) }

func (p *fakePeer) ended() bool {
	select {
	case <-p.endc:
		return true
	default:
		return false
	}
}

func (p *fakePeer) Raft(st raft_serverpb.Raft_RaftServer) error {
	p.started <- struct{}{}
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				return
			}
			p.received <- struct{}{}
		}
	}()
	select {
	case <-p.endc:
		return status.Error(codes.Unavailable, "test: peer streams ended")
	case <-st.Context().Done():
		return st.Context().Err()
	}
}

// startWithPeer serves st and p over real gRPC on 127.0.0.1.
func startWithPeer(t *testing.T, st Storage, p *fakePeer) (*Server, *grpc.ClientConn) {
	t.Helper()
	srv, err := New(Config{Limits: testLimits, SlowRequestThreshold: time.Hour, MaxMessageSize: 1 << 20},
		st, zaptest.NewLogger(t), prometheus.NewRegistry())
	require.NoError(t, err)
	srv.RegisterPeer(&raft_serverpb.Raft_ServiceDesc, p, p.end)
	conn := serveTest(t, srv)
	return srv, conn
}

// openPeerStream opens a Raft stream and waits until its handler runs.
func openPeerStream(t *testing.T, conn *grpc.ClientConn, p *fakePeer) raft_serverpb.Raft_RaftClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rs, err := raft_serverpb.NewRaftClient(conn).Raft(ctx)
	require.NoError(t, err)
	select {
	case <-p.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the peer stream's handler never ran")
	}
	return rs
}

// A write in flight when the server stops may need the peer streams to
// commit (followers acknowledge over them): they end only after it is
// answered, and then the stop does not wait for them.
func TestStopEndsPeerStreamsAfterClientRequests(t *testing.T) {
	p := newFakePeer()
	st := newEngineStorage(t)
	srv, conn := startWithPeer(t, &fakeStorage{
		write: func(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			select {
			case <-p.received: // the acknowledgement
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			return st.Write(ctx, rctx, cmds)
		},
	}, p)
	rs := openPeerStream(t, conn, p)

	putErr := make(chan error, 1)
	go func() {
		resp, err := kvrpcpb.NewKVClient(conn).RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
		if err == nil && resp.GetRegionError() != nil {
			err = status.Errorf(codes.Internal, "region error %v", resp.GetRegionError())
		}
		putErr <- err
	}()
	require.Eventually(t, func() bool { return gaugeValue(t, srv.m.inFlight) == 1 }, 5*time.Second, time.Millisecond)

	stopped := make(chan struct{})
	go func() {
		srv.Stop(time.Minute)
		close(stopped)
	}()
	time.Sleep(100 * time.Millisecond)
	require.False(t, p.ended(), "peer streams ended while a client request was in flight")

	require.NoError(t, rs.Send(&raft_serverpb.BatchRaftMessage{}))
	select {
	case err := <-putErr:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the write in flight was not answered")
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for the open peer stream")
	}
	require.True(t, p.ended())
	_, err := rs.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
}

// A client request that outlasts the timeout does not hold the stop: the
// peer streams end and the connections are closed.
func TestStopTimeoutEndsPeerStreamsAndConnections(t *testing.T) {
	p := newFakePeer()
	srv, conn := startWithPeer(t, &fakeStorage{
		write: func(ctx context.Context, _ *kvrpcpb.Context, _ []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
			<-ctx.Done()
			return nil, nil, ctx.Err()
		},
	}, p)
	openPeerStream(t, conn, p)
	putErr := make(chan error, 1)
	go func() {
		_, err := kvrpcpb.NewKVClient(conn).RawPut(context.Background(), &kvrpcpb.RawPutRequest{Key: []byte("k"), Value: []byte("v")})
		putErr <- err
	}()
	require.Eventually(t, func() bool { return gaugeValue(t, srv.m.inFlight) == 1 }, 5*time.Second, time.Millisecond)

	stopped := make(chan struct{})
	go func() {
		srv.Stop(200 * time.Millisecond)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop outlasted its timeout")
	}
	require.True(t, p.ended())
	require.Error(t, <-putErr)
}
