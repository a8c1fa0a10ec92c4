package raftstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"go.etcd.io/raft/v3"
)

// Config tunes the Raft store. Defaults come from NewConfig.
type Config struct {
	// TickInterval is the length of one Raft logical clock tick.
	TickInterval time.Duration `toml:"tick-interval"`
	// ElectionTicks and HeartbeatTicks are counted in ticks.
	ElectionTicks  int `toml:"election-ticks"`
	HeartbeatTicks int `toml:"heartbeat-ticks"`
	// MaxSizePerMsg bounds the entries carried by one append message.
	MaxSizePerMsg uint64 `toml:"max-size-per-msg"`
	// MaxInflightMsgs bounds pipelined appends to one follower.
	MaxInflightMsgs int `toml:"max-inflight-msgs"`
	// LogGCThreshold: once more than this many applied entries sit in the
	// log, it is truncated, keeping LogGCKeep entries for slow followers.
	LogGCThreshold uint64 `toml:"log-gc-threshold"`
	LogGCKeep      uint64 `toml:"log-gc-keep"`
	// ReadMode chooses how linearizable reads are confirmed: "read-index"
	// (the default) asks a quorum for every batch of reads; "lease" lets a
	// leader that heard from a quorum within the election timeout answer
	// from its own state (raft's ReadOnlyLeaseBased with CheckQuorum). Lease
	// reads save a round of heartbeats but assume clocks drift less than
	// the election timeout between nodes.
	ReadMode string `toml:"read-mode"`
	// RegionHeartbeatInterval is how often leaders report to PD.
	RegionHeartbeatInterval time.Duration `toml:"region-heartbeat-interval"`
	// Knobs are test hooks; nil means off.
	Knobs *Knobs `toml:"-"`
}

// Read modes (Config.ReadMode).
const (
	ReadModeReadIndex = "read-index"
	ReadModeLease     = "lease"
)

// readOnlyOption maps ReadMode to raft's option; an empty mode is ReadIndex.
func (c *Config) readOnlyOption() (raft.ReadOnlyOption, error) {
	switch c.ReadMode {
	case "", ReadModeReadIndex:
		return raft.ReadOnlySafe, nil
	case ReadModeLease:
		return raft.ReadOnlyLeaseBased, nil
	}
	return 0, fmt.Errorf("raftstore: read-mode %q: want %q or %q", c.ReadMode, ReadModeReadIndex, ReadModeLease)
}

// Knobs let tests observe or disturb the store. Every field is optional.
type Knobs struct {
	// OnInboundMessage is called for every inbound Raft message before it is
	// stepped; returning false drops it.
	OnInboundMessage func(m *raft_serverpb.RaftMessage) bool
	// BeforeApplyWrite is called by the apply goroutine before it writes
	// a round of applied entries; it may block to hold the apply back.
	BeforeApplyWrite func()
}

// NewConfig returns the defaults used in production.
func NewConfig() *Config {
	return &Config{
		TickInterval:    100 * time.Millisecond,
		ElectionTicks:   10,
		HeartbeatTicks:  2,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		// A follower more than LogGCKeep entries behind needs a snapshot;
		// with 256 (the old default) a follower starved of CPU for ~0.1 s
		// under write load fell into a loop of snapshots.
		LogGCThreshold:          10000,
		LogGCKeep:               5000,
		ReadMode:                ReadModeReadIndex,
		RegionHeartbeatInterval: 10 * time.Second,
	}
}

// Validate rejects settings Raft cannot run with.
func (c *Config) Validate() error {
	switch {
	case c.TickInterval <= 0:
		return errors.New("raftstore: tick-interval must be positive")
	case c.HeartbeatTicks <= 0 || c.ElectionTicks <= c.HeartbeatTicks:
		return errors.New("raftstore: election-ticks must exceed heartbeat-ticks > 0")
	case c.LogGCThreshold == 0 || c.LogGCKeep >= c.LogGCThreshold:
		return errors.New("raftstore: log-gc-keep must be below log-gc-threshold > 0")
	case c.RegionHeartbeatInterval <= 0:
		return errors.New("raftstore: region-heartbeat-interval must be positive")
	}
	_, err := c.readOnlyOption()
	return err
}
