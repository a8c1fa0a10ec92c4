package raftstore

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// snapGen is one asynchronous build of a region snapshot. The builder sets
// snap or err, then closes done; the Raft loop reads them only after done.
type snapGen struct {
	done chan struct{}
	snap *raftpb.Snapshot
	err  error
}

// snapshot is p's raft Storage.Snapshot. Raft calls it on the Raft loop when
// a follower needs entries the log no longer has. Reading and encoding a
// whole region takes time in proportion to its size, and the loop drives
// every region of the store, so the build runs on a goroutine of its own:
// the first call starts it and, like every call until it is done, answers
// ErrSnapshotTemporarilyUnavailable, on which raft simply tries again at
// the follower's next heartbeat response. A finished build is handed out
// once, if the log has not been truncated past it meanwhile (the follower
// could not continue from it); otherwise a new build starts.
func (s *Store) snapshot(p *peer) (*raftpb.Snapshot, error) {
	if g := p.snapGen; g != nil {
		select {
		case <-g.done:
		default:
			return nil, raft.ErrSnapshotTemporarilyUnavailable
		}
		p.snapGen = nil
		first, _ := p.ps.FirstIndex()
		if g.err == nil && g.snap.GetMetadata().GetIndex()+1 >= first {
			return g.snap, nil
		}
	}
	g := &snapGen{done: make(chan struct{})}
	p.snapGen = g
	regionID := p.region.GetId()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(g.done)
		g.snap, g.err = s.buildSnapshot(regionID)
		if g.err != nil {
			// An engine read failed: as for any storage error, the store
			// stops rather than go on with a failing engine.
			s.lg.Error("build snapshot", zap.Uint64("region-id", regionID), zap.Error(g.err))
			s.fail(g.err)
		}
	}()
	return nil, raft.ErrSnapshotTemporarilyUnavailable
}
