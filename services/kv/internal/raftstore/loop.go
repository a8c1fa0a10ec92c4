package raftstore

import (
	"encoding/binary"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/proto/metapb"
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
		s.completeDurable()
		// After the acks above: they may have committed what held back
		// writes (see holdWrites).
		s.flushWrites()
		s.issueReads()
		if err := s.handleReadies(); err != nil {
			s.fail(err)
			s.failAllWaiters()
			return
		}
		s.noteReadsWaiting()
	}
}

// noteReadsWaiting tells the apply goroutine whether reads wait for an
// applied index (see flushApply). When they do, it takes the notices once
// more after setting the flag: a notice queued before the apply goroutine
// could see the flag would otherwise wait for the next round.
func (s *Store) noteReadsWaiting() {
	waiting := false
	for _, p := range s.peers {
		if len(p.readsWaiting) > 0 {
			waiting = true
			break
		}
	}
	s.readsWaitApply.Store(waiting)
	if waiting {
		s.handleNotices()
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

// handleReadies takes the Ready of every peer that has one and writes all
// their Raft state in one engine batch (group commit). Raft runs with
// AsyncStorageWrites: what must wait for durability travels as the
// responses of each MsgStorageAppend and is delivered by completeDurable
// once the WAL sync covering the batch finished, while the loop goes on
// stepping acks and taking proposals during the fsync.
func (s *Store) handleReadies() error {
	wb := s.engine.NewWriteBatch()
	defer wb.Close()
	var (
		acts     []durableAction
		mustSync bool
		snapshot bool
	)
	for _, p := range s.peers {
		if p.pendingGC != nil {
			p.ps.compactTo(wb, p.pendingGC[0], p.pendingGC[1])
			p.pendingGC = nil
			s.m.logCompactions.Inc()
		}
		if !p.rn.HasReady() {
			continue
		}
		rd := p.rn.Ready()
		if rd.SoftState != nil {
			s.onSoftState(p, rd.SoftState)
		}
		for _, rs := range rd.ReadStates {
			p.onReadState(rs)
		}
		for i, m := range rd.Messages {
			switch m.GetTo() {
			case raft.LocalAppendThread:
				act, sync, err := s.persistAppend(wb, p, m)
				if err != nil {
					return err
				}
				acts = append(acts, act)
				mustSync = mustSync || sync
				snapshot = snapshot || act.snap != nil
			case raft.LocalApplyThread:
				// Committed entries are durable on a quorum; they are
				// applied in order by the apply goroutine. Raft hears they
				// are applied at once, as with Advance in synchronous mode.
				if len(m.GetEntries()) > 0 {
					s.dispatchApply(p, m.GetEntries())
				}
				s.deliver(p, m.GetResponses())
			default:
				// Raft holds back whatever must wait for this node's
				// write (votes, a follower's acks) in the append responses;
				// the rest, such as a leader's appends, may go now.
				if supersededAppend(rd.Messages, i) {
					s.m.appendsCoalesced.Inc()
					continue
				}
				s.send(p, []*raftpb.Message{m})
			}
		}
		s.resolveReads(p)
	}
	if wb.Count() == 0 && len(acts) == 0 {
		return nil
	}
	if wb.Count() > 0 {
		// Written unsynced: the WAL sync runs apart (see syncer), so
		// RocksDB's write queue is not held during the fsync and the
		// apply goroutine's writes do not queue behind it.
		if err := s.engine.Write(wb, storage.WriteOptions{}); err != nil {
			return err
		}
	}
	if mustSync {
		s.syncSeq++
	}
	s.durableQ = append(s.durableQ, durableRound{seq: s.syncSeq, acts: acts})
	switch {
	case snapshot:
		// Rare: sync here so the peer serves from the snapshot before
		// anything else happens to it.
		start := time.Now()
		if err := s.engine.SyncWAL(); err != nil {
			return err
		}
		s.m.walSyncSeconds.Observe(time.Since(start).Seconds())
		s.markSynced(s.syncSeq)
	case mustSync:
		s.requestSync(s.syncSeq)
	}
	s.m.persistRegions.Observe(float64(len(acts)))
	s.completeDurable()
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
//
// Every read answered in one call shares one engine snapshot (each holds a
// reference; see sharedSnapshot): one snapshot serves a whole ReadIndex
// batch instead of one snapshot, with its cgo crossings, per read.
func (s *Store) resolveReads(p *peer) {
	n := 0
	var (
		shared *sharedSnapshot
		region *metapb.Region
	)
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
			if shared == nil {
				snap, err := s.engine.NewSnapshot()
				if err != nil {
					r.answer(readResult{err: err})
					continue
				}
				shared, region = newSharedSnapshot(snap), cloneRegion(p.region)
			}
			// The region is only read by the reader, so one copy serves all.
			r.answer(readResult{snap: shared.ref(), region: region})
		}
	}
	if shared != nil {
		shared.release() // the loop's own reference
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
