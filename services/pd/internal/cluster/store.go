package cluster

import (
	"fmt"
	"sort"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/schedule"
)

func validateStore(s *metapb.Store) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: store is missing", ErrInvalidArgument)
	case s.GetId() == 0:
		return fmt.Errorf("%w: store id must be non-zero", ErrInvalidArgument)
	case s.GetAddress() == "":
		return fmt.Errorf("%w: store %d has an empty address", ErrInvalidArgument, s.GetId())
	}
	return nil
}

func cloneStore(s *metapb.Store) *metapb.Store { return proto.Clone(s).(*metapb.Store) }

// PutStore adds or updates a store. A tombstone store cannot come back and
// two live stores cannot share an address.
func (c *Cluster) PutStore(store *metapb.Store) error {
	if err := validateStore(store); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mu.bootstrapped {
		return ErrNotBootstrapped
	}
	for id, e := range c.mu.stores {
		if id != store.GetId() && e.meta.GetAddress() == store.GetAddress() && e.meta.GetState() != metapb.StoreState_Tombstone {
			return fmt.Errorf("%w: address %s is already used by store %d", ErrInvalidArgument, store.GetAddress(), id)
		}
	}
	old := c.mu.stores[store.GetId()]
	if old != nil && old.meta.GetState() == metapb.StoreState_Tombstone {
		return fmt.Errorf("%w: store %d", ErrStoreTombstone, store.GetId())
	}
	meta := cloneStore(store)
	meta.NodeState, meta.LastHeartbeatUnixMs = 0, 0
	if err := c.st.SaveStore(meta); err != nil {
		return fmt.Errorf("cluster: save store: %w", err)
	}
	if old == nil {
		c.mu.stores[meta.GetId()] = &storeEntry{meta: meta, lastSeen: c.now()}
		c.lg.Info("store added", zap.Uint64("store-id", meta.GetId()), zap.String("address", meta.GetAddress()))
		return nil
	}
	old.meta = meta
	old.lastSeen = c.now()
	return nil
}

// StoreHeartbeat records a store's stats and marks it alive.
func (c *Cluster) StoreHeartbeat(stats *pdpb.StoreStats) error {
	if stats == nil || stats.GetStoreId() == 0 {
		return fmt.Errorf("%w: store heartbeat needs stats with a non-zero store id", ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mu.bootstrapped {
		return ErrNotBootstrapped
	}
	e := c.mu.stores[stats.GetStoreId()]
	if e == nil {
		return fmt.Errorf("%w: store %d", ErrStoreNotFound, stats.GetStoreId())
	}
	if e.meta.GetState() == metapb.StoreState_Tombstone {
		return fmt.Errorf("%w: store %d", ErrStoreTombstone, stats.GetStoreId())
	}
	now := c.now()
	e.stats = proto.Clone(stats).(*pdpb.StoreStats)
	e.lastHeartbeat, e.lastSeen = now, now
	return nil
}

// viewLocked fills the liveness fields PD derives from heartbeats.
func (c *Cluster) viewLocked(e *storeEntry) *metapb.Store {
	s := cloneStore(e.meta)
	switch {
	case s.GetState() == metapb.StoreState_Tombstone:
		s.NodeState = metapb.NodeState_Removed
	case c.downLocked(e):
		s.NodeState = metapb.NodeState_Down
	default:
		s.NodeState = metapb.NodeState_Serving
	}
	if !e.lastHeartbeat.IsZero() {
		s.LastHeartbeatUnixMs = e.lastHeartbeat.UnixMilli()
	}
	return s
}

func (c *Cluster) downLocked(e *storeEntry) bool {
	return c.now().Sub(e.lastSeen) > c.cfg.MaxStoreDownTime
}

// GetStore returns a store with its liveness filled in and its last stats
// (nil before the first heartbeat).
func (c *Cluster) GetStore(id uint64) (*metapb.Store, *pdpb.StoreStats, error) {
	if id == 0 {
		return nil, nil, fmt.Errorf("%w: store id must be non-zero", ErrInvalidArgument)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.mu.bootstrapped {
		return nil, nil, ErrNotBootstrapped
	}
	e := c.mu.stores[id]
	if e == nil {
		return nil, nil, fmt.Errorf("%w: store %d", ErrStoreNotFound, id)
	}
	var stats *pdpb.StoreStats
	if e.stats != nil {
		stats = proto.Clone(e.stats).(*pdpb.StoreStats)
	}
	return c.viewLocked(e), stats, nil
}

// GetAllStores returns every store ordered by id.
func (c *Cluster) GetAllStores(excludeTombstone bool) ([]*metapb.Store, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.mu.bootstrapped {
		return nil, ErrNotBootstrapped
	}
	out := make([]*metapb.Store, 0, len(c.mu.stores))
	for _, e := range c.mu.stores {
		if excludeTombstone && e.meta.GetState() == metapb.StoreState_Tombstone {
			continue
		}
		out = append(out, c.viewLocked(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out, nil
}

// storeInfosLocked summarises stores for the scheduler.
func (c *Cluster) storeInfosLocked() []schedule.StoreInfo {
	counts := make(map[uint64]int, len(c.mu.stores))
	for _, r := range c.mu.regions {
		for _, p := range r.region.GetPeers() {
			counts[p.GetStoreId()]++
		}
	}
	out := make([]schedule.StoreInfo, 0, len(c.mu.stores))
	for id, e := range c.mu.stores {
		out = append(out, schedule.StoreInfo{
			ID:          id,
			Down:        c.downLocked(e),
			Tombstone:   e.meta.GetState() == metapb.StoreState_Tombstone,
			RegionCount: counts[id],
		})
	}
	return out
}
