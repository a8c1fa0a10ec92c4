package pdserver

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is the user-facing PD configuration.
type Config struct {
	// Addr is the gRPC listen address; port 0 picks a free port.
	Addr string `toml:"addr"`
	// AdvertiseAddr is the address clients are told to dial; empty means
	// the actual listen address.
	AdvertiseAddr string `toml:"advertise-addr"`
	// StatusAddr serves /metrics, /status and /debug/pprof/; "" disables it.
	StatusAddr string `toml:"status-addr"`
	// DataDir holds PD's RocksDB instance.
	DataDir string `toml:"data-dir"`
	// LogLevel is read by the binary that builds the logger.
	LogLevel string `toml:"log-level"`
	// MaxReplicas is the replica count the scheduler keeps every region at.
	MaxReplicas int `toml:"max-replicas"`
	// MaxStoreDownTime is how long a store may miss heartbeats before it
	// is reported Down and its peers are moved.
	MaxStoreDownTime time.Duration `toml:"max-store-down-time"`
	// TSOTickInterval is how often TSO physical time follows the clock.
	TSOTickInterval time.Duration `toml:"tso-tick-interval"`
	// TSOSaveWindow is how far ahead the TSO bound is persisted; a restart
	// skips at most this much physical time.
	TSOSaveWindow time.Duration `toml:"tso-save-window"`
	// ScheduleStepTimeout is how long a scheduling step may stay in flight
	// before it may be re-issued.
	ScheduleStepTimeout time.Duration `toml:"schedule-step-timeout"`
	// SlowRequestThreshold makes slower unary requests log at warn level.
	SlowRequestThreshold time.Duration `toml:"slow-request-threshold"`
	// GracefulStopTimeout bounds how long Stop waits for in-flight RPCs.
	GracefulStopTimeout time.Duration `toml:"graceful-stop-timeout"`

	// Knobs are test hooks; nil in production.
	Knobs *Knobs `toml:"-"`
}

// Knobs are test hooks for code that embeds PD.
type Knobs struct {
	// Now replaces time.Now for the TSO and store liveness.
	Now func() time.Time
	// DisableTSOTicker stops physical time from advancing on its own.
	DisableTSOTicker bool
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Addr:                 "127.0.0.1:2379",
		StatusAddr:           "127.0.0.1:2381",
		DataDir:              "./flaredb-pd-data",
		LogLevel:             "info",
		MaxReplicas:          3,
		MaxStoreDownTime:     30 * time.Second,
		TSOTickInterval:      50 * time.Millisecond,
		TSOSaveWindow:        3 * time.Second,
		ScheduleStepTimeout:  30 * time.Second,
		SlowRequestThreshold: 100 * time.Millisecond,
		GracefulStopTimeout:  5 * time.Second,
	}
}

// Validate reports every problem with c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	_, _, err := net.SplitHostPort(c.Addr)
	check(err == nil, "addr %q is not host:port", c.Addr)
	if c.AdvertiseAddr != "" {
		_, _, err := net.SplitHostPort(c.AdvertiseAddr)
		check(err == nil, "advertise-addr %q is not host:port", c.AdvertiseAddr)
	}
	if c.StatusAddr != "" {
		_, _, err := net.SplitHostPort(c.StatusAddr)
		check(err == nil, "status-addr %q is not host:port", c.StatusAddr)
	}
	check(c.DataDir != "", "data-dir must not be empty")
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		check(false, "log-level %q must be one of debug, info, warn, error", c.LogLevel)
	}
	check(c.MaxReplicas >= 1, "max-replicas %d must be at least 1", c.MaxReplicas)
	check(c.MaxStoreDownTime > 0, "max-store-down-time %v must be positive", c.MaxStoreDownTime)
	check(c.TSOTickInterval >= time.Millisecond, "tso-tick-interval %v must be at least 1ms", c.TSOTickInterval)
	check(c.TSOSaveWindow > 3*c.TSOTickInterval,
		"tso-save-window %v must be more than three tso-tick-intervals (%v)", c.TSOSaveWindow, c.TSOTickInterval)
	check(c.ScheduleStepTimeout > 0, "schedule-step-timeout %v must be positive", c.ScheduleStepTimeout)
	check(c.SlowRequestThreshold >= 0, "slow-request-threshold %v must not be negative", c.SlowRequestThreshold)
	check(c.GracefulStopTimeout >= 0, "graceful-stop-timeout %v must not be negative", c.GracefulStopTimeout)
	return errors.Join(errs...)
}
