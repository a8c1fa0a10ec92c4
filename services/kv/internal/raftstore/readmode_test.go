package raftstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestReadModeValidation(t *testing.T) {
	for _, tc := range []struct {
		mode string
		ok   bool
	}{{"", true}, {ReadModeReadIndex, true}, {ReadModeLease, true}, {"stale", false}} {
		cfg := NewConfig()
		cfg.ReadMode = tc.mode
		err := cfg.Validate()
		if tc.ok {
			require.NoError(t, err, tc.mode)
		} else {
			require.ErrorContains(t, err, `read-mode "stale"`)
		}
	}
}

// TestLeaseReadsSeeEveryAcknowledgedWrite runs three stores with lease reads
// and checks that every read, served wherever a leader answers, returns the
// write acknowledged just before it, also after the leader is stopped.
func TestLeaseReadsSeeEveryAcknowledgedWrite(t *testing.T) {
	net := &memNet{stores: map[uint64]*Store{}, cut: map[uint64]bool{}}
	nodes := make([]*testNode, 3)
	for i := range nodes {
		cfg := testConfig()
		cfg.ReadMode = ReadModeLease
		eng, err := rocksdb.Open(t.TempDir(), rocksdb.NewConfig(), zaptest.NewLogger(t))
		require.NoError(t, err)
		require.NoError(t, BootstrapRegion(eng, threePeerRegion()))
		s, err := NewStore(cfg, uint64(i+1), eng, nil, nil)
		require.NoError(t, err)
		s.SetTransport(&memTransport{net: net, from: uint64(i + 1)})
		require.NoError(t, s.Start())
		net.mu.Lock()
		net.stores[uint64(i+1)] = s
		net.mu.Unlock()
		nodes[i] = &testNode{eng: eng, store: s}
	}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.stop(net)
			}
		}
	}()
	for i := 0; i < 20; i++ {
		writeAnywhere(t, nodes, 1, put("k", fmt.Sprint(i)))
		v, ok := readAnywhere(t, nodes, 1, "k")
		require.True(t, ok)
		require.Equal(t, fmt.Sprint(i), v)
	}
	// Stop whichever store leads; the next leader's lease reads must still
	// see the last acknowledged write.
	stopped := false
	for i, n := range nodes {
		leads, err := n.store.LeaderStatus(context.Background())
		require.NoError(t, err)
		if leads[1] {
			n.stop(net)
			nodes[i], stopped = nil, true
			break
		}
	}
	require.True(t, stopped, "one store leads region 1")
	writeAnywhere(t, nodes, 1, put("k", "after"))
	v, ok := readAnywhere(t, nodes, 1, "k")
	require.True(t, ok)
	require.Equal(t, "after", v)
}
