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

// flushWrites proposes every queued write, merged per region, before the
// round's Readys are taken. A peer that lost leadership or was destroyed
// since its writes were routed fails them with NotLeader: they never
// reached the log, so the client may retry them elsewhere.
func (s *Store) flushWrites() {
	for _, p := range s.writeQueue {
		pending := p.pendingWrites
		p.pendingWrites = nil
		if p.destroyed || !p.isLeader {
			s.failWrites(pending, errNotLeader(p.region.GetId(), p.leaderPeer()))
			continue
		}
		for len(pending) > 0 {
			n, size := 0, 0
			for n < len(pending) && (n == 0 || size+len(pending[n].enc) <= maxEntryBytes) {
				size += len(pending[n].enc)
				n++
			}
			s.proposeWrites(p, pending[:n], size)
			pending = pending[n:]
		}
	}
	clear(s.writeQueue)
	s.writeQueue = s.writeQueue[:0]
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
