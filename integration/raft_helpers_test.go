package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/libs/client"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// raftCluster is 1 PD and 3 kv-service processes replicating through Raft.
type raftCluster struct {
	t   *testing.T
	pd  *framework.Process
	kvs []*framework.Process
	c   *client.Client
	// storeOf maps a kv process index to its store id, learnt from PD.
	storeOf map[int]uint64
}

// pdTestConfig keeps PD from replacing replicas of stores the tests kill on
// purpose: a store counts as down only after ten minutes.
const pdTestConfig = `max-store-down-time = "10m"
`

// kvTestConfig makes elections and PD's view of regions fast, and the log
// short (logGCThreshold) so a restarted follower needs a snapshot after a
// thousand writes rather than ten thousand.
const kvTestConfig = `[raft]
tick-interval = "50ms"
log-gc-threshold = 1024
log-gc-keep = 256

[pd]
store-heartbeat-interval = "300ms"
region-heartbeat-interval = "300ms"
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// startRaftCluster starts PD and n kv processes and waits until the first
// region has n voters (PD adds the replicas) and a leader.
func startRaftCluster(t *testing.T, n int) *raftCluster {
	t.Helper()
	t0 := time.Now()
	pdCfg := writeFile(t, "pd.toml", pdTestConfig)
	kvCfg := writeFile(t, "kv.toml", kvTestConfig)
	rc := &raftCluster{t: t, storeOf: map[int]uint64{}}
	rc.pd = framework.StartPD(t, framework.PDOptions{LogLevel: "warn", ExtraArgs: []string{"--config", pdCfg}})
	for i := 0; i < n; i++ {
		rc.kvs = append(rc.kvs, framework.StartKV(t, framework.KVOptions{
			PDEndpoints: []string{rc.pd.Addr()}, LogLevel: "warn", ExtraArgs: []string{"--config", kvCfg}}))
	}
	t.Logf("processes started after %s", time.Since(t0))
	rc.c = newClient(t, rc.pd.Addr())
	rc.waitRegion(func(r *pdpb.RegionInfo) bool {
		return len(r.GetRegion().GetPeers()) == n && r.GetLeader().GetId() != 0
	}, "%d replicas and a leader", n)
	t.Logf("region has %d replicas after %s", n, time.Since(t0))
	rc.learnStores()
	return rc
}

// learnStores maps processes to store ids by address.
func (rc *raftCluster) learnStores() {
	rc.t.Helper()
	stores, err := rc.c.Stores(testCtx(rc.t))
	require.NoError(rc.t, err)
	for _, s := range stores {
		for i, p := range rc.kvs {
			if s.GetAddress() == p.Addr() {
				rc.storeOf[i] = s.GetId()
			}
		}
	}
	require.Len(rc.t, rc.storeOf, len(rc.kvs), "every kv process registered with PD: %v", stores)
}

// region returns the first (only) region as PD last saw it.
func (rc *raftCluster) region() *pdpb.RegionInfo {
	rc.t.Helper()
	regions, err := rc.c.Regions(testCtx(rc.t))
	require.NoError(rc.t, err)
	require.NotEmpty(rc.t, regions)
	return regions[0]
}

// waitRegion polls PD until ok holds for the first region.
func (rc *raftCluster) waitRegion(ok func(*pdpb.RegionInfo) bool, format string, args ...any) *pdpb.RegionInfo {
	rc.t.Helper()
	var last *pdpb.RegionInfo
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		regions, err := rc.c.Regions(ctx)
		cancel()
		if err == nil && len(regions) > 0 {
			last = regions[0]
			if ok(last) {
				return last
			}
		}
	}
	rc.t.Fatalf("region never reached: %s; last seen: %v", fmt.Sprintf(format, args...), last)
	return nil
}

// leaderIndex waits until PD reports a leader on a running process and
// returns that process's index.
func (rc *raftCluster) leaderIndex() int {
	rc.t.Helper()
	idx := -1
	rc.waitRegion(func(r *pdpb.RegionInfo) bool {
		idx = rc.indexOfStore(r.GetLeader().GetStoreId())
		return idx >= 0 && rc.kvs[idx].Running()
	}, "a leader on a running store")
	return idx
}

func (rc *raftCluster) indexOfStore(storeID uint64) int {
	for i, id := range rc.storeOf {
		if id == storeID {
			return i
		}
	}
	return -1
}

// peerOn returns the region's peer on process i.
func (rc *raftCluster) peerOn(i int) *metapb.Peer {
	rc.t.Helper()
	for _, p := range rc.region().GetRegion().GetPeers() {
		if p.GetStoreId() == rc.storeOf[i] {
			return p
		}
	}
	rc.t.Fatalf("no peer on kv process %d (store %d)", i, rc.storeOf[i])
	return nil
}

// makeLeader transfers leadership to process i and waits until PD sees it.
func (rc *raftCluster) makeLeader(i int) {
	rc.t.Helper()
	peer := rc.peerOn(i)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := rc.c.TransferLeader(ctx, rc.region().GetRegion().GetId(), peer)
		cancel()
		if err == nil {
			for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
				if rc.region().GetLeader().GetStoreId() == rc.storeOf[i] {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	rc.t.Fatalf("kv process %d (store %d) never became leader", i, rc.storeOf[i])
}

// metric reads one unlabelled sample from process i's /metrics.
func metric(t *testing.T, p *framework.Process, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.StatusAddr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("metric %s not exported by %s", name, p.Name())
	return 0
}

// acked records acknowledged writes: key -> the value and version the
// cluster acknowledged last.
type acked map[string]client.GetResult

// put writes key=value, retrying until acknowledged (a retried put may be
// applied twice; the last acknowledgement wins, which is what a later read
// must see).
func (a acked) put(t *testing.T, c *client.Client, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		v, err := c.Put(ctx, []byte(key), []byte(value))
		if err == nil {
			a[key] = client.GetResult{Value: []byte(value), Version: v, Found: true}
			return
		}
		require.NoError(t, ctx.Err(), "put %s never acknowledged: %v", key, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// verify reads every acknowledged key and requires its value and version.
func (a acked) verify(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	keys := make([][]byte, 0, len(a))
	for k := range a {
		keys = append(keys, []byte(k))
	}
	var got []client.KV
	for {
		var err error
		if got, err = c.BatchGet(ctx, keys); err == nil {
			break
		}
		require.NoError(t, ctx.Err(), "batch get: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
	found := make(map[string]client.KV, len(got))
	for _, kv := range got {
		found[string(kv.Key)] = kv
	}
	for k, want := range a {
		kv, ok := found[k]
		require.True(t, ok, "acknowledged key %s lost", k)
		require.Equal(t, string(want.Value), string(kv.Value), "key %s", k)
		require.Equal(t, want.Version, kv.Version, "key %s", k)
	}
}

// tryPut is acked.put for goroutines other than the test's: it returns the
// error instead of failing the test.
func tryPut(a acked, c *client.Client, key, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		v, err := c.Put(ctx, []byte(key), []byte(value))
		if err == nil {
			a[key] = client.GetResult{Value: []byte(value), Version: v, Found: true}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("put %s never acknowledged: %w", key, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
