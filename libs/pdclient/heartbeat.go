package pdclient

import (
	"context"

	"go.uber.org/zap"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// SetRegionHeartbeatHandler installs the function that receives PD's
// region heartbeat responses (scheduling steps and errors such as
// ErrStaleRegion in the header). It runs on the stream's receive goroutine
// and must not block for long. Set it before the first ReportRegion.
func (c *Client) SetRegionHeartbeatHandler(h func(*pdpb.RegionHeartbeatResponse)) {
	c.hbHandler.Store(&h)
}

// ReportRegion queues a region heartbeat on the long-lived stream and
// returns without waiting. The client owns req afterwards (it sets the
// header). A heartbeat lost to a broken stream is not resent: the next one
// carries newer state.
func (c *Client) ReportRegion(req *pdpb.RegionHeartbeatRequest) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	select {
	case c.hbc <- req:
		return nil
	default:
		return ErrHeartbeatQueueFull
	}
}

// heartbeatLoop owns the region heartbeat stream: it (re)opens it on
// demand, sends queued heartbeats, and runs a receive goroutine per stream
// that feeds the handler.
func (c *Client) heartbeatLoop() {
	defer c.wg.Done()
	var (
		stream  pdpb.PD_RegionHeartbeatClient
		cancel  context.CancelFunc
		brokenc chan struct{}
	)
	reset := func() {
		if cancel != nil {
			cancel()
		}
		stream, cancel, brokenc = nil, nil, nil
	}
	defer reset()
	backoff := backoffBase
	for {
		var req *pdpb.RegionHeartbeatRequest
		select {
		case <-c.ctx.Done():
			return
		case <-brokenc:
			reset()
			continue
		case req = <-c.hbc:
		}
		if stream == nil {
			ctx, cf := context.WithCancel(c.ctx)
			s, err := c.pd().RegionHeartbeat(ctx)
			if err != nil {
				cf()
				c.rotate()
				c.lg.Info("cannot open region heartbeat stream", zap.Error(err))
				if c.sleep(c.ctx, backoff) != nil {
					return
				}
				backoff = min(2*backoff, backoffMax)
				continue
			}
			backoff = backoffBase
			stream, cancel, brokenc = s, cf, make(chan struct{})
			if c.m != nil {
				c.m.reconnects.WithLabelValues("region-heartbeat").Inc()
			}
			c.wg.Add(1)
			go c.recvHeartbeats(s, brokenc)
		}
		req.Header = c.header()
		if err := stream.Send(req); err != nil {
			c.lg.Info("region heartbeat send failed; reconnecting", zap.Uint64("region-id", req.GetRegion().GetId()), zap.Error(err))
			reset()
			if c.sleep(c.ctx, backoffBase) != nil {
				return
			}
		}
	}
}

func (c *Client) recvHeartbeats(s pdpb.PD_RegionHeartbeatClient, brokenc chan struct{}) {
	defer c.wg.Done()
	defer close(brokenc)
	for {
		resp, err := s.Recv()
		if err != nil {
			if c.ctx.Err() == nil {
				c.lg.Info("region heartbeat stream ended", zap.Error(err))
			}
			return
		}
		if h := c.hbHandler.Load(); h != nil && *h != nil {
			(*h)(resp)
		}
	}
}
