package locate

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// fakePD serves a fixed region layout and counts the calls made to it, so
// tests can tell cache hits from PD round trips.
type fakePD struct {
	regions []*pdpb.RegionInfo
	stores  map[uint64]string
	calls   int
}

func (f *fakePD) GetRegion(_ context.Context, key []byte) (*metapb.Region, *metapb.Peer, error) {
	f.calls++
	for _, info := range f.regions {
		if contains(info.Region, key) {
			return info.Region, info.Leader, nil
		}
	}
	return nil, nil, errors.New("fake: region not found")
}

func (f *fakePD) GetRegionByID(_ context.Context, id uint64) (*metapb.Region, *metapb.Peer, error) {
	f.calls++
	for _, info := range f.regions {
		if info.Region.Id == id {
			return info.Region, info.Leader, nil
		}
	}
	return nil, nil, errors.New("fake: region not found")
}

func (f *fakePD) ScanRegions(_ context.Context, start, end []byte, limit int) ([]*pdpb.RegionInfo, error) {
	f.calls++
	var out []*pdpb.RegionInfo
	for _, info := range f.regions {
		r := info.Region
		if (len(end) == 0 || bytes.Compare(r.StartKey, end) < 0) &&
			(len(r.EndKey) == 0 || bytes.Compare(start, r.EndKey) < 0) {
			out = append(out, info)
		}
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (f *fakePD) GetStore(_ context.Context, id uint64) (*metapb.Store, error) {
	f.calls++
	addr, ok := f.stores[id]
	if !ok {
		return nil, errors.New("fake: store not found")
	}
	return &metapb.Store{Id: id, Address: addr}, nil
}

func region(id uint64, start, end string, storeIDs ...uint64) *metapb.Region {
	r := &metapb.Region{Id: id, StartKey: []byte(start), EndKey: []byte(end),
		RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}}
	for _, s := range storeIDs {
		r.Peers = append(r.Peers, &metapb.Peer{Id: id*10 + s, StoreId: s})
	}
	return r
}

// threeRegions: [,"g") on stores 1,2,3 led by store 2; ["g","p") led by
// store 1; ["p",) with no known leader.
func threeRegions() *fakePD {
	r1, r2, r3 := region(1, "", "g", 1, 2, 3), region(2, "g", "p", 1, 2, 3), region(3, "p", "", 1, 2, 3)
	return &fakePD{
		regions: []*pdpb.RegionInfo{
			{Region: r1, Leader: r1.Peers[1]},
			{Region: r2, Leader: r2.Peers[0]},
			{Region: r3},
		},
		stores: map[uint64]string{1: "s1:1", 2: "s2:1", 3: "s3:1"},
	}
}

func TestLocate(t *testing.T) {
	tests := []struct {
		key      string
		regionID uint64
		addr     string
	}{
		{"", 1, "s2:1"},
		{"a", 1, "s2:1"},
		{"g", 2, "s1:1"},
		{"ozzz", 2, "s1:1"},
		{"p", 3, "s1:1"}, // no leader known: first peer
		{"zzz", 3, "s1:1"},
	}
	pd := threeRegions()
	c := New(pd, nil, nil)
	for _, tt := range tests {
		loc, err := c.Locate(context.Background(), []byte(tt.key))
		require.NoError(t, err, tt.key)
		require.Equal(t, tt.regionID, loc.Region.Id, tt.key)
		require.Equal(t, tt.addr, loc.Addr, tt.key)
		require.True(t, loc.Contains([]byte(tt.key)))
		require.Equal(t, tt.regionID, loc.RPCContext().RegionId)
	}
	calls := pd.calls
	for _, tt := range tests {
		_, err := c.Locate(context.Background(), []byte(tt.key))
		require.NoError(t, err)
	}
	require.Equal(t, calls, pd.calls, "second round must be served from the cache")
}

func TestLocateCountsHitsAndMisses(t *testing.T) {
	var hits, misses int
	c := New(threeRegions(), nil, func(hit bool) {
		if hit {
			hits++
		} else {
			misses++
		}
	})
	for _, k := range []string{"a", "b", "h", "a"} {
		_, err := c.Locate(context.Background(), []byte(k))
		require.NoError(t, err)
	}
	require.Equal(t, 2, hits)
	require.Equal(t, 2, misses)
}

func TestLocateEndKey(t *testing.T) {
	tests := []struct {
		key      string
		regionID uint64
	}{
		{"", 3},   // +infinity: last region
		{"zz", 3}, // inside the last region
		{"p", 2},  // boundary: the region ending at "p"
		{"h", 2},
		{"g", 1},
		{"a", 1},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			// A fresh cache each time exercises the PD path...
			loc, err := New(threeRegions(), nil, nil).LocateEndKey(context.Background(), []byte(tt.key))
			require.NoError(t, err)
			require.Equal(t, tt.regionID, loc.Region.Id)
		})
	}
	// ...and a warm one the cached path.
	c := New(threeRegions(), nil, nil)
	_, err := c.Regions(context.Background())
	require.NoError(t, err)
	for _, tt := range tests {
		loc, err := c.LocateEndKey(context.Background(), []byte(tt.key))
		require.NoError(t, err)
		require.Equal(t, tt.regionID, loc.Region.Id, tt.key)
	}
}

func TestOnNotLeader(t *testing.T) {
	ctx := context.Background()
	pd := threeRegions()
	c := New(pd, nil, nil)
	loc, err := c.Locate(ctx, []byte("a"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), loc.Peer.StoreId)

	// A hint moves requests to the hinted peer.
	c.OnNotLeader(1, &metapb.Peer{Id: 13, StoreId: 3})
	loc, err = c.Locate(ctx, []byte("a"))
	require.NoError(t, err)
	require.Equal(t, "s3:1", loc.Addr)

	// A hint naming a peer the cached region lacks adds it.
	c.OnNotLeader(1, &metapb.Peer{Id: 14, StoreId: 4})
	pd.stores[4] = "s4:1"
	loc, err = c.Locate(ctx, []byte("a"))
	require.NoError(t, err)
	require.Equal(t, "s4:1", loc.Addr)
	require.Len(t, loc.Region.Peers, 4)
	require.Len(t, pd.regions[0].Region.Peers, 3, "the region handed out earlier must not be mutated")

	// Without hints every peer is tried once, then PD is asked again.
	c.Invalidate(1)
	seen := map[uint64]bool{}
	for i := 0; i < 3; i++ {
		loc, err = c.Locate(ctx, []byte("a"))
		require.NoError(t, err)
		seen[loc.Peer.StoreId] = true
		c.OnNotLeader(1, nil)
	}
	require.Len(t, seen, 3)
	calls := pd.calls
	_, err = c.Locate(ctx, []byte("a"))
	require.NoError(t, err)
	require.Greater(t, pd.calls, calls, "after trying every peer the region is reloaded from PD")
}

func TestOnPeerUnreachable(t *testing.T) {
	ctx := context.Background()
	pd := threeRegions()
	c := New(pd, nil, nil)
	loc, err := c.Locate(ctx, []byte("h"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), loc.Peer.StoreId)
	c.OnPeerUnreachable(2, loc.Peer)
	// Stale report about a peer no longer addressed: ignored.
	c.OnPeerUnreachable(2, loc.Peer)
	pd.stores[2] = "s2:moved"
	next, err := c.Locate(ctx, []byte("h"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), next.Peer.StoreId)
	require.Equal(t, "s2:moved", next.Addr)
}

func TestOnEpochNotMatch(t *testing.T) {
	ctx := context.Background()
	pd := threeRegions()
	c := New(pd, nil, nil)
	for _, k := range []string{"a", "h"} { // learns both stores' addresses
		_, err := c.Locate(ctx, []byte(k))
		require.NoError(t, err)
	}

	// Region 2 split into ["g","k") and ["k","p"); store 2 answered.
	left, right := region(2, "g", "k", 1, 2), region(4, "k", "p", 1, 2)
	left.RegionEpoch.Version, right.RegionEpoch.Version = 2, 2
	c.OnEpochNotMatch(2, []*metapb.Region{left, right}, 2)
	calls := pd.calls
	for key, id := range map[string]uint64{"h": 2, "k": 4, "o": 4} {
		loc, err := c.Locate(ctx, []byte(key))
		require.NoError(t, err)
		require.Equal(t, id, loc.Region.Id, key)
		require.Equal(t, uint64(2), loc.Region.RegionEpoch.Version)
		require.Equal(t, "s2:1", loc.Addr)
	}
	require.Equal(t, calls, pd.calls, "current_regions must be served without PD")

	c.OnEpochNotMatch(4, nil, 2)
	_, err := c.Locate(ctx, []byte("k"))
	require.NoError(t, err)
	require.Greater(t, pd.calls, calls)
}

func TestInsertReplacesOverlaps(t *testing.T) {
	c := New(threeRegions(), nil, nil)
	_, err := c.Regions(context.Background())
	require.NoError(t, err)
	merged := proto.Clone(region(5, "c", "q", 1)).(*metapb.Region)
	_, err = c.insert(merged, nil)
	require.NoError(t, err)
	var ids []uint64
	c.mu.RLock()
	for _, e := range c.mu.regions {
		ids = append(ids, e.region.Id)
	}
	c.mu.RUnlock()
	require.Equal(t, []uint64{5}, ids, "every region overlapping [c,q) is dropped")
}

func TestNoRoute(t *testing.T) {
	pd := &fakePD{regions: []*pdpb.RegionInfo{{Region: &metapb.Region{Id: 1}}}, stores: map[uint64]string{}}
	_, err := New(pd, nil, nil).Locate(context.Background(), []byte("a"))
	require.ErrorIs(t, err, ErrNoRoute)

	pd = &fakePD{regions: []*pdpb.RegionInfo{{Region: region(1, "", "", 1)}}, stores: map[uint64]string{1: ""}}
	_, err = New(pd, nil, nil).Locate(context.Background(), []byte("a"))
	require.ErrorIs(t, err, ErrNoRoute)
}
