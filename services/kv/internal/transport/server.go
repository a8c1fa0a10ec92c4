package transport

import (
	"errors"
	"io"
	"sync"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

var errUnknownStore = errors.New("transport: unknown store")

// errStopping ends the inbound streams of a store that stopped receiving.
// The sending store treats it like any broken stream: it drops what it
// queued, reconnects with backoff, and reports a snapshot as failed.
var errStopping = status.Error(codes.Unavailable, "transport: store is stopping")

// service is the receiving side of the Raft gRPC service.
type service struct {
	raft_serverpb.UnimplementedRaftServer
	h Handler
	m *metrics
	// in ends the streams.
	in *inbound
}

// Register adds the Raft service, delivering to h, to s. Its metrics are
// not registered; a store registers t.Service() instead.
func Register(s *grpc.Server, h Handler) {
	raft_serverpb.RegisterRaftServer(s, NewService(h))
}

// Service returns the Raft gRPC service delivering to t's handler and
// counting on t's metrics. Its streams end when t stops receiving.
func (t *Transport) Service() raft_serverpb.RaftServer {
	return &service{h: t.handler, m: t.m, in: t.in}
}

// StopReceiving ends the streams on which other stores send to this one,
// Raft and snapshot alike, and refuses new ones: their handlers return
// Unavailable, even while waiting for a message, and hand nothing more to
// the handler. A snapshot being received is discarded. Other stores keep
// their streams open for as long as this one runs, so a gRPC server's
// graceful stop waits for them until this is called. When it returns, no
// message is being handed to the handler, and none will be. It is
// idempotent.
func (t *Transport) StopReceiving() { t.in.stop() }

func (s *service) Raft(st raft_serverpb.Raft_RaftServer) error {
	err := receive(s.in, st.Recv, func(batch *raft_serverpb.BatchRaftMessage) {
		s.m.msgsReceived.Add(float64(len(batch.GetMsgs())))
		for _, m := range batch.GetMsgs() {
			s.h.HandleRaftMessage(m)
		}
	})
	if err != nil {
		return err
	}
	return st.SendAndClose(&raft_serverpb.Done{})
}

func (s *service) Snapshot(st raft_serverpb.Raft_SnapshotServer) error {
	if err := s.snapshot(st); err != nil {
		s.m.snapsReceivedFailed.Inc()
		return err
	}
	s.m.snapsReceivedOK.Inc()
	return nil
}

// snapshot assembles the chunks of one snapshot and hands it over only once
// the sender closed the stream: a stream that breaks or is stopped midway
// hands over nothing.
func (s *service) snapshot(st raft_serverpb.Raft_SnapshotServer) error {
	var head *raft_serverpb.RaftMessage
	var data []byte
	err := receive(s.in, st.Recv, func(chunk *raft_serverpb.SnapshotChunk) {
		if head == nil {
			head = chunk.GetMessage()
		}
		data = append(data, chunk.GetData()...)
		s.m.snapReceivedBytes.Add(float64(len(chunk.GetData())))
	})
	if err != nil {
		return err
	}
	if head == nil {
		return errors.New("transport: snapshot stream without a message")
	}
	var msg raftpb.Message
	if err := proto.Unmarshal(head.GetMessage(), &msg); err != nil {
		return err
	}
	if msg.Snapshot == nil {
		return errors.New("transport: snapshot chunk is not a MsgSnap")
	}
	msg.Snapshot.Data = data
	b, err := proto.Marshal(&msg)
	if err != nil {
		return err
	}
	head.Message = b
	if !s.in.deliver(func() { s.h.HandleRaftMessage(head) }) {
		return errStopping
	}
	return st.SendAndClose(&raft_serverpb.Done{})
}

// receive hands every message recv returns to handle until the sender
// closes its side (nil), recv fails (its error) or in stops (errStopping).
// Receiving and handling run on a goroutine of their own, one wake-up per
// message as when the handler received itself, while the caller waits for
// either outcome: a stop does not wait for the next message. Once the
// caller returns, gRPC ends the stream, which unblocks recv and ends that
// goroutine. No message is handed over after in.stop returned.
func receive[M any](in *inbound, recv func() (M, error), handle func(M)) error {
	select {
	case <-in.stopc:
		return errStopping // a stream opened after the stop
	default:
	}
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := recv()
			if err != nil {
				errc <- err
				return
			}
			if !in.deliver(func() { handle(msg) }) {
				return
			}
		}
	}()
	select {
	case err := <-errc:
		if err == io.EOF {
			return nil
		}
		return err
	case <-in.stopc:
		return errStopping
	}
}

// inbound is what the streams of one Service share to stop.
type inbound struct {
	// stopc is closed (once, by stop) to end the streams; nil never is.
	stopc    chan struct{}
	stopOnce sync.Once
	// mu is held for reading while a message is handed over, so that stop
	// can wait for that.
	mu sync.RWMutex
}

func newInbound() *inbound { return &inbound{stopc: make(chan struct{})} }

// stop ends the streams and waits until no message is being handed over.
func (in *inbound) stop() {
	in.stopOnce.Do(func() { close(in.stopc) })
	in.mu.Lock()
	defer in.mu.Unlock()
}

// deliver calls f unless in stopped, and reports whether it did.
func (in *inbound) deliver(f func()) bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	select {
	case <-in.stopc:
		return false
	default:
	}
	f()
	return true
}

// NewService returns the Raft gRPC service delivering to h, for servers
// that register services themselves. Its metrics are not registered; see
// Transport.Service. Its streams end only when their senders end them.
func NewService(h Handler) raft_serverpb.RaftServer {
	return &service{h: h, m: newMetrics(nil), in: &inbound{}}
}
