package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/proto/metapb"
)

// newTestClient builds a client on a fakeCluster with fast backoff.
func newTestClient(t *testing.T, fc *fakeCluster) (*Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := newClient(Config{BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond, MaxRetries: 10},
		options{reg: reg}, fakePD{fc: fc})
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c, reg
}

func TestFollowsLeaderHint(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t, 3)
	c, reg := newTestClient(t, fc)
	_, err := c.Put(ctx, []byte("k"), []byte("v1"))
	require.NoError(t, err)

	// Leadership moves; PD does not know yet. The stale leader's hint leads
	// the client to store 3.
	fc.setLeader(1, 3)
	v, err := c.Put(ctx, []byte("k"), []byte("v2"))
	require.NoError(t, err)
	got, err := c.Get(ctx, []byte("k"))
	require.NoError(t, err)
	require.Equal(t, GetResult{Value: []byte("v2"), Version: v, Found: true}, got)
	require.Equal(t, 1.0, counterValue(t, c.metrics.retries.WithLabelValues("not_leader")))
	require.Positive(t, fc.served(3))

	// The route was learned: no more retries.
	_, err = c.Get(ctx, []byte("k"))
	require.NoError(t, err)
	require.Equal(t, 1.0, counterValue(t, c.metrics.retries.WithLabelValues("not_leader")))
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.Subset(t, names, []string{"flaredb_client_region_cache_total", "flaredb_client_retries_total",
		"flaredb_client_request_duration_seconds"})
	require.Equal(t, 1.0, counterValue(t, c.metrics.regionLookup.WithLabelValues("miss")))
}

func TestTriesOtherPeersWhenStoreUnreachable(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t, 2)
	// Store 1 is gone (nothing listens there) and store 2 leads; PD still
	// names store 1 as leader.
	fc.stores[1] = "127.0.0.1:1"
	fc.setLeader(1, 2)
	c, _ := newTestClient(t, fc)
	_, err := c.Put(ctx, []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, 1.0, counterValue(t, c.metrics.retries.WithLabelValues("unavailable")))
}

func TestSplitBatchAndScanAcrossRegions(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t, 1)
	c, _ := newTestClient(t, fc)
	var kvs []KV
	for _, k := range []string{"a", "c", "e", "g", "i", "k"} {
		kvs = append(kvs, KV{Key: []byte(k), Value: []byte("v" + k)})
	}
	_, err := c.BatchPut(ctx, kvs)
	require.NoError(t, err)

	// Regions split under the client: [,d) [d,h) [h,); PD lags behind.
	fc.split("d", 2)
	fc.split("h", 3)

	got, err := c.BatchGet(ctx, [][]byte{[]byte("k"), []byte("b"), []byte("a"), []byte("g")})
	require.NoError(t, err)
	require.Equal(t, []string{"k", "a", "g"}, keysOf(got), "found keys only, in request order")
	require.Positive(t, counterValue(t, c.metrics.retries.WithLabelValues("epoch_not_match")))

	fc.syncPD()
	tests := []struct {
		name       string
		start, end string
		limit      int
		reverse    bool
		want       []string
	}{
		{"all", "", "", 100, false, []string{"a", "c", "e", "g", "i", "k"}},
		{"limit stops mid region", "b", "", 3, false, []string{"c", "e", "g"}},
		{"bounded", "c", "i", 100, false, []string{"c", "e", "g"}},
		{"reverse all", "", "", 100, true, []string{"k", "i", "g", "e", "c", "a"}},
		{"reverse from boundary", "", "h", 100, true, []string{"g", "e", "c", "a"}},
		{"reverse bounded limit", "b", "j", 2, true, []string{"i", "g"}},
		{"reverse start on boundary", "d", "", 100, true, []string{"k", "i", "g", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scan := c.Scan
			if tt.reverse {
				scan = c.ReverseScan
			}
			got, err := scan(ctx, []byte(tt.start), []byte(tt.end), tt.limit, KeyOnly())
			require.NoError(t, err)
			require.Equal(t, tt.want, keysOf(got))
			for _, kv := range got {
				require.Empty(t, kv.Value)
				require.NotZero(t, kv.Version)
			}
		})
	}
}

func TestGivesUpWithRegionUnavailable(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c, _ := newTestClient(t, fc)
	// PD routes to a region no store has.
	fc.mu.Lock()
	fc.pdRegions[0].Region = &metapb.Region{Id: 42, Peers: []*metapb.Peer{{Id: 1, StoreId: 1}}}
	fc.mu.Unlock()
	_, err := c.Get(context.Background(), []byte("k"))
	require.ErrorIs(t, err, ErrRegionUnavailable)
	var re *RegionError
	require.ErrorAs(t, err, &re)
	require.Equal(t, uint64(42), re.RegionID)
	require.NotNil(t, re.Err.GetRegionNotFound())
	require.Equal(t, 10.0, counterValue(t, c.metrics.retries.WithLabelValues("region_not_found")))
}

func TestDeadlineEndsRetries(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := newClient(Config{BackoffBase: time.Hour, BackoffCap: time.Hour}, options{}, fakePD{fc: fc})
	defer c.Close()
	fc.setLeader(1, 7) // no such store: NotLeader forever
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Get(ctx, []byte("k"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var re *RegionError
	require.ErrorAs(t, err, &re, "the last cause is kept")
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t, 1)
	c, _ := newTestClient(t, fc)

	_, err := c.Get(ctx, nil)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "key is empty", "the server's message is kept")

	for _, tt := range []struct {
		name       string
		start, end string
		limit      int
	}{
		{"zero limit", "a", "b", 0},
		{"empty range", "b", "b", 1},
		{"inverted range", "c", "b", 1},
	} {
		_, err := c.Scan(ctx, []byte(tt.start), []byte(tt.end), tt.limit)
		require.ErrorIs(t, err, ErrInvalidArgument, tt.name)
		_, err = c.ReverseScan(ctx, []byte(tt.start), []byte(tt.end), tt.limit)
		require.ErrorIs(t, err, ErrInvalidArgument, tt.name)
	}
	require.ErrorIs(t, c.DeleteRange(ctx, []byte("b"), []byte("a")), ErrInvalidArgument)

	require.NoError(t, c.Close())
	_, err = c.Get(ctx, []byte("k"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.GetTS(ctx)
	require.True(t, errors.Is(err, ErrClosed), fmt.Sprint(err))
}

func keysOf(kvs []KV) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func TestLostWriteReplyIsUndeterminedNotResent(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(t, 3)
	c, _ := newTestClient(t, fc)
	fc.mu.Lock()
	fc.lostReplies = 1
	fc.mu.Unlock()
	_, err := c.Put(ctx, []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUndetermined)
	// Applied exactly once: a resend would have given the key version 2.
	got, err := c.Get(ctx, []byte("k"))
	require.NoError(t, err)
	require.True(t, got.Found)
	require.Equal(t, uint64(1), got.Version)
}
