package server

import (
	"context"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// Storage is the seam between the KV handlers and how data is kept. The
// single-node implementation (package standalone) applies commands straight
// to the engine; the Raft implementation (package raftstore) proposes them to
// the region's Raft group and answers after apply. Handlers never see which.
//
// Routing problems (unknown region, stale epoch, not leader, key outside the
// region) are returned as *errorpb.Error so they travel in the response body;
// the error result is for everything else (context done, storage failure).
type Storage interface {
	// Write applies cmds, in order, atomically as one unit to the region
	// named by rctx, and returns one result per command after they are
	// applied (durably, on a quorum when replicated). Every key the commands
	// touch MUST lie inside the region, else KeyNotInRegion.
	Write(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error)
	// Snapshot returns a read view of the region named by rctx that reflects
	// every write acknowledged before the call (linearizable), and the
	// region's current shape so callers can clip scans to its range. The
	// caller MUST Close the snapshot.
	Snapshot(ctx context.Context, rctx *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error)
	// ChangePeer adds or removes a replica of the region; it returns the
	// region with its new epoch once the change is applied.
	ChangePeer(ctx context.Context, rctx *kvrpcpb.Context, changeType kvrpcpb.ConfChangeType, peer *metapb.Peer) (*metapb.Region, *errorpb.Error, error)
	// TransferLeader asks the region's leader to hand leadership to peer.
	TransferLeader(ctx context.Context, rctx *kvrpcpb.Context, peer *metapb.Peer) (*errorpb.Error, error)
}
