package raftstore

import (
	"encoding/binary"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// maxEventsPerRound bounds how many events one loop round takes before it
// handles Readys, so proposals are batched without starving persistence.
const maxEventsPerRound = 1024

// run is the store's Raft loop. See the package doc for its order.
func (s *Store) run() {
	defer s.wg.Done()
	ticker := time.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	for _, p := range s.peers {
		s.maybeCampaignAlone(p)
	}
	for {
		select {
		case <-s.stopc:
			s.failAllWaiters()
			return
		case <-ticker.C:
			s.tick()
		case f := <-s.eventc:
			f()
		case <-s.noticec:
		}
	drain:
		for i := 0; i < maxEventsPerRound; i++ {
			select {
			case f := <-s.eventc:
				f()
			default:
				break drain
			}
		}
		s.handleNotices()
		s.issueReads()
		if err := s.handleReadies(); err != nil {
			s.fail(err)
			s.failAllWaiters()
			return
		}
	}
}

// maybeCampaignAlone lets a single-voter region elect itself at once instead
// of waiting an election timeout (the common dev-mode case).
func (s *Store) maybeCampaignAlone(p *peer) {
	if p.initialized && len(p.region.GetPeers()) == 1 && p.region.GetPeers()[0].GetId() == p.meta.GetId() {
		_ = p.rn.Campaign()
	}
}

func (s *Store) tick() {
	now := time.Now()
	var lag uint64
	for _, p := range s.peers {
		p.rn.Tick()
		if st := p.rn.BasicStatus(); st.HardState != nil && st.HardState.GetCommit() > p.applied {
			lag += st.HardState.GetCommit() - p.applied
		}
		if p.isLeader && s.pd != nil && now.Sub(p.lastHeartbeat) >= s.cfg.RegionHeartbeatInterval {
			p.lastHeartbeat = now
			s.queueHeartbeat(p)
		}
	}
	s.m.appliedLag.Set(float64(lag))
}

type peerReady struct {
	p    *peer
	rd   raft.Ready
	snap bool
}

func (s *Store) handleReadies() error {
	var readies []peerReady
	for _, p := range s.peers {
		if p.rn.HasReady() || p.pendingGC != nil {
			pr := peerReady{p: p}
			if p.rn.HasReady() {
				pr.rd = p.rn.Ready()
				pr.snap = pr.rd.Snapshot != nil && !raft.IsEmptySnap(pr.rd.Snapshot)
			}
			readies = append(readies, pr)
		}
	}
	if len(readies) == 0 {
		return nil
	}
	wb := s.engine.NewWriteBatch()
	defer wb.Close()
	sync := false
	for i := range readies {
		p, rd := readies[i].p, &readies[i].rd
		if rd.SoftState != nil {
			s.onSoftState(p, rd.SoftState)
		}
		for _, rs := range rd.ReadStates {
			p.onReadState(rs)
		}
		if !readies[i].snap && len(rd.CommittedEntries) > 0 {
			s.dispatchApply(p, rd.CommittedEntries)
		}
		if p.isLeader {
			// A leader may send before its own write: it counts itself only
			// after the write, so a crash cannot commit on its behalf.
			s.send(p, rd.Messages)
		}
		if readies[i].snap {
			if err := s.applySnapshot(wb, p, rd.Snapshot); err != nil {
				return err
			}
			sync = true
		}
		if err := p.ps.append(wb, rd.Entries); err != nil {
			return err
		}
		if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
			if err := p.ps.setHardState(wb, rd.HardState); err != nil {
				return err
			}
		}
		if p.pendingGC != nil {
			p.ps.compactTo(wb, p.pendingGC[0], p.pendingGC[1])
			p.pendingGC = nil
			s.m.logCompactions.Inc()
		}
		sync = sync || rd.MustSync
	}
	if wb.Count() > 0 {
		start := time.Now()
		// Written unsynced, then the WAL is synced: the same durability as
		// a synced write, but RocksDB's write queue is not held during the
		// fsync, so the apply goroutine's (unsynced) writes are not stuck
		// behind it. Nothing is sent as follower, acknowledged or advanced
		// before SyncWAL returns.
		if err := s.engine.Write(wb, storage.WriteOptions{}); err != nil {
			return err
		}
		if sync {
			if err := s.engine.SyncWAL(); err != nil {
				return err
			}
		}
		s.m.persistSeconds.Observe(time.Since(start).Seconds())
		s.m.persistRegions.Observe(float64(len(readies)))
	}
	for i := range readies {
		p, rd := readies[i].p, &readies[i].rd
		if !p.isLeader {
			s.send(p, rd.Messages)
		}
		if readies[i].snap {
			s.afterSnapshot(p, rd.Snapshot)
			if len(rd.CommittedEntries) > 0 {
				s.dispatchApply(p, rd.CommittedEntries)
			}
		}
		s.resolveReads(p)
		p.rn.Advance(*rd)
	}
	return nil
}

func (s *Store) dispatchApply(p *peer, ents []*raftpb.Entry) {
	select {
	case s.applyc <- &applyTask{regionID: p.region.GetId(), entries: ents}:
	case <-s.stopc:
	}
}

func (s *Store) onSoftState(p *peer, ss *raft.SoftState) {
	wasLeader := p.isLeader
	if ss.Lead != p.leaderID {
		s.m.leaderChanges.Inc()
		s.lg.Info("leader changed", zap.Uint64("region-id", p.region.GetId()), zap.Uint64("leader-peer-id", ss.Lead))
	}
	p.leaderID = ss.Lead
	p.isLeader = ss.RaftState == raft.StateLeader
	switch {
	case p.isLeader && !wasLeader:
		s.m.leaders.Inc()
		p.lastHeartbeat = time.Time{}
	case !p.isLeader && wasLeader:
		s.m.leaders.Dec()
		// The proposals may still commit under the next leader, or may be
		// lost: the outcome is unknown and the client must be told so.
		s.failRegionProposals(p.region.GetId(), proposalResult{err: ErrUnknownOutcome})
		p.confPendingUntil = time.Time{}
		p.failReads(errNotLeader(p.region.GetId(), p.leaderPeer()), false)
	}
}

func (s *Store) send(p *peer, msgs []*raftpb.Message) {
	for _, m := range msgs {
		to := p.peerCache[m.GetTo()]
		if to == nil {
			s.lg.Warn("dropping message to unknown peer", zap.Uint64("region-id", p.region.GetId()), zap.Uint64("peer-id", m.GetTo()))
			continue
		}
		data, err := proto.Marshal(m)
		if err != nil {
			s.lg.Error("marshal raft message", zap.Error(err))
			continue
		}
		s.trans.Send(&raft_serverpb.RaftMessage{
			RegionId: p.region.GetId(), FromPeer: p.meta, ToPeer: to, RegionEpoch: p.region.GetRegionEpoch(),
			Message: data, StartKey: p.region.GetStartKey(), EndKey: p.region.GetEndKey(),
		})
	}
}

// issueReads sends one ReadIndex per peer for all reads gathered this round.
func (s *Store) issueReads() {
	for _, p := range s.peers {
		if len(p.newReads) == 0 {
			continue
		}
		if !p.isLeader {
			p.failReads(errNotLeader(p.region.GetId(), p.leaderPeer()), false)
			continue
		}
		s.readCtx++
		ctx := binary.BigEndian.AppendUint64(nil, s.readCtx)
		p.readsInFlight[string(ctx)] = p.newReads
		p.newReads = nil
		p.rn.ReadIndex(ctx)
		s.m.readIndexes.Inc()
	}
}

func (p *peer) onReadState(rs raft.ReadState) {
	reads, ok := p.readsInFlight[string(rs.RequestCtx)]
	if !ok {
		return
	}
	delete(p.readsInFlight, string(rs.RequestCtx))
	p.readsWaiting = append(p.readsWaiting, readWait{index: rs.Index, reads: reads})
}

// resolveReads answers every read whose ReadIndex is applied: the engine
// snapshot taken now contains every write acknowledged before the read.
func (s *Store) resolveReads(p *peer) {
	n := 0
	for _, w := range p.readsWaiting {
		if w.index > p.applied {
			p.readsWaiting[n] = w
			n++
			continue
		}
		for _, r := range w.reads {
			if r.state.Load() != readPending {
				continue
			}
			snap, err := s.engine.NewSnapshot()
			r.answer(readResult{snap: snap, region: cloneRegion(p.region), err: err})
		}
	}
	p.readsWaiting = p.readsWaiting[:n]
}

// handleNotices takes what the apply goroutine finished since last round.
func (s *Store) handleNotices() {
	s.notices.Lock()
	list := s.notices.list
	s.notices.list = nil
	s.notices.Unlock()
	for _, n := range list {
		p := s.peers[n.regionID]
		if p == nil {
			continue
		}
		for _, cc := range n.confChanges {
			p.rn.ApplyConfChange(cc)
			p.confPendingUntil = time.Time{}
			if cc.GetType() == raftpb.ConfChangeRemoveNode && cc.GetNodeId() != p.meta.GetId() && p.isLeader {
				s.sendTombstone(p, cc.GetNodeId())
			}
		}
		if n.region != nil {
			p.region = n.region
			for _, pp := range n.region.GetPeers() {
				p.peerCache[pp.GetId()] = pp
			}
			p.ps.confState = confStateOf(n.region)
		}
		if n.applied > p.applied {
			p.applied = n.applied
		}
		if n.compactIdx > 0 {
			p.pendingGC = &[2]uint64{n.compactIdx, n.compactTerm}
		}
		if n.removed {
			if err := s.destroyPeer(p); err != nil {
				s.fail(err)
				return
			}
			continue
		}
		s.resolveReads(p)
	}
}

// failAllWaiters answers everyone still waiting once the store stops.
func (s *Store) failAllWaiters() {
	s.proposals.Lock()
	props := s.proposals.m
	s.proposals.m = make(map[uint64]*proposal)
	s.proposals.Unlock()
	for _, p := range props {
		p.respond(proposalResult{err: ErrStopped})
	}
	for _, p := range s.peers {
		for _, rs := range [][]*readRequest{p.newReads} {
			for _, r := range rs {
				r.answer(readResult{err: ErrStopped})
			}
		}
		for _, rs := range p.readsInFlight {
			for _, r := range rs {
				r.answer(readResult{err: ErrStopped})
			}
		}
		for _, w := range p.readsWaiting {
			for _, r := range w.reads {
				r.answer(readResult{err: ErrStopped})
			}
		}
	}
}

// sendTombstone tells a removed peer to destroy itself: once removed, it
// hears nothing more from the leader and could not learn of its removal.
// The message may be dropped; the peer then lingers until a later one.
func (s *Store) sendTombstone(p *peer, peerID uint64) {
	to := p.peerCache[peerID]
	if to == nil {
		return
	}
	s.trans.Send(&raft_serverpb.RaftMessage{RegionId: p.region.GetId(), FromPeer: p.meta, ToPeer: to,
		RegionEpoch: p.region.GetRegionEpoch(), IsTombstone: true})
}
