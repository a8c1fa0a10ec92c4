package raftstore

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"google.golang.org/protobuf/proto"
)

var (
	// ErrStopped is returned once the store has stopped (or failed).
	ErrStopped = errors.New("raftstore: store stopped")
	// ErrUnknownOutcome is returned when leadership was lost after a write
	// was proposed: the write may or may not be applied, so callers must not
	// assume either.
	ErrUnknownOutcome = errors.New("raftstore: leadership lost, write outcome unknown")
	// ErrConfChangeInProgress rejects a membership change while another one
	// is not yet applied.
	ErrConfChangeInProgress = errors.New("raftstore: another membership change is in progress")
)

func errRegionNotFound(regionID uint64) *errorpb.Error {
	return &errorpb.Error{
		Message:        fmt.Sprintf("region %d not found", regionID),
		RegionNotFound: &errorpb.RegionNotFound{RegionId: regionID},
	}
}

func errNotLeader(regionID uint64, leader *metapb.Peer) *errorpb.Error {
	return &errorpb.Error{
		Message:   fmt.Sprintf("peer is not leader for region %d", regionID),
		NotLeader: &errorpb.NotLeader{RegionId: regionID, Leader: leader},
	}
}

func errEpochNotMatch(region *metapb.Region) *errorpb.Error {
	return &errorpb.Error{
		Message:       fmt.Sprintf("epoch not match for region %d", region.GetId()),
		EpochNotMatch: &errorpb.EpochNotMatch{CurrentRegions: []*metapb.Region{proto.Clone(region).(*metapb.Region)}},
	}
}

func errKeyNotInRegion(key []byte, region *metapb.Region) *errorpb.Error {
	return &errorpb.Error{
		Message: fmt.Sprintf("key %q not in region %d", key, region.GetId()),
		KeyNotInRegion: &errorpb.KeyNotInRegion{
			Key: key, RegionId: region.GetId(), StartKey: region.GetStartKey(), EndKey: region.GetEndKey(),
		},
	}
}

func errServerIsBusy(reason string) *errorpb.Error {
	return &errorpb.Error{Message: reason, ServerIsBusy: &errorpb.ServerIsBusy{Reason: reason, BackoffMs: 100}}
}

// epochStale reports whether a request routed with epoch must be refused.
// A nil epoch is accepted: callers that do not track epochs (dev tools) opt
// out of the check.
func epochStale(epoch *metapb.RegionEpoch, region *metapb.Region) bool {
	if epoch == nil {
		return false
	}
	cur := region.GetRegionEpoch()
	return epoch.GetConfVer() != cur.GetConfVer() || epoch.GetVersion() != cur.GetVersion()
}

// keyInRegion reports whether key lies in [start, end); an empty end is
// +infinity.
func keyInRegion(key []byte, region *metapb.Region) bool {
	if bytes.Compare(key, region.GetStartKey()) < 0 {
		return false
	}
	end := region.GetEndKey()
	return len(end) == 0 || bytes.Compare(key, end) < 0
}

// spanInRegion checks a [start, end) span; an empty end means "to the end
// of the keyspace" and only fits a region that is unbounded too.
func spanInRegion(start, end []byte, region *metapb.Region) *errorpb.Error {
	if !keyInRegion(start, region) {
		return errKeyNotInRegion(start, region)
	}
	rEnd := region.GetEndKey()
	if len(rEnd) == 0 {
		return nil
	}
	if len(end) == 0 || bytes.Compare(end, rEnd) > 0 {
		return errKeyNotInRegion(end, region)
	}
	return nil
}
