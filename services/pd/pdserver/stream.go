package pdserver

import (
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// errStopping ends streams when the server stops.
var errStopping = errors.New("pd is stopping")

func errClusterMismatchf(got, want uint64) error {
	return fmt.Errorf("%w: request cluster id %d, this cluster is %d", errClusterMismatch, got, want)
}

// recvLoop receives on a stream in its own goroutine so the handler can
// also return when the server stops: clients keep these streams open
// indefinitely and a graceful stop would otherwise wait for them forever.
func recvLoop[Req any](s *Server, stream grpc.ServerStream, handle func(*Req) error) error {
	type item struct {
		req *Req
		err error
	}
	recvc := make(chan item, 1)
	donec := make(chan struct{})
	defer close(donec)
	go func() {
		for {
			req := new(Req)
			err := stream.RecvMsg(req)
			select {
			case recvc <- item{req, err}:
			case <-donec:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-s.stopc:
			return toStatus(errStopping)
		case it := <-recvc:
			if it.err == io.EOF {
				return nil
			}
			if it.err != nil {
				return it.err
			}
			if err := handle(it.req); err != nil {
				return err
			}
		}
	}
}

// Tso grants each request count contiguous timestamps; the response carries
// the largest, so the range is [logical-count+1, logical].
func (v *service) Tso(stream pdpb.PD_TsoServer) error {
	return recvLoop(v.s, stream, func(req *pdpb.TsoRequest) error {
		if err := v.checkHeader(req.GetHeader()); err != nil {
			h, _ := header(v.s.cluster.ID(), err)
			return stream.Send(&pdpb.TsoResponse{Header: h})
		}
		start := time.Now()
		physical, logical, err := v.s.tso.Generate(req.GetCount())
		if err != nil {
			return toStatus(err)
		}
		err = stream.Send(&pdpb.TsoResponse{
			Header:    &pdpb.ResponseHeader{ClusterId: v.s.cluster.ID()},
			Count:     req.GetCount(),
			Timestamp: &pdpb.Timestamp{Physical: physical, Logical: logical},
		})
		v.s.m.tsoRequestDuration.Observe(time.Since(start).Seconds())
		v.s.m.tsoBatchSize.Observe(float64(req.GetCount()))
		return err
	})
}

// RegionHeartbeat records each heartbeat and answers only when there is
// something to say: an error (stale region, not bootstrapped) or a
// scheduling step for the leader.
func (v *service) RegionHeartbeat(stream pdpb.PD_RegionHeartbeatServer) error {
	return recvLoop(v.s, stream, func(req *pdpb.RegionHeartbeatRequest) error {
		start := time.Now()
		err := v.checkHeader(req.GetHeader())
		// err ends as the heartbeat's outcome; a failed Send is the
		// stream's problem and is counted by the stream interceptor.
		defer func() {
			v.s.m.regionHeartbeats.WithLabelValues(heartbeatResult(err)).Inc()
			v.s.m.regionHeartbeatDuration.Observe(time.Since(start).Seconds())
		}()
		var resp *pdpb.RegionHeartbeatResponse
		if err == nil {
			step, herr := v.s.cluster.RegionHeartbeat(req)
			err = herr
			if step != nil {
				resp = &pdpb.RegionHeartbeatResponse{
					RegionId:       req.GetRegion().GetId(),
					RegionEpoch:    req.GetRegion().GetRegionEpoch(),
					TargetPeer:     req.GetLeader(),
					ChangePeer:     step.ChangePeer,
					TransferLeader: step.TransferLeader,
				}
			}
		}
		h, ok := header(v.s.cluster.ID(), err)
		if !ok {
			return toStatus(err)
		}
		if err != nil {
			resp = &pdpb.RegionHeartbeatResponse{RegionId: req.GetRegion().GetId(), RegionEpoch: req.GetRegion().GetRegionEpoch()}
		}
		if resp == nil {
			return nil
		}
		resp.Header = h
		return stream.Send(resp)
	})
}
