package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/flaredb/flaredb/libs/pdclient"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// Region commands: membership changes and leader transfer, sent to the
// region's leader through the SDK. They are what PD's replica checker does
// automatically, for an operator who wants to do it by hand.
func init() {
	register(&command{
		name: "region add-peer", args: "REGION_ID STORE_ID", minArgs: 2, maxArgs: 2,
		summary: "add a voter of the region on the store (peer id allocated by PD)",
		setup:   setupRegionChange(kvrpcpb.ConfChangeType_AddNode),
	})
	register(&command{
		name: "region remove-peer", args: "REGION_ID STORE_ID", minArgs: 2, maxArgs: 2,
		summary: "remove the region's peer on the store",
		setup:   setupRegionChange(kvrpcpb.ConfChangeType_RemoveNode),
	})
	register(&command{
		name: "region transfer-leader", args: "REGION_ID STORE_ID", minArgs: 2, maxArgs: 2,
		summary: "ask the region's leader to hand leadership to its peer on the store",
		setup:   setupTransferLeader,
	})
}

// regionChangeOut is the result of add-peer and remove-peer.
type regionChangeOut struct {
	Type     string    `json:"type"` // "region"
	Action   string    `json:"action"`
	RegionID uint64    `json:"region_id"`
	Peer     peerOut   `json:"peer"`
	Epoch    epochOut  `json:"epoch"`
	Peers    []peerOut `json:"peers"`
}

type transferOut struct {
	Type     string  `json:"type"` // "region"
	Action   string  `json:"action"`
	RegionID uint64  `json:"region_id"`
	To       peerOut `json:"to"`
}

// parseIDs reads the REGION_ID STORE_ID arguments.
func parseIDs(args []string) (regionID, storeID uint64, err error) {
	names := []string{"REGION_ID", "STORE_ID"}
	ids := make([]uint64, 2)
	for i, a := range args {
		id, perr := strconv.ParseUint(a, 10, 64)
		if perr != nil || id == 0 {
			return 0, 0, usagef("%s %q is not a positive integer", names[i], a)
		}
		ids[i] = id
	}
	return ids[0], ids[1], nil
}

// pdClient connects to PD directly, for what the SDK does not offer
// (allocating ids, reading one region by id). The caller closes it.
func (e *env) pdClient() (*pdclient.Client, error) {
	var endpoints []string
	for _, ep := range strings.Split(e.g.pd, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			endpoints = append(endpoints, ep)
		}
	}
	return pdclient.New(e.ctx, endpoints, nil)
}

// regionPeerOn returns the region's peer on storeID as PD last saw the
// region.
func regionPeerOn(e *env, pd *pdclient.Client, regionID, storeID uint64) (*metapb.Peer, error) {
	region, _, err := pd.GetRegionByID(e.ctx, regionID)
	if err != nil {
		return nil, fmt.Errorf("get region %d from PD: %w", regionID, err)
	}
	if region == nil {
		return nil, fmt.Errorf("region %d not found", regionID)
	}
	for _, p := range region.GetPeers() {
		if p.GetStoreId() == storeID {
			return p, nil
		}
	}
	return nil, fmt.Errorf("region %d has no peer on store %d", regionID, storeID)
}

func setupRegionChange(changeType kvrpcpb.ConfChangeType) func(*flag.FlagSet) runFunc {
	action := "add-peer"
	if changeType == kvrpcpb.ConfChangeType_RemoveNode {
		action = "remove-peer"
	}
	return func(*flag.FlagSet) runFunc {
		return func(e *env, args []string) error {
			regionID, storeID, err := parseIDs(args)
			if err != nil {
				return err
			}
			c, err := e.Client()
			if err != nil {
				return err
			}
			pd, err := e.pdClient()
			if err != nil {
				return err
			}
			defer pd.Close()
			var peer *metapb.Peer
			if changeType == kvrpcpb.ConfChangeType_RemoveNode {
				if peer, err = regionPeerOn(e, pd, regionID, storeID); err != nil {
					return err
				}
			} else {
				// Peer ids are cluster-unique and never reused: PD hands
				// them out, as its replica checker does.
				id, err := pd.AllocID(e.ctx)
				if err != nil {
					return fmt.Errorf("allocate peer id: %w", err)
				}
				peer = &metapb.Peer{Id: id, StoreId: storeID, Role: metapb.PeerRole_Voter}
			}
			region, err := c.ChangePeer(e.ctx, regionID, changeType, peer)
			if err != nil {
				return err
			}
			out := regionChangeOut{Type: "region", Action: action, RegionID: regionID, Peer: toPeer(peer),
				Epoch: epochOut{ConfVer: region.GetRegionEpoch().GetConfVer(), Version: region.GetRegionEpoch().GetVersion()},
				Peers: []peerOut{}}
			var peers []string
			for _, p := range region.GetPeers() {
				out.Peers = append(out.Peers, toPeer(p))
				peers = append(peers, peerText(p))
			}
			return e.emit(out, fmt.Sprintf("region %d: %s %s: conf_ver=%d version=%d peers=%s", regionID, action,
				peerText(peer), out.Epoch.ConfVer, out.Epoch.Version, strings.Join(peers, ",")))
		}
	}
}

func setupTransferLeader(*flag.FlagSet) runFunc {
	return func(e *env, args []string) error {
		regionID, storeID, err := parseIDs(args)
		if err != nil {
			return err
		}
		c, err := e.Client()
		if err != nil {
			return err
		}
		pd, err := e.pdClient()
		if err != nil {
			return err
		}
		defer pd.Close()
		peer, err := regionPeerOn(e, pd, regionID, storeID)
		if err != nil {
			return err
		}
		if err := c.TransferLeader(e.ctx, regionID, peer); err != nil {
			return err
		}
		return e.emit(transferOut{Type: "region", Action: "transfer-leader", RegionID: regionID, To: toPeer(peer)},
			fmt.Sprintf("region %d: transfer-leader to %s started", regionID, peerText(peer)))
	}
}
