package raftstore

import (
	"context"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"go.etcd.io/raft/v3/raftpb"
)

// confChangeTimeout bounds how long a proposed membership change blocks the
// next one when its outcome is never heard of (e.g. raft dropped it).
const confChangeTimeout = 5 * time.Second

// route finds the leader peer serving rctx. It runs on the Raft loop.
func (s *Store) route(rctx *kvrpcpb.Context) (*peer, *errorpb.Error) {
	id := rctx.GetRegionId()
	if id == 0 && len(s.peers) == 1 {
		for _, p := range s.peers {
			id = p.region.GetId()
		}
	}
	p := s.peers[id]
	if p == nil || !p.initialized {
		return nil, errRegionNotFound(id)
	}
	if epochStale(rctx.GetRegionEpoch(), p.region) {
		return nil, errEpochNotMatch(p.region)
	}
	if !p.isLeader {
		return nil, errNotLeader(id, p.leaderPeer())
	}
	return p, nil
}

// Write proposes cmds as one unit (which may share a Raft entry with other
// proposals) and returns their results once it is applied on this (leader)
// replica.
func (s *Store) Write(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
	// Invalid commands are refused before proposing: an entry is applied
	// as a unit, so one bad command must not follow good ones into the log.
	for _, c := range cmds {
		if err := kvcmd.Validate(c, kvcmd.Limits{}); err != nil {
			return nil, nil, err
		}
	}
	prop := s.newProposal()
	// Encoded here, on the caller's goroutine, so the Raft loop only
	// concatenates.
	enc := appendGroup(nil, writeGroup{id: prop.id, cmds: cmds})
	err := s.submit(func() {
		p, rerr := s.route(rctx)
		if rerr == nil {
			rerr = checkCommandKeys(cmds, p.region)
		}
		if rerr != nil {
			s.m.proposals.WithLabelValues("write", "rejected").Inc()
			s.failProposal(prop.id, proposalResult{rerr: rerr})
			return
		}
		s.queueWrite(p, prop, enc)
	})
	if err != nil {
		s.takeProposal(prop.id)
		return nil, nil, err
	}
	r, err := s.waitProposal(ctx, prop)
	if err != nil {
		return nil, nil, err
	}
	return r.results, r.rerr, r.err
}

func (s *Store) waitProposal(ctx context.Context, prop *proposal) (proposalResult, error) {
	select {
	case r := <-prop.respc:
		return r, nil
	case <-ctx.Done():
		if s.takeProposal(prop.id) == nil {
			// Answered concurrently; prefer the real answer.
			return <-prop.respc, nil
		}
		return proposalResult{}, ctx.Err()
	}
}

// Snapshot serves a linearizable read: the leader confirms its leadership
// with a ReadIndex round and waits until it applied up to that index.
func (s *Store) Snapshot(ctx context.Context, rctx *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error) {
	req := newReadRequest()
	err := s.submit(func() {
		p, rerr := s.route(rctx)
		if rerr != nil {
			req.answer(readResult{rerr: rerr})
			return
		}
		p.newReads = append(p.newReads, req)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	select {
	case r := <-req.respc:
		return r.snap, r.region, r.rerr, r.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(readPending, readAbandoned) {
			return nil, nil, nil, ctx.Err()
		}
		r := <-req.respc
		return r.snap, r.region, r.rerr, r.err
	}
}

// ChangePeer proposes a membership change and returns the region once the
// change is applied here.
func (s *Store) ChangePeer(ctx context.Context, rctx *kvrpcpb.Context, changeType kvrpcpb.ConfChangeType, peer *metapb.Peer) (*metapb.Region, *errorpb.Error, error) {
	prop := s.newProposal()
	err := s.submit(func() { s.proposeConfChange(prop, rctx, changeType, peer) })
	if err != nil {
		s.takeProposal(prop.id)
		return nil, nil, err
	}
	r, err := s.waitProposal(ctx, prop)
	if err != nil {
		return nil, nil, err
	}
	return r.region, r.rerr, r.err
}

func (s *Store) proposeConfChange(prop *proposal, rctx *kvrpcpb.Context, changeType kvrpcpb.ConfChangeType, peer *metapb.Peer) {
	p, rerr := s.route(rctx)
	reject := func(r proposalResult) {
		s.m.proposals.WithLabelValues("conf_change", "rejected").Inc()
		s.failProposal(prop.id, r)
	}
	if rerr != nil {
		reject(proposalResult{rerr: rerr})
		return
	}
	if time.Now().Before(p.confPendingUntil) {
		reject(proposalResult{rerr: errServerIsBusy(ErrConfChangeInProgress.Error())})
		return
	}
	cc := &raftpb.ConfChange{NodeId: &peer.Id, Context: encodeConfContext(prop.id, peer)}
	switch changeType {
	case kvrpcpb.ConfChangeType_AddNode:
		cc.Type = raftpb.ConfChangeAddNode.Enum()
	case kvrpcpb.ConfChangeType_AddLearnerNode:
		cc.Type = raftpb.ConfChangeAddLearnerNode.Enum()
	case kvrpcpb.ConfChangeType_RemoveNode:
		cc.Type = raftpb.ConfChangeRemoveNode.Enum()
	}
	if err := p.rn.ProposeConfChange(cc); err != nil {
		reject(proposalResult{rerr: errNotLeader(p.region.GetId(), p.leaderPeer())})
		return
	}
	s.m.proposals.WithLabelValues("conf_change", "proposed").Inc()
	prop.regionID = p.region.GetId()
	p.confPendingUntil = time.Now().Add(confChangeTimeout)
}

// TransferLeader asks the leader to hand over to peer; it returns once the
// request is handed to raft, not when the transfer completes.
func (s *Store) TransferLeader(ctx context.Context, rctx *kvrpcpb.Context, peer *metapb.Peer) (*errorpb.Error, error) {
	resc := make(chan *errorpb.Error, 1)
	err := s.submit(func() {
		p, rerr := s.route(rctx)
		if rerr == nil {
			p.rn.TransferLeader(peer.GetId())
			s.m.proposals.WithLabelValues("transfer_leader", "proposed").Inc()
		}
		resc <- rerr
	})
	if err != nil {
		return nil, err
	}
	select {
	case rerr := <-resc:
		return rerr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
