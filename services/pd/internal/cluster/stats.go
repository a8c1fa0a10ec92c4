package cluster

import (
	"sort"

	"github.com/flaredb/flaredb/proto/metapb"
)

// StoreStatus is how PD classifies a store for monitoring. The statuses are
// exclusive, checked in this order: tombstone (removed for good), offline
// (being removed), down (no heartbeat for MaxStoreDownTime), up.
type StoreStatus string

// The store statuses, in the order metrics list them.
const (
	StoreUp        StoreStatus = "up"
	StoreDown      StoreStatus = "down"
	StoreOffline   StoreStatus = "offline"
	StoreTombstone StoreStatus = "tombstone"
)

// StoreStatuses lists every StoreStatus, so metrics can start each at zero.
var StoreStatuses = []StoreStatus{StoreUp, StoreDown, StoreOffline, StoreTombstone}

// StoreSummary is one store as Summary reports it.
type StoreSummary struct {
	ID     uint64
	Status StoreStatus
	// HasStats is false until the store's first heartbeat since PD
	// started; the byte fields are zero until then.
	HasStats                       bool
	Capacity, Available, UsedBytes uint64
	// RegionCount and LeaderCount are PD's view from region heartbeats:
	// peers of known regions on the store, and regions whose last
	// reported leader is on it.
	RegionCount, LeaderCount int
}

// Summary is a point-in-time view of the cluster for metrics.
type Summary struct {
	Bootstrapped bool
	// Stores counts every store by status, tombstones included.
	Stores map[StoreStatus]int
	// StoreDetails lists the stores that are not tombstone, by id.
	StoreDetails []StoreSummary
	Regions      int
	// RegionsWithoutLeader have no usable leader known to PD: none
	// reported since PD started, the reported one is no longer a peer, or
	// it is on a store that is down or tombstone.
	RegionsWithoutLeader int
	// RegionsMissPeer have fewer peers than MaxReplicas, RegionsExtraPeer
	// more; RegionsDownPeer have a peer on a down or tombstone store.
	RegionsMissPeer, RegionsExtraPeer, RegionsDownPeer int
}

// storeStatusLocked classifies e; see StoreStatus.
func (c *Cluster) storeStatusLocked(e *storeEntry) StoreStatus {
	switch {
	case e.meta.GetState() == metapb.StoreState_Tombstone:
		return StoreTombstone
	case e.meta.GetState() == metapb.StoreState_Offline:
		return StoreOffline
	case c.downLocked(e):
		return StoreDown
	}
	return StoreUp
}

// Summary computes the monitoring view. It walks every store and region
// under the read lock, so it is meant for scrapes, not hot paths.
func (c *Cluster) Summary() Summary {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sum := Summary{
		Bootstrapped: c.mu.bootstrapped,
		Stores:       make(map[StoreStatus]int, len(StoreStatuses)),
		Regions:      len(c.mu.regions),
	}
	for _, st := range StoreStatuses {
		sum.Stores[st] = 0
	}
	byID := make(map[uint64]*StoreSummary, len(c.mu.stores))
	// unusable marks stores whose peers cannot serve: down or tombstone.
	unusable := make(map[uint64]bool, len(c.mu.stores))
	for id, e := range c.mu.stores {
		status := c.storeStatusLocked(e)
		sum.Stores[status]++
		unusable[id] = status == StoreDown || status == StoreTombstone
		if status == StoreTombstone {
			continue
		}
		ss := &StoreSummary{ID: id, Status: status}
		if e.stats != nil {
			ss.HasStats = true
			ss.Capacity, ss.Available, ss.UsedBytes = e.stats.GetCapacity(), e.stats.GetAvailable(), e.stats.GetUsedSize()
		}
		byID[id] = ss
	}
	for _, r := range c.mu.regions {
		peers := r.region.GetPeers()
		leaderOK := false
		downPeer := false
		for _, p := range peers {
			if s := byID[p.GetStoreId()]; s != nil {
				s.RegionCount++
			}
			downPeer = downPeer || unusable[p.GetStoreId()]
			if r.leader != nil && p.GetId() == r.leader.GetId() && !unusable[p.GetStoreId()] {
				leaderOK = true
				if s := byID[p.GetStoreId()]; s != nil {
					s.LeaderCount++
				}
			}
		}
		if !leaderOK {
			sum.RegionsWithoutLeader++
		}
		if downPeer {
			sum.RegionsDownPeer++
		}
		switch {
		case len(peers) < c.cfg.MaxReplicas:
			sum.RegionsMissPeer++
		case len(peers) > c.cfg.MaxReplicas:
			sum.RegionsExtraPeer++
		}
	}
	sum.StoreDetails = make([]StoreSummary, 0, len(byID))
	for _, s := range byID {
		sum.StoreDetails = append(sum.StoreDetails, *s)
	}
	sort.Slice(sum.StoreDetails, func(i, j int) bool { return sum.StoreDetails[i].ID < sum.StoreDetails[j].ID })
	return sum
}
