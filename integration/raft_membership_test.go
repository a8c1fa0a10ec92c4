package integration

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// addKV starts one more kv process joining rc and learns its store id.
func (rc *raftCluster) addKV() int {
	rc.t.Helper()
	kvCfg := writeFile(rc.t, "kv-extra.toml", kvTestConfig)
	rc.kvs = append(rc.kvs, framework.StartKV(rc.t, framework.KVOptions{
		PDEndpoints: []string{rc.pd.Addr()}, LogLevel: "warn", ExtraArgs: []string{"--config", kvCfg}}))
	rc.learnStores()
	return len(rc.kvs) - 1
}

// loadWriter keeps writing distinct keys until stop is closed, recording
// what was acknowledged.
type loadWriter struct {
	mu    sync.Mutex
	acked acked
	n     atomic.Int64
	err   error
	stop  chan struct{}
	done  chan struct{}
}

func startLoad(rc *raftCluster) *loadWriter {
	w := &loadWriter{acked: acked{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			local := acked{}
			k := fmt.Sprintf("load-%05d", i)
			if err := tryPut(local, rc.c, k, "v"+strconv.Itoa(i)); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			w.mu.Lock()
			w.acked[k] = local[k]
			w.mu.Unlock()
			w.n.Add(1)
		}
	}()
	return w
}

// waitWrites waits until at least n more writes were acknowledged.
func (w *loadWriter) waitWrites(t *testing.T, n int64) {
	t.Helper()
	target := w.n.Load() + n
	for deadline := time.Now().Add(60 * time.Second); w.n.Load() < target; time.Sleep(20 * time.Millisecond) {
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		require.NoError(t, err)
		require.True(t, time.Now().Before(deadline), "writer made no progress")
	}
}

func (w *loadWriter) finish(t *testing.T) acked {
	t.Helper()
	close(w.stop)
	<-w.done
	require.NoError(t, w.err)
	return w.acked
}

type regionChangeJSON struct {
	Action   string `json:"action"`
	RegionID uint64 `json:"region_id"`
	Peer     struct {
		ID      uint64 `json:"id"`
		StoreID uint64 `json:"store_id"`
	} `json:"peer"`
	Epoch struct {
		ConfVer uint64 `json:"conf_ver"`
	} `json:"epoch"`
	Peers []struct {
		StoreID uint64 `json:"store_id"`
	} `json:"peers"`
}

// TestRaftAddRemoveReplicaUnderLoad adds a replica on a fourth store with
// flarectl, moves leadership there with flarectl, and removes an old
// replica through the SDK's ChangePeer, while a writer keeps writing. Every
// acknowledged write survives and conf_ver grows with each change.
func TestRaftAddRemoveReplicaUnderLoad(t *testing.T) {
	rc := startRaftCluster(t, 3)
	before := rc.region().GetRegion()
	regionID := before.GetId()
	confVer := before.GetRegionEpoch().GetConfVer()
	fourth := rc.addKV()
	newStore := rc.storeOf[fourth]

	w := startLoad(rc)
	w.waitWrites(t, 20)

	// add-peer: flarectl allocates the peer id from PD.
	res := framework.Flarectl(t, rc.pd.Addr(), "-o", "json", "region", "add-peer",
		strconv.FormatUint(regionID, 10), strconv.FormatUint(newStore, 10))
	require.Equal(t, 0, res.Code, res.Stderr)
	var added regionChangeJSON
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &added), res.Stdout)
	require.Equal(t, "add-peer", added.Action)
	require.Equal(t, newStore, added.Peer.StoreID)
	require.NotZero(t, added.Peer.ID)
	require.Greater(t, added.Epoch.ConfVer, confVer, "add-peer bumps conf_ver")
	require.Len(t, added.Peers, 4)
	w.waitWrites(t, 20)

	// transfer-leader to the new store: it must catch up first.
	rc.waitRegion(func(r *pdpb.RegionInfo) bool { return len(r.GetRegion().GetPeers()) == 4 }, "4 peers")
	for deadline := time.Now().Add(60 * time.Second); rc.region().GetLeader().GetStoreId() != newStore; time.Sleep(300 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "store %d never became leader", newStore)
		res = framework.Flarectl(t, rc.pd.Addr(), "region", "transfer-leader",
			strconv.FormatUint(regionID, 10), strconv.FormatUint(newStore, 10))
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Contains(t, res.Stdout, "transfer-leader to")
	}
	w.waitWrites(t, 20)

	// remove an old replica through the SDK.
	victim := rc.peerOn(0)
	var region = before
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r, err := rc.c.ChangePeer(testCtx(t), regionID, kvrpcpb.ConfChangeType_RemoveNode, victim)
		if err == nil {
			region = r
			break
		}
		require.True(t, time.Now().Before(deadline), "remove peer: %v", err)
	}
	require.Greater(t, region.GetRegionEpoch().GetConfVer(), added.Epoch.ConfVer, "remove-peer bumps conf_ver")
	require.Len(t, region.GetPeers(), 3)
	for _, p := range region.GetPeers() {
		require.NotEqual(t, rc.storeOf[0], p.GetStoreId(), "the removed peer is gone")
	}
	w.waitWrites(t, 20)

	a := w.finish(t)
	t.Logf("%d writes acknowledged during the changes", len(a))
	a.verify(t, rc.c)
	rc.waitRegion(func(r *pdpb.RegionInfo) bool {
		return len(r.GetRegion().GetPeers()) == 3 && r.GetRegion().GetRegionEpoch().GetConfVer() >= confVer+2
	}, "PD sees 3 peers and conf_ver >= %d", confVer+2)
}
