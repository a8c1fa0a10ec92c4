package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flaredb/flaredb/integration/linearizability"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

var long = flag.Bool("long", false, "run the long linearizability version: ten seeds, 30 s each over 8 keys")

// clusterStore is linearizability.Store over the in-process cluster: writes
// through Cluster.Write (any error: outcome unknown), reads through a
// ReadIndex snapshot of whichever store leads.
type clusterStore struct{ c *Cluster }

func (s clusterStore) Get(ctx context.Context, key string) (string, uint64, error) {
	for ctx.Err() == nil {
		for _, n := range s.c.Nodes {
			st := n.Store
			if st == nil {
				continue
			}
			snap, _, rerr, err := st.Snapshot(ctx, &kvrpcpb.Context{RegionId: RegionID})
			if err != nil || rerr != nil {
				continue
			}
			v, ver, err := kvcmd.Get(snap, []byte(key))
			snap.Close()
			return string(v), ver, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", 0, ctx.Err()
}

func (s clusterStore) write(ctx context.Context, cmd *kvcmd.Command) (kvcmd.Result, error) {
	res, err := s.c.Write(ctx, []*kvcmd.Command{cmd})
	if err != nil {
		return kvcmd.Result{}, err
	}
	if len(res) != 1 {
		return kvcmd.Result{}, errors.New("want one result")
	}
	return res[0], nil
}

func (s clusterStore) Put(ctx context.Context, key, value string) (uint64, error) {
	r, err := s.write(ctx, &kvcmd.Command{Op: kvcmd.OpPut, Key: []byte(key), Value: []byte(value)})
	return r.Version, err
}

func (s clusterStore) CAS(ctx context.Context, key, value string, expected uint64) (bool, string, uint64, error) {
	r, err := s.write(ctx, &kvcmd.Command{Op: kvcmd.OpCAS, Key: []byte(key), Value: []byte(value), ExpectedVersion: expected})
	return r.Succeeded, string(r.Value), r.Version, err
}

// partitionNemesis isolates one random store at a time, sometimes drops a
// fraction of all messages, and heals in between.
func partitionNemesis(ctx context.Context, t *testing.T, c *Cluster, rng *rand.Rand) {
	defer c.Filter.Heal()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(200+rng.IntN(800)) * time.Millisecond):
		}
		switch rng.IntN(3) {
		case 0:
			c.Filter.Heal()
		case 1:
			victim := c.Nodes[rng.IntN(len(c.Nodes))].ID
			var rest []uint64
			for _, n := range c.Nodes {
				if n.ID != victim {
					rest = append(rest, n.ID)
				}
			}
			t.Logf("nemesis: isolate store %d", victim)
			c.Filter.Partition(rest, []uint64{victim})
		default:
			c.Filter.SetDropRate(0.2)
		}
	}
}

// TestLinearizableUnderPartitions checks with porcupine that concurrent
// put/get/CAS on a small key set stay linearizable while stores are
// partitioned away and messages dropped. With -long: ten seeds, 30 s each
// over 8 keys. A minute over 4 keys made histories (with their
// maybe-applied writes) that porcupine could not decide in 20 minutes once
// writes were merged into fewer, larger entries and the store got faster.
func TestLinearizableUnderPartitions(t *testing.T) {
	seeds, duration, keys := []uint64{uint64(time.Now().UnixNano())}, 15*time.Second, 4
	if *long {
		seeds, duration, keys = nil, 30*time.Second, 8
		for i := 0; i < 10; i++ {
			seeds = append(seeds, uint64(time.Now().UnixNano())+uint64(i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := Start(t, 3)
			rng := rand.New(rand.NewPCG(seed, 1))
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				partitionNemesis(ctx, t, c, rng)
			}()
			history := linearizability.Run(context.Background(), clusterStore{c}, linearizability.Workload{
				Clients: 6, Keys: keys, Duration: duration, OpTimeout: 2 * time.Second, Seed: seed})
			cancel()
			wg.Wait()
			t.Logf("seed %d: %s", seed, linearizability.Summary(history))
			linearizability.Check(t, history, fmt.Sprintf("partitions-seed-%d", seed))
		})
	}
}
