package main

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flaredb/flaredb/libs/client"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// Cluster commands: tso, status.
func init() {
	register(&command{
		name: "tso", summary: "get a timestamp from PD's oracle",
		setup: setupTSO,
	})
	register(&command{
		name: "status", summary: "list stores (liveness, last heartbeat) and regions (range, epoch, peers, leader)",
		setup: setupStatus,
	})
}

type tsoOut struct {
	TS         uint64 `json:"ts"`
	PhysicalMs int64  `json:"physical_ms"`
	Logical    int64  `json:"logical"`
}

func setupTSO(*flag.FlagSet) runFunc {
	return func(e *env, _ []string) error {
		c, err := e.Client()
		if err != nil {
			return err
		}
		ts, err := c.GetTS(e.ctx)
		if err != nil {
			return err
		}
		physical, logical := client.ParseTS(ts)
		return e.emit(tsoOut{TS: ts, PhysicalMs: physical, Logical: logical},
			fmt.Sprintf("ts=%d physical=%s logical=%d", ts,
				time.UnixMilli(physical).UTC().Format(time.RFC3339Nano), logical))
	}
}

type storeOut struct {
	Type                string `json:"type"` // "store"
	ID                  uint64 `json:"id"`
	Address             string `json:"address"`
	State               string `json:"state"`
	LastHeartbeat       string `json:"last_heartbeat"`
	LastHeartbeatUnixMs int64  `json:"last_heartbeat_unix_ms"`
}

type epochOut struct {
	ConfVer uint64 `json:"conf_ver"`
	Version uint64 `json:"version"`
}

type peerOut struct {
	ID      uint64 `json:"id"`
	StoreID uint64 `json:"store_id"`
	Role    string `json:"role"`
}

type regionOut struct {
	Type     string    `json:"type"` // "region"
	ID       uint64    `json:"id"`
	StartKey any       `json:"start_key"`
	EndKey   any       `json:"end_key"`
	Epoch    epochOut  `json:"epoch"`
	Peers    []peerOut `json:"peers"`
	Leader   *peerOut  `json:"leader"`
}

// storeState is "up" or "down" as PD sees the store's heartbeats, or
// "removed" for a tombstoned store.
func storeState(s *metapb.Store) string {
	switch s.GetNodeState() {
	case metapb.NodeState_Down:
		return "down"
	case metapb.NodeState_Removed:
		return "removed"
	default:
		return "up"
	}
}

func heartbeat(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

func toPeer(p *metapb.Peer) peerOut {
	return peerOut{ID: p.GetId(), StoreID: p.GetStoreId(), Role: strings.ToLower(p.GetRole().String())}
}

func setupStatus(*flag.FlagSet) runFunc {
	return func(e *env, _ []string) error {
		c, err := e.Client()
		if err != nil {
			return err
		}
		stores, err := c.Stores(e.ctx)
		if err != nil {
			return err
		}
		regions, err := c.Regions(e.ctx)
		if err != nil {
			return err
		}
		if e.json() {
			return statusJSON(e, stores, regions)
		}
		return statusText(e, stores, regions)
	}
}

func regionJSON(e *env, info *pdpb.RegionInfo) regionOut {
	r := info.GetRegion()
	out := regionOut{Type: "region", ID: r.GetId(),
		StartKey: e.jsonBytes(nonNil(r.GetStartKey())), EndKey: e.jsonBytes(nonNil(r.GetEndKey())),
		Epoch: epochOut{ConfVer: r.GetRegionEpoch().GetConfVer(), Version: r.GetRegionEpoch().GetVersion()},
		Peers: []peerOut{}}
	for _, p := range r.GetPeers() {
		out.Peers = append(out.Peers, toPeer(p))
	}
	if l := info.GetLeader(); l != nil && l.GetId() != 0 {
		lp := toPeer(l)
		out.Leader = &lp
	}
	return out
}

func statusJSON(e *env, stores []*metapb.Store, regions []*pdpb.RegionInfo) error {
	for _, s := range stores {
		if err := e.emit(storeOut{Type: "store", ID: s.GetId(), Address: s.GetAddress(), State: storeState(s),
			LastHeartbeat: heartbeat(s.GetLastHeartbeatUnixMs()), LastHeartbeatUnixMs: s.GetLastHeartbeatUnixMs()}, ""); err != nil {
			return err
		}
	}
	for _, info := range regions {
		if err := e.emit(regionJSON(e, info), ""); err != nil {
			return err
		}
	}
	return nil
}

func statusText(e *env, stores []*metapb.Store, regions []*pdpb.RegionInfo) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tSTATE\tLAST HEARTBEAT")
	for _, s := range stores {
		hb := heartbeat(s.GetLastHeartbeatUnixMs())
		if hb == "" {
			hb = "never"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.GetId(), s.GetAddress(), storeState(s), hb)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	buf.WriteString("\n")
	tw = tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tRANGE\tEPOCH\tPEERS\tLEADER")
	for _, info := range regions {
		r := info.GetRegion()
		var peers []string
		for _, p := range r.GetPeers() {
			peers = append(peers, peerText(p))
		}
		leader := "none"
		if l := info.GetLeader(); l != nil && l.GetId() != 0 {
			leader = peerText(l)
		}
		fmt.Fprintf(tw, "%d\t[%s, %s)\tconf_ver=%d version=%d\t%s\t%s\n", r.GetId(),
			e.textBytes(r.GetStartKey()), e.textBytes(r.GetEndKey()),
			r.GetRegionEpoch().GetConfVer(), r.GetRegionEpoch().GetVersion(), strings.Join(peers, ","), leader)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := e.w.Write(buf.Bytes())
	return err
}

// peerText is "peer@store", with the role when not a voter.
func peerText(p *metapb.Peer) string {
	s := fmt.Sprintf("%d@%d", p.GetId(), p.GetStoreId())
	if p.GetRole() != metapb.PeerRole_Voter {
		s += "(" + strings.ToLower(p.GetRole().String()) + ")"
	}
	return s
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
