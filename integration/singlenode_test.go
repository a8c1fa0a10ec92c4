package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/libs/client"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// newClient connects the SDK to pd and closes it at cleanup.
func newClient(t *testing.T, pdAddr string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSingleNodeSDK drives every KV operation of the SDK against a real PD
// and a real kv-service registered with it.
func TestSingleNodeSDK(t *testing.T) {
	pd, _ := framework.StartSingleNode(t)
	c := newClient(t, pd.Addr())

	t.Run("put get delete", func(t *testing.T) {
		ctx := testCtx(t)
		res, err := c.Get(ctx, []byte("pgd"))
		require.NoError(t, err)
		require.Equal(t, client.GetResult{}, res, "a missing key is Found=false, not an error")

		v1, err := c.Put(ctx, []byte("pgd"), []byte("one"))
		require.NoError(t, err)
		require.NotZero(t, v1)
		res, err = c.Get(ctx, []byte("pgd"))
		require.NoError(t, err)
		require.Equal(t, client.GetResult{Value: []byte("one"), Version: v1, Found: true}, res)

		v2, err := c.Put(ctx, []byte("pgd"), []byte("two"))
		require.NoError(t, err)
		require.Greater(t, v2, v1, "every write gives a larger version")

		empty, err := c.Put(ctx, []byte("pgd-empty"), nil)
		require.NoError(t, err)
		res, err = c.Get(ctx, []byte("pgd-empty"))
		require.NoError(t, err)
		require.True(t, res.Found, "an empty value is still a value")
		require.Empty(t, res.Value)
		require.Equal(t, empty, res.Version)

		require.NoError(t, c.Delete(ctx, []byte("pgd")))
		require.NoError(t, c.Delete(ctx, []byte("pgd")), "deleting a missing key succeeds")
		res, err = c.Get(ctx, []byte("pgd"))
		require.NoError(t, err)
		require.False(t, res.Found)
	})

	t.Run("batches", func(t *testing.T) {
		ctx := testCtx(t)
		kvs := []client.KV{{Key: []byte("b/1"), Value: []byte("x")}, {Key: []byte("b/2"), Value: []byte("y")},
			{Key: []byte("b/3"), Value: []byte("z")}}
		versions, err := c.BatchPut(ctx, kvs)
		require.NoError(t, err)
		require.Len(t, versions, 3)
		got, err := c.BatchGet(ctx, [][]byte{[]byte("b/3"), []byte("b/missing"), []byte("b/1")})
		require.NoError(t, err)
		require.Equal(t, []client.KV{
			{Key: []byte("b/3"), Value: []byte("z"), Version: versions[2]},
			{Key: []byte("b/1"), Value: []byte("x"), Version: versions[0]},
		}, got, "found keys only, in request order, with versions")

		require.NoError(t, c.BatchDelete(ctx, [][]byte{[]byte("b/1"), []byte("b/3"), []byte("b/missing")}))
		got, err = c.BatchGet(ctx, [][]byte{[]byte("b/1"), []byte("b/2"), []byte("b/3")})
		require.NoError(t, err)
		require.Equal(t, []client.KV{{Key: []byte("b/2"), Value: []byte("y"), Version: versions[1]}}, got)
	})

	t.Run("scan and delete range", func(t *testing.T) {
		ctx := testCtx(t)
		var kvs []client.KV
		for i := 0; i < 10; i++ {
			kvs = append(kvs, client.KV{Key: []byte(fmt.Sprintf("s/%02d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
		}
		versions, err := c.BatchPut(ctx, kvs)
		require.NoError(t, err)

		tests := []struct {
			name       string
			start, end string
			limit      int
			reverse    bool
			want       []int
		}{
			{"all", "s/", "s0", 100, false, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{"limit", "s/", "s0", 3, false, []int{0, 1, 2}},
			{"bounded", "s/03", "s/06", 100, false, []int{3, 4, 5}},
			{"start between keys", "s/035", "s/06", 100, false, []int{4, 5}},
			{"reverse", "s/", "s0", 100, true, []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
			{"reverse limit", "s/", "s0", 2, true, []int{9, 8}},
			{"reverse bounded", "s/03", "s/06", 100, true, []int{5, 4, 3}},
			{"empty range", "s/10", "s/99", 100, false, nil},
		}
		for _, tt := range tests {
			scan := c.Scan
			if tt.reverse {
				scan = c.ReverseScan
			}
			got, err := scan(ctx, []byte(tt.start), []byte(tt.end), tt.limit)
			require.NoError(t, err, tt.name)
			var want []client.KV
			for _, i := range tt.want {
				want = append(want, client.KV{Key: kvs[i].Key, Value: kvs[i].Value, Version: versions[i]})
			}
			require.Equal(t, want, got, tt.name)

			keys, err := scan(ctx, []byte(tt.start), []byte(tt.end), tt.limit, client.KeyOnly())
			require.NoError(t, err, tt.name)
			require.Len(t, keys, len(tt.want), tt.name)
			for i, kv := range keys {
				require.Equal(t, want[i].Key, kv.Key, tt.name)
				require.Empty(t, kv.Value, "key-only scans carry no values")
			}
		}

		// An empty end means the end of the key space.
		got, err := c.Scan(ctx, []byte("s/08"), nil, 100)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(got), 2)
		require.Equal(t, []byte("s/08"), got[0].Key)

		require.NoError(t, c.DeleteRange(ctx, []byte("s/02"), []byte("s/08")))
		got, err = c.Scan(ctx, []byte("s/"), []byte("s0"), 100, client.KeyOnly())
		require.NoError(t, err)
		require.Equal(t, []string{"s/00", "s/01", "s/08", "s/09"}, keysOf(got))
	})

	t.Run("compare and swap", func(t *testing.T) {
		ctx := testCtx(t)
		key := []byte("cas")
		created, err := c.CompareAndSwap(ctx, key, []byte("a"), 0)
		require.NoError(t, err)
		require.True(t, created.Succeeded, "0 creates an absent key")
		require.Equal(t, []byte("a"), created.Value)

		again, err := c.CompareAndSwap(ctx, key, []byte("b"), 0)
		require.NoError(t, err)
		require.Equal(t, client.CASResult{Succeeded: false, Version: created.Version, Value: []byte("a")}, again,
			"create-only on an existing key reports the current version and value")

		stale, err := c.CompareAndSwap(ctx, key, []byte("b"), created.Version+100)
		require.NoError(t, err)
		require.False(t, stale.Succeeded)
		require.Equal(t, created.Version, stale.Version)

		swapped, err := c.CompareAndSwap(ctx, key, []byte("b"), created.Version)
		require.NoError(t, err)
		require.True(t, swapped.Succeeded)
		require.Greater(t, swapped.Version, created.Version)

		// ABA: delete and re-create; the old version must not match again.
		delStale, err := c.CompareAndDelete(ctx, key, created.Version)
		require.NoError(t, err)
		require.False(t, delStale.Succeeded)
		deleted, err := c.CompareAndDelete(ctx, key, swapped.Version)
		require.NoError(t, err)
		require.True(t, deleted.Succeeded)
		require.Zero(t, deleted.Version)

		afterDelete, err := c.CompareAndSwap(ctx, key, []byte("c"), swapped.Version)
		require.NoError(t, err)
		require.False(t, afterDelete.Succeeded, "a deleted key's last version does not match")
		require.Zero(t, afterDelete.Version, "the key is absent")

		recreated, err := c.CompareAndSwap(ctx, key, []byte("a"), 0)
		require.NoError(t, err)
		require.True(t, recreated.Succeeded)
		require.Greater(t, recreated.Version, swapped.Version, "versions never repeat across delete and re-create")
		aba, err := c.CompareAndSwap(ctx, key, []byte("x"), created.Version)
		require.NoError(t, err)
		require.False(t, aba.Succeeded, "same value as before, but the version tells them apart")
	})

	t.Run("invalid arguments", func(t *testing.T) {
		ctx := testCtx(t)
		bigKey := bytes.Repeat([]byte("k"), 4097)
		bigValue := make([]byte, 4<<20+1)
		manyKeys := make([][]byte, 10001)
		for i := range manyKeys {
			manyKeys[i] = []byte(fmt.Sprintf("many/%05d", i))
		}
		tests := []struct {
			name string
			call func() error
			msg  string
		}{
			{"get empty key", func() error { _, err := c.Get(ctx, nil); return err }, "empty"},
			{"put empty key", func() error { _, err := c.Put(ctx, nil, []byte("v")); return err }, "empty"},
			{"delete empty key", func() error { return c.Delete(ctx, []byte{}) }, "empty"},
			{"cas empty key", func() error { _, err := c.CompareAndSwap(ctx, nil, []byte("v"), 0); return err }, "empty"},
			{"oversize key", func() error { _, err := c.Put(ctx, bigKey, []byte("v")); return err }, "max key size"},
			{"oversize get key", func() error { _, err := c.Get(ctx, bigKey); return err }, "max key size"},
			{"oversize value", func() error { _, err := c.Put(ctx, []byte("big"), bigValue); return err }, "max value size"},
			{"batch over limit", func() error { _, err := c.BatchGet(ctx, manyKeys); return err }, "max batch size"},
			{"batch with empty key", func() error {
				_, err := c.BatchPut(ctx, []client.KV{{Key: []byte("ok"), Value: []byte("v")}, {Key: nil}})
				return err
			}, "empty"},
			{"scan over limit", func() error { _, err := c.Scan(ctx, []byte("a"), []byte("b"), 10001); return err }, "max scan limit"},
			{"scan start after end", func() error { _, err := c.Scan(ctx, []byte("b"), []byte("a"), 10); return err }, "must sort before"},
			{"reverse scan empty range", func() error { _, err := c.ReverseScan(ctx, []byte("b"), []byte("b"), 10); return err }, "must sort before"},
			{"delete range inverted", func() error { return c.DeleteRange(ctx, []byte("b"), []byte("a")) }, "must sort before"},
		}
		for _, tt := range tests {
			err := tt.call()
			require.ErrorIs(t, err, client.ErrInvalidArgument, tt.name)
			require.Contains(t, err.Error(), tt.msg, tt.name)
		}
		res, err := c.Get(ctx, []byte("big"))
		require.NoError(t, err)
		require.False(t, res.Found, "a refused write wrote nothing")

		// The largest allowed value round-trips.
		maxValue := bytes.Repeat([]byte{0xab}, 4<<20)
		v, err := c.Put(ctx, []byte("max"), maxValue)
		require.NoError(t, err)
		res, err = c.Get(ctx, []byte("max"))
		require.NoError(t, err)
		require.Equal(t, client.GetResult{Value: maxValue, Version: v, Found: true}, res)
	})

	t.Run("timestamps", func(t *testing.T) {
		ctx := testCtx(t)
		var last uint64
		for i := 0; i < 100; i++ {
			ts, err := c.GetTS(ctx)
			require.NoError(t, err)
			require.Greater(t, ts, last, "timestamps strictly increase")
			last = ts
		}
		physical, _ := client.ParseTS(last)
		require.InDelta(t, time.Now().UnixMilli(), physical, float64(time.Minute.Milliseconds()))

		// Concurrent callers (batched by the PD client) never share one.
		var mu sync.Mutex
		seen := map[uint64]bool{}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Go(func() {
				for i := 0; i < 50; i++ {
					ts, err := c.GetTS(ctx)
					if !assertNoError(t, err) {
						return
					}
					mu.Lock()
					require.False(t, seen[ts], "duplicate timestamp %d", ts)
					seen[ts] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, 400)
	})

	t.Run("cluster metadata and raw RPCs", func(t *testing.T) {
		ctx := testCtx(t)
		stores, err := c.Stores(ctx)
		require.NoError(t, err)
		require.Len(t, stores, 1)
		regions, err := c.Regions(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, regions)

		// RawGet is the one KV RPC the SDK does not use (Get returns the
		// same plus nothing more); call it directly with a routed context.
		_, err = c.Put(ctx, []byte("raw"), []byte("get"))
		require.NoError(t, err)
		region := regions[0].Region
		cc, err := grpc.NewClient(stores[0].Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer cc.Close()
		kv := kvrpcpb.NewKVClient(cc)
		rctx := &kvrpcpb.Context{RegionId: region.Id, RegionEpoch: region.RegionEpoch, Peer: region.Peers[0]}
		resp, err := kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: rctx, Key: []byte("raw")})
		require.NoError(t, err)
		require.Nil(t, resp.RegionError)
		require.Equal(t, []byte("get"), resp.Value)
		require.False(t, resp.NotFound)
		resp, err = kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: rctx, Key: []byte("raw-missing")})
		require.NoError(t, err)
		require.True(t, resp.NotFound)
		_, err = kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: rctx})
		require.Equal(t, codes.InvalidArgument, status.Code(err))

		// A wrong region id is a routing error in the body, not a status.
		bad := &kvrpcpb.Context{RegionId: region.Id + 1000, RegionEpoch: region.RegionEpoch, Peer: region.Peers[0]}
		resp, err = kv.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: bad, Key: []byte("raw")})
		require.NoError(t, err)
		require.NotNil(t, resp.RegionError)
	})
}

// assertNoError is require.NoError for goroutines other than the test's.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func keysOf(kvs []client.KV) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

// TestSingleNodeCrashRecovery kills the store with SIGKILL right after
// acknowledged writes and checks that a restart finds every one of them,
// with the same versions, and keeps each key's versions growing.
func TestSingleNodeCrashRecovery(t *testing.T) {
	pd, kv := framework.StartSingleNode(t)
	c := newClient(t, pd.Addr())
	ctx := testCtx(t)

	want := map[string]client.GetResult{}
	for i := 0; i < 50; i++ {
		key, value := fmt.Sprintf("crash/%02d", i), strings.Repeat(fmt.Sprint(i), 10)
		v, err := c.Put(ctx, []byte(key), []byte(value))
		require.NoError(t, err)
		want[key] = client.GetResult{Value: []byte(value), Version: v, Found: true}
	}
	deletedVersion := want["crash/00"].Version
	require.NoError(t, c.Delete(ctx, []byte("crash/00")))
	delete(want, "crash/00")
	require.NoError(t, c.DeleteRange(ctx, []byte("crash/40"), []byte("crash/45")))
	for i := 40; i < 45; i++ {
		delete(want, fmt.Sprintf("crash/%02d", i))
	}
	cas, err := c.CompareAndSwap(ctx, []byte("crash/01"), []byte("swapped"), want["crash/01"].Version)
	require.NoError(t, err)
	require.True(t, cas.Succeeded)
	want["crash/01"] = client.GetResult{Value: []byte("swapped"), Version: cas.Version, Found: true}
	kv.Kill()
	kv.Restart()

	// The SDK reconnects on its own: same client, same address.
	for i := 0; i < 50; i++ {
		key := fmt.Sprintf("crash/%02d", i)
		res, err := c.Get(ctx, []byte(key))
		require.NoError(t, err, key)
		require.Equal(t, want[key], res, key)
	}
	got, err := c.Scan(ctx, []byte("crash/"), []byte("crash0"), 100, client.KeyOnly())
	require.NoError(t, err)
	require.Len(t, got, len(want))

	v, err := c.Put(ctx, []byte("crash/01"), []byte("after"))
	require.NoError(t, err)
	require.Greater(t, v, want["crash/01"].Version, "a key's versions keep growing after a crash")
	recreated, err := c.CompareAndSwap(ctx, []byte("crash/00"), []byte("back"), 0)
	require.NoError(t, err)
	require.True(t, recreated.Succeeded)
	require.Greater(t, recreated.Version, deletedVersion, "a deleted key's version survives the crash")
}
