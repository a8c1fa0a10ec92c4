package cluster

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"github.com/flaredb/flaredb/services/kv/internal/transport"
)

// Filter is the transport filter shared by every store of a cluster.
// The zero value lets everything through.
type Filter struct {
	mu       sync.Mutex
	group    map[uint64]int // store id -> partition group; absent = group 0
	dropRate float64
	delay    time.Duration
}

// Partition splits stores into groups that cannot talk to each other;
// stores not listed join the first group.
func (f *Filter) Partition(groups ...[]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group = make(map[uint64]int)
	for i, g := range groups {
		for _, id := range g {
			f.group[id] = i
		}
	}
}

// Heal removes every partition, drop and delay.
func (f *Filter) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group, f.dropRate, f.delay = nil, 0, 0
}

// SetDropRate drops each message with probability p.
func (f *Filter) SetDropRate(p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropRate = p
}

// SetDelay delays every message by d.
func (f *Filter) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *Filter) verdict(from uint64, m *raft_serverpb.RaftMessage) transport.Verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.group[from] != f.group[m.GetToPeer().GetStoreId()] {
		return transport.Verdict{Drop: true}
	}
	if f.dropRate > 0 && rand.Float64() < f.dropRate {
		return transport.Verdict{Drop: true}
	}
	return transport.Verdict{Delay: f.delay}
}

func (f *Filter) knobs() *transport.Knobs { return &transport.Knobs{Filter: f.verdict} }
