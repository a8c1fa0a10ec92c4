package raftstore

import (
	"sync"
	"sync/atomic"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// proposal is a client waiting for its write or membership change to be
// applied. Whoever removes it from the registry (apply goroutine, or the
// Raft loop failing it) is the one that answers, so it is answered once.
type proposal struct {
	id uint64
	// regionID is set by the Raft loop once the proposal is in the region's
	// log; only the loop reads it.
	regionID uint64
	respc    chan proposalResult
}

type proposalResult struct {
	results []kvcmd.Result
	region  *metapb.Region
	rerr    *errorpb.Error
	err     error
}

func (p *proposal) respond(r proposalResult) { p.respc <- r }

func (s *Store) newProposal() *proposal {
	p := &proposal{id: s.nextID.Add(1), respc: make(chan proposalResult, 1)}
	s.proposals.Lock()
	s.proposals.m[p.id] = p
	s.proposals.Unlock()
	return p
}

// takeProposal removes and returns the waiter of id, or nil when there is
// none (another replica proposed it, or the waiter gave up).
func (s *Store) takeProposal(id uint64) *proposal {
	s.proposals.Lock()
	defer s.proposals.Unlock()
	p := s.proposals.m[id]
	delete(s.proposals.m, id)
	return p
}

// failProposal answers id with r if it is still waiting.
func (s *Store) failProposal(id uint64, r proposalResult) {
	if p := s.takeProposal(id); p != nil {
		p.respond(r)
	}
}

// readRequest is a linearizable read waiting for its ReadIndex to be
// confirmed and applied. state makes answering and abandoning race-free:
// an engine snapshot handed to an abandoned request is closed, not leaked.
type readRequest struct {
	state atomic.Int32 // readPending, readAnswered, readAbandoned
	respc chan readResult
}

const (
	readPending int32 = iota
	readAnswered
	readAbandoned
)

type readResult struct {
	snap   storage.Snapshot
	region *metapb.Region
	rerr   *errorpb.Error
	err    error
}

func newReadRequest() *readRequest { return &readRequest{respc: make(chan readResult, 1)} }

func (r *readRequest) answer(res readResult) {
	if r.state.CompareAndSwap(readPending, readAnswered) {
		r.respc <- res
		return
	}
	if res.snap != nil {
		res.snap.Close()
	}
}

// failRegionProposals answers every proposal in regionID's log with r; the
// Raft loop calls it when it can no longer learn their outcome.
func (s *Store) failRegionProposals(regionID uint64, r proposalResult) {
	s.proposals.Lock()
	var failed []*proposal
	for id, p := range s.proposals.m {
		if p.regionID == regionID {
			failed = append(failed, p)
			delete(s.proposals.m, id)
		}
	}
	s.proposals.Unlock()
	for _, p := range failed {
		p.respond(r)
	}
}

// sharedSnapshot is one engine snapshot shared by reads answered together.
// Each reader gets a handle from ref; the snapshot is released when the
// creator's release and every handle's Close have run.
type sharedSnapshot struct {
	snap storage.Snapshot
	refs atomic.Int32
}

func newSharedSnapshot(snap storage.Snapshot) *sharedSnapshot {
	s := &sharedSnapshot{snap: snap}
	s.refs.Store(1)
	return s
}

func (s *sharedSnapshot) ref() storage.Snapshot {
	s.refs.Add(1)
	return &snapshotRef{Snapshot: s.snap, shared: s}
}

func (s *sharedSnapshot) release() {
	if s.refs.Add(-1) == 0 {
		s.snap.Close()
	}
}

// snapshotRef is one reader's handle; Close is idempotent.
type snapshotRef struct {
	storage.Snapshot
	shared *sharedSnapshot
	once   sync.Once
}

func (r *snapshotRef) Close() { r.once.Do(r.shared.release) }
