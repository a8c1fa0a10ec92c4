package raftstore

import (
	"context"
	"time"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// backendTimeout bounds the synchronous status calls below; the Raft loop
// answers them within one round unless the store is stopping.
const backendTimeout = 5 * time.Second

// RegionCount is the number of regions hosted here (initialized or not).
func (s *Store) RegionCount() int { return len(s.leaderStatus()) }

// LeaderCount is the number of regions this store leads. Unlike
// RegionHeartbeats it does not estimate region sizes.
func (s *Store) LeaderCount() int {
	n := 0
	for _, leads := range s.leaderStatus() {
		if leads {
			n++
		}
	}
	return n
}

// leaderStatus is LeaderStatus bounded by backendTimeout; nil when the
// store cannot answer (stopping).
func (s *Store) leaderStatus() map[uint64]bool {
	ctx, cancel := context.WithTimeout(context.Background(), backendTimeout)
	defer cancel()
	st, err := s.LeaderStatus(ctx)
	if err != nil {
		return nil
	}
	return st
}

// RegionHeartbeats returns one report per region this store leads, for a
// caller that drives heartbeats itself (the node) instead of SetPD.
func (s *Store) RegionHeartbeats() []*pdpb.RegionHeartbeatRequest {
	resc := make(chan []*pdpb.RegionHeartbeatRequest, 1)
	if s.submit(func() {
		var out []*pdpb.RegionHeartbeatRequest
		for _, p := range s.peers {
			if p.isLeader {
				out = append(out, &pdpb.RegionHeartbeatRequest{
					Region: cloneRegion(p.region), Leader: p.meta, Term: p.rn.BasicStatus().GetTerm()})
			}
		}
		resc <- out
	}) != nil {
		return nil
	}
	var reqs []*pdpb.RegionHeartbeatRequest
	select {
	case reqs = <-resc:
	case <-time.After(backendTimeout):
		return nil
	}
	for _, r := range reqs {
		r.ApproximateSize, r.ApproximateKeys = s.regionSize(r.GetRegion())
	}
	return reqs
}

// Close stops the store; it matches the node's backend interface.
func (s *Store) Close() error {
	s.Stop()
	return s.Err()
}
