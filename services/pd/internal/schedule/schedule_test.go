package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

func region(confVer uint64, stores ...uint64) *metapb.Region {
	r := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: confVer, Version: 1}}
	for i, s := range stores {
		r.Peers = append(r.Peers, &metapb.Peer{Id: 100 + uint64(i), StoreId: s})
	}
	return r
}

func ids() func() (uint64, error) {
	next := uint64(1000)
	return func() (uint64, error) { next++; return next, nil }
}

func TestCheckReplicas(t *testing.T) {
	tests := []struct {
		name       string
		region     *metapb.Region
		stores     []StoreInfo
		want       *pdpb.ChangePeer
		wantRemove bool
	}{
		{
			name:   "adds replica on the up store with fewest regions",
			region: region(1, 1),
			stores: []StoreInfo{{ID: 1, RegionCount: 9}, {ID: 2, RegionCount: 5}, {ID: 3, RegionCount: 2}, {ID: 4, RegionCount: 0, Down: true}},
			want:   &pdpb.ChangePeer{ChangeType: kvrpcpb.ConfChangeType_AddNode, Peer: &metapb.Peer{Id: 1001, StoreId: 3}},
		},
		{
			name:   "ties go to the lowest store id",
			region: region(1, 1),
			stores: []StoreInfo{{ID: 1}, {ID: 3}, {ID: 2}},
			want:   &pdpb.ChangePeer{ChangeType: kvrpcpb.ConfChangeType_AddNode, Peer: &metapb.Peer{Id: 1001, StoreId: 2}},
		},
		{
			name:   "enough replicas: nothing",
			region: region(1, 1, 2, 3),
			stores: []StoreInfo{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}},
		},
		{
			name:   "too few replicas but no free up store: nothing",
			region: region(1, 1, 2),
			stores: []StoreInfo{{ID: 1}, {ID: 2}, {ID: 3, Tombstone: true}, {ID: 4, Down: true}},
		},
		{
			name:   "peer on a down store with a free up store: remove it",
			region: region(1, 1, 2, 3),
			stores: []StoreInfo{{ID: 1}, {ID: 2, Down: true}, {ID: 3}, {ID: 4}},
			want:   &pdpb.ChangePeer{ChangeType: kvrpcpb.ConfChangeType_RemoveNode, Peer: &metapb.Peer{Id: 101, StoreId: 2}},
		},
		{
			name:   "peer on a down store but nowhere to move it: keep it",
			region: region(1, 1, 2, 3),
			stores: []StoreInfo{{ID: 1}, {ID: 2, Down: true}, {ID: 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckReplicas(tt.region, tt.stores, 3, ids())
			require.NoError(t, err)
			if tt.want == nil {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, tt.want.GetChangeType(), got.GetChangeType())
			require.Equal(t, tt.want.GetPeer().GetId(), got.GetPeer().GetId())
			require.Equal(t, tt.want.GetPeer().GetStoreId(), got.GetPeer().GetStoreId())
		})
	}
}

// TestReplaceDownStore walks a region through losing a store: remove the
// peer on the down store, then (after conf_ver moves) add one elsewhere.
func TestReplaceDownStore(t *testing.T) {
	s := New(3, time.Minute)
	now := time.Unix(1000, 0)
	stores := []StoreInfo{{ID: 1}, {ID: 2, Down: true}, {ID: 3}, {ID: 4}}
	leader := &metapb.Peer{Id: 100, StoreId: 1}
	alloc := ids()

	step, err := s.OnHeartbeat(region(1, 1, 2, 3), leader, stores, now, alloc)
	require.NoError(t, err)
	require.Equal(t, kvrpcpb.ConfChangeType_RemoveNode, step.ChangePeer.GetChangeType())
	require.Equal(t, uint64(2), step.ChangePeer.GetPeer().GetStoreId())

	// Same conf_ver: the step is still in flight, nothing new.
	step, err = s.OnHeartbeat(region(1, 1, 2, 3), leader, stores, now.Add(time.Second), alloc)
	require.NoError(t, err)
	require.Nil(t, step)

	// The removal applied (conf_ver 2): now add on the free store 4.
	r := region(2, 1, 3)
	step, err = s.OnHeartbeat(r, leader, stores, now.Add(2*time.Second), alloc)
	require.NoError(t, err)
	require.Equal(t, kvrpcpb.ConfChangeType_AddNode, step.ChangePeer.GetChangeType())
	require.Equal(t, uint64(4), step.ChangePeer.GetPeer().GetStoreId())

	// Not applied within the timeout: issued again.
	step, err = s.OnHeartbeat(r, leader, stores, now.Add(2*time.Second+time.Minute), alloc)
	require.NoError(t, err)
	require.NotNil(t, step)
	require.Equal(t, uint64(4), step.ChangePeer.GetPeer().GetStoreId())
}

func TestQueuedOperatorWins(t *testing.T) {
	s := New(3, time.Minute)
	now := time.Unix(1000, 0)
	leader := &metapb.Peer{Id: 100, StoreId: 1}
	stores := []StoreInfo{{ID: 1}, {ID: 2}, {ID: 3}}
	target := &metapb.Peer{Id: 101, StoreId: 2}
	s.Queue(1, Step{TransferLeader: &pdpb.TransferLeader{Peer: target}})

	step, err := s.OnHeartbeat(region(1, 1, 2), leader, stores, now, ids())
	require.NoError(t, err)
	require.NotNil(t, step.TransferLeader)
	require.Nil(t, step.ChangePeer)
	require.Equal(t, 1, s.Inflight())

	// Leader moved: the transfer is done and the checker takes over.
	step, err = s.OnHeartbeat(region(1, 1, 2), target, stores, now, ids())
	require.NoError(t, err)
	require.Equal(t, kvrpcpb.ConfChangeType_AddNode, step.ChangePeer.GetChangeType())
	require.Equal(t, uint64(3), step.ChangePeer.GetPeer().GetStoreId())

	s.Forget(1)
	require.Zero(t, s.Inflight())
}
