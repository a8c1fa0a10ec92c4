package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
)

// PD is the part of the PD client bootstrap needs; *pdclient.Client
// satisfies it.
type PD interface {
	AllocID(ctx context.Context) (uint64, error)
	IsBootstrapped(ctx context.Context) (bool, error)
	Bootstrap(ctx context.Context, store *metapb.Store, region *metapb.Region) error
}

// First region epoch: conf_ver and version both start at 1 so that 0 can
// mean "unknown" in requests.
const (
	InitConfVer = 1
	InitVersion = 1
)

// LoadStoreIdent returns the persisted identity, or nil when the data
// directory has never been given one.
func LoadStoreIdent(r storage.Reader) (*raft_serverpb.StoreIdent, error) {
	b, err := r.Get(storage.CFMeta, keys.StoreIdentKey())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read store ident: %w", err)
	}
	ident := &raft_serverpb.StoreIdent{}
	if err := proto.Unmarshal(b, ident); err != nil {
		return nil, fmt.Errorf("decode store ident: %w", err)
	}
	if ident.GetStoreId() == 0 {
		return nil, errors.New("persisted store ident has store id 0")
	}
	return ident, nil
}

// EnsureStoreID returns the persisted store id, or allocates one from PD and
// persists it (fsynced) before returning, so the id survives a crash right
// after. clusterID is recorded with a new identity; 0 if unknown.
func EnsureStoreID(ctx context.Context, e storage.Engine, pd PD, clusterID uint64, lg *zap.Logger) (uint64, error) {
	ident, err := LoadStoreIdent(e)
	if err != nil {
		return 0, err
	}
	if ident != nil {
		lg.Info("loaded store identity", zap.Uint64("store-id", ident.GetStoreId()), zap.Uint64("cluster-id", ident.GetClusterId()))
		return ident.GetStoreId(), nil
	}
	id, err := pd.AllocID(ctx)
	if err != nil {
		return 0, fmt.Errorf("allocate store id: %w", err)
	}
	ident = &raft_serverpb.StoreIdent{ClusterId: clusterID, StoreId: id}
	b, err := proto.Marshal(ident)
	if err != nil {
		return 0, err
	}
	wb := e.NewWriteBatch()
	defer wb.Close()
	wb.Put(storage.CFMeta, keys.StoreIdentKey(), b)
	if err := e.Write(wb, storage.WriteOptions{Sync: true}); err != nil {
		return 0, fmt.Errorf("persist store ident: %w", err)
	}
	lg.Info("allocated store identity", zap.Uint64("store-id", id), zap.Uint64("cluster-id", clusterID))
	return id, nil
}

// LoadRegions returns every region state persisted on this store, in region
// id key order.
func LoadRegions(r storage.Reader) ([]*raft_serverpb.RegionLocalState, error) {
	prefix := keys.RegionStatePrefix()
	it, err := r.NewIterator(storage.CFMeta, storage.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var states []*raft_serverpb.RegionLocalState
	for ; it.Valid(); it.Next() {
		st := &raft_serverpb.RegionLocalState{}
		if err := proto.Unmarshal(it.Value(), st); err != nil {
			return nil, fmt.Errorf("decode region state at key %x: %w", it.Key(), err)
		}
		states = append(states, st)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("scan region states: %w", err)
	}
	return states, nil
}

// PutRegionState adds st to wb under its region's key.
func PutRegionState(wb storage.WriteBatch, st *raft_serverpb.RegionLocalState) error {
	b, err := proto.Marshal(st)
	if err != nil {
		return err
	}
	wb.Put(storage.CFMeta, keys.RegionStateKey(st.GetRegion().GetId()), b)
	return nil
}

// PrepareFunc adds backend-specific state for the first region (e.g. the
// Raft backend's initial HardState and apply state) to wb, which also holds
// the region's local state and is written atomically.
type PrepareFunc func(wb storage.WriteBatch, region *metapb.Region) error

// EnsureCluster bootstraps the cluster with store as its first store when PD
// says it is not bootstrapped yet: it creates the first region (ids from PD,
// one voter on store, epoch {1,1}, the whole key space), persists it and
// prepare's state in one fsynced write, then calls PD Bootstrap. If a
// previous attempt persisted the region but crashed before PD answered, the
// same region is offered again. It returns the first region when this call
// (or an earlier attempt) bootstrapped, or nil when the cluster was already
// bootstrapped by someone else and this store hosts nothing yet.
func EnsureCluster(ctx context.Context, e storage.Engine, pd PD, store *metapb.Store, prepare PrepareFunc, lg *zap.Logger) (*metapb.Region, error) {
	local, err := LoadRegions(e)
	if err != nil {
		return nil, err
	}
	done, err := pd.IsBootstrapped(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask pd whether the cluster is bootstrapped: %w", err)
	}
	if done {
		return nil, nil
	}

	var region *metapb.Region
	switch len(local) {
	case 0:
		region, err = newFirstRegion(ctx, pd, store.GetId())
		if err != nil {
			return nil, err
		}
		wb := e.NewWriteBatch()
		defer wb.Close()
		if err := PutRegionState(wb, &raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Normal, Region: region}); err != nil {
			return nil, err
		}
		if prepare != nil {
			if err := prepare(wb, region); err != nil {
				return nil, fmt.Errorf("prepare first region: %w", err)
			}
		}
		if err := e.Write(wb, storage.WriteOptions{Sync: true}); err != nil {
			return nil, fmt.Errorf("persist first region: %w", err)
		}
	case 1:
		// A crash between persisting the region and PD's answer: offer the
		// same region again, since its id may already be in Raft state.
		region = local[0].GetRegion()
		lg.Info("resuming interrupted cluster bootstrap", zap.Uint64("region-id", region.GetId()))
	default:
		return nil, fmt.Errorf("pd is not bootstrapped but this store holds %d regions; is it pointed at the wrong pd?", len(local))
	}

	if err := pd.Bootstrap(ctx, store, region); err != nil {
		// Our request may have succeeded with the answer lost; PD being
		// bootstrapped now means the retry is moot.
		if ok, checkErr := pd.IsBootstrapped(ctx); checkErr != nil || !ok {
			return nil, fmt.Errorf("bootstrap cluster: %w", err)
		}
		lg.Warn("pd bootstrap call failed but the cluster is bootstrapped now", zap.Error(err))
	}
	lg.Info("bootstrapped cluster", zap.Uint64("store-id", store.GetId()), zap.Uint64("region-id", region.GetId()))
	return region, nil
}

func newFirstRegion(ctx context.Context, pd PD, storeID uint64) (*metapb.Region, error) {
	regionID, err := pd.AllocID(ctx)
	if err != nil {
		return nil, fmt.Errorf("allocate region id: %w", err)
	}
	peerID, err := pd.AllocID(ctx)
	if err != nil {
		return nil, fmt.Errorf("allocate peer id: %w", err)
	}
	return &metapb.Region{
		Id:          regionID,
		RegionEpoch: &metapb.RegionEpoch{ConfVer: InitConfVer, Version: InitVersion},
		Peers:       []*metapb.Peer{{Id: peerID, StoreId: storeID, Role: metapb.PeerRole_Voter}},
	}, nil
}
