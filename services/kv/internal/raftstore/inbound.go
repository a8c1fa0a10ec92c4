package raftstore

import (
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// HandleRaftMessage routes an inbound message to its peer. It blocks only
// while the Raft loop's queue is full, which pushes back on the sender.
func (s *Store) HandleRaftMessage(m *raft_serverpb.RaftMessage) {
	_ = s.submit(func() { s.onRaftMessage(m) })
}

// ReportUnreachable tells raft that a message to toPeerID was dropped, so
// it stops pipelining to that peer until it answers again.
func (s *Store) ReportUnreachable(regionID, toPeerID uint64) {
	_ = s.submit(func() {
		if p := s.peers[regionID]; p != nil {
			p.rn.ReportUnreachable(toPeerID)
		}
	})
}

// ReportSnapshot tells raft whether a snapshot reached toPeerID.
func (s *Store) ReportSnapshot(regionID, toPeerID uint64, failed bool) {
	_ = s.submit(func() {
		if p := s.peers[regionID]; p != nil {
			st := raft.SnapshotFinish
			if failed {
				st = raft.SnapshotFailure
			}
			p.rn.ReportSnapshot(toPeerID, st)
		}
	})
}

func (s *Store) onRaftMessage(rm *raft_serverpb.RaftMessage) {
	if k := s.cfg.Knobs; k != nil && k.OnInboundMessage != nil && !k.OnInboundMessage(rm) {
		return
	}
	if rm.GetToPeer().GetStoreId() != s.storeID {
		s.lg.Warn("dropping message for another store", zap.Uint64("to-store-id", rm.GetToPeer().GetStoreId()))
		return
	}
	regionID := rm.GetRegionId()
	p := s.peers[regionID]
	if p == nil {
		if removed, ok := s.tombstones[regionID]; ok && rm.GetToPeer().GetId() <= removed {
			return // a stale message for a peer destroyed here
		}
		if rm.GetIsTombstone() {
			return
		}
		var err error
		if p, err = s.createUninitialized(rm); err != nil {
			s.fail(err)
			return
		}
		delete(s.tombstones, regionID)
	}
	if p.meta.GetId() != rm.GetToPeer().GetId() {
		return
	}
	if rm.GetIsTombstone() {
		if !epochNewer(p.region.GetRegionEpoch(), rm.GetRegionEpoch()) {
			if err := s.destroyPeer(p); err != nil {
				s.fail(err)
			}
		}
		return
	}
	m := &raftpb.Message{}
	if err := proto.Unmarshal(rm.GetMessage(), m); err != nil {
		s.lg.Warn("dropping undecodable raft message", zap.Uint64("region-id", regionID), zap.Error(err))
		return
	}
	if from := rm.GetFromPeer(); from != nil && p.peerCache[from.GetId()] == nil {
		p.peerCache[from.GetId()] = from
	}
	if err := p.rn.Step(m); err != nil {
		s.lg.Debug("step failed", zap.Uint64("region-id", regionID), zap.Error(err))
	}
}

// epochNewer reports whether a is strictly newer than b in conf_ver.
func epochNewer(a, b *metapb.RegionEpoch) bool { return a.GetConfVer() > b.GetConfVer() }
