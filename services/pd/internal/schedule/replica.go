package schedule

import (
	"sort"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// StoreInfo is what the checker needs to know about one store.
type StoreInfo struct {
	ID uint64
	// Down is set once the store has not heartbeated for MaxStoreDownTime.
	Down bool
	// Tombstone stores never receive replicas.
	Tombstone bool
	// RegionCount is the number of region peers PD knows on the store.
	RegionCount int
}

// usable reports whether the store can take a new replica.
func (s StoreInfo) usable() bool { return !s.Down && !s.Tombstone }

// CheckReplicas returns the membership step a region needs, or nil.
//
//   - Fewer than maxReplicas peers and an up store without a peer of the
//     region: add a voter on the up store with the fewest regions (ties to
//     the lowest id, so the choice is deterministic). newPeerID is called
//     only when a peer is actually added.
//   - Otherwise, a peer on a down store while an up store without a peer
//     exists: remove that peer; the add follows on a later heartbeat once the
//     region has too few peers.
func CheckReplicas(region *metapb.Region, stores []StoreInfo, maxReplicas int, newPeerID func() (uint64, error)) (*pdpb.ChangePeer, error) {
	has := make(map[uint64]bool, len(region.GetPeers()))
	for _, p := range region.GetPeers() {
		has[p.GetStoreId()] = true
	}
	byID := make(map[uint64]StoreInfo, len(stores))
	var free []StoreInfo
	for _, s := range stores {
		byID[s.ID] = s
		if s.usable() && !has[s.ID] {
			free = append(free, s)
		}
	}
	if len(free) == 0 {
		return nil, nil
	}
	if len(region.GetPeers()) < maxReplicas {
		sort.Slice(free, func(i, j int) bool {
			if free[i].RegionCount != free[j].RegionCount {
				return free[i].RegionCount < free[j].RegionCount
			}
			return free[i].ID < free[j].ID
		})
		id, err := newPeerID()
		if err != nil {
			return nil, err
		}
		return &pdpb.ChangePeer{
			ChangeType: kvrpcpb.ConfChangeType_AddNode,
			Peer:       &metapb.Peer{Id: id, StoreId: free[0].ID, Role: metapb.PeerRole_Voter},
		}, nil
	}
	for _, p := range region.GetPeers() {
		if s, ok := byID[p.GetStoreId()]; ok && s.Down {
			return &pdpb.ChangePeer{
				ChangeType: kvrpcpb.ConfChangeType_RemoveNode,
				Peer:       clonePeer(p),
			}, nil
		}
	}
	return nil, nil
}

func clonePeer(p *metapb.Peer) *metapb.Peer {
	return &metapb.Peer{Id: p.GetId(), StoreId: p.GetStoreId(), Role: p.GetRole()}
}
