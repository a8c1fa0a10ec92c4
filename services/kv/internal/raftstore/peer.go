package raftstore

import (
	"fmt"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// readWait is a batch of reads whose ReadIndex is known; they are answered
// once the peer applied up to index.
type readWait struct {
	index uint64
	reads []*readRequest
}

// peer is this store's replica of one region. Every field is owned by the
// Raft loop goroutine.
type peer struct {
	meta        *metapb.Peer
	region      *metapb.Region
	initialized bool
	ps          *peerStorage
	rn          *raft.RawNode

	applied  uint64
	leaderID uint64
	isLeader bool
	// peerCache remembers the store of every peer id seen, so messages can
	// reach peers that are not (or no longer) in region.Peers.
	peerCache map[uint64]*metapb.Peer

	confPendingUntil time.Time
	newReads         []*readRequest
	pendingWrites    []pendingWrite // merged into one entry before the next Ready
	readsInFlight    map[string][]*readRequest
	readsWaiting     []readWait
	pendingGC        *[2]uint64 // index, term learnt from apply
	lastHeartbeat    time.Time
	snapRegion       *metapb.Region // region of a snapshot persisted this round
	snapGen          *snapGen       // snapshot being built for a follower (snapgen.go)
	destroyed        bool           // removed from the store; pending responses are dropped
}

func (s *Store) newPeer(region *metapb.Region, self *metapb.Peer, initialized bool, ps *peerStorage, applied uint64) (*peer, error) {
	p := &peer{meta: self, region: region, initialized: initialized, ps: ps, applied: applied,
		peerCache:     make(map[uint64]*metapb.Peer),
		readsInFlight: make(map[string][]*readRequest)}
	for _, pp := range region.GetPeers() {
		p.peerCache[pp.GetId()] = pp
	}
	ps.snapshot = func() (*raftpb.Snapshot, error) { return s.snapshot(p) }
	readOnly, err := s.cfg.readOnlyOption()
	if err != nil {
		return nil, err
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                self.GetId(),
		ElectionTick:      s.cfg.ElectionTicks,
		HeartbeatTick:     s.cfg.HeartbeatTicks,
		Storage:           ps,
		Applied:           applied,
		MaxSizePerMsg:     s.cfg.MaxSizePerMsg,
		MaxInflightMsgs:   s.cfg.MaxInflightMsgs,
		CheckQuorum:       true, // also what makes lease reads safe
		ReadOnlyOption:    readOnly,
		PreVote:           true,
		StepDownOnRemoval: true,
		// A write proposed by a peer that has just stepped down (its loop
		// still thinks it leads until the round's Ready) must fail as not
		// proposed, never travel to the new leader: its client hears
		// NotLeader or unknown outcome and retries, and a forwarded copy
		// committed after the retry would apply the write twice, after the
		// retry's acknowledgement.
		DisableProposalForwarding: true,
		// Persistence is pipelined: see persist.go.
		AsyncStorageWrites: true,
		Logger:             &raftLogger{s.lg.With(zap.Uint64("region-id", region.GetId())).Sugar()},
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: start raft for region %d: %w", region.GetId(), err)
	}
	p.rn = rn
	return p, nil
}

// loadPeer restores a peer from its persisted state and registers its apply
// state with the apply goroutine.
func (s *Store) loadPeer(region *metapb.Region, self *metapb.Peer, initialized bool) (*peer, error) {
	applyState := &raft_serverpb.RaftApplyState{}
	cs := &raftpb.ConfState{}
	if initialized {
		b, err := s.engine.Get(storage.CFRaft, keys.ApplyStateKey(region.GetId()))
		if err != nil {
			return nil, fmt.Errorf("raftstore: read apply state of region %d: %w", region.GetId(), err)
		}
		if err := proto.Unmarshal(b, applyState); err != nil {
			return nil, err
		}
		cs = confStateOf(region)
	}
	ps, err := loadPeerStorage(s.engine, region.GetId(), applyState.GetTruncatedIndex(), applyState.GetTruncatedTerm(), cs)
	if err != nil {
		return nil, err
	}
	if err := reconcileCommit(ps, applyState.GetAppliedIndex()); err != nil {
		return nil, fmt.Errorf("raftstore: region %d: %w", region.GetId(), err)
	}
	p, err := s.newPeer(region, self, initialized, ps, applyState.GetAppliedIndex())
	if err != nil {
		return nil, err
	}
	if initialized {
		s.registerApply(p, applyState)
	}
	return p, nil
}

// reconcileCommit raises the recovered commit index to the applied index.
// The apply goroutine's write can reach the engine before the Raft loop's
// write of the HardState whose commit index covers those entries (a
// commit-only HardState is written unsynced, and the loop hands committed
// entries to apply before its own batch is written), so after a crash the
// applied index may exceed the persisted commit; raft refuses to start like
// that. Every applied entry was committed by a quorum and is in the local
// log, so the raise is safe. An applied index beyond the local log would be
// real corruption and is reported.
func reconcileCommit(ps *peerStorage, applied uint64) error {
	if applied <= ps.hardState.GetCommit() {
		return nil
	}
	if last, _ := ps.LastIndex(); applied > last {
		return fmt.Errorf("applied index %d is beyond the last log index %d", applied, last)
	}
	ps.hardState.Commit = proto.Uint64(applied)
	return nil
}

func (s *Store) registerApply(p *peer, st *raft_serverpb.RaftApplyState) {
	t := &applyTask{regionID: p.region.GetId(), register: &applyState{
		peerID: p.meta.GetId(), region: cloneRegion(p.region), apply: proto.Clone(st).(*raft_serverpb.RaftApplyState)}}
	select {
	case s.applyc <- t:
	case <-s.stopc:
	}
}

// createUninitialized makes a peer for a region this store learns about
// from a message: it has no data and waits for a snapshot from the leader.
// Its state is persisted (as Applying) so that its votes survive a restart.
func (s *Store) createUninitialized(m *raft_serverpb.RaftMessage) (*peer, error) {
	region := &metapb.Region{Id: m.GetRegionId(), StartKey: m.GetStartKey(), EndKey: m.GetEndKey(),
		RegionEpoch: &metapb.RegionEpoch{}, Peers: []*metapb.Peer{m.GetToPeer()}}
	b, _ := proto.Marshal(&raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Applying, Region: region})
	wb := s.engine.NewWriteBatch()
	defer wb.Close()
	wb.Put(storage.CFMeta, keys.RegionStateKey(region.GetId()), b)
	if err := s.engine.Write(wb, storage.WriteOptions{Sync: true}); err != nil {
		return nil, err
	}
	ps := &peerStorage{engine: s.engine, regionID: region.GetId(), hardState: &raftpb.HardState{}, confState: &raftpb.ConfState{}}
	p, err := s.newPeer(region, m.GetToPeer(), false, ps, 0)
	if err != nil {
		return nil, err
	}
	s.peers[region.GetId()] = p
	s.m.regions.Set(float64(len(s.peers)))
	s.lg.Info("created uninitialized peer", zap.Uint64("region-id", region.GetId()), zap.Uint64("peer-id", p.meta.GetId()))
	return p, nil
}

// destroyPeer removes a peer that was removed from its region: it leaves a
// tombstone (so stale messages cannot resurrect it) and deletes its log and
// data.
func (s *Store) destroyPeer(p *peer) error {
	id := p.region.GetId()
	wb := s.engine.NewWriteBatch()
	defer wb.Close()
	tomb := cloneRegion(p.region)
	tomb.Peers = []*metapb.Peer{p.meta}
	b, _ := proto.Marshal(&raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Tombstone, Region: tomb})
	wb.Put(storage.CFMeta, keys.RegionStateKey(id), b)
	wb.Delete(storage.CFRaft, keys.RaftStateKey(id))
	wb.Delete(storage.CFRaft, keys.ApplyStateKey(id))
	p.ps.resetToSnapshot(wb, &raftpb.SnapshotMetadata{ConfState: &raftpb.ConfState{}})
	if err := deleteRegionData(s.engine, wb, p.region); err != nil {
		return err
	}
	if err := s.engine.Write(wb, storage.WriteOptions{Sync: true}); err != nil {
		return err
	}
	delete(s.peers, id)
	p.destroyed = true
	s.tombstones[id] = p.meta.GetId()
	s.m.regions.Set(float64(len(s.peers)))
	s.failRegionProposals(id, proposalResult{rerr: errRegionNotFound(id)})
	p.failReads(errRegionNotFound(id), true)
	s.lg.Info("destroyed removed peer", zap.Uint64("region-id", id), zap.Uint64("peer-id", p.meta.GetId()))
	return nil
}

// failReads answers reads that cannot be served any more. Reads whose
// ReadIndex is already confirmed stay valid after losing leadership and are
// kept unless all is set.
func (p *peer) failReads(rerr *errorpb.Error, all bool) {
	for _, r := range p.newReads {
		r.answer(readResult{rerr: rerr})
	}
	p.newReads = nil
	for k, rs := range p.readsInFlight {
		for _, r := range rs {
			r.answer(readResult{rerr: rerr})
		}
		delete(p.readsInFlight, k)
	}
	if all {
		for _, w := range p.readsWaiting {
			for _, r := range w.reads {
				r.answer(readResult{rerr: rerr})
			}
		}
		p.readsWaiting = nil
	}
}

func (p *peer) leaderPeer() *metapb.Peer {
	if p.leaderID == 0 {
		return nil
	}
	return p.peerCache[p.leaderID]
}

// deleteRegionData deletes the user data of region in wb. It iterates
// instead of using DeleteRange because an unbounded region has no end key.
func deleteRegionData(eng storage.Reader, wb storage.WriteBatch, region *metapb.Region) error {
	for _, cf := range []string{storage.CFDefault, storage.CFVersion} {
		it, err := eng.NewIterator(cf, storage.IterOptions{LowerBound: region.GetStartKey(), UpperBound: nilIfEmpty(region.GetEndKey())})
		if err != nil {
			return err
		}
		for ; it.Valid(); it.Next() {
			wb.Delete(cf, append([]byte(nil), it.Key()...))
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// raftLogger adapts zap to raft.Logger (which says Warning, not Warn).
type raftLogger struct{ *zap.SugaredLogger }

func (l *raftLogger) Warning(v ...any)                 { l.Warn(v...) }
func (l *raftLogger) Warningf(format string, v ...any) { l.Warnf(format, v...) }
