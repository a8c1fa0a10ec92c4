package client

import (
	"bytes"
	"context"
	"time"

	"github.com/flaredb/flaredb/libs/client/internal/locate"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// ScanOption customizes Scan and ReverseScan.
type ScanOption func(*scanOptions)

type scanOptions struct {
	keyOnly bool
}

// KeyOnly makes a scan return keys and versions without values.
func KeyOnly() ScanOption { return func(o *scanOptions) { o.keyOnly = true } }

// Scan returns up to limit pairs of [start, end) in ascending key order. An
// empty end means the end of the key space. A scan spanning several regions
// reads them one after the other, so it is not a point-in-time snapshot
// across regions.
func (c *Client) Scan(ctx context.Context, start, end []byte, limit int, opts ...ScanOption) ([]KV, error) {
	return c.scan(ctx, "scan", start, end, limit, false, opts)
}

// ReverseScan returns up to limit pairs of [start, end) in descending key
// order, beginning with the largest key below end.
func (c *Client) ReverseScan(ctx context.Context, start, end []byte, limit int, opts ...ScanOption) ([]KV, error) {
	return c.scan(ctx, "reverse_scan", start, end, limit, true, opts)
}

func (c *Client) scan(ctx context.Context, cmd string, start, end []byte, limit int, reverse bool, opts []ScanOption) ([]KV, error) {
	var o scanOptions
	for _, opt := range opts {
		opt(&o)
	}
	if limit <= 0 {
		return nil, invalidf("scan limit must be positive, got %d", limit)
	}
	if err := checkRange(start, end); err != nil {
		return nil, err
	}
	defer c.observe(cmd, time.Now())
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()

	var out []KV
	// cur is where the next region's share begins: the lower bound going
	// forward, the (exclusive) upper bound going backward.
	cur := start
	if reverse {
		cur = end
	}
	for len(out) < limit {
		var region *metapb.Region
		plan := oneRoute(func(ctx context.Context) (*locate.Location, error) {
			if reverse {
				return c.cache.LocateEndKey(ctx, cur)
			}
			return c.cache.Locate(ctx, cur)
		})
		err := c.retryLoop(ctx, cmd, 1, plan,
			func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
				req := &kvrpcpb.RawScanRequest{
					Context: loc.RPCContext(),
					Limit:   uint32(limit - len(out)),
					KeyOnly: o.keyOnly,
					Reverse: reverse,
				}
				if reverse {
					req.StartKey, req.EndKey = maxKey(start, loc.Region.GetStartKey()), cur
				} else {
					req.StartKey, req.EndKey = cur, minEnd(end, loc.Region.GetEndKey())
				}
				resp, err := kv.RawScan(ctx, req)
				if err != nil || resp.GetRegionError() != nil {
					return resp.GetRegionError(), err
				}
				for _, p := range resp.GetKvs() {
					out = append(out, KV{Key: p.GetKey(), Value: p.GetValue(), Version: p.GetVersion()})
				}
				region = loc.Region
				return nil, nil
			})
		if err != nil {
			return nil, err
		}
		if reverse {
			if len(region.GetStartKey()) == 0 || bytes.Compare(region.GetStartKey(), start) <= 0 {
				break
			}
			cur = region.GetStartKey()
		} else {
			if lastRegion(region, end) {
				break
			}
			cur = region.GetEndKey()
		}
	}
	return out, nil
}

// DeleteRange removes every key in [start, end); an empty end means the end
// of the key space. Each region's share is deleted atomically, the whole
// range is not: on error a prefix of the regions may have been cleared.
func (c *Client) DeleteRange(ctx context.Context, start, end []byte) error {
	if err := checkRange(start, end); err != nil {
		return err
	}
	defer c.observe("delete_range", time.Now())
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()

	cur := start
	for {
		var region *metapb.Region
		plan := oneRoute(func(ctx context.Context) (*locate.Location, error) { return c.cache.Locate(ctx, cur) })
		err := c.retryLoop(ctx, "delete_range", 1, plan,
			func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
				resp, err := kv.RawDeleteRange(ctx, &kvrpcpb.RawDeleteRangeRequest{
					Context:  loc.RPCContext(),
					StartKey: cur,
					EndKey:   minEnd(end, loc.Region.GetEndKey()),
				})
				if err != nil || resp.GetRegionError() != nil {
					return resp.GetRegionError(), err
				}
				region = loc.Region
				return nil, nil
			})
		if err != nil {
			return err
		}
		if lastRegion(region, end) {
			return nil
		}
		cur = region.GetEndKey()
	}
}

// checkRange refuses an empty range locally: split per region it would
// otherwise never reach the server's own check.
func checkRange(start, end []byte) error {
	if len(end) > 0 && bytes.Compare(start, end) >= 0 {
		return invalidf("start key %q must sort before end key %q", start, end)
	}
	return nil
}

// lastRegion reports whether r reaches the range's end.
func lastRegion(r *metapb.Region, end []byte) bool {
	return len(r.GetEndKey()) == 0 || (len(end) > 0 && bytes.Compare(r.GetEndKey(), end) >= 0)
}

// minEnd is the smaller of two exclusive upper bounds, empty meaning +inf.
func minEnd(a, b []byte) []byte {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	case bytes.Compare(a, b) <= 0:
		return a
	default:
		return b
	}
}

func maxKey(a, b []byte) []byte {
	if bytes.Compare(a, b) >= 0 {
		return a
	}
	return b
}
