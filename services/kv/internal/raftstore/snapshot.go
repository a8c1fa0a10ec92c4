package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// Snapshot data layout: uvarint length + marshaled RegionLocalState, then
// records of (cf tag byte, uvarint key length, key, uvarint value length,
// value) for every key of the region in CFDefault and CFVersion.
var snapCFs = []string{storage.CFDefault, storage.CFVersion}

// buildSnapshot captures the region's applied state from one engine
// snapshot, so data, region shape and index agree. It runs on a goroutine
// of its own (see Store.snapshot) while the Raft loop goes on.
func (s *Store) buildSnapshot(regionID uint64) (*raftpb.Snapshot, error) {
	snap, err := s.engine.NewSnapshot()
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	b, err := snap.Get(storage.CFMeta, keys.RegionStateKey(regionID))
	if err != nil {
		return nil, err
	}
	st := &raft_serverpb.RegionLocalState{}
	if err := proto.Unmarshal(b, st); err != nil {
		return nil, err
	}
	if b, err = snap.Get(storage.CFRaft, keys.ApplyStateKey(regionID)); err != nil {
		return nil, err
	}
	as := &raft_serverpb.RaftApplyState{}
	if err := proto.Unmarshal(b, as); err != nil {
		return nil, err
	}
	term := as.GetTruncatedTerm()
	if as.GetAppliedIndex() != as.GetTruncatedIndex() {
		if b, err = snap.Get(storage.CFRaft, keys.RaftLogKey(regionID, as.GetAppliedIndex())); err != nil {
			return nil, fmt.Errorf("raftstore: term of applied index %d: %w", as.GetAppliedIndex(), err)
		}
		e := &raftpb.Entry{}
		if err := proto.Unmarshal(b, e); err != nil {
			return nil, err
		}
		term = e.GetTerm()
	}
	sb, _ := proto.Marshal(st)
	data := binary.AppendUvarint(nil, uint64(len(sb)))
	data = append(data, sb...)
	region := st.GetRegion()
	for tag, cf := range snapCFs {
		it, err := snap.NewIterator(cf, storage.IterOptions{LowerBound: region.GetStartKey(), UpperBound: nilIfEmpty(region.GetEndKey())})
		if err != nil {
			return nil, err
		}
		for ; it.Valid(); it.Next() {
			data = append(data, byte(tag))
			data = binary.AppendUvarint(data, uint64(len(it.Key())))
			data = append(data, it.Key()...)
			data = binary.AppendUvarint(data, uint64(len(it.Value())))
			data = append(data, it.Value()...)
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return nil, err
		}
	}
	s.m.snapshotsBuilt.Inc()
	s.lg.Info("built snapshot", zap.Uint64("region-id", regionID), zap.Uint64("index", as.GetAppliedIndex()), zap.Int("bytes", len(data)))
	return &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		ConfState: confStateOf(region), Index: proto.Uint64(as.GetAppliedIndex()), Term: proto.Uint64(term),
	}}, nil
}

type snapKV struct {
	cf         string
	key, value []byte
}

func decodeSnapshotData(data []byte) (*raft_serverpb.RegionLocalState, []snapKV, error) {
	bad := errors.New("raftstore: malformed snapshot data")
	next := func() ([]byte, bool) {
		l, n := binary.Uvarint(data)
		if n <= 0 || uint64(len(data)-n) < l {
			return nil, false
		}
		b := data[n : n+int(l)]
		data = data[n+int(l):]
		return b, true
	}
	sb, ok := next()
	if !ok {
		return nil, nil, bad
	}
	st := &raft_serverpb.RegionLocalState{}
	if err := proto.Unmarshal(sb, st); err != nil {
		return nil, nil, err
	}
	var kvs []snapKV
	for len(data) > 0 {
		tag := data[0]
		data = data[1:]
		if int(tag) >= len(snapCFs) {
			return nil, nil, bad
		}
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return nil, nil, bad
		}
		kvs = append(kvs, snapKV{cf: snapCFs[tag], key: k, value: v})
	}
	return st, kvs, nil
}

// applySnapshot replaces the region's data, apply state and log with the
// snapshot, in wb (the same batch as the Ready's HardState, so both land
// atomically and the snapshot is never behind the HardState on disk).
func (s *Store) applySnapshot(wb storage.WriteBatch, p *peer, snap *raftpb.Snapshot) error {
	st, kvs, err := decodeSnapshotData(snap.GetData())
	if err != nil {
		return err
	}
	// Older entries of this region may still be queued for apply; they must
	// land before the snapshot overwrites the data.
	barrier := make(chan struct{})
	select {
	case s.applyc <- &applyTask{barrier: barrier}:
	case <-s.stopc:
		return ErrStopped
	}
	select {
	case <-barrier:
	case <-s.stopc:
		return ErrStopped
	}
	region := st.GetRegion()
	if err := deleteRegionData(s.engine, wb, region); err != nil {
		return err
	}
	for _, kv := range kvs {
		wb.Put(kv.cf, kv.key, kv.value)
	}
	meta := snap.GetMetadata()
	b, _ := proto.Marshal(&raft_serverpb.RegionLocalState{State: raft_serverpb.PeerState_Normal, Region: region})
	wb.Put(storage.CFMeta, keys.RegionStateKey(region.GetId()), b)
	as := &raft_serverpb.RaftApplyState{AppliedIndex: meta.GetIndex(), TruncatedIndex: meta.GetIndex(), TruncatedTerm: meta.GetTerm()}
	b, _ = proto.Marshal(as)
	wb.Put(storage.CFRaft, keys.ApplyStateKey(region.GetId()), b)
	p.ps.resetToSnapshot(wb, meta)
	p.snapRegion = region
	return nil
}

// afterSnapshot runs once the snapshot is durable: the peer now serves the
// region from the snapshot's state.
func (s *Store) afterSnapshot(p *peer, snap *raftpb.Snapshot) {
	region := p.snapRegion
	p.snapRegion = nil
	meta := snap.GetMetadata()
	p.region = region
	p.initialized = true
	p.applied = meta.GetIndex()
	for _, pp := range region.GetPeers() {
		p.peerCache[pp.GetId()] = pp
	}
	if self := findPeer(region, p.meta.GetId()); self != nil {
		p.meta = self
	}
	s.registerApply(p, &raft_serverpb.RaftApplyState{
		AppliedIndex: meta.GetIndex(), TruncatedIndex: meta.GetIndex(), TruncatedTerm: meta.GetTerm()})
	s.m.snapshotsApplied.Inc()
	s.lg.Info("applied snapshot", zap.Uint64("region-id", region.GetId()), zap.Uint64("index", meta.GetIndex()))
}

var _ = (*metapb.Region)(nil)
