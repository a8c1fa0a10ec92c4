package locate

import (
	"bytes"
	"fmt"
	"sort"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/metapb"
)

// lowerLocked returns the index of the last region whose start key is
// strictly below key (every region when key is empty, meaning +infinity), or
// -1. The caller holds c.mu.
func (c *Cache) lowerLocked(key []byte) int {
	rs := c.mu.regions
	if len(key) == 0 {
		return len(rs) - 1
	}
	i := sort.Search(len(rs), func(i int) bool {
		return bytes.Compare(rs[i].region.GetStartKey(), key) >= 0
	})
	return i - 1
}

// searchLocked returns the cached entry containing key, or nil.
func (c *Cache) searchLocked(key []byte) *entry {
	rs := c.mu.regions
	// First region whose start is above key; the candidate is the one before.
	i := sort.Search(len(rs), func(i int) bool {
		return bytes.Compare(rs[i].region.GetStartKey(), key) > 0
	})
	if i == 0 {
		return nil
	}
	if e := rs[i-1]; contains(e.region, key) {
		return e
	}
	return nil
}

// searchEndLocked returns the cached entry holding the keys just below key.
func (c *Cache) searchEndLocked(key []byte) *entry {
	i := c.lowerLocked(key)
	if i < 0 {
		return nil
	}
	if e := c.mu.regions[i]; endContains(e.region, key) {
		return e
	}
	return nil
}

// insert caches region r with leader (nil when unknown: the first peer is
// tried), dropping every cached region that overlaps it.
func (c *Cache) insert(r *metapb.Region, leader *metapb.Peer) (*entry, error) {
	if len(r.GetPeers()) == 0 {
		return nil, fmt.Errorf("%w: region %d has no peers", ErrNoRoute, r.GetId())
	}
	peer := r.GetPeers()[0]
	if leader != nil && leader.GetId() != 0 {
		if p := findPeer(r, leader.GetId()); p != nil {
			peer = p
		}
	}
	e := &entry{region: r, peer: peer}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insertLocked(e)
	return e, nil
}

func (c *Cache) insertLocked(e *entry) {
	kept := c.mu.regions[:0:0]
	for _, old := range c.mu.regions {
		if !overlaps(old.region, e.region) {
			kept = append(kept, old)
		}
	}
	i := sort.Search(len(kept), func(i int) bool {
		return bytes.Compare(kept[i].region.GetStartKey(), e.region.GetStartKey()) > 0
	})
	kept = append(kept, nil)
	copy(kept[i+1:], kept[i:])
	kept[i] = e
	c.mu.regions = kept
}

func overlaps(a, b *metapb.Region) bool {
	// a starts before b ends and b starts before a ends.
	aBeforeBEnd := len(b.GetEndKey()) == 0 || bytes.Compare(a.GetStartKey(), b.GetEndKey()) < 0
	bBeforeAEnd := len(a.GetEndKey()) == 0 || bytes.Compare(b.GetStartKey(), a.GetEndKey()) < 0
	return aBeforeBEnd && bBeforeAEnd
}

func findPeer(r *metapb.Region, peerID uint64) *metapb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetId() == peerID {
			return p
		}
	}
	return nil
}

// entryLocked returns the cached entry for region id, or nil.
func (c *Cache) entryLocked(id uint64) (int, *entry) {
	for i, e := range c.mu.regions {
		if e.region.GetId() == id {
			return i, e
		}
	}
	return -1, nil
}

// OnNotLeader records that the peer addressed for region id is not its
// leader. With a hint the hinted peer is used next (it is added to the
// cached peer list if missing, as the region may have gained it after being
// cached); without one the next peer is tried, and once every peer has been
// tried the region is dropped so the next lookup asks PD.
func (c *Cache) OnNotLeader(id uint64, leader *metapb.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, e := c.entryLocked(id)
	if e == nil {
		return
	}
	if leader != nil && leader.GetId() != 0 && leader.GetId() != e.peer.GetId() {
		r := e.region
		p := findPeer(r, leader.GetId())
		if p == nil {
			r = proto.Clone(r).(*metapb.Region)
			p = proto.Clone(leader).(*metapb.Peer)
			r.Peers = append(r.Peers, p)
		}
		c.mu.regions[i] = &entry{region: r, peer: p}
		c.lg.Debug("region leader changed", zap.Uint64("region-id", id), zap.Uint64("peer-id", p.GetId()),
			zap.Uint64("store-id", p.GetStoreId()))
		return
	}
	c.nextPeerLocked(i, e)
}

// OnPeerUnreachable records that the peer addressed for region id did not
// answer (connection refused, timed out). The next peer is tried, and the
// store's address is forgotten in case the store came back elsewhere.
func (c *Cache) OnPeerUnreachable(id uint64, peer *metapb.Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.stores, peer.GetStoreId())
	i, e := c.entryLocked(id)
	if e == nil || e.peer.GetId() != peer.GetId() {
		return
	}
	c.nextPeerLocked(i, e)
}

func (c *Cache) nextPeerLocked(i int, e *entry) {
	peers := e.region.GetPeers()
	if e.misses+1 >= len(peers) {
		c.dropLocked(i)
		return
	}
	next := peers[0]
	for j, p := range peers {
		if p.GetId() == e.peer.GetId() {
			next = peers[(j+1)%len(peers)]
			break
		}
	}
	c.mu.regions[i] = &entry{region: e.region, peer: next, misses: e.misses + 1}
}

func (c *Cache) dropLocked(i int) {
	c.mu.regions = append(c.mu.regions[:i:i], c.mu.regions[i+1:]...)
}

// OnEpochNotMatch replaces region id with the regions the store reported as
// now covering its range. With none reported the region is just dropped.
// storeID is the store that answered: it led the old region, so its peer is
// the best guess for the leader of the new ones.
func (c *Cache) OnEpochNotMatch(id uint64, current []*metapb.Region, storeID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, e := c.entryLocked(id); e != nil {
		c.dropLocked(i)
	}
	for _, r := range current {
		if len(r.GetPeers()) == 0 {
			continue
		}
		peer := r.GetPeers()[0]
		for _, p := range r.GetPeers() {
			if p.GetStoreId() == storeID {
				peer = p
				break
			}
		}
		// A wrong guess is corrected by the NotLeader that follows.
		c.insertLocked(&entry{region: r, peer: peer})
	}
}

// Invalidate drops region id so the next lookup asks PD.
func (c *Cache) Invalidate(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, e := c.entryLocked(id); e != nil {
		c.dropLocked(i)
	}
}

// InvalidateStore forgets the address of store id.
func (c *Cache) InvalidateStore(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.stores, id)
}
