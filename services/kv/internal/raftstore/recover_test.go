package raftstore

import (
	"fmt"
	"testing"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
)

// TestRestartWithAppliedAboveCommit reproduces the state a kill -9 can
// leave (found by the porcupine test): the apply write reached the engine,
// the HardState write carrying the matching commit index did not. The store
// must start and serve every applied write instead of raft panicking with
// "applied(N) is out of range".
func TestRestartWithAppliedAboveCommit(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	dir := t.TempDir()
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n := startNode(t, net, dir, 1, region)
	for i := 0; i < 20; i++ {
		writeAnywhere(t, []*testNode{n}, 1, put(fmt.Sprintf("k%02d", i), fmt.Sprint(i)))
	}
	n.stop(net)

	// Roll the persisted commit index back below the applied index.
	eng, err := rocksdb.Open(dir, rocksdb.NewConfig(), zaptest.NewLogger(t))
	require.NoError(t, err)
	b, err := eng.Get(storage.CFRaft, keys.ApplyStateKey(1))
	require.NoError(t, err)
	as := &raft_serverpb.RaftApplyState{}
	require.NoError(t, proto.Unmarshal(b, as))
	require.Greater(t, as.GetAppliedIndex(), uint64(3))
	b, err = eng.Get(storage.CFRaft, keys.RaftStateKey(1))
	require.NoError(t, err)
	hs := &raftpb.HardState{}
	require.NoError(t, proto.Unmarshal(b, hs))
	hs.Commit = proto.Uint64(as.GetAppliedIndex() - 2)
	b, err = proto.Marshal(hs)
	require.NoError(t, err)
	wb := eng.NewWriteBatch()
	wb.Put(storage.CFRaft, keys.RaftStateKey(1), b)
	require.NoError(t, eng.Write(wb, storage.WriteOptions{Sync: true}))
	wb.Close()
	require.NoError(t, eng.Close())

	n = startNode(t, net, dir, 1, nil)
	defer n.stop(net)
	for i := 0; i < 20; i++ {
		v, ok := readAnywhere(t, []*testNode{n}, 1, fmt.Sprintf("k%02d", i))
		require.True(t, ok)
		require.Equal(t, fmt.Sprint(i), v)
	}
	writeAnywhere(t, []*testNode{n}, 1, put("after", "restart"))
}

func TestReconcileCommit(t *testing.T) {
	ps := &peerStorage{hardState: &raftpb.HardState{Commit: proto.Uint64(5)}, lastIndex: 10}
	require.NoError(t, reconcileCommit(ps, 3))
	require.Equal(t, uint64(5), ps.hardState.GetCommit(), "a lower applied index changes nothing")
	require.NoError(t, reconcileCommit(ps, 8))
	require.Equal(t, uint64(8), ps.hardState.GetCommit())
	require.ErrorContains(t, reconcileCommit(ps, 12), "beyond the last log index 10")
}
