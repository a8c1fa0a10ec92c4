package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Entry kinds tag normal entries, so later kinds (split, merge) can be
// added without guessing at old data.
const (
	// entryKindWrite carries one proposal's commands.
	entryKindWrite byte = 1
	// entryKindWriteBatch carries several proposals merged by the leader's
	// Raft loop into one entry: one log key, one append and one apply pass
	// for all of them instead of one each.
	entryKindWriteBatch byte = 2
)

var errBadEntry = errors.New("raftstore: malformed entry data")

// writeGroup is one proposal inside a write entry: the proposer's id (so its
// waiter is found at apply time; replicas that did not propose it find no
// waiter) and its commands, which apply as a unit.
type writeGroup struct {
	id   uint64
	cmds []*kvcmd.Command
}

// writesHeader starts a kind 2 entry of count groups: kind 2, uvarint group
// count, then each group as appendGroup lays it out (uvarint proposal id,
// uvarint command count, each command as uvarint length + bytes). size is
// the groups' total length, to allocate once.
func writesHeader(count, size int) []byte {
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+size)
	buf = append(buf, entryKindWriteBatch)
	return binary.AppendUvarint(buf, uint64(count))
}

func appendGroup(buf []byte, g writeGroup) []byte {
	buf = binary.AppendUvarint(buf, g.id)
	buf = binary.AppendUvarint(buf, uint64(len(g.cmds)))
	for _, c := range g.cmds {
		b := c.Marshal()
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return buf
}

// encodeWrite is the single-proposal layout (kind 1): uvarint proposal id,
// then the group's commands as in kind 2. Logs written before merging
// existed hold it; it is still decoded.
func encodeWrite(id uint64, cmds []*kvcmd.Command) []byte {
	return appendGroup([]byte{entryKindWrite}, writeGroup{id: id, cmds: cmds})
}

// decodeWrites returns the proposals of a kind 1 or kind 2 entry.
func decodeWrites(data []byte) ([]writeGroup, error) {
	if len(data) == 0 {
		return nil, errBadEntry
	}
	switch data[0] {
	case entryKindWrite:
		g, rest, err := decodeGroup(data[1:])
		if err != nil {
			return nil, err
		}
		if len(rest) != 0 {
			return nil, errBadEntry
		}
		return []writeGroup{g}, nil
	case entryKindWriteBatch:
		data = data[1:]
		count, n := binary.Uvarint(data)
		if n <= 0 || count > uint64(len(data)) {
			return nil, errBadEntry
		}
		data = data[n:]
		groups := make([]writeGroup, 0, count)
		for i := uint64(0); i < count; i++ {
			g, rest, err := decodeGroup(data)
			if err != nil {
				return nil, err
			}
			groups = append(groups, g)
			data = rest
		}
		if len(data) != 0 {
			return nil, errBadEntry
		}
		return groups, nil
	}
	return nil, errBadEntry
}

func decodeGroup(data []byte) (writeGroup, []byte, error) {
	id, n := binary.Uvarint(data)
	if n <= 0 {
		return writeGroup{}, nil, errBadEntry
	}
	data = data[n:]
	count, n := binary.Uvarint(data)
	if n <= 0 || count > uint64(len(data)) {
		return writeGroup{}, nil, errBadEntry
	}
	data = data[n:]
	cmds := make([]*kvcmd.Command, 0, count)
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return writeGroup{}, nil, errBadEntry
		}
		c, err := kvcmd.Unmarshal(data[n : n+int(l)])
		if err != nil {
			return writeGroup{}, nil, fmt.Errorf("raftstore: decode command: %w", err)
		}
		cmds = append(cmds, c)
		data = data[n+int(l):]
	}
	return writeGroup{id: id, cmds: cmds}, data, nil
}

// encodeConfContext stores the proposal id and the full peer (with its store
// id) in a ConfChange's context: raft only knows the peer id.
func encodeConfContext(id uint64, peer *metapb.Peer) []byte {
	pb, _ := proto.Marshal(peer)
	buf := binary.AppendUvarint(nil, id)
	return append(buf, pb...)
}

func decodeConfContext(b []byte) (uint64, *metapb.Peer, error) {
	id, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errBadEntry
	}
	peer := &metapb.Peer{}
	if err := proto.Unmarshal(b[n:], peer); err != nil {
		return 0, nil, fmt.Errorf("raftstore: decode conf change peer: %w", err)
	}
	return id, peer, nil
}

// checkCommandKeys returns KeyNotInRegion for the first key of cmds outside
// region, checking every key rather than a covering span so that batches
// are judged exactly.
func checkCommandKeys(cmds []*kvcmd.Command, region *metapb.Region) *errorpb.Error {
	for _, c := range cmds {
		switch c.Op {
		case kvcmd.OpDeleteRange:
			if e := spanInRegion(c.Key, c.EndKey, region); e != nil {
				return e
			}
		case kvcmd.OpBatchPut:
			for _, p := range c.Pairs {
				if !keyInRegion(p.Key, region) {
					return errKeyNotInRegion(p.Key, region)
				}
			}
		case kvcmd.OpBatchDelete:
			for _, k := range c.Keys {
				if !keyInRegion(k, region) {
					return errKeyNotInRegion(k, region)
				}
			}
		default:
			if !keyInRegion(c.Key, region) {
				return errKeyNotInRegion(c.Key, region)
			}
		}
	}
	return nil
}

// confStateOf derives raft's membership from the region: every peer votes.
func confStateOf(region *metapb.Region) *raftpb.ConfState {
	cs := &raftpb.ConfState{}
	for _, p := range region.GetPeers() {
		if p.GetRole() == metapb.PeerRole_Learner {
			cs.Learners = append(cs.Learners, p.GetId())
			continue
		}
		cs.Voters = append(cs.Voters, p.GetId())
	}
	return cs
}

func findPeer(region *metapb.Region, peerID uint64) *metapb.Peer {
	for _, p := range region.GetPeers() {
		if p.GetId() == peerID {
			return p
		}
	}
	return nil
}

func findStorePeer(region *metapb.Region, storeID uint64) *metapb.Peer {
	for _, p := range region.GetPeers() {
		if p.GetStoreId() == storeID {
			return p
		}
	}
	return nil
}

func cloneRegion(r *metapb.Region) *metapb.Region { return proto.Clone(r).(*metapb.Region) }
