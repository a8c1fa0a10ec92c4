package cluster

import (
	"bytes"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/schedule"
)

func validateRegion(r *metapb.Region) error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: region is missing", ErrInvalidArgument)
	case r.GetId() == 0:
		return fmt.Errorf("%w: region id must be non-zero", ErrInvalidArgument)
	case len(r.GetEndKey()) != 0 && bytes.Compare(r.GetStartKey(), r.GetEndKey()) >= 0:
		return fmt.Errorf("%w: region %d start key %q is not below end key %q", ErrInvalidArgument, r.GetId(), r.GetStartKey(), r.GetEndKey())
	}
	return nil
}

// staleAgainst reports whether epoch a is older than b in either dimension.
func staleAgainst(a, b *metapb.RegionEpoch) bool {
	return a.GetVersion() < b.GetVersion() || a.GetConfVer() < b.GetConfVer()
}

// RegionHeartbeat records the leader's view of a region and returns the
// scheduling step to send back (nil for none).
//
// PD keeps the newest region by epoch: a heartbeat whose version or conf_ver
// is below the known one is rejected with ErrStaleRegion, as is one whose
// range overlaps a region with a newer version (it predates a split or merge
// PD already knows). Regions it overlaps that are not newer are replaced.
func (c *Cluster) RegionHeartbeat(req *pdpb.RegionHeartbeatRequest) (*schedule.Step, error) {
	r := req.GetRegion()
	if err := validateRegion(r); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mu.bootstrapped {
		return nil, ErrNotBootstrapped
	}
	old := c.mu.regions[r.GetId()]
	if old != nil && staleAgainst(r.GetRegionEpoch(), old.region.GetRegionEpoch()) {
		return nil, fmt.Errorf("%w: region %d epoch %v is older than known %v",
			ErrStaleRegion, r.GetId(), r.GetRegionEpoch(), old.region.GetRegionEpoch())
	}
	var replaced []*regionEntry
	for _, o := range c.mu.index.overlaps(r.GetStartKey(), r.GetEndKey()) {
		if o.region.GetId() == r.GetId() {
			continue
		}
		if o.region.GetRegionEpoch().GetVersion() > r.GetRegionEpoch().GetVersion() {
			return nil, fmt.Errorf("%w: region %d version %d overlaps region %d with newer version %d",
				ErrStaleRegion, r.GetId(), r.GetRegionEpoch().GetVersion(), o.region.GetId(), o.region.GetRegionEpoch().GetVersion())
		}
		replaced = append(replaced, o)
	}
	changed := old == nil || len(replaced) > 0 || !proto.Equal(old.region, r)
	if changed {
		if len(replaced) > 0 {
			ids := make([]uint64, len(replaced))
			for i, o := range replaced {
				ids[i] = o.region.GetId()
			}
			if err := c.st.DeleteRegions(ids); err != nil {
				return nil, fmt.Errorf("cluster: delete replaced regions: %w", err)
			}
		}
		if err := c.st.SaveRegion(r); err != nil {
			return nil, fmt.Errorf("cluster: save region: %w", err)
		}
		for _, o := range replaced {
			c.mu.index.remove(o)
			delete(c.mu.regions, o.region.GetId())
			c.sched.Forget(o.region.GetId())
			c.lg.Info("region replaced", zap.Uint64("region-id", o.region.GetId()), zap.Uint64("by-region-id", r.GetId()))
		}
		if old != nil {
			c.mu.index.remove(old)
		}
	}
	e := old
	if changed {
		e = &regionEntry{region: proto.Clone(r).(*metapb.Region)}
		if old != nil {
			e.leader = old.leader
		}
		c.mu.regions[r.GetId()] = e
		c.mu.index.insert(e)
	}
	if req.GetLeader() != nil {
		e.leader = proto.Clone(req.GetLeader()).(*metapb.Peer)
	}
	e.size, e.keys = req.GetApproximateSize(), req.GetApproximateKeys()
	return c.sched.OnHeartbeat(e.region, e.leader, c.storeInfosLocked(), c.now(), c.ids.Alloc)
}

func cloneInfo(e *regionEntry) (*metapb.Region, *metapb.Peer) {
	var leader *metapb.Peer
	if e.leader != nil {
		leader = proto.Clone(e.leader).(*metapb.Peer)
	}
	return proto.Clone(e.region).(*metapb.Region), leader
}

// GetRegion returns the region containing key and its last reported leader
// (nil if none reported since PD started).
func (c *Cluster) GetRegion(key []byte) (*metapb.Region, *metapb.Peer, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.mu.bootstrapped {
		return nil, nil, ErrNotBootstrapped
	}
	e := c.mu.index.find(key)
	if e == nil {
		return nil, nil, fmt.Errorf("%w: no region contains key %q", ErrRegionNotFound, key)
	}
	r, l := cloneInfo(e)
	return r, l, nil
}

// GetRegionByID returns a region and its last reported leader.
func (c *Cluster) GetRegionByID(id uint64) (*metapb.Region, *metapb.Peer, error) {
	if id == 0 {
		return nil, nil, fmt.Errorf("%w: region id must be non-zero", ErrInvalidArgument)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.mu.bootstrapped {
		return nil, nil, ErrNotBootstrapped
	}
	e := c.mu.regions[id]
	if e == nil {
		return nil, nil, fmt.Errorf("%w: region %d", ErrRegionNotFound, id)
	}
	r, l := cloneInfo(e)
	return r, l, nil
}

// ScanRegions returns up to limit regions intersecting [start, end) in key
// order; an empty end means to the end of the key space.
func (c *Cluster) ScanRegions(start, end []byte, limit int) ([]*pdpb.RegionInfo, error) {
	if limit < 0 {
		return nil, fmt.Errorf("%w: limit %d is negative", ErrInvalidArgument, limit)
	}
	if len(end) != 0 && bytes.Compare(start, end) > 0 {
		return nil, fmt.Errorf("%w: start key %q is above end key %q", ErrInvalidArgument, start, end)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.mu.bootstrapped {
		return nil, ErrNotBootstrapped
	}
	found := c.mu.index.scan(start, end, limit)
	out := make([]*pdpb.RegionInfo, len(found))
	for i, e := range found {
		r, l := cloneInfo(e)
		out[i] = &pdpb.RegionInfo{Region: r, Leader: l}
	}
	return out, nil
}

// RegionCount is the number of regions PD knows.
func (c *Cluster) RegionCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.mu.regions)
}

// QueueOperator validates a manual scheduling step and queues it for the
// region's next heartbeat. An AddNode peer with id 0 gets a fresh id.
func (c *Cluster) QueueOperator(regionID uint64, cp *pdpb.ChangePeer, tl *pdpb.TransferLeader) error {
	if regionID == 0 {
		return fmt.Errorf("%w: region id must be non-zero", ErrInvalidArgument)
	}
	if (cp == nil) == (tl == nil) {
		return fmt.Errorf("%w: operator needs exactly one of change_peer and transfer_leader", ErrInvalidArgument)
	}
	c.mu.RLock()
	e := c.mu.regions[regionID]
	var region *metapb.Region
	if e != nil {
		region = e.region
	}
	stores := c.mu.stores
	bootstrapped := c.mu.bootstrapped
	var storeOK bool
	if cp != nil && cp.GetPeer() != nil {
		s := stores[cp.GetPeer().GetStoreId()]
		storeOK = s != nil && s.meta.GetState() != metapb.StoreState_Tombstone
	}
	c.mu.RUnlock()
	switch {
	case !bootstrapped:
		return ErrNotBootstrapped
	case region == nil:
		return fmt.Errorf("%w: region %d", ErrRegionNotFound, regionID)
	}
	step := schedule.Step{}
	if cp != nil {
		peer := cp.GetPeer()
		if peer == nil || peer.GetStoreId() == 0 {
			return fmt.Errorf("%w: change_peer needs a peer with a store id", ErrInvalidArgument)
		}
		if !storeOK {
			return fmt.Errorf("%w: store %d", ErrStoreNotFound, peer.GetStoreId())
		}
		onStore := peerOnStore(region, peer.GetStoreId())
		switch cp.GetChangeType() {
		case kvrpcpb.ConfChangeType_AddNode, kvrpcpb.ConfChangeType_AddLearnerNode:
			if onStore != nil && onStore.GetRole() == peer.GetRole() {
				return fmt.Errorf("%w: region %d already has a peer on store %d", ErrInvalidArgument, regionID, peer.GetStoreId())
			}
			peer = proto.Clone(peer).(*metapb.Peer)
			if onStore != nil {
				peer.Id = onStore.GetId() // promoting a learner keeps its id
			} else if peer.GetId() == 0 {
				id, err := c.ids.Alloc()
				if err != nil {
					return err
				}
				peer.Id = id
			}
		case kvrpcpb.ConfChangeType_RemoveNode:
			if onStore == nil {
				return fmt.Errorf("%w: region %d has no peer on store %d", ErrInvalidArgument, regionID, peer.GetStoreId())
			}
			peer = proto.Clone(onStore).(*metapb.Peer)
		default:
			return fmt.Errorf("%w: unknown change type %v", ErrInvalidArgument, cp.GetChangeType())
		}
		step.ChangePeer = &pdpb.ChangePeer{Peer: peer, ChangeType: cp.GetChangeType()}
	} else {
		target := tl.GetPeer()
		if target == nil {
			return fmt.Errorf("%w: transfer_leader needs a peer", ErrInvalidArgument)
		}
		p := peerOnStore(region, target.GetStoreId())
		if p == nil || (target.GetId() != 0 && p.GetId() != target.GetId()) {
			return fmt.Errorf("%w: region %d has no peer %d on store %d", ErrInvalidArgument, regionID, target.GetId(), target.GetStoreId())
		}
		step.TransferLeader = &pdpb.TransferLeader{Peer: proto.Clone(p).(*metapb.Peer)}
	}
	c.sched.Queue(regionID, step)
	c.lg.Info("operator queued", zap.Uint64("region-id", regionID), zap.Bool("change-peer", step.ChangePeer != nil))
	return nil
}

func peerOnStore(r *metapb.Region, storeID uint64) *metapb.Peer {
	for _, p := range r.GetPeers() {
		if p.GetStoreId() == storeID {
			return p
		}
	}
	return nil
}
