package raftstore

import (
	"errors"
	"fmt"
	"math"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// maxCachedEntries bounds the in-memory tail of the log kept per peer so
// that appends to followers rarely touch the engine.
const maxCachedEntries = 1024

// peerStorage is raft.Storage over the engine for one region. It is owned
// by the store's Raft loop: only that goroutine reads or mutates it, which
// is why it needs no lock. The in-memory fields mirror what the last
// persisted write put on disk (the write happens before Advance).
type peerStorage struct {
	engine   storage.Engine
	regionID uint64

	hardState *raftpb.HardState
	confState *raftpb.ConfState
	// truncIndex/truncTerm describe the entry just before the first one in
	// the log (the last compacted or snapshotted entry).
	truncIndex, truncTerm uint64
	lastIndex, lastTerm   uint64
	// cache holds a contiguous tail of the log; cache[0] may be > truncIndex+1.
	cache []*raftpb.Entry
	// snapshot builds a snapshot of the region's applied state.
	snapshot func() (*raftpb.Snapshot, error)
}

var _ raft.Storage = (*peerStorage)(nil)

// loadPeerStorage reads the HardState and log bounds of a region from
// the engine. truncIndex/truncTerm come from the persisted apply state.
func loadPeerStorage(eng storage.Engine, regionID, truncIndex, truncTerm uint64, cs *raftpb.ConfState) (*peerStorage, error) {
	ps := &peerStorage{engine: eng, regionID: regionID, confState: cs,
		truncIndex: truncIndex, truncTerm: truncTerm, lastIndex: truncIndex, lastTerm: truncTerm,
		hardState: &raftpb.HardState{}}
	b, err := eng.Get(storage.CFRaft, keys.RaftStateKey(regionID))
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if err := proto.Unmarshal(b, ps.hardState); err != nil {
			return nil, fmt.Errorf("raftstore: decode hard state of region %d: %w", regionID, err)
		}
	}
	it, err := eng.NewIterator(storage.CFRaft, storage.IterOptions{
		LowerBound: keys.RaftLogKey(regionID, truncIndex+1),
		UpperBound: keys.RaftLogKey(regionID, math.MaxUint64),
		Reverse:    true,
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if it.Valid() {
		e := &raftpb.Entry{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			return nil, fmt.Errorf("raftstore: decode last entry of region %d: %w", regionID, err)
		}
		ps.lastIndex, ps.lastTerm = e.GetIndex(), e.GetTerm()
	}
	return ps, it.Err()
}

func (ps *peerStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	return proto.Clone(ps.hardState).(*raftpb.HardState), proto.Clone(ps.confState).(*raftpb.ConfState), nil
}

func (ps *peerStorage) FirstIndex() (uint64, error) { return ps.truncIndex + 1, nil }

func (ps *peerStorage) LastIndex() (uint64, error) { return ps.lastIndex, nil }

func (ps *peerStorage) Snapshot() (*raftpb.Snapshot, error) { return ps.snapshot() }

func (ps *peerStorage) cached(i uint64) *raftpb.Entry {
	if len(ps.cache) == 0 || i < ps.cache[0].GetIndex() || i > ps.lastIndex {
		return nil
	}
	return ps.cache[i-ps.cache[0].GetIndex()]
}

func (ps *peerStorage) Term(i uint64) (uint64, error) {
	switch {
	case i == ps.truncIndex:
		return ps.truncTerm, nil
	case i < ps.truncIndex:
		return 0, raft.ErrCompacted
	case i > ps.lastIndex:
		return 0, raft.ErrUnavailable
	case i == ps.lastIndex:
		return ps.lastTerm, nil
	}
	if e := ps.cached(i); e != nil {
		return e.GetTerm(), nil
	}
	b, err := ps.engine.Get(storage.CFRaft, keys.RaftLogKey(ps.regionID, i))
	if err != nil {
		return 0, fmt.Errorf("raftstore: read term %d of region %d: %w", i, ps.regionID, err)
	}
	e := &raftpb.Entry{}
	if err := proto.Unmarshal(b, e); err != nil {
		return 0, err
	}
	return e.GetTerm(), nil
}

func (ps *peerStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if lo <= ps.truncIndex {
		return nil, raft.ErrCompacted
	}
	if hi > ps.lastIndex+1 {
		return nil, raft.ErrUnavailable
	}
	var out []*raftpb.Entry
	var size uint64
	add := func(e *raftpb.Entry) bool {
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			return false
		}
		out = append(out, e)
		return true
	}
	i := lo
	if len(ps.cache) == 0 || lo < ps.cache[0].GetIndex() {
		end := hi
		if len(ps.cache) > 0 && ps.cache[0].GetIndex() < end {
			end = ps.cache[0].GetIndex()
		}
		it, err := ps.engine.NewIterator(storage.CFRaft, storage.IterOptions{
			LowerBound: keys.RaftLogKey(ps.regionID, lo),
			UpperBound: keys.RaftLogKey(ps.regionID, end),
		})
		if err != nil {
			return nil, err
		}
		for ; it.Valid(); it.Next() {
			e := &raftpb.Entry{}
			if err := proto.Unmarshal(it.Value(), e); err != nil {
				it.Close()
				return nil, err
			}
			if e.GetIndex() != i {
				it.Close()
				return nil, fmt.Errorf("raftstore: region %d log hole at %d (found %d)", ps.regionID, i, e.GetIndex())
			}
			i++
			if !add(e) {
				it.Close()
				return out, nil
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return nil, err
		}
		if i != end {
			return nil, fmt.Errorf("raftstore: region %d log ends at %d, want %d", ps.regionID, i, end)
		}
	}
	for ; i < hi; i++ {
		if !add(ps.cached(i)) {
			break
		}
	}
	return out, nil
}

// append records ents in wb and updates the in-memory view; entries past
// the new tail that a new leader overwrote are deleted.
func (ps *peerStorage) append(wb storage.WriteBatch, ents []*raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	first := ents[0].GetIndex()
	for _, e := range ents {
		b, err := proto.Marshal(e)
		if err != nil {
			return err
		}
		wb.Put(storage.CFRaft, keys.RaftLogKey(ps.regionID, e.GetIndex()), b)
	}
	last := ents[len(ents)-1]
	if last.GetIndex() < ps.lastIndex {
		wb.DeleteRange(storage.CFRaft, keys.RaftLogKey(ps.regionID, last.GetIndex()+1),
			keys.RaftLogKey(ps.regionID, ps.lastIndex+1))
	}
	ps.lastIndex, ps.lastTerm = last.GetIndex(), last.GetTerm()

	if len(ps.cache) > 0 && first >= ps.cache[0].GetIndex() && first <= ps.cache[len(ps.cache)-1].GetIndex()+1 {
		ps.cache = append(ps.cache[:first-ps.cache[0].GetIndex()], ents...)
	} else {
		ps.cache = append([]*raftpb.Entry(nil), ents...)
	}
	if n := len(ps.cache); n > maxCachedEntries {
		ps.cache = append([]*raftpb.Entry(nil), ps.cache[n-maxCachedEntries/2:]...)
	}
	return nil
}

func (ps *peerStorage) setHardState(wb storage.WriteBatch, hs *raftpb.HardState) error {
	b, err := proto.Marshal(hs)
	if err != nil {
		return err
	}
	wb.Put(storage.CFRaft, keys.RaftStateKey(ps.regionID), b)
	ps.hardState = proto.Clone(hs).(*raftpb.HardState)
	return nil
}

// compactTo forgets entries up to index (already recorded as truncated in
// the persisted apply state) and deletes them in wb.
func (ps *peerStorage) compactTo(wb storage.WriteBatch, index, term uint64) {
	if index <= ps.truncIndex || index > ps.lastIndex {
		return
	}
	wb.DeleteRange(storage.CFRaft, keys.RaftLogKey(ps.regionID, ps.truncIndex+1), keys.RaftLogKey(ps.regionID, index+1))
	ps.truncIndex, ps.truncTerm = index, term
	for len(ps.cache) > 0 && ps.cache[0].GetIndex() <= index {
		ps.cache = ps.cache[1:]
	}
}

// resetToSnapshot drops the whole log: everything up to the snapshot is in
// the applied state now.
func (ps *peerStorage) resetToSnapshot(wb storage.WriteBatch, meta *raftpb.SnapshotMetadata) {
	wb.DeleteRange(storage.CFRaft, keys.RaftLogKey(ps.regionID, 0), keys.RaftLogKey(ps.regionID, math.MaxUint64))
	ps.truncIndex, ps.truncTerm = meta.GetIndex(), meta.GetTerm()
	ps.lastIndex, ps.lastTerm = meta.GetIndex(), meta.GetTerm()
	ps.cache = nil
	ps.confState = proto.Clone(meta.GetConfState()).(*raftpb.ConfState)
}
