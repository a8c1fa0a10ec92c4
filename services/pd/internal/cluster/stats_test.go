package cluster

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

func TestSummaryEmpty(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	sum := e.c.Summary()
	require.False(t, sum.Bootstrapped)
	require.Equal(t, map[StoreStatus]int{StoreUp: 0, StoreDown: 0, StoreOffline: 0, StoreTombstone: 0}, sum.Stores)
	require.Empty(t, sum.StoreDetails)
	require.Zero(t, sum.Regions)
}

// TestSummary walks a cluster through the states the monitoring view
// distinguishes: stores up, down, offline and tombstone; regions without a
// leader, with too few or too many peers, and with a peer on a down store.
func TestSummary(t *testing.T) {
	e := open(t, t.TempDir(), newClock())
	defer e.close()
	bootstrap(t, e.c) // store 1; region 2 with peer 3 on store 1, no leader reported yet

	sum := e.c.Summary()
	require.True(t, sum.Bootstrapped)
	require.Equal(t, 1, sum.Stores[StoreUp])
	require.Equal(t, 1, sum.Regions)
	require.Equal(t, 1, sum.RegionsWithoutLeader, "no heartbeat yet")
	require.Equal(t, 1, sum.RegionsMissPeer, "1 peer of 3")
	require.Equal(t, []StoreSummary{{ID: 1, Status: StoreUp, RegionCount: 1}}, sum.StoreDetails)

	for _, id := range []uint64{4, 5} {
		require.NoError(t, e.c.PutStore(&metapb.Store{Id: id, Address: fmt.Sprintf("s%d:1", id)}))
	}
	peers := []*metapb.Peer{{Id: 3, StoreId: 1}, {Id: 6, StoreId: 4}, {Id: 7, StoreId: 5}}
	_, err := e.c.RegionHeartbeat(&pdpb.RegionHeartbeatRequest{
		Region: &metapb.Region{Id: 2, RegionEpoch: epoch(3, 1), Peers: peers}, Leader: peers[1]})
	require.NoError(t, err)
	require.NoError(t, e.c.StoreHeartbeat(&pdpb.StoreStats{StoreId: 4, Capacity: 1000, Available: 400, UsedSize: 500}))

	sum = e.c.Summary()
	require.Equal(t, 3, sum.Stores[StoreUp])
	require.Zero(t, sum.RegionsWithoutLeader)
	require.Zero(t, sum.RegionsMissPeer)
	require.Zero(t, sum.RegionsDownPeer)
	require.Equal(t, []StoreSummary{
		{ID: 1, Status: StoreUp, RegionCount: 1},
		{ID: 4, Status: StoreUp, HasStats: true, Capacity: 1000, Available: 400, UsedBytes: 500, RegionCount: 1, LeaderCount: 1},
		{ID: 5, Status: StoreUp, RegionCount: 1},
	}, sum.StoreDetails)

	// Stores 1 and 5 stay silent past MaxStoreDownTime; store 4 keeps
	// heartbeating. The leader's store is up, so the region has a leader
	// but a peer on a down store.
	e.clock.Add(20_000)
	require.NoError(t, e.c.StoreHeartbeat(&pdpb.StoreStats{StoreId: 4}))
	e.clock.Add(20_000)
	sum = e.c.Summary()
	require.Equal(t, 1, sum.Stores[StoreUp])
	require.Equal(t, 2, sum.Stores[StoreDown])
	require.Zero(t, sum.RegionsWithoutLeader)
	require.Equal(t, 1, sum.RegionsDownPeer)

	// Now store 4, the leader's, goes quiet too: PD no longer trusts that
	// leader.
	e.clock.Add(31_000)
	sum = e.c.Summary()
	require.Equal(t, 3, sum.Stores[StoreDown])
	require.Equal(t, 1, sum.RegionsWithoutLeader)
	require.Zero(t, sum.StoreDetails[1].LeaderCount)

	// Offline and tombstone are set through PutStore (and count as such
	// even while heartbeats are missing). Tombstones leave the details.
	require.NoError(t, e.c.PutStore(&metapb.Store{Id: 4, Address: "s4:1", State: metapb.StoreState_Offline}))
	require.NoError(t, e.c.PutStore(&metapb.Store{Id: 5, Address: "s5:1", State: metapb.StoreState_Tombstone}))
	sum = e.c.Summary()
	require.Equal(t, map[StoreStatus]int{StoreUp: 0, StoreDown: 1, StoreOffline: 1, StoreTombstone: 1}, sum.Stores)
	require.Len(t, sum.StoreDetails, 2)
	require.Equal(t, StoreOffline, sum.StoreDetails[1].Status)
	require.Equal(t, 1, sum.StoreDetails[1].LeaderCount, "an offline store still leads")
	require.Zero(t, sum.RegionsWithoutLeader)

	// A fourth peer is one too many.
	peers = append(peers, &metapb.Peer{Id: 8, StoreId: 1})
	_, err = e.c.RegionHeartbeat(&pdpb.RegionHeartbeatRequest{
		Region: &metapb.Region{Id: 2, RegionEpoch: epoch(4, 1), Peers: peers}, Leader: peers[1]})
	require.NoError(t, err)
	sum = e.c.Summary()
	require.Equal(t, 1, sum.RegionsExtraPeer)
	require.Zero(t, sum.RegionsMissPeer)
}
