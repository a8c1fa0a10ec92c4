package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/libs/client"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// logGCThreshold is the log GC threshold kvTestConfig sets: a follower that
// misses more entries than this must catch up by snapshot.
const logGCThreshold = 1024

// putMany writes n keys prefix-0000.. with workers concurrent writers.
func (a acked) putMany(t *testing.T, c *client.Client, prefix string, n, workers int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := acked{}
			for i := w; i < n; i += workers {
				k := fmt.Sprintf("%s-%04d", prefix, i)
				if err := tryPut(local, c, k, "v-"+k); err != nil {
					errs <- err
					return
				}
			}
			mu.Lock()
			for k, v := range local {
				a[k] = v
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestRaftClusterSurvivesFailures runs one 3-store cluster of real
// processes through crash, restart, catch-up and pause scenarios; after
// each, every acknowledged write must be readable with its version.
func TestRaftClusterSurvivesFailures(t *testing.T) {
	rc := startRaftCluster(t, 3)
	a := acked{}
	for i := 0; i < 20; i++ {
		a.put(t, rc.c, fmt.Sprintf("initial-%02d", i), "v")
	}

	t.Run("leader kill -9 elects a new leader that keeps every write", func(t *testing.T) {
		old := rc.leaderIndex()
		oldStore := rc.storeOf[old]
		rc.kvs[old].Kill()
		a.put(t, rc.c, "after-leader-kill", "v")
		rc.waitRegion(func(r *pdpb.RegionInfo) bool {
			id := r.GetLeader().GetStoreId()
			return id != 0 && id != oldStore
		}, "a leader other than store %d", oldStore)
		a.verify(t, rc.c)
		rc.kvs[old].Start()
		a.put(t, rc.c, "after-old-leader-restart", "v")
		a.verify(t, rc.c)
	})

	t.Run("follower kill -9, writes continue, restart catches up by log", func(t *testing.T) {
		f := (rc.leaderIndex() + 1) % 3
		rc.kvs[f].Kill()
		a.putMany(t, rc.c, "follower-down", 100, 4)
		rc.kvs[f].Start()
		// Only a caught-up peer can take leadership; reads then come from
		// the restarted process's own state machine.
		rc.makeLeader(f)
		a.verify(t, rc.c)
	})

	t.Run("follower restart past the log GC lag catches up by snapshot", func(t *testing.T) {
		f := (rc.leaderIndex() + 1) % 3
		rc.kvs[f].Kill()
		// One writer: concurrent writes would share entries (the leader
		// merges what waits for a commit), and the log must really grow
		// past the GC threshold.
		a.putMany(t, rc.c, "snapshot", logGCThreshold+300, 1)
		rc.kvs[f].Start()
		rc.makeLeader(f)
		a.verify(t, rc.c)
		require.GreaterOrEqual(t, metric(t, rc.kvs[f], "flaredb_raftstore_snapshots_applied_total"), 1.0,
			"the restarted follower caught up without a snapshot; the log was not truncated?")
	})

	t.Run("SIGSTOP of the leader: the cluster moves on, then resume", func(t *testing.T) {
		l := rc.leaderIndex()
		lStore := rc.storeOf[l]
		rc.kvs[l].Pause()
		a.put(t, rc.c, "leader-paused", "v")
		rc.waitRegion(func(r *pdpb.RegionInfo) bool {
			id := r.GetLeader().GetStoreId()
			return id != 0 && id != lStore
		}, "a leader other than paused store %d", lStore)
		a.putMany(t, rc.c, "while-paused", 20, 2)
		rc.kvs[l].Resume()
		a.put(t, rc.c, "after-resume", "v")
		a.verify(t, rc.c)
	})

	t.Run("all stores kill -9 then restart keep every acknowledged write", func(t *testing.T) {
		for _, p := range rc.kvs {
			p.Kill()
		}
		for _, p := range rc.kvs {
			p.Start()
		}
		a.verify(t, rc.c)
		a.put(t, rc.c, "after-full-restart", "v")
		a.verify(t, rc.c)
	})
}

// TestRaftClusterFlarectlThroughLeaderKill runs the flarectl binary against
// a 3-store cluster while its leader is killed.
func TestRaftClusterFlarectlThroughLeaderKill(t *testing.T) {
	rc := startRaftCluster(t, 3)
	pd := rc.pd.Addr()
	res := framework.Flarectl(t, pd, "put", "cli-key", "before")
	require.Equal(t, 0, res.Code, res.Stderr)

	rc.kvs[rc.leaderIndex()].Kill()
	res = framework.Flarectl(t, pd, "put", "cli-key", "after")
	require.Equal(t, 0, res.Code, res.Stderr)
	res = framework.Flarectl(t, pd, "-o", "json", "get", "cli-key")
	require.Equal(t, 0, res.Code, res.Stderr)
	var got struct {
		Value   string `json:"value"`
		Version uint64 `json:"version"`
		Found   bool   `json:"found"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &got), res.Stdout)
	require.Equal(t, "after", got.Value, res.Stdout)
	require.NotZero(t, got.Version, res.Stdout)

	res = framework.Flarectl(t, pd, "status")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "REGION")
}
