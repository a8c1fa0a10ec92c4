package transport

import (
	"context"
	"sync"
	"time"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// storeConn owns the stream to one peer store.
type storeConn struct {
	t       *Transport
	storeID uint64
	queue   chan *raft_serverpb.RaftMessage
}

func (c *storeConn) run() {
	defer c.t.wg.Done()
	backoff := minBackoff
	for {
		err := c.stream()
		select {
		case <-c.t.stopc:
			return
		default:
		}
		c.t.lg.Debug("raft stream broken", zap.Uint64("to-store-id", c.storeID), zap.Error(err))
		// Drop what queued up while the store was unreachable: raft resends,
		// and a backlog of stale heartbeats helps no one.
		c.dropQueued()
		select {
		case <-time.After(backoff):
		case <-c.t.stopc:
			return
		}
		if backoff *= 2; backoff > maxBackoff {
			backoff = maxBackoff
		}
	}
}

func (c *storeConn) dropQueued() {
	for {
		select {
		case m := <-c.queue:
			c.t.lost(m, false)
		default:
			return
		}
	}
}

func (c *storeConn) stream() error {
	cc, err := c.t.dial(c.storeID)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.t.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	st, err := raft_serverpb.NewRaftClient(cc).Raft(ctx)
	if err != nil {
		return err
	}
	for {
		var first *raft_serverpb.RaftMessage
		select {
		case first = <-c.queue:
		case <-c.t.stopc:
			return nil
		}
		batch := &raft_serverpb.BatchRaftMessage{Msgs: []*raft_serverpb.RaftMessage{first}}
	drain:
		for len(batch.Msgs) < maxBatch {
			select {
			case m := <-c.queue:
				batch.Msgs = append(batch.Msgs, m)
			default:
				break drain
			}
		}
		if err := st.Send(batch); err != nil {
			for _, m := range batch.Msgs {
				c.t.lost(m, false)
			}
			return err
		}
		c.t.m.msgsSent.Add(float64(len(batch.Msgs)))
		c.t.m.batchesSent.Inc()
	}
}

func (t *Transport) dial(storeID uint64) (*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addr, err := t.resolver.Resolve(ctx, storeID)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// sendSnapshot streams a MsgSnap: the first chunk carries the message with
// the snapshot data stripped, the chunks carry the data.
func (t *Transport) sendSnapshot(m *raft_serverpb.RaftMessage) {
	defer t.wg.Done()
	err := t.streamSnapshot(m)
	if err != nil {
		t.m.snapsSentFailed.Inc()
		t.lg.Warn("snapshot send failed", zap.Uint64("region-id", m.GetRegionId()), zap.Error(err))
	}
	if err == nil {
		t.m.snapsSentOK.Inc()
	}
	t.handler.ReportSnapshot(m.GetRegionId(), m.GetToPeer().GetId(), err != nil)
}

func (t *Transport) streamSnapshot(m *raft_serverpb.RaftMessage) error {
	var msg raftpb.Message
	if err := proto.Unmarshal(m.GetMessage(), &msg); err != nil {
		return err
	}
	data := msg.GetSnapshot().GetData()
	msg.Snapshot.Data = nil
	head := proto.Clone(m).(*raft_serverpb.RaftMessage)
	var err error
	if head.Message, err = proto.Marshal(&msg); err != nil {
		return err
	}
	cc, err := t.dial(m.GetToPeer().GetStoreId())
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := raft_serverpb.NewRaftClient(cc).Snapshot(ctx)
	if err != nil {
		return err
	}
	first := true
	for len(data) > 0 || first {
		n := min(len(data), snapChunkSize)
		chunk := &raft_serverpb.SnapshotChunk{Data: data[:n]}
		if first {
			chunk.Message, first = head, false
		}
		if err := st.Send(chunk); err != nil {
			return err
		}
		t.m.snapSentBytes.Add(float64(n))
		data = data[n:]
	}
	_, err = st.CloseAndRecv()
	return err
}

// PDResolver resolves store addresses through PD, caching them. A failed
// stream evicts nothing: addresses change only when a store restarts on a
// new address, and then Invalidate is called.
type PDResolver struct {
	pd StoreGetter
	mu struct {
		sync.Mutex
		addrs map[uint64]string
	}
}

// NewPDResolver returns a caching resolver over pd.
func NewPDResolver(pd StoreGetter) *PDResolver {
	r := &PDResolver{pd: pd}
	r.mu.addrs = make(map[uint64]string)
	return r
}

// Resolve returns the cached address or asks PD.
func (r *PDResolver) Resolve(ctx context.Context, storeID uint64) (string, error) {
	r.mu.Lock()
	addr, ok := r.mu.addrs[storeID]
	r.mu.Unlock()
	if ok {
		return addr, nil
	}
	s, err := r.pd.GetStore(ctx, storeID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.mu.addrs[storeID] = s.GetAddress()
	r.mu.Unlock()
	return s.GetAddress(), nil
}

// Invalidate forgets the cached address of storeID.
func (r *PDResolver) Invalidate(storeID uint64) {
	r.mu.Lock()
	delete(r.mu.addrs, storeID)
	r.mu.Unlock()
}

// StaticResolver maps store ids to fixed addresses (tests, fixed clusters).
type StaticResolver map[uint64]string

// Resolve implements Resolver.
func (s StaticResolver) Resolve(_ context.Context, storeID uint64) (string, error) {
	if a, ok := s[storeID]; ok {
		return a, nil
	}
	return "", errUnknownStore
}
