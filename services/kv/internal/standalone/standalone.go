package standalone

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/services/kv/internal/server"
)

// Storage applies commands to one engine for the one region this store
// hosts. It is safe for concurrent use.
type Storage struct {
	lg      *zap.Logger
	engine  storage.Engine
	storeID uint64
	limits  kvcmd.Limits
	// region is fixed for the life of the Storage: without Raft there are
	// no splits or membership changes. Nil means this store hosts no region
	// (the cluster was bootstrapped by another store), and every request is
	// answered with RegionNotFound.
	region *metapb.Region

	// applyMu serialises Write: an Applier reads current versions and then
	// writes new ones, so two writers interleaving would hand out the same
	// version twice.
	applyMu sync.Mutex
}

// New returns a Storage serving region from engine on store storeID.
// Commands are validated against lim before they are applied.
func New(engine storage.Engine, storeID uint64, region *metapb.Region, lim kvcmd.Limits, lg *zap.Logger) *Storage {
	if lg == nil {
		lg = zap.NewNop()
	}
	if region != nil {
		region = proto.Clone(region).(*metapb.Region)
	}
	return &Storage{lg: lg, engine: engine, storeID: storeID, limits: lim, region: region}
}

var _ server.Storage = (*Storage)(nil)

// Regions returns the hosted regions (zero or one).
func (s *Storage) Regions() []*metapb.Region {
	if s.region == nil {
		return nil
	}
	return []*metapb.Region{proto.Clone(s.region).(*metapb.Region)}
}

// route checks that rctx names the hosted region.
func (s *Storage) route(rctx *kvrpcpb.Context) *errorpb.Error {
	if s.region == nil {
		return server.NewRegionNotFound(rctx.GetRegionId())
	}
	return server.CheckContext(rctx, s.region, s.storeID)
}

// Write validates and applies cmds as one atomic, fsynced engine write.
func (s *Storage) Write(ctx context.Context, rctx *kvrpcpb.Context, cmds []*kvcmd.Command) ([]kvcmd.Result, *errorpb.Error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if rerr := s.route(rctx); rerr != nil {
		return nil, rerr, nil
	}
	for _, cmd := range cmds {
		if err := kvcmd.Validate(cmd, s.limits); err != nil {
			return nil, nil, err
		}
		if rerr := s.checkSpan(cmd); rerr != nil {
			return nil, rerr, nil
		}
	}

	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	wb := s.engine.NewWriteBatch()
	defer wb.Close()
	ap := kvcmd.NewApplier(s.engine, wb)
	results := make([]kvcmd.Result, len(cmds))
	for i, cmd := range cmds {
		res, err := ap.Apply(cmd)
		if err != nil {
			// Nothing was written: the batch is dropped whole.
			return nil, nil, fmt.Errorf("apply command %d of %d: %w", i+1, len(cmds), err)
		}
		results[i] = res
	}
	if wb.Count() > 0 {
		// Sync: a write is acknowledged only once it survives a crash.
		if err := s.engine.Write(wb, storage.WriteOptions{Sync: true}); err != nil {
			return nil, nil, fmt.Errorf("write batch: %w", err)
		}
	}
	return results, nil, nil
}

// checkSpan returns KeyNotInRegion when cmd touches keys outside the region.
func (s *Storage) checkSpan(cmd *kvcmd.Command) *errorpb.Error {
	start, end := cmd.Span()
	if !server.KeyInRegion(start, s.region) {
		return server.NewKeyNotInRegion(start, s.region)
	}
	if !server.RangeInRegion(start, end, s.region) {
		return server.NewKeyNotInRegion(end, s.region)
	}
	return nil
}

// Snapshot returns an engine snapshot; on one node every acknowledged write
// is already in the engine, so the snapshot is linearizable.
func (s *Storage) Snapshot(ctx context.Context, rctx *kvrpcpb.Context) (storage.Snapshot, *metapb.Region, *errorpb.Error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	if rerr := s.route(rctx); rerr != nil {
		return nil, nil, rerr, nil
	}
	snap, err := s.engine.NewSnapshot()
	if err != nil {
		return nil, nil, nil, err
	}
	return snap, proto.Clone(s.region).(*metapb.Region), nil, nil
}

// ChangePeer is not possible without replication.
func (s *Storage) ChangePeer(context.Context, *kvrpcpb.Context, kvrpcpb.ConfChangeType, *metapb.Peer) (*metapb.Region, *errorpb.Error, error) {
	return nil, nil, fmt.Errorf("%w: changing peers needs replication; start kv-service with the Raft backend", server.ErrUnsupported)
}

// TransferLeader is not possible without replication.
func (s *Storage) TransferLeader(context.Context, *kvrpcpb.Context, *metapb.Peer) (*errorpb.Error, error) {
	return nil, fmt.Errorf("%w: transferring leadership needs replication; start kv-service with the Raft backend", server.ErrUnsupported)
}
