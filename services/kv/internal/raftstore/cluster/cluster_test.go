package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/stretchr/testify/require"
)

func put(k, v string) []*kvcmd.Command {
	return []*kvcmd.Command{{Op: kvcmd.OpPut, Key: []byte(k), Value: []byte(v)}}
}

func mustWrite(t *testing.T, c *Cluster, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, err := c.Write(ctx, put(k, v))
		if err == nil {
			return
		}
		require.NoError(t, ctx.Err(), "write %s: %v", k, err)
	}
}

func requireValue(t *testing.T, c *Cluster, k, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, found, err := c.Get(ctx, []byte(k))
	require.NoError(t, err)
	require.True(t, found, "key %s lost", k)
	require.Equal(t, want, string(v))
}

func TestLeaderKillKeepsAcknowledgedWrites(t *testing.T) {
	c := Start(t, 3)
	for i := 0; i < 20; i++ {
		mustWrite(t, c, fmt.Sprintf("k%d", i), "v")
	}
	old := c.Leader()
	require.GreaterOrEqual(t, old, 0)
	c.StopNode(old)
	mustWrite(t, c, "after-kill", "v")
	nl := c.Leader()
	require.GreaterOrEqual(t, nl, 0)
	require.NotEqual(t, old, nl)
	for i := 0; i < 20; i++ {
		requireValue(t, c, fmt.Sprintf("k%d", i), "v")
	}
	c.RestartNode(old)
	mustWrite(t, c, "after-restart", "v")
}

func TestMinorityPartitionCannotCommit(t *testing.T) {
	c := Start(t, 3)
	mustWrite(t, c, "a", "1")
	l := c.Leader()
	require.GreaterOrEqual(t, l, 0)
	minority := c.Nodes[l].ID
	var majority []uint64
	for _, n := range c.Nodes {
		if n.ID != minority {
			majority = append(majority, n.ID)
		}
	}
	c.Filter.Partition(majority, []uint64{minority})
	// The old leader alone cannot commit: its write never succeeds.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, _, err := c.Nodes[l].Store.Write(ctx, regionCtx(), put("minority", "x"))
	cancel()
	require.Error(t, err)
	// The majority elects a leader and serves.
	mustWrite(t, c, "majority", "y")
	c.Filter.Heal()
	requireValue(t, c, "majority", "y")
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, found, err := c.Get(ctx, []byte("minority"))
	require.NoError(t, err)
	require.False(t, found, "a write on the minority side was applied")
}

func TestFollowerRestartCatchesUpBySnapshot(t *testing.T) {
	c := Start(t, 3)
	mustWrite(t, c, "a", "1")
	f := (c.Leader() + 1) % 3
	c.StopNode(f)
	for i := 0; i < 300; i++ { // beyond the log GC threshold
		mustWrite(t, c, fmt.Sprintf("k%03d", i), "v")
	}
	c.RestartNode(f)
	// Cut off a node other than f: f is needed for every quorum now.
	other := (f + 1) % 3
	c.Filter.Partition([]uint64{c.Nodes[f].ID, c.Nodes[(f+2)%3].ID}, []uint64{c.Nodes[other].ID})
	mustWrite(t, c, "b", "2")
	requireValue(t, c, "k299", "v")
	c.Filter.Heal()
}

func TestAllNodesCrashAndRestart(t *testing.T) {
	c := Start(t, 3)
	for i := 0; i < 50; i++ {
		mustWrite(t, c, fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
	for i := range c.Nodes {
		c.StopNode(i)
	}
	for i := range c.Nodes {
		c.RestartNode(i)
	}
	for i := 0; i < 50; i++ {
		requireValue(t, c, fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
}

func regionCtx() *kvrpcpb.Context { return &kvrpcpb.Context{RegionId: RegionID} }
