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

// entryKindWrite tags a normal entry carrying client commands. The tag lets
// later kinds (split, merge) be added without guessing at old data.
const entryKindWrite byte = 1

var errBadEntry = errors.New("raftstore: malformed entry data")

// encodeWrite lays out a write proposal as: kind, uvarint proposal id,
// uvarint command count, then each command as uvarint length + bytes. The
// proposal id lets the proposer's waiter be found at apply time; replicas
// that did not propose it simply find no waiter.
func encodeWrite(id uint64, cmds []*kvcmd.Command) []byte {
	buf := make([]byte, 0, 64)
	buf = append(buf, entryKindWrite)
	buf = binary.AppendUvarint(buf, id)
	buf = binary.AppendUvarint(buf, uint64(len(cmds)))
	for _, c := range cmds {
		b := c.Marshal()
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return buf
}

func decodeWrite(data []byte) (uint64, []*kvcmd.Command, error) {
	if len(data) == 0 || data[0] != entryKindWrite {
		return 0, nil, errBadEntry
	}
	data = data[1:]
	id, n := binary.Uvarint(data)
	if n <= 0 {
		return 0, nil, errBadEntry
	}
	data = data[n:]
	count, n := binary.Uvarint(data)
	if n <= 0 || count > uint64(len(data)) {
		return 0, nil, errBadEntry
	}
	data = data[n:]
	cmds := make([]*kvcmd.Command, 0, count)
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return 0, nil, errBadEntry
		}
		c, err := kvcmd.Unmarshal(data[n : n+int(l)])
		if err != nil {
			return 0, nil, fmt.Errorf("raftstore: decode command: %w", err)
		}
		cmds = append(cmds, c)
		data = data[n+int(l):]
	}
	return id, cmds, nil
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
