package raftstore

import (
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Pipelined persistence. The Raft loop writes each round's Raft state to the
// engine unsynced, in round order, and updates the peers' storage views at
// once, so raft always reads what it appended. The fsync runs on the syncer
// goroutine; one SyncWAL makes every earlier write durable, so a sync
// started while others were queued covers them all (group commit across
// rounds). What must wait for durability - the responses of a
// MsgStorageAppend: a follower's acks and votes, the leader's own ack, the
// MsgStorageAppendResp - is delivered by completeDurable strictly in round
// order once the sync covering its round returned. Nothing is sent as
// follower or counted as the leader's own vote before that.

// durableAction is what one peer's MsgStorageAppend waits for.
type durableAction struct {
	p     *peer
	resps []*raftpb.Message
	snap  *raftpb.Snapshot
}

// durableRound is one loop round's write; it is durable once the syncer
// synced at least seq (rounds that needed no sync of their own carry the
// seq of the last round that did, so they complete in order after it).
type durableRound struct {
	seq  uint64
	acts []durableAction
}

// persistAppend records a MsgStorageAppend in wb and reports whether the
// write must be synced before its responses go out.
func (s *Store) persistAppend(wb storage.WriteBatch, p *peer, m *raftpb.Message) (durableAction, bool, error) {
	act := durableAction{p: p, resps: m.GetResponses()}
	sync := len(m.GetEntries()) > 0
	if snap := m.GetSnapshot(); snap != nil && !raft.IsEmptySnap(snap) {
		if err := s.applySnapshot(wb, p, snap); err != nil {
			return act, false, err
		}
		act.snap, sync = snap, true
	}
	if err := p.ps.append(wb, m.GetEntries()); err != nil {
		return act, false, err
	}
	if m.Term != nil || m.Vote != nil || m.Commit != nil {
		hs := &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		// Term and vote must be durable before a vote or ack goes out; a
		// commit index alone may be lost (it is re-learnt from the leader).
		if hs.GetTerm() != p.ps.hardState.GetTerm() || hs.GetVote() != p.ps.hardState.GetVote() {
			sync = true
		}
		if err := p.ps.setHardState(wb, hs); err != nil {
			return act, false, err
		}
	}
	return act, sync, nil
}

// deliver steps responses addressed to p itself and sends the others.
func (s *Store) deliver(p *peer, resps []*raftpb.Message) {
	for _, r := range resps {
		if r.GetTo() == p.meta.GetId() {
			_ = p.rn.Step(r)
			continue
		}
		s.send(p, []*raftpb.Message{r})
	}
}

// completeDurable delivers, in round order, the responses of every round
// the syncer has made durable.
func (s *Store) completeDurable() {
	synced := s.synced.Load()
	n := 0
	for _, r := range s.durableQ {
		if r.seq > synced {
			break
		}
		n++
		for _, a := range r.acts {
			if a.p.destroyed {
				continue
			}
			s.deliver(a.p, a.resps)
			if a.snap != nil {
				s.afterSnapshot(a.p, a.snap)
			}
			s.resolveReads(a.p)
		}
	}
	if n > 0 {
		s.durableQ = append(s.durableQ[:0], s.durableQ[n:]...)
	}
}

// requestSync asks the syncer to make writes up to seq durable.
func (s *Store) requestSync(seq uint64) {
	s.syncWant.Store(seq)
	select {
	case s.synckick <- struct{}{}:
	default:
	}
}

// markSynced records that every write of rounds up to seq is durable.
func (s *Store) markSynced(seq uint64) {
	for {
		cur := s.synced.Load()
		if cur >= seq || s.synced.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// runSyncer syncs the WAL whenever the loop wrote something that must be
// durable, and wakes the loop afterwards. A sync error is fatal.
func (s *Store) runSyncer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.synckick:
		case <-s.stopc:
			return
		}
		want := s.syncWant.Load()
		if want <= s.synced.Load() {
			continue
		}
		start := time.Now()
		if err := s.engine.SyncWAL(); err != nil {
			s.fail(err)
			return
		}
		s.m.walSyncSeconds.Observe(time.Since(start).Seconds())
		s.markSynced(want)
		select {
		case s.noticec <- struct{}{}:
		default:
		}
	}
}
