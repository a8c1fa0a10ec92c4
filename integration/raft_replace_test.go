package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// pdReplaceConfig makes a killed store count as down after three seconds, so
// PD moves its replica quickly.
const pdReplaceConfig = `max-store-down-time = "3s"
`

// startReplaceCluster starts PD with a short max-store-down-time and n kv
// processes, waits until the first region has 3 voters and a leader, and
// learns every process's store id.
func startReplaceCluster(t *testing.T, n int) *raftCluster {
	t.Helper()
	pdCfg := writeFile(t, "pd.toml", pdReplaceConfig)
	kvCfg := writeFile(t, "kv.toml", kvTestConfig)
	rc := &raftCluster{t: t, storeOf: map[int]uint64{}}
	rc.pd = framework.StartPD(t, framework.PDOptions{LogLevel: "warn", ExtraArgs: []string{"--config", pdCfg}})
	for i := 0; i < n; i++ {
		rc.kvs = append(rc.kvs, framework.StartKV(t, framework.KVOptions{
			PDEndpoints: []string{rc.pd.Addr()}, LogLevel: "warn", ExtraArgs: []string{"--config", kvCfg}}))
	}
	rc.c = newClient(t, rc.pd.Addr())
	rc.waitRegion(func(r *pdpb.RegionInfo) bool {
		return len(r.GetRegion().GetPeers()) == 3 && r.GetLeader().GetId() != 0
	}, "3 replicas and a leader")
	// Every process registers with PD before it reports ready, but poll
	// anyway: the region may be fully replicated before the last one shows.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		stores, err := rc.c.Stores(testCtx(t))
		if err == nil && len(stores) >= n {
			break
		}
		require.True(t, time.Now().Before(deadline), "only %d of %d stores registered: %v", len(stores), n, err)
	}
	rc.learnStores()
	return rc
}

// TestRaftReplaceDownStore kills a store holding a replica (not the leader)
// and checks that PD, once the store counts as down, removes its peer and
// adds one on the spare fourth store, without losing acknowledged writes.
func TestRaftReplaceDownStore(t *testing.T) {
	rc := startReplaceCluster(t, 4)
	before := rc.region()
	regionID := before.GetRegion().GetId()
	confVer := before.GetRegion().GetRegionEpoch().GetConfVer()

	holds := map[uint64]bool{}
	for _, p := range before.GetRegion().GetPeers() {
		holds[p.GetStoreId()] = true
	}
	spare := -1
	for i := range rc.kvs {
		if !holds[rc.storeOf[i]] {
			spare = i
		}
	}
	require.GreaterOrEqual(t, spare, 0, "one store without a replica: %v", before)

	a := acked{}
	for i := 0; i < 50; i++ {
		a.put(t, rc.c, fmt.Sprintf("replace-%03d", i), fmt.Sprintf("v%d", i))
	}

	leader := rc.leaderIndex()
	victim := -1
	for i := range rc.kvs {
		if i != leader && i != spare {
			victim = i
			break
		}
	}
	require.GreaterOrEqual(t, victim, 0)
	dead, spareStore := rc.storeOf[victim], rc.storeOf[spare]
	t.Logf("region %d conf_ver %d: leader on store %d, killing store %d, spare store %d",
		regionID, confVer, rc.storeOf[leader], dead, spareStore)
	rc.kvs[victim].Kill()

	// Writes keep succeeding on the two remaining replicas meanwhile.
	for i := 50; i < 60; i++ {
		a.put(t, rc.c, fmt.Sprintf("replace-%03d", i), fmt.Sprintf("v%d", i))
	}

	t0 := time.Now()
	after := rc.waitRegion(func(r *pdpb.RegionInfo) bool {
		peers := r.GetRegion().GetPeers()
		if len(peers) != 3 || r.GetRegion().GetRegionEpoch().GetConfVer() <= confVer {
			return false
		}
		onSpare := false
		for _, p := range peers {
			if p.GetStoreId() == dead {
				return false
			}
			onSpare = onSpare || p.GetStoreId() == spareStore
		}
		return onSpare
	}, "3 peers, none on dead store %d, one on store %d, conf_ver > %d", dead, spareStore, confVer)
	t.Logf("replica replaced after %s: %v", time.Since(t0), after)
	require.Equal(t, regionID, after.GetRegion().GetId())

	a.verify(t, rc.c)
	a.put(t, rc.c, "replace-after", "ok")
	a.verify(t, rc.c)
}
