package client

import (
	"context"

	"github.com/flaredb/flaredb/libs/client/internal/locate"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// KV is a key with its value and version.
type KV struct {
	Key, Value []byte
	Version    uint64
}

// GetResult is what Get found. A missing key is Found=false with a nil
// error.
type GetResult struct {
	Value   []byte
	Version uint64
	Found   bool
}

// CASResult is the outcome of CompareAndSwap or CompareAndDelete. On success
// Version and Value are the new ones (Version 0 after a delete); on conflict
// they are the key's current ones (Version 0: the key is absent).
type CASResult struct {
	Succeeded bool
	Version   uint64
	Value     []byte
}

// Get reads key's value and version from its region's leader.
func (c *Client) Get(ctx context.Context, key []byte) (GetResult, error) {
	var res GetResult
	err := c.run(ctx, "get", 1, c.byKey([][]byte{key}),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			resp, err := kv.Get(ctx, &kvrpcpb.GetRequest{Context: loc.RPCContext(), Key: key})
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			res = GetResult{Value: resp.GetValue(), Version: resp.GetVersion(), Found: !resp.GetNotFound()}
			return nil, nil
		})
	return res, err
}

// Put writes key=value and returns the key's new version.
func (c *Client) Put(ctx context.Context, key, value []byte) (uint64, error) {
	var version uint64
	err := c.run(ctx, "put", 1, c.byKey([][]byte{key}),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			resp, err := kv.RawPut(ctx, &kvrpcpb.RawPutRequest{Context: loc.RPCContext(), Key: key, Value: value})
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			version = resp.GetVersion()
			return nil, nil
		})
	return version, err
}

// Delete removes key; deleting a missing key succeeds.
func (c *Client) Delete(ctx context.Context, key []byte) error {
	return c.run(ctx, "delete", 1, c.byKey([][]byte{key}),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			resp, err := kv.RawDelete(ctx, &kvrpcpb.RawDeleteRequest{Context: loc.RPCContext(), Key: key})
			return resp.GetRegionError(), err
		})
}

// CompareAndSwap sets key=value only if the key's current version is
// expectedVersion; 0 means the key must not exist (create only).
func (c *Client) CompareAndSwap(ctx context.Context, key, value []byte, expectedVersion uint64) (CASResult, error) {
	return c.cas(ctx, &kvrpcpb.CompareAndSwapRequest{Key: key, Value: value, ExpectedVersion: expectedVersion})
}

// CompareAndDelete deletes key only if its current version is
// expectedVersion.
func (c *Client) CompareAndDelete(ctx context.Context, key []byte, expectedVersion uint64) (CASResult, error) {
	return c.cas(ctx, &kvrpcpb.CompareAndSwapRequest{Key: key, ExpectedVersion: expectedVersion, Delete: true})
}

func (c *Client) cas(ctx context.Context, req *kvrpcpb.CompareAndSwapRequest) (CASResult, error) {
	var res CASResult
	err := c.run(ctx, "cas", 1, c.byKey([][]byte{req.Key}),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, _ []int) (*errorpb.Error, error) {
			req.Context = loc.RPCContext()
			resp, err := kv.CompareAndSwap(ctx, req)
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			res = CASResult{Succeeded: resp.GetSucceeded(), Version: resp.GetVersion(), Value: resp.GetValue()}
			return nil, nil
		})
	return res, err
}

// BatchGet reads keys, possibly from several regions at once, and returns
// the pairs of the keys that exist, in the order of keys.
func (c *Client) BatchGet(ctx context.Context, keys [][]byte) ([]KV, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	found := make([]*KV, len(keys))
	err := c.run(ctx, "batch_get", len(keys), c.byKey(keys),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, idxs []int) (*errorpb.Error, error) {
			resp, err := kv.RawBatchGet(ctx, &kvrpcpb.RawBatchGetRequest{Context: loc.RPCContext(), Keys: pick(keys, idxs)})
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			// Pairs come back in request order, found keys only: walk
			// both lists together to put each at its key's index.
			pairs := resp.GetPairs()
			for _, i := range idxs {
				if len(pairs) > 0 && string(pairs[0].GetKey()) == string(keys[i]) {
					found[i] = &KV{Key: pairs[0].GetKey(), Value: pairs[0].GetValue(), Version: pairs[0].GetVersion()}
					pairs = pairs[1:]
				}
			}
			return nil, nil
		})
	if err != nil {
		return nil, err
	}
	var out []KV
	for _, kv := range found {
		if kv != nil {
			out = append(out, *kv)
		}
	}
	return out, nil
}

// BatchPut writes every pair (Version is ignored) and returns the new
// versions in the order of kvs. Pairs in different regions are written
// independently: on error some may have been written.
func (c *Client) BatchPut(ctx context.Context, kvs []KV) ([]uint64, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	keys := make([][]byte, len(kvs))
	for i := range kvs {
		keys[i] = kvs[i].Key
	}
	versions := make([]uint64, len(kvs))
	err := c.run(ctx, "batch_put", len(kvs), c.byKey(keys),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, idxs []int) (*errorpb.Error, error) {
			req := &kvrpcpb.RawBatchPutRequest{Context: loc.RPCContext(), Pairs: make([]*kvrpcpb.KvPair, len(idxs))}
			for j, i := range idxs {
				req.Pairs[j] = &kvrpcpb.KvPair{Key: kvs[i].Key, Value: kvs[i].Value}
			}
			resp, err := kv.RawBatchPut(ctx, req)
			if err != nil || resp.GetRegionError() != nil {
				return resp.GetRegionError(), err
			}
			for j, i := range idxs {
				if j < len(resp.GetVersions()) {
					versions[i] = resp.GetVersions()[j]
				}
			}
			return nil, nil
		})
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// BatchDelete removes every key; missing keys are fine.
func (c *Client) BatchDelete(ctx context.Context, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return c.run(ctx, "batch_delete", len(keys), c.byKey(keys),
		func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, idxs []int) (*errorpb.Error, error) {
			resp, err := kv.RawBatchDelete(ctx, &kvrpcpb.RawBatchDeleteRequest{Context: loc.RPCContext(), Keys: pick(keys, idxs)})
			return resp.GetRegionError(), err
		})
}

func pick(keys [][]byte, idxs []int) [][]byte {
	out := make([][]byte, len(idxs))
	for j, i := range idxs {
		out[j] = keys[i]
	}
	return out
}
