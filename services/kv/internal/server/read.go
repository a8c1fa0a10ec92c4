package server

import (
	"bytes"
	"context"
	"errors"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// read runs fn against a snapshot of the region named by rctx and closes the
// snapshot afterwards. fn's routing error, like Snapshot's, goes back in the
// response body; its other errors become a status.
func (s *kvService) read(ctx context.Context, rctx *kvrpcpb.Context,
	fn func(snap storage.Snapshot, region *metapb.Region) (*errorpb.Error, error),
) (*errorpb.Error, error) {
	snap, region, rerr, err := s.st.Snapshot(ctx, rctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if rerr != nil {
		return rerr, nil
	}
	defer snap.Close()
	rerr, err = fn(snap, region)
	return rerr, toStatus(err)
}

// get reads one key; found is false when the key does not exist.
func get(r storage.Reader, key []byte) (value []byte, version uint64, found bool, err error) {
	value, version, err = kvcmd.Get(r, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	return value, version, version != 0, nil
}

func (s *kvService) RawGet(ctx context.Context, req *kvrpcpb.RawGetRequest) (*kvrpcpb.RawGetResponse, error) {
	if err := s.lim.checkKey("key", req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	resp := &kvrpcpb.RawGetResponse{}
	rerr, err := s.read(ctx, req.GetContext(), func(snap storage.Snapshot, region *metapb.Region) (*errorpb.Error, error) {
		if !KeyInRegion(req.GetKey(), region) {
			return NewKeyNotInRegion(req.GetKey(), region), nil
		}
		v, ver, found, err := get(snap, req.GetKey())
		resp.Value, resp.Version, resp.NotFound = v, ver, !found
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.RawGetResponse{RegionError: rerr}, nil
	}
	return resp, nil
}

// Get is RawGet under the name the versioned API uses; both return the
// version, so they share one implementation.
func (s *kvService) Get(ctx context.Context, req *kvrpcpb.GetRequest) (*kvrpcpb.GetResponse, error) {
	raw, err := s.RawGet(ctx, &kvrpcpb.RawGetRequest{Context: req.GetContext(), Key: req.GetKey()})
	if err != nil {
		return nil, err
	}
	return &kvrpcpb.GetResponse{
		RegionError: raw.GetRegionError(),
		Value:       raw.GetValue(),
		Version:     raw.GetVersion(),
		NotFound:    raw.GetNotFound(),
	}, nil
}

func (s *kvService) RawBatchGet(ctx context.Context, req *kvrpcpb.RawBatchGetRequest) (*kvrpcpb.RawBatchGetResponse, error) {
	if err := s.lim.checkKeys(req.GetKeys()); err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetKeys()) == 0 {
		return &kvrpcpb.RawBatchGetResponse{}, nil
	}
	resp := &kvrpcpb.RawBatchGetResponse{}
	rerr, err := s.read(ctx, req.GetContext(), func(snap storage.Snapshot, region *metapb.Region) (*errorpb.Error, error) {
		for _, k := range req.GetKeys() {
			if !KeyInRegion(k, region) {
				return NewKeyNotInRegion(k, region), nil
			}
		}
		for _, k := range req.GetKeys() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			v, ver, found, err := get(snap, k)
			if err != nil {
				return nil, err
			}
			if found {
				resp.Pairs = append(resp.Pairs, &kvrpcpb.KvPair{Key: k, Value: v, Version: ver})
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.RawBatchGetResponse{RegionError: rerr}, nil
	}
	return resp, nil
}

// RawScan scans [start_key, end_key) in either direction. The range is
// clipped to the region; a range that misses the region entirely is a
// KeyNotInRegion so the client re-routes rather than reading nothing.
func (s *kvService) RawScan(ctx context.Context, req *kvrpcpb.RawScanRequest) (*kvrpcpb.RawScanResponse, error) {
	if err := s.lim.checkRange(req.GetStartKey(), req.GetEndKey()); err != nil {
		return nil, toStatus(err)
	}
	limit, err := s.lim.scanLimit(req.GetLimit())
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &kvrpcpb.RawScanResponse{}
	rerr, err := s.read(ctx, req.GetContext(), func(snap storage.Snapshot, region *metapb.Region) (*errorpb.Error, error) {
		start, end, ok := clip(req.GetStartKey(), req.GetEndKey(), region)
		if !ok {
			return NewKeyNotInRegion(req.GetStartKey(), region), nil
		}
		kvs, err := kvcmd.Scan(snap, start, end, limit, req.GetReverse(), req.GetKeyOnly())
		if err != nil {
			return nil, err
		}
		resp.Kvs = make([]*kvrpcpb.KvPair, len(kvs))
		for i, kv := range kvs {
			resp.Kvs[i] = &kvrpcpb.KvPair{Key: kv.Key, Value: kv.Value, Version: kv.Version}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.RawScanResponse{RegionError: rerr}, nil
	}
	return resp, nil
}

// clip intersects [start, end) with the region's range (empty end = +inf on
// both); ok is false when the intersection is empty.
func clip(start, end []byte, region *metapb.Region) (cs, ce []byte, ok bool) {
	cs, ce = start, end
	if bytes.Compare(region.GetStartKey(), cs) > 0 {
		cs = region.GetStartKey()
	}
	if re := region.GetEndKey(); len(re) > 0 && (len(ce) == 0 || bytes.Compare(re, ce) < 0) {
		ce = re
	}
	if len(ce) > 0 && bytes.Compare(cs, ce) >= 0 {
		return nil, nil, false
	}
	return cs, ce, true
}
