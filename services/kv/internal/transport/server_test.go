package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
)

// receiver is store 2 receiving through its transport's Service.
type receiver struct {
	t    *Transport
	h    *recorder
	reg  *prometheus.Registry
	srv  *grpc.Server
	addr string
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &receiver{h: newRecorder(), reg: prometheus.NewRegistry(), srv: grpc.NewServer(), addr: lis.Addr().String()}
	r.t = New(2, StaticResolver{}, r.h, nil, nil, r.reg)
	t.Cleanup(r.t.Stop)
	raft_serverpb.RegisterRaftServer(r.srv, r.t.Service())
	go func() { _ = r.srv.Serve(lis) }()
	t.Cleanup(r.srv.Stop)
	return r
}

func dialRaft(t *testing.T, addr string) raft_serverpb.RaftClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return raft_serverpb.NewRaftClient(cc)
}

// gracefulStop stops srv gracefully and fails the test if that waits.
func gracefulStop(t *testing.T, srv *grpc.Server) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("graceful stop waited for the inbound streams")
	}
}

// A sending store keeps its stream open for as long as the receiver runs;
// StopReceiving ends it while the handler waits for the next batch, so a
// graceful stop of the receiver's server does not wait for it.
func TestStopReceivingEndsRaftStreams(t *testing.T) {
	r := startReceiver(t)
	tr := newSender(t, r.addr, newRecorder())
	tr.Send(msg(t, 2, raftpb.MessageType_MsgHeartbeat, 1, nil))
	r.h.waitMsgs(t, 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	raw, err := dialRaft(t, r.addr).Raft(ctx)
	require.NoError(t, err)
	require.NoError(t, raw.Send(&raft_serverpb.BatchRaftMessage{Msgs: []*raft_serverpb.RaftMessage{
		msg(t, 2, raftpb.MessageType_MsgHeartbeat, 2, nil)}}))
	r.h.waitMsgs(t, 2)

	r.t.StopReceiving()
	r.t.StopReceiving() // idempotent
	_, err = raw.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)

	// A new stream is refused; what it carries is not handed over.
	late, err := dialRaft(t, r.addr).Raft(ctx)
	require.NoError(t, err)
	_ = late.Send(&raft_serverpb.BatchRaftMessage{Msgs: []*raft_serverpb.RaftMessage{
		msg(t, 2, raftpb.MessageType_MsgHeartbeat, 3, nil)}})
	_, err = late.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)

	gracefulStop(t, r.srv)
	got, _, _ := r.h.count()
	require.Equal(t, 2, got)
}

// A snapshot cut midway by StopReceiving is discarded: the handler never
// sees a partial snapshot.
func TestStopReceivingDiscardsPartialSnapshot(t *testing.T) {
	r := startReceiver(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, err := dialRaft(t, r.addr).Snapshot(ctx)
	require.NoError(t, err)
	require.NoError(t, snap.Send(&raft_serverpb.SnapshotChunk{
		Message: msg(t, 2, raftpb.MessageType_MsgSnap, 9, []byte{}),
		Data:    []byte("first chunk"),
	}))
	require.Eventually(t, func() bool {
		return value(t, r.reg, "flaredb_transport_snapshot_received_bytes_total", "") == float64(len("first chunk"))
	}, 10*time.Second, time.Millisecond, "the first chunk arrives")

	r.t.StopReceiving()
	_, err = snap.CloseAndRecv()
	require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	gracefulStop(t, r.srv)
	got, _, _ := r.h.count()
	require.Zero(t, got, "no partial snapshot is handed over")
	require.Equal(t, 1.0, value(t, r.reg, "flaredb_transport_snapshots_received_total", "failed"))
	require.Equal(t, 0.0, value(t, r.reg, "flaredb_transport_snapshots_received_total", "ok"))
}
