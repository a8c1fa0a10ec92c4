package transport

import (
	"context"
	"sync"
	"time"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	queueSize      = 4096
	maxBatch       = 256
	snapChunkSize  = 1 << 20
	minBackoff     = 50 * time.Millisecond
	maxBackoff     = 2 * time.Second
	resolveTimeout = 3 * time.Second
)

// Handler receives what arrives from other stores. The Raft store
// implements it and routes each message to the peer of its region.
type Handler interface {
	HandleRaftMessage(m *raft_serverpb.RaftMessage)
	ReportUnreachable(regionID, toPeerID uint64)
	ReportSnapshot(regionID, toPeerID uint64, failed bool)
}

// Resolver finds the gRPC address of a store.
type Resolver interface {
	Resolve(ctx context.Context, storeID uint64) (string, error)
}

// StoreGetter is the part of the PD client PDResolver needs.
type StoreGetter interface {
	GetStore(ctx context.Context, id uint64) (*metapb.Store, error)
}

// Verdict is a filter's decision about one outbound message.
type Verdict struct {
	Drop  bool
	Delay time.Duration
}

// Knobs are test hooks; a nil *Knobs or nil field is off.
type Knobs struct {
	// Filter decides the fate of every outbound message from store `from`.
	Filter func(from uint64, m *raft_serverpb.RaftMessage) Verdict
}

// Transport sends Raft messages to other stores.
//
// Contract: Send never blocks; it may drop. A dropped or failed message is
// reported to the Handler (ReportUnreachable, or ReportSnapshot with
// failure for snapshots) from another goroutine, never from within Send.
type Transport struct {
	storeID  uint64
	resolver Resolver
	handler  Handler
	knobs    *Knobs
	lg       *zap.Logger
	m        *metrics
	stopc    chan struct{}
	wg       sync.WaitGroup
	// in ends the inbound streams of Service (StopReceiving).
	in *inbound

	mu struct {
		sync.Mutex
		conns map[uint64]*storeConn // by target store id
	}
}

// New returns a transport for store storeID. Its metrics, of both the
// sending side and the receiving side (Service), are registered on reg; a
// nil reg leaves them unregistered.
func New(storeID uint64, resolver Resolver, handler Handler, knobs *Knobs, lg *zap.Logger,
	reg prometheus.Registerer) *Transport {
	if lg == nil {
		lg = zap.NewNop()
	}
	t := &Transport{storeID: storeID, resolver: resolver, handler: handler, knobs: knobs,
		lg: lg.With(zap.Uint64("store-id", storeID)), m: newMetrics(reg), stopc: make(chan struct{}),
		in: newInbound()}
	t.mu.conns = make(map[uint64]*storeConn)
	return t
}

// SetHandler sets the handler; call before the first Send.
func (t *Transport) SetHandler(h Handler) { t.handler = h }

// Send queues m for its target store. It never blocks.
func (t *Transport) Send(m *raft_serverpb.RaftMessage) {
	if t.knobs != nil && t.knobs.Filter != nil {
		v := t.knobs.Filter(t.storeID, m)
		if v.Drop {
			t.lost(m, true)
			return
		}
		if v.Delay > 0 {
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				select {
				case <-time.After(v.Delay):
					t.enqueue(m)
				case <-t.stopc:
				}
			}()
			return
		}
	}
	t.enqueue(m)
}

func (t *Transport) enqueue(m *raft_serverpb.RaftMessage) {
	if isSnapshot(m) {
		t.wg.Add(1)
		go t.sendSnapshot(m)
		return
	}
	c := t.conn(m.GetToPeer().GetStoreId())
	if c == nil {
		return // stopped
	}
	select {
	case c.queue <- m:
	default:
		t.lost(m, true)
	}
}

// lost counts m as dropped (never queued) or failed (lost on the way) and
// reports it to the handler.
func (t *Transport) lost(m *raft_serverpb.RaftMessage, dropped bool) {
	switch {
	case isSnapshot(m):
		t.m.snapsSentFailed.Inc()
	case dropped:
		t.m.msgsDropped.Inc()
	default:
		t.m.msgsFailed.Inc()
	}
	t.reportFailure(m)
}

func (t *Transport) reportFailure(m *raft_serverpb.RaftMessage) {
	go func() {
		if isSnapshot(m) {
			t.handler.ReportSnapshot(m.GetRegionId(), m.GetToPeer().GetId(), true)
			return
		}
		t.handler.ReportUnreachable(m.GetRegionId(), m.GetToPeer().GetId())
	}()
}

func (t *Transport) conn(storeID uint64) *storeConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopc:
		return nil
	default:
	}
	c := t.mu.conns[storeID]
	if c == nil {
		c = &storeConn{t: t, storeID: storeID, queue: make(chan *raft_serverpb.RaftMessage, queueSize)}
		t.mu.conns[storeID] = c
		t.wg.Add(1)
		go c.run()
	}
	return c
}

// Stop closes every stream, outbound and (StopReceiving) inbound, and waits
// for the sending goroutines.
func (t *Transport) Stop() {
	t.StopReceiving()
	t.mu.Lock()
	select {
	case <-t.stopc:
	default:
		close(t.stopc)
	}
	t.mu.Unlock()
	t.wg.Wait()
}

func isSnapshot(m *raft_serverpb.RaftMessage) bool {
	if m.GetIsTombstone() {
		return false
	}
	return messageType(m.GetMessage()) == raftpb.MsgSnap
}

// messageType reads only the type field of a marshaled raftpb.Message, so
// routing an append does not decode (and copy) its entries; a full decode
// of every outbound message cost ~2% of a loaded leader's CPU. Malformed
// bytes read as MsgHup, which is never sent.
func messageType(b []byte) raftpb.MessageType {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return raftpb.MsgHup
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return raftpb.MsgHup
			}
			return raftpb.MessageType(v)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return raftpb.MsgHup
		}
		b = b[n:]
	}
	return raftpb.MsgHup
}
