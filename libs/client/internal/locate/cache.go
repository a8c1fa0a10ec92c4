package locate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// PD is the part of the PD client the cache needs. libs/pdclient implements
// it; tests use an in-memory fake.
type PD interface {
	GetRegion(ctx context.Context, key []byte) (*metapb.Region, *metapb.Peer, error)
	GetRegionByID(ctx context.Context, id uint64) (*metapb.Region, *metapb.Peer, error)
	ScanRegions(ctx context.Context, start, end []byte, limit int) ([]*pdpb.RegionInfo, error)
	GetStore(ctx context.Context, id uint64) (*metapb.Store, error)
}

// ErrNoRoute is returned when PD knows no usable region or store for a
// request (no region, a region without peers, a store without an address).
// Callers treat it as retryable: the cluster may still be bootstrapping.
var ErrNoRoute = errors.New("locate: no route")

// scanBatch bounds how many regions one PD ScanRegions call returns while
// looking for the region before a key.
const scanBatch = 128

// Location is a resolved route: the region, the peer to address and the
// address of that peer's store. It is an immutable snapshot; the cache
// replaces, never mutates, what it hands out.
type Location struct {
	Region *metapb.Region
	Peer   *metapb.Peer
	Addr   string
}

// Contains reports whether key lies in the region's [start, end).
func (l *Location) Contains(key []byte) bool {
	return contains(l.Region, key)
}

// RPCContext is the kvrpcpb.Context to put in a request sent to this route.
func (l *Location) RPCContext() *kvrpcpb.Context {
	return &kvrpcpb.Context{
		RegionId:    l.Region.GetId(),
		RegionEpoch: l.Region.GetRegionEpoch(),
		Peer:        l.Peer,
	}
}

func contains(r *metapb.Region, key []byte) bool {
	return bytes.Compare(r.GetStartKey(), key) <= 0 &&
		(len(r.GetEndKey()) == 0 || bytes.Compare(key, r.GetEndKey()) < 0)
}

// entry is one cached region and the peer requests currently go to.
type entry struct {
	region *metapb.Region
	// peer is the leader if known, else the peer being tried.
	peer *metapb.Peer
	// misses counts peers tried without finding the leader since the region
	// was loaded; once every peer has been tried the entry is dropped so the
	// next lookup asks PD again.
	misses int
}

// Cache is safe for concurrent use.
type Cache struct {
	pd       PD
	lg       *zap.Logger
	onLookup func(hit bool)

	mu struct {
		sync.RWMutex
		// regions is sorted by start key and holds non-overlapping ranges.
		regions []*entry
		// stores maps store id to its gRPC address.
		stores map[uint64]string
	}
}

// New returns an empty cache that loads routes from pd. onLookup, if not
// nil, is called once per key lookup with whether the cache answered it.
func New(pd PD, lg *zap.Logger, onLookup func(hit bool)) *Cache {
	if lg == nil {
		lg = zap.NewNop()
	}
	if onLookup == nil {
		onLookup = func(bool) {}
	}
	c := &Cache{pd: pd, lg: lg, onLookup: onLookup}
	c.mu.stores = make(map[uint64]string)
	return c
}

// Locate returns the route for the region containing key.
func (c *Cache) Locate(ctx context.Context, key []byte) (*Location, error) {
	c.mu.RLock()
	e := c.searchLocked(key)
	c.mu.RUnlock()
	c.onLookup(e != nil)
	if e == nil {
		r, leader, err := c.pd.GetRegion(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("locate key %q: %w", key, err)
		}
		if r == nil || !contains(r, key) {
			return nil, fmt.Errorf("%w: PD returned no region for key %q", ErrNoRoute, key)
		}
		if e, err = c.insert(r, leader); err != nil {
			return nil, err
		}
	}
	return c.resolve(ctx, e)
}

// LocateEndKey returns the route for the region holding the keys just below
// key, i.e. the region with start < key <= end. An empty key means +infinity:
// the last region. Reverse scans walk regions with it.
func (c *Cache) LocateEndKey(ctx context.Context, key []byte) (*Location, error) {
	c.mu.RLock()
	e := c.searchEndLocked(key)
	c.mu.RUnlock()
	c.onLookup(e != nil)
	if e == nil {
		var err error
		if e, err = c.loadEndKey(ctx, key); err != nil {
			return nil, err
		}
	}
	return c.resolve(ctx, e)
}

// loadEndKey asks PD for the region before key. PD has no "previous region"
// call: GetRegion(key) answers when key is inside its region; when key is a
// region boundary the region ending at key is found with ScanRegions, starting
// from the closest cached region below key (or the start of the key space).
func (c *Cache) loadEndKey(ctx context.Context, key []byte) (*entry, error) {
	if len(key) > 0 {
		r, leader, err := c.pd.GetRegion(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("locate end key %q: %w", key, err)
		}
		if r != nil && endContains(r, key) {
			return c.insert(r, leader)
		}
	}
	var start []byte
	c.mu.RLock()
	if i := c.lowerLocked(key); i >= 0 {
		start = c.mu.regions[i].region.GetStartKey()
	}
	c.mu.RUnlock()
	for {
		infos, err := c.pd.ScanRegions(ctx, start, key, scanBatch)
		if err != nil {
			return nil, fmt.Errorf("locate end key %q: %w", key, err)
		}
		var found *entry
		for _, info := range infos {
			r := info.GetRegion()
			if r == nil {
				continue
			}
			e, err := c.insert(r, info.GetLeader())
			if err != nil {
				return nil, err
			}
			if endContains(r, key) {
				found = e
			}
		}
		if found != nil {
			return found, nil
		}
		if len(infos) == 0 {
			return nil, fmt.Errorf("%w: PD returned no region before key %q", ErrNoRoute, key)
		}
		last := infos[len(infos)-1].GetRegion()
		if len(last.GetEndKey()) == 0 || bytes.Compare(last.GetEndKey(), start) <= 0 {
			return nil, fmt.Errorf("%w: no region ends at or after key %q", ErrNoRoute, key)
		}
		start = last.GetEndKey()
	}
}

// endContains reports whether r holds the keys just below key.
func endContains(r *metapb.Region, key []byte) bool {
	if len(key) == 0 {
		return len(r.GetEndKey()) == 0
	}
	return bytes.Compare(r.GetStartKey(), key) < 0 &&
		(len(r.GetEndKey()) == 0 || bytes.Compare(key, r.GetEndKey()) <= 0)
}

// LocateByID returns the route for a region by id (admin operations).
func (c *Cache) LocateByID(ctx context.Context, id uint64) (*Location, error) {
	c.mu.RLock()
	var e *entry
	for _, cand := range c.mu.regions {
		if cand.region.GetId() == id {
			e = cand
			break
		}
	}
	c.mu.RUnlock()
	c.onLookup(e != nil)
	if e == nil {
		r, leader, err := c.pd.GetRegionByID(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("locate region %d: %w", id, err)
		}
		if r == nil {
			return nil, fmt.Errorf("%w: PD returned no region %d", ErrNoRoute, id)
		}
		if e, err = c.insert(r, leader); err != nil {
			return nil, err
		}
	}
	return c.resolve(ctx, e)
}

// resolve turns an entry into a Location, looking up the store address.
func (c *Cache) resolve(ctx context.Context, e *entry) (*Location, error) {
	c.mu.RLock()
	region, peer := e.region, e.peer
	addr, ok := c.mu.stores[peer.GetStoreId()]
	c.mu.RUnlock()
	if !ok {
		s, err := c.pd.GetStore(ctx, peer.GetStoreId())
		if err != nil {
			return nil, fmt.Errorf("resolve store %d: %w", peer.GetStoreId(), err)
		}
		if s.GetAddress() == "" {
			return nil, fmt.Errorf("%w: store %d has no address", ErrNoRoute, peer.GetStoreId())
		}
		addr = s.GetAddress()
		c.mu.Lock()
		c.mu.stores[peer.GetStoreId()] = addr
		c.mu.Unlock()
	}
	return &Location{Region: region, Peer: peer, Addr: addr}, nil
}

// Regions loads every region from PD into the cache (replacing what it
// held for their ranges) and returns them with their leaders.
func (c *Cache) Regions(ctx context.Context) ([]*pdpb.RegionInfo, error) {
	var (
		out   []*pdpb.RegionInfo
		start []byte
	)
	for {
		infos, err := c.pd.ScanRegions(ctx, start, nil, scanBatch)
		if err != nil {
			return nil, fmt.Errorf("scan regions: %w", err)
		}
		for _, info := range infos {
			if r := info.GetRegion(); r != nil && len(r.GetPeers()) > 0 {
				if _, err := c.insert(r, info.GetLeader()); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, infos...)
		if len(infos) < scanBatch {
			return out, nil
		}
		end := infos[len(infos)-1].GetRegion().GetEndKey()
		if len(end) == 0 {
			return out, nil
		}
		start = end
	}
}
