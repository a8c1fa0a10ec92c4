package kvconfig

import (
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
)

// MaxKeySize is the largest key the service accepts. It is fixed rather than
// configurable because every replica and the state machine's own validation
// must agree on it, and a key limit that differs between nodes would make
// replicated commands apply differently.
const MaxKeySize = 4096

// Config configures one kv-service node. Field tags are the TOML keys.
type Config struct {
	// Addr is the gRPC listen address.
	Addr string `toml:"addr"`
	// AdvertiseAddr is the address clients and PD dial; empty means the
	// address actually listened on.
	AdvertiseAddr string `toml:"advertise-addr"`
	// StatusAddr serves /metrics, /status and /debug/pprof/; empty disables
	// the HTTP status server.
	StatusAddr string `toml:"status-addr"`
	// DataDir holds the engine; in dev mode the embedded PD keeps its data
	// in DataDir/pd.
	DataDir string `toml:"data-dir"`
	// PDEndpoints lists PD addresses. Empty selects dev mode: an embedded
	// PD is started on DevPDAddr.
	PDEndpoints []string `toml:"pd-endpoints"`
	// DevPDAddr is the embedded PD's gRPC address in dev mode.
	DevPDAddr string `toml:"dev-pd-addr"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log-level"`
	// SlowRequestThreshold: requests taking longer are logged at warn.
	SlowRequestThreshold time.Duration `toml:"slow-request-threshold"`
	// GracefulStopTimeout bounds how long Stop waits for in-flight requests
	// before cutting connections.
	GracefulStopTimeout time.Duration `toml:"graceful-stop-timeout"`

	Limits  LimitsConfig   `toml:"limits"`
	PD      PDConfig       `toml:"pd"`
	RocksDB rocksdb.Config `toml:"rocksdb"`
	Raft    RaftConfig     `toml:"raft"`
}

// LimitsConfig bounds request sizes. Requests beyond a limit are rejected
// with InvalidArgument naming the limit.
type LimitsConfig struct {
	// MaxValueSize is the largest value in bytes.
	MaxValueSize int `toml:"max-value-size"`
	// MaxBatchKeys is the most keys or pairs in one batch request.
	MaxBatchKeys int `toml:"max-batch-keys"`
	// MaxScanLimit is the largest scan limit; a scan with limit 0 uses it.
	MaxScanLimit int `toml:"max-scan-limit"`
	// MaxMessageSize bounds one gRPC message in bytes, both directions. It
	// must hold at least one maximal key and value.
	MaxMessageSize int `toml:"max-message-size"`
}

// PDConfig tunes the conversation with PD.
type PDConfig struct {
	// StoreHeartbeatInterval is how often store stats are sent.
	StoreHeartbeatInterval time.Duration `toml:"store-heartbeat-interval"`
	// RegionHeartbeatInterval is how often each led region is reported.
	RegionHeartbeatInterval time.Duration `toml:"region-heartbeat-interval"`
	// StartTimeout bounds connecting to PD and bootstrapping at start.
	StartTimeout time.Duration `toml:"start-timeout"`
}

// RaftConfig is read by the Raft backend only; the single-node backend
// ignores it. It lives here so one config file serves both.
type RaftConfig struct {
	// TickInterval is the Raft logical clock period.
	TickInterval time.Duration `toml:"tick-interval"`
	// ElectionTicks is the election timeout in ticks.
	ElectionTicks int `toml:"election-ticks"`
	// HeartbeatTicks is the leader heartbeat period in ticks.
	HeartbeatTicks int `toml:"heartbeat-ticks"`
	// ReadMode is how linearizable reads are confirmed: "read-index" (the
	// default: a quorum round per batch of reads) or "lease" (the leader
	// answers within its CheckQuorum lease; assumes clock drift between
	// nodes stays well below the election timeout).
	ReadMode string `toml:"read-mode"`
	// LogGCThreshold: once more than this many applied entries sit in a
	// region's log, the log is truncated down to LogGCKeep entries. A
	// follower further behind than LogGCKeep catches up by snapshot, so
	// LogGCKeep is the lag (in entries) a briefly slow follower may have.
	LogGCThreshold uint64 `toml:"log-gc-threshold"`
	LogGCKeep      uint64 `toml:"log-gc-keep"`
}

// NewConfig returns the defaults: a zero-flag single-node dev store.
func NewConfig() Config {
	return Config{
		Addr:                 "127.0.0.1:20160",
		StatusAddr:           "127.0.0.1:20180",
		DataDir:              "./flaredb-data",
		DevPDAddr:            "127.0.0.1:2379",
		LogLevel:             "info",
		SlowRequestThreshold: time.Second,
		GracefulStopTimeout:  10 * time.Second,
		Limits: LimitsConfig{
			MaxValueSize:   4 << 20,
			MaxBatchKeys:   10000,
			MaxScanLimit:   10000,
			MaxMessageSize: 64 << 20,
		},
		PD: PDConfig{
			StoreHeartbeatInterval:  10 * time.Second,
			RegionHeartbeatInterval: 10 * time.Second,
			StartTimeout:            30 * time.Second,
		},
		RocksDB: rocksdb.NewConfig(),
		Raft: RaftConfig{
			TickInterval:   100 * time.Millisecond,
			ElectionTicks:  10,
			HeartbeatTicks: 2,
			ReadMode:       "read-index",
			LogGCThreshold: 10000,
			LogGCKeep:      5000,
		},
	}
}

// DevMode reports whether no PD endpoints were given, so the node runs an
// embedded PD.
func (c *Config) DevMode() bool { return len(c.PDEndpoints) == 0 }

// Validate reports every invalid setting, joined into one error.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	host, _, err := net.SplitHostPort(c.Addr)
	check(err == nil, "addr %q: want host:port", c.Addr)
	if err == nil && c.AdvertiseAddr == "" {
		// Peers and PD cannot dial 0.0.0.0 or [::]; make the operator say
		// which address reaches this node.
		ip := net.ParseIP(host)
		check(host != "" && (ip == nil || !ip.IsUnspecified()),
			"addr %q listens on all interfaces: set advertise-addr", c.Addr)
	}
	if c.AdvertiseAddr != "" {
		_, _, err := net.SplitHostPort(c.AdvertiseAddr)
		check(err == nil, "advertise-addr %q: want host:port", c.AdvertiseAddr)
	}
	if c.StatusAddr != "" {
		_, _, err := net.SplitHostPort(c.StatusAddr)
		check(err == nil, "status-addr %q: want host:port", c.StatusAddr)
	}
	check(c.DataDir != "", "data-dir is required")
	for _, ep := range c.PDEndpoints {
		check(ep != "", "pd-endpoints: empty endpoint")
	}
	if c.DevMode() {
		_, _, err := net.SplitHostPort(c.DevPDAddr)
		check(err == nil, "dev-pd-addr %q: want host:port", c.DevPDAddr)
	}
	_, err = zapcore.ParseLevel(c.LogLevel)
	check(err == nil, "log-level %q: want debug, info, warn or error", c.LogLevel)
	check(c.SlowRequestThreshold > 0, "slow-request-threshold must be positive, got %v", c.SlowRequestThreshold)
	check(c.GracefulStopTimeout > 0, "graceful-stop-timeout must be positive, got %v", c.GracefulStopTimeout)

	l := c.Limits
	check(l.MaxValueSize > 0, "limits.max-value-size must be positive, got %d", l.MaxValueSize)
	check(l.MaxBatchKeys > 0, "limits.max-batch-keys must be positive, got %d", l.MaxBatchKeys)
	check(l.MaxScanLimit > 0, "limits.max-scan-limit must be positive, got %d", l.MaxScanLimit)
	check(l.MaxMessageSize >= l.MaxValueSize+MaxKeySize+messageOverhead,
		"limits.max-message-size %d must be at least max-value-size + max key size + %d bytes of framing (%d)",
		l.MaxMessageSize, messageOverhead, l.MaxValueSize+MaxKeySize+messageOverhead)

	check(c.PD.StoreHeartbeatInterval > 0, "pd.store-heartbeat-interval must be positive, got %v", c.PD.StoreHeartbeatInterval)
	check(c.PD.RegionHeartbeatInterval > 0, "pd.region-heartbeat-interval must be positive, got %v", c.PD.RegionHeartbeatInterval)
	check(c.PD.StartTimeout > 0, "pd.start-timeout must be positive, got %v", c.PD.StartTimeout)

	if err := c.RocksDB.Validate(); err != nil {
		errs = append(errs, err)
	}

	check(c.Raft.TickInterval > 0, "raft.tick-interval must be positive, got %v", c.Raft.TickInterval)
	check(c.Raft.HeartbeatTicks > 0, "raft.heartbeat-ticks must be positive, got %d", c.Raft.HeartbeatTicks)
	check(c.Raft.ElectionTicks > c.Raft.HeartbeatTicks,
		"raft.election-ticks (%d) must exceed raft.heartbeat-ticks (%d)", c.Raft.ElectionTicks, c.Raft.HeartbeatTicks)
	check(c.Raft.ReadMode == "read-index" || c.Raft.ReadMode == "lease",
		`raft.read-mode %q: want "read-index" or "lease"`, c.Raft.ReadMode)
	check(c.Raft.LogGCKeep > 0 && c.Raft.LogGCKeep < c.Raft.LogGCThreshold,
		"raft.log-gc-keep (%d) must be positive and below raft.log-gc-threshold (%d)", c.Raft.LogGCKeep, c.Raft.LogGCThreshold)
	return errors.Join(errs...)
}

// messageOverhead is room for the request framing around a maximal key and
// value (context, field tags, lengths).
const messageOverhead = 64 << 10
