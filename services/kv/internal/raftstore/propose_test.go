package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"go.etcd.io/raft/v3"
)

func TestDecodeWrites(t *testing.T) {
	a := writeGroup{id: 7, cmds: put("a", "1")}
	b := writeGroup{id: 9, cmds: []*kvcmd.Command{
		{Op: kvcmd.OpPut, Key: []byte("b"), Value: []byte("2")},
		{Op: kvcmd.OpDelete, Key: []byte("c")},
	}}

	// Kind 1: one proposal, as logs written before merging hold it.
	got, err := decodeWrites(encodeWrite(a.id, a.cmds))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, uint64(7), got[0].id)
	require.Equal(t, "a", string(got[0].cmds[0].Key))

	// Kind 2: merged proposals keep their ids and command boundaries.
	ga, gb := appendGroup(nil, a), appendGroup(nil, b)
	entry := append(append(writesHeader(2, len(ga)+len(gb)), ga...), gb...)
	got, err = decodeWrites(entry)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, uint64(7), got[0].id)
	require.Len(t, got[0].cmds, 1)
	require.Equal(t, uint64(9), got[1].id)
	require.Len(t, got[1].cmds, 2)
	require.Equal(t, kvcmd.OpDelete, got[1].cmds[1].Op)
	require.Equal(t, "c", string(got[1].cmds[1].Key))

	for name, bad := range map[string][]byte{
		"empty":          nil,
		"unknown kind":   {9, 0},
		"truncated":      entry[:len(entry)-1],
		"trailing bytes": append(append([]byte(nil), entry...), 0),
		"count too big":  append(writesHeader(3, 0), ga...),
	} {
		_, err := decodeWrites(bad)
		require.ErrorIs(t, err, errBadEntry, name)
	}
}

// Concurrent writers reach the Raft loop within one round and leave it as
// one entry; each still gets its own result.
func TestConcurrentWritesAreMergedIntoEntries(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	n := startNode(t, net, t.TempDir(), 1, region)
	defer n.stop(net)
	writeAnywhere(t, []*testNode{n}, 1, put("warm", "up"))
	before := entryProposals(t, n.store)

	const writers = 200
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("k%03d", i)
			cmds := []*kvcmd.Command{
				{Op: kvcmd.OpPut, Key: []byte(key), Value: []byte("v1")},
				{Op: kvcmd.OpPut, Key: []byte(key), Value: []byte("v2")},
			}
			res, rerr, err := n.store.Write(context.Background(), &kvrpcpb.Context{RegionId: 1}, cmds)
			switch {
			case err != nil:
				errs <- err
			case rerr != nil:
				errs <- fmt.Errorf("%s: %v", key, rerr)
			case len(res) != 2 || res[0].Version != 1 || res[1].Version != 2:
				errs <- fmt.Errorf("%s: results %+v, want versions 1 and 2", key, res)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i := range writers {
		v, ver, err := kvcmd.Get(n.eng, []byte(fmt.Sprintf("k%03d", i)))
		require.NoError(t, err)
		require.Equal(t, "v2", string(v))
		require.Equal(t, uint64(2), ver)
	}
	after := entryProposals(t, n.store)
	require.Equal(t, uint64(writers), uint64(after.GetSampleSum()-before.GetSampleSum()))
	entries := after.GetSampleCount() - before.GetSampleCount()
	require.Less(t, entries, uint64(writers), "no two of %d concurrent writes shared an entry", writers)
	t.Logf("%d writes in %d entries", writers, entries)
}

// While the leader's last entry waits for its followers, later writes are
// held and then proposed together as one entry; none is lost or delayed
// past that entry's commit.
func TestWritesWaitingForCommitShareOneEntry(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	// A long election timeout, so the leader keeps its lease while cut off
	// for the few rounds below.
	cfg := testConfig()
	cfg.ElectionTicks = 100
	nodes := make([]*testNode, 3)
	for i := range nodes {
		nodes[i] = startNodeConfig(t, net, t.TempDir(), uint64(i+1), threePeerRegion(), cfg)
	}
	defer func() {
		for _, n := range nodes {
			n.stop(net)
		}
	}()
	writeAnywhere(t, nodes, 1, put("warm", "up"))
	var leader *testNode
	for _, n := range nodes {
		if _, rerr, err := n.store.Write(context.Background(), &kvrpcpb.Context{RegionId: 1}, put("warm", "again")); err == nil && rerr == nil {
			leader = n
			break
		}
	}
	require.NotNil(t, leader)
	before := entryProposals(t, leader.store)

	// Cut the leader off: its next entry cannot commit.
	net.mu.Lock()
	net.cut[leader.store.StoreID()] = true
	net.mu.Unlock()
	const writes = 10
	errs := make(chan error, writes+1)
	write := func(key string) {
		res, rerr, err := leader.store.Write(context.Background(), &kvrpcpb.Context{RegionId: 1}, put(key, "v"))
		switch {
		case err != nil:
			errs <- fmt.Errorf("%s: %w", key, err)
		case rerr != nil:
			errs <- fmt.Errorf("%s: %v", key, rerr)
		case len(res) != 1 || res[0].Version != 1:
			errs <- fmt.Errorf("%s: results %+v, want version 1", key, res)
		default:
			errs <- nil
		}
	}
	go write("first")
	require.Eventually(t, func() bool {
		return entryProposals(t, leader.store).GetSampleCount() == before.GetSampleCount()+1
	}, 10*time.Second, time.Millisecond, "the first write was not proposed")

	// Each later write reaches the loop in a round of its own: without
	// holding, each would become an entry of its own.
	for i := range writes {
		go write(fmt.Sprintf("held%d", i))
		require.Eventually(t, func() bool { return pendingWrites(t, leader.store) == i+1 },
			10*time.Second, time.Millisecond, "write %d was not queued", i)
	}
	require.Equal(t, before.GetSampleCount()+1, entryProposals(t, leader.store).GetSampleCount(),
		"writes were proposed while the last entry was not committed")

	net.mu.Lock()
	net.cut[leader.store.StoreID()] = false
	net.mu.Unlock()
	for range writes + 1 {
		require.NoError(t, <-errs)
	}
	after := entryProposals(t, leader.store)
	require.Equal(t, before.GetSampleCount()+2, after.GetSampleCount(), "want the first entry and one with every held write")
	require.Equal(t, float64(writes+1), after.GetSampleSum()-before.GetSampleSum())
}

// A peer that is not the leader drops a proposal instead of forwarding it
// to the leader: a write proposed by a leader that has just stepped down
// is failed as never proposed, so it cannot commit after its client's
// retry did (see DisableProposalForwarding in peer.go).
func TestFollowerDropsProposalsInsteadOfForwarding(t *testing.T) {
	_, nodes := startThree(t)
	writeAnywhere(t, nodes, 1, put("warm", "up"))
	group := appendGroup(nil, writeGroup{id: 1 << 60, cmds: put("forwarded", "x")})
	entry := append(writesHeader(1, len(group)), group...)
	dropped := 0
	for _, n := range nodes {
		errc := make(chan error, 1)
		require.NoError(t, n.store.submit(func() {
			if p := n.store.peers[1]; p.rn.BasicStatus().RaftState != raft.StateLeader {
				errc <- p.rn.Propose(entry)
				return
			}
			errc <- nil
		}))
		if err := <-errc; err != nil {
			require.ErrorIs(t, err, raft.ErrProposalDropped)
			dropped++
		}
	}
	require.Equal(t, 2, dropped, "want both followers to drop the proposal")
	writeAnywhere(t, nodes, 1, put("after", "y"))
	_, found := readAnywhere(t, nodes, 1, "forwarded")
	require.False(t, found, "a follower's proposal reached the log")
}

// pendingWrites counts the writes the loop holds for region 1, read on the
// loop goroutine.
func pendingWrites(t *testing.T, s *Store) int {
	t.Helper()
	n := make(chan int, 1)
	require.NoError(t, s.submit(func() { n <- len(s.peers[1].pendingWrites) }))
	return <-n
}

func entryProposals(t *testing.T, s *Store) *dto.Histogram {
	t.Helper()
	m := &dto.Metric{}
	require.NoError(t, s.m.entryProposals.Write(m))
	return m.GetHistogram()
}
