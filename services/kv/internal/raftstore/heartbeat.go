package raftstore

import (
	"context"
	"time"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"go.uber.org/zap"
)

// maxCountedKeys caps the records walked to estimate a region's size for
// PD.
const maxCountedKeys = 1 << 20

// sizeTTL is how long a region's size estimate is reused. The estimate is a
// walk over the region's keys (up to maxCountedKeys), which under write
// load costs a leader a few percent of its CPU when redone for every
// 10-second heartbeat; PD's placement decisions do not need fresher sizes.
const sizeTTL = time.Minute

// sizeEstimate is a cached approximateSize result for one region's range.
type sizeEstimate struct {
	start, end string
	size, keys uint64
	measuredAt time.Time
}

// regionSize returns the region's size estimate, measuring it again when
// the cached one is older than sizeTTL or was taken over another range.
func (s *Store) regionSize(region *metapb.Region) (size, keys uint64) {
	id := region.GetId()
	s.sizes.Lock()
	e, ok := s.sizes.m[id]
	s.sizes.Unlock()
	if ok && e.start == string(region.GetStartKey()) && e.end == string(region.GetEndKey()) &&
		time.Since(e.measuredAt) < sizeTTL {
		return e.size, e.keys
	}
	size, keys = s.approximateSize(region)
	s.sizes.Lock()
	s.sizes.m[id] = sizeEstimate{start: string(region.GetStartKey()), end: string(region.GetEndKey()),
		size: size, keys: keys, measuredAt: time.Now()}
	s.sizes.Unlock()
	return size, keys
}

// queueHeartbeat hands a leader's region report to the heartbeat goroutine;
// the Raft loop never waits for PD.
func (s *Store) queueHeartbeat(p *peer) {
	req := &pdpb.RegionHeartbeatRequest{
		Region: cloneRegion(p.region),
		Leader: p.meta,
		Term:   p.rn.BasicStatus().GetTerm(),
	}
	select {
	case s.hbc <- req:
	default:
	}
}

func (s *Store) runHeartbeats() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stopc:
			return
		case req := <-s.hbc:
			req.ApproximateSize, req.ApproximateKeys = s.regionSize(req.GetRegion())
			if err := s.pd.ReportRegion(req); err != nil {
				s.lg.Debug("region heartbeat failed", zap.Uint64("region-id", req.GetRegion().GetId()), zap.Error(err))
			}
		}
	}
}

// approximateSize counts the region's live user keys and their key and value
// bytes, capped so a huge region costs a bounded scan. CFDefault holds the
// value records of live keys only (see kvcmd); a record that does not
// decode is not counted.
func (s *Store) approximateSize(region *metapb.Region) (size, n uint64) {
	it, err := s.engine.NewIterator(storage.CFDefault, storage.IterOptions{
		LowerBound: region.GetStartKey(), UpperBound: nilIfEmpty(region.GetEndKey())})
	if err != nil {
		return 0, 0
	}
	defer it.Close()
	for walked := 0; it.Valid() && walked < maxCountedKeys; it.Next() {
		walked++
		v, ver, err := kvcmd.DecodeValue(it.Value())
		if err != nil || ver == 0 {
			continue
		}
		n++
		size += uint64(len(it.Key()) + len(v))
	}
	return size, n
}

// HandleRegionHeartbeatResponse carries out PD's answer to a heartbeat: a
// membership change or a leader transfer. It does not wait for the result;
// the next heartbeat shows it to PD.
func (s *Store) HandleRegionHeartbeatResponse(resp *pdpb.RegionHeartbeatResponse) {
	rctx := &kvrpcpb.Context{RegionId: resp.GetRegionId(), RegionEpoch: resp.GetRegionEpoch()}
	switch {
	case resp.GetChangePeer() != nil:
		cp := resp.GetChangePeer()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, rerr, err := s.ChangePeer(ctx, rctx, cp.GetChangeType(), cp.GetPeer())
			if rerr != nil || err != nil {
				s.lg.Info("pd change peer not done", zap.Uint64("region-id", resp.GetRegionId()),
					zap.String("region-error", rerr.GetMessage()), zap.Error(err))
			}
		}()
	case resp.GetTransferLeader() != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if rerr, err := s.TransferLeader(ctx, rctx, resp.GetTransferLeader().GetPeer()); rerr != nil || err != nil {
			s.lg.Info("pd transfer leader not done", zap.Uint64("region-id", resp.GetRegionId()),
				zap.String("region-error", rerr.GetMessage()), zap.Error(err))
		}
	}
}

// Regions returns a copy of the shape of every initialized region here.
func (s *Store) Regions(ctx context.Context) ([]*metapb.Region, error) {
	resc := make(chan []*metapb.Region, 1)
	if err := s.submit(func() {
		var out []*metapb.Region
		for _, p := range s.peers {
			if p.initialized {
				out = append(out, cloneRegion(p.region))
			}
		}
		resc <- out
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-resc:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// LeaderStatus reports, per region hosted here, whether this store leads it.
func (s *Store) LeaderStatus(ctx context.Context) (map[uint64]bool, error) {
	resc := make(chan map[uint64]bool, 1)
	if err := s.submit(func() {
		out := make(map[uint64]bool, len(s.peers))
		for id, p := range s.peers {
			out[id] = p.isLeader
		}
		resc <- out
	}); err != nil {
		return nil, err
	}
	select {
	case r := <-resc:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
