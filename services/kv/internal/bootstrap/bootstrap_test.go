package bootstrap

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// fakePD is an in-memory PD: sequential ids, one bootstrap.
type fakePD struct {
	nextID       uint64
	bootstrapped bool
	region       *metapb.Region
	// failBootstrap makes Bootstrap fail; applied says whether PD still
	// recorded it (the answer was lost).
	failBootstrap, applied bool
	bootstrapCalls         int
}

func (p *fakePD) AllocID(context.Context) (uint64, error) { p.nextID++; return p.nextID, nil }

func (p *fakePD) IsBootstrapped(context.Context) (bool, error) { return p.bootstrapped, nil }

func (p *fakePD) Bootstrap(_ context.Context, _ *metapb.Store, r *metapb.Region) error {
	p.bootstrapCalls++
	if p.failBootstrap {
		p.bootstrapped = p.applied
		if p.applied {
			p.region = r
		}
		return errors.New("connection reset")
	}
	p.bootstrapped, p.region = true, r
	return nil
}

func openEngine(t *testing.T, dir string) *rocksdb.Engine {
	t.Helper()
	cfg := rocksdb.NewConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 1<<20, 1<<20
	e, err := rocksdb.Open(dir, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	return e
}

func TestStoreIDAllocatedOnceAndPersisted(t *testing.T) {
	dir := t.TempDir()
	pd := &fakePD{nextID: 10}
	e := openEngine(t, dir)
	id, err := EnsureStoreID(context.Background(), e, pd, 77, zap.NewNop())
	require.NoError(t, err)
	require.Equal(t, uint64(11), id)
	require.NoError(t, e.Close())

	e = openEngine(t, dir)
	defer e.Close()
	again, err := EnsureStoreID(context.Background(), e, pd, 77, zap.NewNop())
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Equal(t, uint64(11), pd.nextID, "no second allocation")
	ident, err := LoadStoreIdent(e)
	require.NoError(t, err)
	require.Equal(t, uint64(77), ident.GetClusterId())
}

func TestEnsureCluster(t *testing.T) {
	store := &metapb.Store{Id: 1, Address: "127.0.0.1:1"}
	tests := []struct {
		name string
		pd   *fakePD
		// interrupted: run a failing attempt first (PD never recorded it),
		// then retry against a healthy PD.
		interrupted bool
		wantRegion  bool
		wantErr     bool
	}{
		{name: "fresh cluster", pd: &fakePD{}, wantRegion: true},
		{name: "already bootstrapped elsewhere", pd: &fakePD{bootstrapped: true}},
		{name: "answer lost but applied", pd: &fakePD{failBootstrap: true, applied: true}, wantRegion: true},
		{name: "bootstrap failed", pd: &fakePD{failBootstrap: true}, wantErr: true},
		{name: "resume after failure", pd: &fakePD{failBootstrap: true}, interrupted: true, wantRegion: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openEngine(t, t.TempDir())
			defer e.Close()
			ctx := context.Background()
			var prepared []uint64
			prepare := func(wb storage.WriteBatch, r *metapb.Region) error {
				prepared = append(prepared, r.GetId())
				wb.Put(storage.CFRaft, keys.RaftStateKey(r.GetId()), []byte("initial"))
				return nil
			}
			var first *metapb.Region
			if tt.interrupted {
				_, err := EnsureCluster(ctx, e, tt.pd, store, prepare, zap.NewNop())
				require.Error(t, err)
				states, err := LoadRegions(e)
				require.NoError(t, err)
				require.Len(t, states, 1, "region persisted before asking pd")
				first = states[0].GetRegion()
				tt.pd.failBootstrap = false
			}
			region, err := EnsureCluster(ctx, e, tt.pd, store, prepare, zap.NewNop())
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if !tt.wantRegion {
				require.Nil(t, region)
				require.Zero(t, tt.pd.bootstrapCalls)
				return
			}
			require.NotNil(t, region)
			require.Equal(t, uint64(InitConfVer), region.GetRegionEpoch().GetConfVer())
			require.Equal(t, uint64(InitVersion), region.GetRegionEpoch().GetVersion())
			require.Empty(t, region.GetStartKey())
			require.Empty(t, region.GetEndKey())
			require.Len(t, region.GetPeers(), 1)
			require.Equal(t, store.GetId(), region.GetPeers()[0].GetStoreId())
			require.True(t, tt.pd.bootstrapped)
			require.Equal(t, region.GetId(), tt.pd.region.GetId())
			if first != nil {
				require.Equal(t, first.GetId(), region.GetId(), "a resumed bootstrap offers the same region")
				require.Equal(t, []uint64{region.GetId()}, prepared, "prepare runs once")
			}
			raftState, err := e.Get(storage.CFRaft, keys.RaftStateKey(region.GetId()))
			require.NoError(t, err)
			require.Equal(t, "initial", string(raftState), "prepare's writes land with the region")
			states, err := LoadRegions(e)
			require.NoError(t, err)
			require.Len(t, states, 1)
			require.Equal(t, region.GetId(), states[0].GetRegion().GetId())
		})
	}
}
