package raftstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// maxApplyBatch bounds how many tasks one apply round merges into a write.
const maxApplyBatch = 256

// applyCacheKeys bounds the version records of recently written keys the
// apply goroutine keeps across rounds, so a put to a hot key reads nothing
// from the engine (about 100 bytes each with a short key). The goroutine
// writes all user data except snapshots and the deletion of removed
// regions, and forgets the cache before a snapshot is written.
const applyCacheKeys = 1 << 18

// applyTask is one unit of work for the apply goroutine. Tasks are handled
// strictly in the order they were queued.
type applyTask struct {
	regionID uint64
	entries  []*raftpb.Entry
	// register (re)starts tracking a region at the given state: on load,
	// and after a snapshot replaced the region's applied state.
	register *applyState
	// barrier is closed once every earlier task is written to the engine.
	barrier chan struct{}
}

// applyState is the apply goroutine's view of one region.
type applyState struct {
	peerID  uint64
	region  *metapb.Region
	apply   *raft_serverpb.RaftApplyState
	removed bool
}

// applyNotice tells the Raft loop what an apply round changed for a region.
// It is delivered after the round's engine write succeeded.
type applyNotice struct {
	regionID    uint64
	applied     uint64
	region      *metapb.Region
	confChanges []*raftpb.ConfChange
	compactIdx  uint64
	compactTerm uint64
	removed     bool
}

type applyRound struct {
	wb       storage.WriteBatch
	entries  int
	notices  map[uint64]*applyNotice
	replies  []func()
	touched  []uint64
	regionWB map[uint64]bool
}

func (s *Store) runApply() {
	defer s.wg.Done()
	states := make(map[uint64]*applyState)
	applier := kvcmd.NewApplier(s.engine, nil)
	applier.Retain(applyCacheKeys)
	for {
		var first *applyTask
		select {
		case first = <-s.applyc:
		case <-s.stopc:
			return
		}
		tasks := []*applyTask{first}
	drain:
		for len(tasks) < maxApplyBatch {
			select {
			case t := <-s.applyc:
				tasks = append(tasks, t)
			default:
				break drain
			}
		}
		round := s.newApplyRound(applier)
		for _, t := range tasks {
			switch {
			case t.barrier != nil:
				if !s.flushApply(round, states) {
					return
				}
				// The Raft loop is about to write a snapshot's data.
				applier.Forget()
				close(t.barrier)
				round = s.newApplyRound(applier)
			case t.register != nil:
				// The region's data may have been replaced (snapshot):
				// write what this round holds, then forget what it knew.
				// Forgetting mid-round would lose the round's own writes.
				if !s.flushApply(round, states) {
					return
				}
				applier.Forget()
				round = s.newApplyRound(applier)
				states[t.regionID] = t.register
			default:
				if st := states[t.regionID]; st != nil {
					s.applyEntries(applier, round, st, t.entries)
				}
			}
		}
		if !s.flushApply(round, states) {
			return
		}
	}
}

func (s *Store) newApplyRound(applier *kvcmd.Applier) *applyRound {
	r := &applyRound{wb: s.engine.NewWriteBatch(), notices: make(map[uint64]*applyNotice), regionWB: make(map[uint64]bool)}
	applier.Reset(s.engine, r.wb)
	return r
}

func (r *applyRound) notice(regionID uint64) *applyNotice {
	n := r.notices[regionID]
	if n == nil {
		n = &applyNotice{regionID: regionID}
		r.notices[regionID] = n
		r.touched = append(r.touched, regionID)
	}
	return n
}

func (s *Store) applyEntries(applier *kvcmd.Applier, round *applyRound, st *applyState, ents []*raftpb.Entry) {
	for _, e := range ents {
		if st.removed || e.GetIndex() <= st.apply.GetAppliedIndex() {
			continue
		}
		round.entries++
		switch e.GetType() {
		case raftpb.EntryNormal:
			if len(e.GetData()) > 0 {
				s.applyWrite(applier, round, e)
			}
		case raftpb.EntryConfChange:
			s.applyConfChange(round, st, e)
		}
		st.apply.AppliedIndex = e.GetIndex()
		n := round.notice(st.region.GetId())
		n.applied = e.GetIndex()
		s.maybeCompact(round, st, n)
	}
}

func (s *Store) applyWrite(applier *kvcmd.Applier, round *applyRound, e *raftpb.Entry) {
	groups, err := decodeWrites(e.GetData())
	if err != nil {
		// Every replica decodes the same bytes, so skipping is deterministic.
		s.lg.Error("skipping undecodable entry", zap.Uint64("index", e.GetIndex()), zap.Error(err))
		return
	}
	for _, g := range groups {
		if !s.applyGroup(applier, round, e.GetIndex(), g) {
			return
		}
	}
}

// applyGroup applies one proposal's commands and queues its answer. It
// returns false when the engine failed and the store is stopping.
func (s *Store) applyGroup(applier *kvcmd.Applier, round *applyRound, index uint64, g writeGroup) bool {
	results := make([]kvcmd.Result, 0, len(g.cmds))
	var applyErr error
	for _, c := range g.cmds {
		res, err := applier.Apply(c)
		if err != nil {
			if !errors.Is(err, kvcmd.ErrInvalid) {
				// A read error: the engine is failing, nothing may continue.
				s.fail(fmt.Errorf("raftstore: apply index %d: %w", index, err))
				return false
			}
			// Invalid commands fail the same way on every replica, so this
			// path is deterministic; the client hears the error. Other
			// proposals merged into the entry are not affected.
			applyErr = err
			break
		}
		results = append(results, res)
	}
	if prop := s.takeProposal(g.id); prop != nil {
		round.replies = append(round.replies, func() {
			if applyErr != nil {
				prop.respond(proposalResult{err: applyErr})
				return
			}
			prop.respond(proposalResult{results: results})
		})
	}
	return true
}

func (s *Store) applyConfChange(round *applyRound, st *applyState, e *raftpb.Entry) {
	cc := &raftpb.ConfChange{}
	if err := proto.Unmarshal(e.GetData(), cc); err != nil {
		s.lg.Error("skipping undecodable conf change", zap.Uint64("index", e.GetIndex()), zap.Error(err))
		return
	}
	id, peer, err := decodeConfContext(cc.GetContext())
	if err != nil {
		s.lg.Error("skipping conf change without peer", zap.Uint64("index", e.GetIndex()), zap.Error(err))
		return
	}
	region := cloneRegion(st.region)
	if region.RegionEpoch == nil {
		region.RegionEpoch = &metapb.RegionEpoch{}
	}
	region.RegionEpoch.ConfVer++
	switch cc.GetType() {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		if findPeer(region, peer.GetId()) == nil {
			region.Peers = append(region.Peers, peer)
		}
	case raftpb.ConfChangeRemoveNode:
		kept := region.Peers[:0]
		for _, p := range region.Peers {
			if p.GetId() != peer.GetId() {
				kept = append(kept, p)
			}
		}
		region.Peers = kept
		if peer.GetId() == st.peerID {
			st.removed = true
		}
	}
	st.region = region
	n := round.notice(region.GetId())
	n.region = region
	n.confChanges = append(n.confChanges, cc)
	n.removed = st.removed
	round.regionWB[region.GetId()] = true
	if prop := s.takeProposal(id); prop != nil {
		r := cloneRegion(region)
		round.replies = append(round.replies, func() { prop.respond(proposalResult{region: r}) })
	}
}

// maybeCompact records a log truncation in the apply state once enough
// applied entries pile up. The log itself is deleted by the Raft loop after
// it learns of the truncation, so it never reads an entry being deleted.
func (s *Store) maybeCompact(round *applyRound, st *applyState, n *applyNotice) {
	applied := st.apply.GetAppliedIndex()
	if applied-st.apply.GetTruncatedIndex() < s.cfg.LogGCThreshold {
		return
	}
	idx := applied - s.cfg.LogGCKeep
	b, err := s.engine.Get(storage.CFRaft, keys.RaftLogKey(st.region.GetId(), idx))
	if err != nil {
		return // the entry may still be only in this round's batch; try later
	}
	e := &raftpb.Entry{}
	if proto.Unmarshal(b, e) != nil {
		return
	}
	st.apply.TruncatedIndex, st.apply.TruncatedTerm = idx, e.GetTerm()
	n.compactIdx, n.compactTerm = idx, e.GetTerm()
}

// flushApply writes the round (data, apply states, region states) in one
// batch, then answers proposers and tells the Raft loop. A write error is
// fatal for the store.
func (s *Store) flushApply(round *applyRound, states map[uint64]*applyState) bool {
	defer round.wb.Close()
	if len(round.touched) == 0 {
		return true
	}
	start := time.Now()
	for _, id := range round.touched {
		st := states[id]
		if st == nil {
			continue
		}
		b, _ := proto.Marshal(st.apply)
		round.wb.Put(storage.CFRaft, keys.ApplyStateKey(id), b)
		if round.regionWB[id] {
			b, _ := proto.Marshal(&raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Normal, Region: st.region})
			round.wb.Put(storage.CFMeta, keys.RegionStateKey(id), b)
		}
	}
	if k := s.cfg.Knobs; k != nil && k.BeforeApplyWrite != nil {
		k.BeforeApplyWrite()
	}
	// Not synced: the log is durable already, and the applied index is in
	// this batch, so a lost apply write is simply redone after restart.
	if err := s.engine.Write(round.wb, storage.WriteOptions{}); err != nil {
		s.fail(err)
		return false
	}
	s.m.applySeconds.Observe(time.Since(start).Seconds())
	s.m.applyEntries.Observe(float64(round.entries))
	for _, reply := range round.replies {
		reply()
	}
	urgent := false
	s.notices.Lock()
	for _, id := range round.touched {
		n := round.notices[id]
		if st := states[id]; st != nil && st.removed {
			delete(states, id)
		}
		s.notices.list = append(s.notices.list, n)
		urgent = urgent || n.urgent()
	}
	s.notices.Unlock()
	// A bare applied index matters to the loop only when reads wait for it;
	// otherwise it is picked up by the loop's next round (the next message
	// or tick), sparing a wake-up, and on this VM a context switch, per
	// apply round. The flag is read after the list is updated, and the loop
	// sets it before taking the list again (see noteReadsWaiting), so a
	// read never waits for a notice that is already queued.
	if urgent || s.readsWaitApply.Load() {
		select {
		case s.noticec <- struct{}{}:
		default:
		}
	}
	return true
}

// urgent reports whether the notice changes more than the applied index:
// the loop must act on conf changes, region changes, log truncations and
// removal promptly.
func (n *applyNotice) urgent() bool {
	return len(n.confChanges) > 0 || n.region != nil || n.compactIdx > 0 || n.removed
}
