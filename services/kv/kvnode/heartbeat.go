package kvnode

import (
	"context"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// startHeartbeats runs the store and region heartbeat loops until Stop. Both
// send once immediately: PD learns the region's leader from the first region
// heartbeat, and clients cannot route until it has.
func (n *Node) startHeartbeats() {
	ctx, cancel := context.WithCancel(context.Background())
	n.stopLoops = cancel
	n.pdc.SetRegionHeartbeatHandler(n.backend.HandleRegionHeartbeatResponse)
	n.loops.Add(1)
	go n.every(ctx, n.cfg.PD.StoreHeartbeatInterval, n.storeHeartbeat)
	if _, raft := n.backend.(*raftBackend); !raft {
		// The Raft store sends its own region heartbeats (on leadership
		// change and every interval); only the single-node backend needs
		// this loop.
		n.loops.Add(1)
		go n.every(ctx, n.cfg.PD.RegionHeartbeatInterval, n.regionHeartbeats)
	}
}

// every calls fn now and then every interval until ctx is done.
func (n *Node) every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	defer n.loops.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) storeHeartbeat(ctx context.Context) {
	es := n.engine.Stats()
	stats := &pdpb.StoreStats{
		StoreId:      n.storeID,
		UsedSize:     es.LiveDataBytes,
		RegionCount:  uint32(n.backend.RegionCount()),
		LeaderCount:  uint32(n.backend.LeaderCount()),
		BytesWritten: es.BytesWritten,
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(n.cfg.DataDir, &fs); err == nil {
		stats.Capacity = fs.Blocks * uint64(fs.Bsize)
		stats.Available = fs.Bavail * uint64(fs.Bsize)
	}
	// A heartbeat must not outlive its period, or a stuck PD would pile
	// them up.
	ctx, cancel := context.WithTimeout(ctx, n.cfg.PD.StoreHeartbeatInterval)
	defer cancel()
	if err := n.pdc.StoreHeartbeat(ctx, stats); err != nil && ctx.Err() == nil {
		n.lg.Warn("store heartbeat failed", zap.Uint64("store-id", n.storeID), zap.Error(err))
	}
}

func (n *Node) regionHeartbeats(context.Context) {
	for _, req := range n.backend.RegionHeartbeats() {
		if err := n.pdc.ReportRegion(req); err != nil {
			n.lg.Warn("region heartbeat not sent",
				zap.Uint64("region-id", req.GetRegion().GetId()), zap.Error(err))
		}
	}
}
