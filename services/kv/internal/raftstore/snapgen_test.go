package raftstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// snapshotOnLoop calls the region's raft Storage.Snapshot on the Raft loop,
// where raft calls it.
func snapshotOnLoop(t *testing.T, s *Store) (*raftpb.Snapshot, error) {
	t.Helper()
	type res struct {
		snap *raftpb.Snapshot
		err  error
	}
	c := make(chan res, 1)
	require.NoError(t, s.submit(func() {
		snap, err := s.peers[1].ps.Snapshot()
		c <- res{snap, err}
	}))
	r := <-c
	return r.snap, r.err
}

// The first request for a snapshot starts a build and is told to retry;
// a later one gets the finished snapshot, which covers what was applied.
func TestSnapshotIsBuiltOffTheLoop(t *testing.T) {
	n, _ := startSingle(t)
	nodes := []*testNode{n}
	for i := 0; i < 20; i++ {
		writeAnywhere(t, nodes, 1, put(fmt.Sprintf("k%02d", i), "v"))
	}
	_, err := snapshotOnLoop(t, n.store)
	require.ErrorIs(t, err, raft.ErrSnapshotTemporarilyUnavailable)
	var snap *raftpb.Snapshot
	require.Eventually(t, func() bool {
		snap, err = snapshotOnLoop(t, n.store)
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	require.GreaterOrEqual(t, snap.GetMetadata().GetIndex(), uint64(20))
	_, kvs, err := decodeSnapshotData(snap.GetData())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(kvs), 20)
	// Handed out once: the next request builds anew.
	_, err = snapshotOnLoop(t, n.store)
	require.ErrorIs(t, err, raft.ErrSnapshotTemporarilyUnavailable)
}

// A follower that missed more than the log keeps catches up through an
// asynchronously built snapshot and then follows the log again.
func TestLaggingFollowerCatchesUpBySnapshot(t *testing.T) {
	net, nodes := startThree(t)
	writeAnywhere(t, nodes, 1, put("warm", "1"))
	net.mu.Lock()
	net.cut[3] = true
	net.mu.Unlock()
	for i := 0; i < 120; i++ { // past testConfig's LogGCThreshold
		writeAnywhere(t, nodes, 1, put(fmt.Sprintf("k%03d", i), "v"))
	}
	net.mu.Lock()
	net.cut[3] = false
	net.mu.Unlock()
	writeAnywhere(t, nodes, 1, put("after", "x"))
	require.Eventually(t, func() bool {
		v, _, err := kvcmd.Get(nodes[2].eng, []byte("after"))
		return err == nil && string(v) == "x"
	}, 20*time.Second, 20*time.Millisecond)
	v, _, err := kvcmd.Get(nodes[2].eng, []byte("k000"))
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	var built, applied float64
	for _, n := range nodes {
		built += counterValue(t, n.store.m.snapshotsBuilt)
		applied += counterValue(t, n.store.m.snapshotsApplied)
	}
	require.GreaterOrEqual(t, built, 1.0)
	require.GreaterOrEqual(t, applied, 1.0)
}
