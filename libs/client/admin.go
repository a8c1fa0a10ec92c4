package client

import (
	"context"

	"github.com/flaredb/flaredb/libs/client/internal/locate"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// ChangePeer asks region regionID's leader to add or remove peer and returns
// the region as changed. The call returns once the leader has proposed and
// applied the change; the new peer may still be catching up.
func (c *Client) ChangePeer(ctx context.Context, regionID uint64, changeType kvrpcpb.ConfChangeType, peer *metapb.Peer) (*metapb.Region, error) {
	var (
		region *metapb.Region
		leader uint64 // store that answered, i.e. the leader's
	)
	plan := oneRoute(func(ctx context.Context) (*locate.Location, error) { return c.cache.LocateByID(ctx, regionID) })
	err := c.run(ctx, "change_peer", 1, plan,
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			resp, err := kv.ChangePeer(ctx, &kvrpcpb.ChangePeerRequest{
				Context: loc.RPCContext(), ChangeType: changeType, Peer: peer,
			})
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			region, leader = resp.GetRegion(), loc.Peer.GetStoreId()
			return nil, nil
		})
	if err != nil {
		return nil, err
	}
	// The region's epoch changed: route later requests with the new one.
	if region != nil {
		c.cache.OnEpochNotMatch(regionID, []*metapb.Region{region}, leader)
	}
	return region, nil
}

// TransferLeader asks region regionID's leader to hand leadership to toPeer.
// It returns once the transfer has been started, not when it completed.
func (c *Client) TransferLeader(ctx context.Context, regionID uint64, toPeer *metapb.Peer) error {
	plan := oneRoute(func(ctx context.Context) (*locate.Location, error) { return c.cache.LocateByID(ctx, regionID) })
	err := c.run(ctx, "transfer_leader", 1, plan,
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			resp, err := kv.TransferLeader(ctx, &kvrpcpb.TransferLeaderRequest{Context: loc.RPCContext(), Peer: toPeer})
			return resp.GetRegionError(), err
		})
	if err != nil {
		return err
	}
	c.cache.OnNotLeader(regionID, toPeer)
	return nil
}
