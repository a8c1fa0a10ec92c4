package transport

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
)

// value reads one series from reg: the family name and, for labelled
// families, the value of its one label ("" for none). -1 when absent.
func value(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 ||
				len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// metered is a pair of stores whose transports count on their own
// registries: store 1 sends, store 2 receives through its Service.
type metered struct {
	sendReg, recvReg *prometheus.Registry
	send             *Transport
	sendH, recvH     *recorder
}

func startMetered(t *testing.T, knobs *Knobs) *metered {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &metered{sendReg: prometheus.NewRegistry(), recvReg: prometheus.NewRegistry(),
		sendH: newRecorder(), recvH: newRecorder()}
	recv := New(2, StaticResolver{}, m.recvH, nil, nil, m.recvReg)
	t.Cleanup(recv.Stop)
	srv := grpc.NewServer()
	raft_serverpb.RegisterRaftServer(srv, recv.Service())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	m.send = New(1, StaticResolver{2: lis.Addr().String()}, m.sendH, knobs, nil, m.sendReg)
	t.Cleanup(m.send.Stop)
	return m
}

func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(1, StaticResolver{}, newRecorder(), nil, nil, reg).Stop()
	for _, s := range []struct{ name, label string }{
		{"flaredb_transport_raft_messages_total", "sent"},
		{"flaredb_transport_raft_messages_total", "dropped"},
		{"flaredb_transport_raft_messages_total", "failed"},
		{"flaredb_transport_raft_messages_received_total", ""},
		{"flaredb_transport_raft_batches_sent_total", ""},
		{"flaredb_transport_snapshots_sent_total", "ok"},
		{"flaredb_transport_snapshots_sent_total", "failed"},
		{"flaredb_transport_snapshots_received_total", "ok"},
		{"flaredb_transport_snapshots_received_total", "failed"},
		{"flaredb_transport_snapshot_sent_bytes_total", ""},
		{"flaredb_transport_snapshot_received_bytes_total", ""},
	} {
		require.Zero(t, value(t, reg, s.name, s.label), "%s{%s}", s.name, s.label)
	}
	// Two stores in one process register on their own registries.
	New(2, StaticResolver{}, newRecorder(), nil, nil, prometheus.NewRegistry()).Stop()
}

func TestMetricsCountSentAndReceived(t *testing.T) {
	m := startMetered(t, nil)
	const n = 300
	for i := 1; i <= n; i++ {
		m.send.Send(msg(t, 2, raftpb.MessageType_MsgApp, uint64(i), nil))
	}
	m.recvH.waitMsgs(t, n)
	require.Eventually(t, func() bool {
		return value(t, m.sendReg, "flaredb_transport_raft_messages_total", "sent") == n
	}, 10*time.Second, 10*time.Millisecond)
	batches := value(t, m.sendReg, "flaredb_transport_raft_batches_sent_total", "")
	require.GreaterOrEqual(t, batches, 1.0)
	require.LessOrEqual(t, batches, float64(n))
	require.Equal(t, float64(n), value(t, m.recvReg, "flaredb_transport_raft_messages_received_total", ""))
	require.Zero(t, value(t, m.sendReg, "flaredb_transport_raft_messages_total", "dropped"))
	require.Zero(t, value(t, m.sendReg, "flaredb_transport_raft_messages_total", "failed"))
}

func TestMetricsCountDroppedByFilter(t *testing.T) {
	m := startMetered(t, &Knobs{Filter: func(_ uint64, rm *raft_serverpb.RaftMessage) Verdict {
		return Verdict{Drop: decode(t, rm).GetIndex() > 3}
	}})
	for i := 1; i <= 10; i++ {
		m.send.Send(msg(t, 2, raftpb.MessageType_MsgApp, uint64(i), nil))
	}
	m.recvH.waitMsgs(t, 3)
	require.Equal(t, 7.0, value(t, m.sendReg, "flaredb_transport_raft_messages_total", "dropped"))
	require.Eventually(t, func() bool {
		return value(t, m.sendReg, "flaredb_transport_raft_messages_total", "sent") == 3
	}, 10*time.Second, 10*time.Millisecond)
}

func TestMetricsCountFailuresToDownStore(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	reg := prometheus.NewRegistry()
	tr := New(1, StaticResolver{2: addr}, newRecorder(), nil, nil, reg)
	t.Cleanup(tr.Stop)
	// Built beforehand so the sends outrun the stream's drains of the queue
	// (one per reconnect backoff, 50ms and growing).
	const n = 3 * queueSize
	msgs := make([]*raft_serverpb.RaftMessage, n)
	for i := range msgs {
		msgs[i] = msg(t, 2, raftpb.MessageType_MsgApp, uint64(i), nil)
	}
	for _, m := range msgs {
		tr.Send(m)
	}
	tr.Send(msg(t, 2, raftpb.MessageType_MsgSnap, 7, []byte("snap")))
	require.Eventually(t, func() bool {
		dropped := value(t, reg, "flaredb_transport_raft_messages_total", "dropped")
		failed := value(t, reg, "flaredb_transport_raft_messages_total", "failed")
		return dropped > 0 && failed > 0 && dropped+failed == n &&
			value(t, reg, "flaredb_transport_snapshots_sent_total", "failed") == 1
	}, 20*time.Second, 10*time.Millisecond, "queue overflow counts as dropped, the discarded queue as failed")
	require.Zero(t, value(t, reg, "flaredb_transport_raft_messages_total", "sent"))
	require.Zero(t, value(t, reg, "flaredb_transport_snapshots_sent_total", "ok"))
}

func TestMetricsCountSnapshots(t *testing.T) {
	m := startMetered(t, nil)
	data := bytes.Repeat([]byte("x"), 2*snapChunkSize+7)
	m.send.Send(msg(t, 2, raftpb.MessageType_MsgSnap, 42, data))
	m.recvH.waitMsgs(t, 1)
	require.Eventually(t, func() bool {
		return value(t, m.sendReg, "flaredb_transport_snapshots_sent_total", "ok") == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, float64(len(data)), value(t, m.sendReg, "flaredb_transport_snapshot_sent_bytes_total", ""))
	require.Eventually(t, func() bool { // counted once the handler returned
		return value(t, m.recvReg, "flaredb_transport_snapshots_received_total", "ok") == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, float64(len(data)), value(t, m.recvReg, "flaredb_transport_snapshot_received_bytes_total", ""))
	require.Zero(t, value(t, m.sendReg, "flaredb_transport_snapshots_sent_total", "failed"))
	require.Zero(t, value(t, m.recvReg, "flaredb_transport_snapshots_received_total", "failed"))
	// Snapshots are not counted as Raft messages.
	require.Zero(t, value(t, m.sendReg, "flaredb_transport_raft_messages_total", "sent"))
}
