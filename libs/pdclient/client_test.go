package pdclient

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/proto/metapb"
)

func TestBootstrapAndRouting(t *testing.T) {
	pd := startPD(t, t.TempDir())
	defer pd.Stop()
	c := newClient(t, pd.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	require.NotZero(t, c.ClusterID())
	ok, err := c.IsBootstrapped(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	_, _, err = c.GetRegion(ctx, []byte("a"))
	require.ErrorIs(t, err, ErrNotBootstrapped)

	storeID, err := c.AllocID(ctx)
	require.NoError(t, err)
	regionID, err := c.AllocID(ctx)
	require.NoError(t, err)
	peerID, err := c.AllocID(ctx)
	require.NoError(t, err)
	store := &metapb.Store{Id: storeID, Address: "127.0.0.1:20160"}
	region := &metapb.Region{Id: regionID, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*metapb.Peer{{Id: peerID, StoreId: storeID}}}
	require.NoError(t, c.Bootstrap(ctx, store, region))
	require.ErrorIs(t, c.Bootstrap(ctx, store, region), ErrAlreadyBootstrapped)

	got, leader, err := c.GetRegion(ctx, []byte("anything"))
	require.NoError(t, err)
	require.Equal(t, regionID, got.GetId())
	require.Nil(t, leader)

	s, err := c.GetStore(ctx, storeID)
	require.NoError(t, err)
	require.Equal(t, metapb.NodeState_Serving, s.GetNodeState())
	_, err = c.GetStore(ctx, 999999)
	require.ErrorIs(t, err, ErrStoreNotFound)

	ts1, err := c.GetTS(ctx)
	require.NoError(t, err)
	ts2, err := c.GetTS(ctx)
	require.NoError(t, err)
	require.Greater(t, ts2, ts1)
}
