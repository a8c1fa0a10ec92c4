package raftstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// Transport carries Raft messages to other stores. Send MUST NOT block; it
// may drop (Raft retransmits), and reports failures back through
// Store.ReportUnreachable / Store.ReportSnapshot.
type Transport interface {
	Send(m *raft_serverpb.RaftMessage)
}

// PDClient is the part of the PD client the store needs. ReportRegion MUST
// NOT block for long; answers arrive via Store.HandleRegionHeartbeatResponse.
type PDClient interface {
	ReportRegion(req *pdpb.RegionHeartbeatRequest) error
}

// Store hosts the peers of every region replicated on this store.
type Store struct {
	cfg     *Config
	lg      *zap.Logger
	engine  storage.Engine
	trans   Transport
	pd      PDClient
	storeID uint64
	m       *metrics

	eventc chan func()
	// writeQueue lists the peers with pendingWrites; Raft loop only.
	writeQueue []*peer
	applyc     chan *applyTask
	noticec    chan struct{}
	stopc      chan struct{}
	wg         sync.WaitGroup // the loop, apply, syncer and heartbeat goroutines
	stopOnce   sync.Once
	hbc        chan *pdpb.RegionHeartbeatRequest
	// sizes caches region size estimates for heartbeats (heartbeat.go).
	sizes struct {
		sync.Mutex
		m map[uint64]sizeEstimate
	}

	// failure records the storage error that stopped the store, if any.
	failure atomic.Pointer[error]

	// Owned by the Raft loop goroutine.
	peers      map[uint64]*peer
	tombstones map[uint64]uint64 // region id -> id of the destroyed peer
	readCtx    uint64
	syncSeq    uint64         // seq of the last round that needed a sync
	durableQ   []durableRound // rounds written, waiting for their sync

	// The syncer's state (see persist.go): the loop asks for syncWant,
	// the syncer reports synced.
	syncWant atomic.Uint64
	synced   atomic.Uint64
	synckick chan struct{}

	nextID    atomic.Uint64
	proposals struct {
		sync.Mutex
		m map[uint64]*proposal // by proposal id
	}
	notices struct {
		sync.Mutex
		list []*applyNotice // apply results the loop has not seen yet
	}
	// readsWaitApply is set by the loop while reads wait for entries to be
	// applied; only then does a notice of a bare applied index wake it.
	readsWaitApply atomic.Bool
}

// NewStore creates a store over eng. trans and pd may be set later with
// SetTransport/SetPD but before Start; pd may stay nil (no heartbeats).
func NewStore(cfg *Config, storeID uint64, eng storage.Engine, lg *zap.Logger, reg prometheus.Registerer) (*Store, error) {
	if cfg == nil {
		cfg = NewConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	s := &Store{
		cfg: cfg, lg: lg.With(zap.Uint64("store-id", storeID)), engine: eng, storeID: storeID, m: newMetrics(reg),
		eventc: make(chan func(), 4096), applyc: make(chan *applyTask, 4096), noticec: make(chan struct{}, 1),
		stopc: make(chan struct{}), synckick: make(chan struct{}, 1),
		hbc:   make(chan *pdpb.RegionHeartbeatRequest, 256),
		peers: make(map[uint64]*peer), tombstones: make(map[uint64]uint64),
	}
	s.proposals.m = make(map[uint64]*proposal)
	s.sizes.m = make(map[uint64]sizeEstimate)
	// Proposal ids start at a random point so that ids of a restarted
	// process never match entries proposed by its previous life.
	s.nextID.Store(rand.Uint64() >> 1)
	return s, nil
}

// SetTransport sets the outbound transport; call before Start.
func (s *Store) SetTransport(t Transport) { s.trans = t }

// SetPD sets the PD client used for region heartbeats; call before Start.
func (s *Store) SetPD(pd PDClient) { s.pd = pd }

// StoreID is the id of this store.
func (s *Store) StoreID() uint64 { return s.storeID }

// Start loads every region persisted on this store and starts the Raft loop
// and the apply goroutine.
func (s *Store) Start() error {
	if s.trans == nil {
		return errors.New("raftstore: no transport set")
	}
	s.wg.Add(1)
	go s.runApply()
	if err := s.loadPeers(); err != nil {
		s.Stop()
		return err
	}
	s.wg.Add(3)
	go s.runSyncer()
	go s.run()
	go s.runHeartbeats()
	return nil
}

// Stop stops the store and waits for its goroutines. Waiting clients get
// ErrStopped or their context error.
func (s *Store) Stop() {
	s.stopOnce.Do(func() { close(s.stopc) })
	s.wg.Wait()
}

// Done is closed when the store stopped, by Stop or by a fatal error.
func (s *Store) Done() <-chan struct{} { return s.stopc }

// Err returns the fatal storage error that stopped the store, or nil.
func (s *Store) Err() error {
	if e := s.failure.Load(); e != nil {
		return *e
	}
	return nil
}

// fail stops the store after a storage error: continuing could acknowledge
// writes that are not durable, or apply entries out of order.
func (s *Store) fail(err error) {
	s.failure.CompareAndSwap(nil, &err)
	s.lg.Error("storage failure, stopping store", zap.Error(err))
	s.stopOnce.Do(func() { close(s.stopc) })
}

func (s *Store) loadPeers() error {
	it, err := s.engine.NewIterator(storage.CFMeta, storage.IterOptions{
		LowerBound: keys.RegionStatePrefix(), UpperBound: prefixEnd(keys.RegionStatePrefix()),
	})
	if err != nil {
		return err
	}
	var states []*raft_serverpb.RegionLocalState
	for ; it.Valid(); it.Next() {
		st := &raft_serverpb.RegionLocalState{}
		if err := proto.Unmarshal(it.Value(), st); err != nil {
			it.Close()
			return fmt.Errorf("raftstore: decode region state: %w", err)
		}
		states = append(states, st)
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	for _, st := range states {
		region := st.GetRegion()
		self := findStorePeer(region, s.storeID)
		switch {
		case st.GetState() == raft_serverpb.PeerState_Tombstone:
			s.tombstones[region.GetId()] = self.GetId()
			continue
		case self == nil:
			return fmt.Errorf("raftstore: region %d has no peer on store %d", region.GetId(), s.storeID)
		}
		p, err := s.loadPeer(region, self, st.GetState() == raft_serverpb.PeerState_Normal)
		if err != nil {
			return err
		}
		s.peers[region.GetId()] = p
	}
	s.m.regions.Set(float64(len(s.peers)))
	s.lg.Info("loaded regions", zap.Int("regions", len(s.peers)), zap.Int("tombstones", len(s.tombstones)))
	return nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// submit runs f on the Raft loop; it fails only when the store stopped.
func (s *Store) submit(f func()) error {
	select {
	case s.eventc <- f:
		return nil
	case <-s.stopc:
		return ErrStopped
	}
}
