package transport

import (
	"errors"
	"io"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

var errUnknownStore = errors.New("transport: unknown store")

// service is the receiving side of the Raft gRPC service.
type service struct {
	raft_serverpb.UnimplementedRaftServer
	h Handler
	m *metrics
}

// Register adds the Raft service, delivering to h, to s. Its metrics are
// not registered; a store registers t.Service() instead.
func Register(s *grpc.Server, h Handler) {
	raft_serverpb.RegisterRaftServer(s, NewService(h))
}

// Service returns the Raft gRPC service delivering to t's handler and
// counting on t's metrics.
func (t *Transport) Service() raft_serverpb.RaftServer { return &service{h: t.handler, m: t.m} }

func (s *service) Raft(st raft_serverpb.Raft_RaftServer) error {
	for {
		batch, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&raft_serverpb.Done{})
		}
		if err != nil {
			return err
		}
		s.m.msgsReceived.Add(float64(len(batch.GetMsgs())))
		for _, m := range batch.GetMsgs() {
			s.h.HandleRaftMessage(m)
		}
	}
}

func (s *service) Snapshot(st raft_serverpb.Raft_SnapshotServer) error {
	if err := s.snapshot(st); err != nil {
		s.m.snapsReceivedFailed.Inc()
		return err
	}
	s.m.snapsReceivedOK.Inc()
	return nil
}

func (s *service) snapshot(st raft_serverpb.Raft_SnapshotServer) error {
	var head *raft_serverpb.RaftMessage
	var data []byte
	for {
		chunk, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if head == nil {
			head = chunk.GetMessage()
		}
		data = append(data, chunk.GetData()...)
		s.m.snapReceivedBytes.Add(float64(len(chunk.GetData())))
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
	s.h.HandleRaftMessage(head)
	return st.SendAndClose(&raft_serverpb.Done{})
}

// NewService returns the Raft gRPC service delivering to h, for servers
// that register services themselves. Its metrics are not registered; see
// Transport.Service.
func NewService(h Handler) raft_serverpb.RaftServer { return &service{h: h, m: newMetrics(nil)} }
