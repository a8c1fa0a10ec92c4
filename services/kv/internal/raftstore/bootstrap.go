package raftstore

import (
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// initLogIndex/initLogTerm: a bootstrapped region starts with its log
// truncated at index 5, term 5 (as TiKV does). Peers added later start
// empty, so the leader's log never reaches back to them and they are sent a
// snapshot, which carries the region's shape and data.
const (
	initLogIndex = 5
	initLogTerm  = 5
)

// BootstrapRegion writes the initial Raft and apply state of region into
// eng, so that a store started on eng hosts it. Every store listed in
// region.Peers must be bootstrapped with the same region. It fails if the
// store already knows the region.
func BootstrapRegion(eng storage.Engine, region *metapb.Region) error {
	id := region.GetId()
	if _, err := eng.Get(storage.CFMeta, keys.RegionStateKey(id)); err == nil {
		return fmt.Errorf("raftstore: region %d already exists", id)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	wb := eng.NewWriteBatch()
	defer wb.Close()
	b, _ := proto.Marshal(&raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Normal, Region: region})
	wb.Put(storage.CFMeta, keys.RegionStateKey(id), b)
	if err := PrepareFirstRegion(wb, region); err != nil {
		return err
	}
	return eng.Write(wb, storage.WriteOptions{Sync: true})
}

// PrepareFirstRegion adds the initial Raft state of region (HardState and
// apply state at the initial index) to wb, which the caller writes together
// with the region's RegionLocalState. It matches bootstrap.PrepareFunc.
func PrepareFirstRegion(wb storage.WriteBatch, region *metapb.Region) error {
	id := region.GetId()
	b, _ := proto.Marshal(&raft_serverpb.RaftApplyState{AppliedIndex: initLogIndex, TruncatedIndex: initLogIndex, TruncatedTerm: initLogTerm})
	wb.Put(storage.CFRaft, keys.ApplyStateKey(id), b)
	b, _ = proto.Marshal(&raftpb.HardState{Term: proto.Uint64(initLogTerm), Commit: proto.Uint64(initLogIndex), Vote: proto.Uint64(0)})
	wb.Put(storage.CFRaft, keys.RaftStateKey(id), b)
	return nil
}
