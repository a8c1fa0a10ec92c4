package raftstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/stretchr/testify/require"
)

// TestReadsDoNotWaitForATick: the apply goroutine wakes the Raft loop for
// a bare applied index only while reads wait for one (see flushApply). With
// ticks an hour apart nothing else wakes the loop here: a read that waits
// for the apply of a committed write would hang without that wake-up.
func TestReadsDoNotWaitForATick(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	region := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}, Peers: []*metapb.Peer{{Id: 11, StoreId: 1}}}
	var hold atomic.Bool
	applying, release := make(chan struct{}, 1), make(chan struct{})
	cfg := testConfig()
	cfg.TickInterval = time.Hour
	cfg.Knobs = &Knobs{BeforeApplyWrite: func() {
		if hold.Load() {
			applying <- struct{}{}
			<-release
		}
	}}
	n := startNodeConfig(t, net, t.TempDir(), 1, region, cfg)
	defer n.stop(net)
	writeAnywhere(t, []*testNode{n}, 1, put("k", "old")) // waits for leadership
	rctx := &kvrpcpb.Context{RegionId: 1}

	hold.Store(true)
	wrote := make(chan error, 1)
	go func() {
		_, rerr, err := n.store.Write(context.Background(), rctx, put("k", "new"))
		if err == nil && rerr != nil {
			err = fmt.Errorf("%v", rerr)
		}
		wrote <- err
	}()
	<-applying // committed, its apply held back
	hold.Store(false)
	read := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		snap, _, rerr, err := n.store.Snapshot(ctx, rctx)
		if err != nil || rerr != nil {
			read <- fmt.Sprintf("error: %v %v", err, rerr)
			return
		}
		defer snap.Close()
		v, _, _ := kvcmd.Get(snap, []byte("k"))
		read <- string(v)
	}()
	require.Eventually(t, func() bool { return readsWaiting(t, n.store) == 1 }, 5*time.Second, time.Millisecond,
		"the read should wait for the held apply")
	close(release)
	require.NoError(t, <-wrote)
	require.Equal(t, "new", <-read)
}

func readsWaiting(t *testing.T, s *Store) int {
	t.Helper()
	n := make(chan int, 1)
	require.NoError(t, s.submit(func() { n <- len(s.peers[1].readsWaiting) }))
	return <-n
}
