package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
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

func entryProposals(t *testing.T, s *Store) *dto.Histogram {
	t.Helper()
	m := &dto.Metric{}
	require.NoError(t, s.m.entryProposals.Write(m))
	return m.GetHistogram()
}
