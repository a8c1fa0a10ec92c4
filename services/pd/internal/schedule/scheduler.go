package schedule

import (
	"sync"
	"time"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// Step is one scheduling instruction for a region's leader.
type Step struct {
	ChangePeer     *pdpb.ChangePeer
	TransferLeader *pdpb.TransferLeader
}

// inflight remembers the step handed out for a region and the shape the
// region had then; the step is over once the shape moves or it times out.
type inflight struct {
	confVer  uint64
	leaderID uint64
	issued   time.Time
	transfer bool
}

// Scheduler tracks queued operators and in-flight steps per region. It is
// safe for concurrent use.
type Scheduler struct {
	maxReplicas int
	stepTimeout time.Duration
	mu          struct {
		sync.Mutex
		queued   map[uint64]Step     // region id -> operator waiting for a heartbeat
		inflight map[uint64]inflight // region id -> step handed to the leader
	}
}

// New returns a scheduler that keeps regions at maxReplicas and re-issues a
// step only after stepTimeout without progress.
func New(maxReplicas int, stepTimeout time.Duration) *Scheduler {
	s := &Scheduler{maxReplicas: maxReplicas, stepTimeout: stepTimeout}
	s.mu.queued = make(map[uint64]Step)
	s.mu.inflight = make(map[uint64]inflight)
	return s
}

// Queue records an operator for regionID, replacing any queued before; it
// is handed out on the region's next heartbeat that has no step in flight.
func (s *Scheduler) Queue(regionID uint64, step Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.queued[regionID] = step
}

// Forget drops all state for a region that no longer exists.
func (s *Scheduler) Forget(regionID uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.queued, regionID)
	delete(s.mu.inflight, regionID)
}

// OnHeartbeat returns the step to send with this heartbeat's response, or
// nil. A queued operator wins over the replica checker. newPeerID allocates
// the id of a peer the checker adds.
func (s *Scheduler) OnHeartbeat(region *metapb.Region, leader *metapb.Peer, stores []StoreInfo, now time.Time, newPeerID func() (uint64, error)) (*Step, error) {
	id := region.GetId()
	confVer := region.GetRegionEpoch().GetConfVer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.mu.inflight[id]; ok {
		done := confVer != f.confVer || (f.transfer && leader.GetId() != f.leaderID)
		if !done && now.Sub(f.issued) < s.stepTimeout {
			return nil, nil
		}
		delete(s.mu.inflight, id)
	}
	var step *Step
	if q, ok := s.mu.queued[id]; ok {
		delete(s.mu.queued, id)
		step = &q
	} else {
		cp, err := CheckReplicas(region, stores, s.maxReplicas, newPeerID)
		if err != nil || cp == nil {
			return nil, err
		}
		step = &Step{ChangePeer: cp}
	}
	s.mu.inflight[id] = inflight{
		confVer: confVer, leaderID: leader.GetId(), issued: now,
		transfer: step.TransferLeader != nil && step.ChangePeer == nil,
	}
	return step, nil
}

// Inflight reports how many regions have a step outstanding.
func (s *Scheduler) Inflight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.inflight)
}
