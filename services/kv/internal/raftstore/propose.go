package raftstore

import "github.com/flaredb/flaredb/proto/errorpb"

// maxEntryBytes bounds one merged write entry, so a burst of large writes
// still pipelines as several appends instead of one huge message.
const maxEntryBytes = 512 << 10

// pendingWrite is a routed write proposal waiting for the end of the loop
// round, encoded as one group of a kind 2 entry.
type pendingWrite struct {
	prop *proposal
	enc  []byte
}

// queueWrite holds a routed proposal until flushWrites. Every write that
// arrives in one loop round goes to raft as one entry per region: the
// followers then persist, send and apply one entry instead of dozens, which
// is most of what a small write costs on each replica.
func (s *Store) queueWrite(p *peer, prop *proposal, enc []byte) {
	if len(p.pendingWrites) == 0 {
		s.writeQueue = append(s.writeQueue, p)
	}
	p.pendingWrites = append(p.pendingWrites, pendingWrite{prop: prop, enc: enc})
	prop.regionID = p.region.GetId()
}

// flushWrites proposes the queued writes, merged per region, before the
// round's Readys are taken. A peer that lost leadership or was destroyed
// since its writes were routed fails them with NotLeader: they never
// reached the log, so the client may retry them elsewhere.
//
// A region whose log already holds maxUncommittedEntries entries not yet
// committed keeps its writes for a later round (see holdWrites), unless
// they fill a whole entry.
func (s *Store) flushWrites() {
	n := 0
	for _, p := range s.writeQueue {
		pending := p.pendingWrites
		p.pendingWrites = nil
		if p.destroyed || !p.isLeader {
			s.failWrites(pending, errNotLeader(p.region.GetId(), p.leaderPeer()))
			continue
		}
		hold := s.holdWrites(p)
		for len(pending) > 0 {
			k, size := 0, 0
			for k < len(pending) && (k == 0 || size+len(pending[k].enc) <= maxEntryBytes) {
				size += len(pending[k].enc)
				k++
			}
			if hold && k == len(pending) && size < maxEntryBytes {
				break
			}
			s.proposeWrites(p, pending[:k], size)
			pending = pending[k:]
		}
		if len(pending) > 0 {
			p.pendingWrites = pending
			s.writeQueue[n] = p
			n++
		}
	}
	clear(s.writeQueue[n:])
	s.writeQueue = s.writeQueue[:n]
}

// maxUncommittedEntries is how many entries a leader lets wait for commit
// before it holds new writes back. Under load, a write arriving while the
// previous entry is on its way to the followers then joins the writes that
// arrive with it in one later entry, instead of every loop round sending,
// persisting, acknowledging and applying an entry of its own on every
// replica: the batch grows with the load and a lone write is not delayed.
// Raft commits in order, so a held write waits for little more than the
// entry ahead of it would have made it wait anyway.
//
// Measured with tools/bench, 3 stores on one 2-core machine: at 64 clients
// entries per second fell from about 2,300 (2 writes each) to about 320
// and Raft messages from about 9,300 to 1,300 per second; puts/s at 256
// clients rose about 20%, with lower p99 (see docs/benchmarks.md). Holding
// at 2 uncommitted entries gained about half as much.
const maxUncommittedEntries = 1

// holdWrites reports whether p's log has maxUncommittedEntries or more
// entries not yet known committed. A commit is learnt in a loop round (one
// stepping a follower's ack, or completing the leader's own durable write
// after the syncer woke the loop), and that round proposes the held
// writes after it (see run), so they go out as soon as the log drains.
func (s *Store) holdWrites(p *peer) bool {
	last, _ := p.ps.LastIndex()
	commit := p.rn.BasicStatus().HardState.GetCommit()
	return last >= commit+maxUncommittedEntries
}

func (s *Store) proposeWrites(p *peer, ws []pendingWrite, size int) {
	buf := writesHeader(len(ws), size)
	for _, w := range ws {
		buf = append(buf, w.enc...)
	}
	if err := p.rn.Propose(buf); err != nil {
		// Dropped by raft (e.g. a leader transfer is under way): certainly
		// not in the log.
		s.failWrites(ws, errNotLeader(p.region.GetId(), p.leaderPeer()))
		return
	}
	s.m.proposals.WithLabelValues("write", "proposed").Add(float64(len(ws)))
	s.m.entryProposals.Observe(float64(len(ws)))
}

func (s *Store) failWrites(ws []pendingWrite, rerr *errorpb.Error) {
	s.m.proposals.WithLabelValues("write", "rejected").Add(float64(len(ws)))
	for _, w := range ws {
		s.failProposal(w.prop.id, proposalResult{rerr: rerr})
	}
}
