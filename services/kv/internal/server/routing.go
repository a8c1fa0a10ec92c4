package server

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
)

// The helpers below build the routing errors every Storage backend returns,
// so that the single-node and Raft backends word and shape them alike and the
// SDK can rely on one form.

// KeyInRegion reports whether key lies in [region.start_key, region.end_key),
// an empty end_key meaning +infinity.
func KeyInRegion(key []byte, region *metapb.Region) bool {
	return bytes.Compare(key, region.GetStartKey()) >= 0 &&
		(len(region.GetEndKey()) == 0 || bytes.Compare(key, region.GetEndKey()) < 0)
}

// RangeInRegion reports whether the non-empty range [start, end) lies inside
// region; an empty end means +infinity.
func RangeInRegion(start, end []byte, region *metapb.Region) bool {
	if !KeyInRegion(start, region) {
		return false
	}
	if len(region.GetEndKey()) == 0 {
		return true
	}
	return len(end) > 0 && bytes.Compare(end, region.GetEndKey()) <= 0
}

// NewKeyNotInRegion reports that key is outside region.
func NewKeyNotInRegion(key []byte, region *metapb.Region) *errorpb.Error {
	return &errorpb.Error{
		Message: fmt.Sprintf("key %q is not in region %d [%q, %q)", truncate(key), region.GetId(),
			truncate(region.GetStartKey()), truncate(region.GetEndKey())),
		KeyNotInRegion: &errorpb.KeyNotInRegion{
			Key:      key,
			RegionId: region.GetId(),
			StartKey: region.GetStartKey(),
			EndKey:   region.GetEndKey(),
		},
	}
}

// NewRegionNotFound reports that this store does not host regionID.
func NewRegionNotFound(regionID uint64) *errorpb.Error {
	return &errorpb.Error{
		Message:        fmt.Sprintf("region %d not found on this store", regionID),
		RegionNotFound: &errorpb.RegionNotFound{RegionId: regionID},
	}
}

// NewEpochNotMatch reports a stale epoch and hands back the current regions.
func NewEpochNotMatch(requested *metapb.RegionEpoch, current ...*metapb.Region) *errorpb.Error {
	regions := make([]*metapb.Region, len(current))
	for i, r := range current {
		regions[i] = proto.Clone(r).(*metapb.Region)
	}
	var cur *metapb.RegionEpoch
	if len(current) > 0 {
		cur = current[0].GetRegionEpoch()
	}
	return &errorpb.Error{
		Message: fmt.Sprintf("epoch not match: request has conf_ver %d version %d, region has conf_ver %d version %d",
			requested.GetConfVer(), requested.GetVersion(), cur.GetConfVer(), cur.GetVersion()),
		EpochNotMatch: &errorpb.EpochNotMatch{CurrentRegions: regions},
	}
}

// NewStoreNotMatch reports a request addressed to a peer on another store.
func NewStoreNotMatch(requested, actual uint64) *errorpb.Error {
	return &errorpb.Error{
		Message:       fmt.Sprintf("request is for store %d but this is store %d", requested, actual),
		StoreNotMatch: &errorpb.StoreNotMatch{RequestStoreId: requested, ActualStoreId: actual},
	}
}

// CheckContext checks a request's context against a region this store hosts:
// a non-zero region id must match, a given peer must live on storeID, and a
// given epoch must equal the region's. A zero region id skips the id and
// epoch checks, which only a store holding exactly one region may allow.
func CheckContext(rctx *kvrpcpb.Context, region *metapb.Region, storeID uint64) *errorpb.Error {
	if id := rctx.GetRegionId(); id != 0 && id != region.GetId() {
		return NewRegionNotFound(id)
	}
	if p := rctx.GetPeer(); p != nil && p.GetStoreId() != 0 && p.GetStoreId() != storeID {
		return NewStoreNotMatch(p.GetStoreId(), storeID)
	}
	if rctx.GetRegionId() == 0 {
		return nil
	}
	if e := rctx.GetRegionEpoch(); e != nil {
		cur := region.GetRegionEpoch()
		if e.GetConfVer() != cur.GetConfVer() || e.GetVersion() != cur.GetVersion() {
			return NewEpochNotMatch(e, region)
		}
	}
	return nil
}
