package keys

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Layout. Every key written by a store (not PD) starts with localPrefix, so
// it sorts before PD's printable "pd/" keys in the same column family.
//
//	CFRaft: 0x01 0x02 region-id(8) 0x01 index(8)   Raft log entry
//	        0x01 0x02 region-id(8) 0x02            Raft HardState
//	        0x01 0x02 region-id(8) 0x03            RaftApplyState
//	CFMeta: 0x01 0x01                              StoreIdent
//	        0x01 0x03 region-id(8) 0x01            RegionLocalState
//	        "pd/" part "/" part ...                PD's durable state
//
// Putting a region's log and states under one region prefix lets a
// destroyed region's Raft data go with one range delete.
const (
	localPrefix byte = 0x01

	storeIdentKind  byte = 0x01
	regionRaftKind  byte = 0x02
	regionMetaKind  byte = 0x03
	raftLogSuffix   byte = 0x01
	raftStateSuffix byte = 0x02
	applyStateSuf   byte = 0x03
	regionStateSuf  byte = 0x01
	regionPrefixLen      = 2 + 8
	raftLogKeyLen        = regionPrefixLen + 1 + 8
)

func regionKey(kind byte, regionID uint64, suffix byte, extra int) []byte {
	k := make([]byte, 0, regionPrefixLen+1+extra)
	k = append(k, localPrefix, kind)
	k = binary.BigEndian.AppendUint64(k, regionID)
	return append(k, suffix)
}

// RaftLogKey is the CFRaft key of the region's Raft log entry at index.
func RaftLogKey(regionID, index uint64) []byte {
	return binary.BigEndian.AppendUint64(regionKey(regionRaftKind, regionID, raftLogSuffix, 8), index)
}

// RaftLogPrefix is the CFRaft prefix of all the region's log entries; scan
// [RaftLogKey(id, lo), RaftLogKey(id, hi)) for a range of indexes.
func RaftLogPrefix(regionID uint64) []byte {
	return regionKey(regionRaftKind, regionID, raftLogSuffix, 0)
}

// DecodeRaftLogKey returns the region and index of a RaftLogKey.
func DecodeRaftLogKey(key []byte) (regionID, index uint64, err error) {
	if len(key) != raftLogKeyLen || key[0] != localPrefix || key[1] != regionRaftKind || key[regionPrefixLen] != raftLogSuffix {
		return 0, 0, fmt.Errorf("keys: %x is not a raft log key", key)
	}
	return binary.BigEndian.Uint64(key[2:10]), binary.BigEndian.Uint64(key[11:]), nil
}

// RaftStateKey is the CFRaft key of the region's Raft HardState.
func RaftStateKey(regionID uint64) []byte {
	return regionKey(regionRaftKind, regionID, raftStateSuffix, 0)
}

// ApplyStateKey is the CFRaft key of the region's RaftApplyState (applied
// index, truncated state). It is written in the same batch as the applied
// data so the two never disagree after a crash.
func ApplyStateKey(regionID uint64) []byte {
	return regionKey(regionRaftKind, regionID, applyStateSuf, 0)
}

// RegionRaftPrefix is the CFRaft prefix of everything Raft keeps for the
// region: its log, HardState and apply state.
func RegionRaftPrefix(regionID uint64) []byte {
	k := make([]byte, 0, regionPrefixLen)
	k = append(k, localPrefix, regionRaftKind)
	return binary.BigEndian.AppendUint64(k, regionID)
}

// RegionStateKey is the CFMeta key of the region's RegionLocalState.
func RegionStateKey(regionID uint64) []byte {
	return regionKey(regionMetaKind, regionID, regionStateSuf, 0)
}

// RegionStatePrefix is the CFMeta prefix of every RegionLocalState; a store
// scans it at start-up to find its regions.
func RegionStatePrefix() []byte {
	return []byte{localPrefix, regionMetaKind}
}

// DecodeRegionStateKey returns the region of a RegionStateKey.
func DecodeRegionStateKey(key []byte) (regionID uint64, err error) {
	if len(key) != regionPrefixLen+1 || key[0] != localPrefix || key[1] != regionMetaKind || key[regionPrefixLen] != regionStateSuf {
		return 0, fmt.Errorf("keys: %x is not a region state key", key)
	}
	return binary.BigEndian.Uint64(key[2:10]), nil
}

// StoreIdentKey is the CFMeta key of the store's StoreIdent (cluster and
// store id), written once when the store is bootstrapped.
func StoreIdentKey() []byte {
	return []byte{localPrefix, storeIdentKind}
}

// pdPrefix starts every PD key; it is printable, so PD's keys are readable
// in tools, and it cannot collide with the 0x01-prefixed store keys.
const pdPrefix = "pd/"

// PDKey is the CFMeta key of PD state named by parts, joined with "/":
// PDKey("region", "0000000000000042") = "pd/region/0000000000000042". A
// part MUST NOT contain "/" (that would alias another key) and numeric
// parts should be zero-padded (see PDID) so they sort numerically; PDKey
// panics on a part with "/", which is a programming error.
func PDKey(parts ...string) []byte {
	for _, p := range parts {
		if strings.Contains(p, "/") {
			panic(fmt.Sprintf("keys: PD key part %q contains '/'", p))
		}
	}
	return []byte(pdPrefix + strings.Join(parts, "/"))
}

// PDPrefix is the CFMeta prefix of every PDKey whose leading parts are
// parts, ending in "/": scan it to list e.g. all regions.
func PDPrefix(parts ...string) []byte {
	if len(parts) == 0 {
		return []byte(pdPrefix)
	}
	return append(PDKey(parts...), '/')
}

// PDID formats an id as a fixed-width PD key part, so keys sort by id.
func PDID(id uint64) string {
	return fmt.Sprintf("%020d", id)
}

// PrefixEnd is the smallest key above every key with the prefix: the
// exclusive upper bound for a prefix scan. It is nil (unbounded) when the
// prefix is all 0xff bytes.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
