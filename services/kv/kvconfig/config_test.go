package kvconfig

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(nil, "", io.Discard)
	require.NoError(t, err)
	require.Equal(t, NewConfig(), cfg)
	require.True(t, cfg.DevMode())
	require.Equal(t, "127.0.0.1:20160", cfg.Addr)
	require.Equal(t, "127.0.0.1:20180", cfg.StatusAddr)
	require.Equal(t, "./flaredb-data", cfg.DataDir)
	require.Equal(t, "127.0.0.1:2379", cfg.DevPDAddr)
	require.Equal(t, 4<<20, cfg.Limits.MaxValueSize)
}

func TestParseFileThenFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kv.toml")
	require.NoError(t, os.WriteFile(file, []byte(`
addr = "127.0.0.1:3000"
status-addr = ""
data-dir = "rel/data"
pd-endpoints = ["127.0.0.1:1", "127.0.0.1:2"]
slow-request-threshold = "250ms"

[limits]
max-value-size = 1024
max-message-size = 1048576

[rocksdb]
block-cache-size = 1048576

[pd]
store-heartbeat-interval = "1s"
`), 0o600))

	cfg, err := Parse([]string{"--config", "kv.toml", "--addr", "127.0.0.1:4000", "--max-batch-keys", "7"}, dir, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4000", cfg.Addr, "flag overrides file")
	require.Equal(t, "", cfg.StatusAddr, "file overrides default")
	require.Equal(t, filepath.Join(dir, "rel/data"), cfg.DataDir, "relative data-dir is anchored at workDir")
	require.Equal(t, []string{"127.0.0.1:1", "127.0.0.1:2"}, cfg.PDEndpoints)
	require.False(t, cfg.DevMode())
	require.Equal(t, 250*time.Millisecond, cfg.SlowRequestThreshold)
	require.Equal(t, 1024, cfg.Limits.MaxValueSize)
	require.Equal(t, 7, cfg.Limits.MaxBatchKeys)
	require.Equal(t, NewConfig().Limits.MaxScanLimit, cfg.Limits.MaxScanLimit, "untouched keys keep defaults")
	require.Equal(t, uint64(1<<20), cfg.RocksDB.BlockCacheSize)
	require.Equal(t, NewConfig().RocksDB.Compression, cfg.RocksDB.Compression)
	require.Equal(t, time.Second, cfg.PD.StoreHeartbeatInterval)
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("adr = \"x\"\n"), 0o600))

	tests := []struct {
		name  string
		args  []string
		usage bool
		msg   string
	}{
		{"unknown flag", []string{"--nope"}, true, "nope"},
		{"positional", []string{"extra"}, true, "unexpected arguments"},
		{"empty pd", []string{"--pd", " , "}, true, "--pd given without endpoints"},
		{"unknown file key", []string{"--config", bad}, false, "unknown keys [adr]"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.toml")}, false, "none.toml"},
		{"bad level", []string{"--log-level", "loud"}, false, "log-level"},
		{"zero value size", []string{"--max-value-size", "0"}, false, "limits.max-value-size"},
		{"unspecified host", []string{"--addr", "0.0.0.0:20160"}, false, "set advertise-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, "", io.Discard)
			require.Error(t, err)
			require.Equal(t, tt.usage, errors.Is(err, ErrUsage), "usage error: %v", err)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestParseHelp(t *testing.T) {
	_, err := Parse([]string{"-h"}, "", io.Discard)
	require.ErrorIs(t, err, flag.ErrHelp)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		msg    string
	}{
		{"defaults", func(*Config) {}, ""},
		{"advertise with unspecified", func(c *Config) { c.Addr = "0.0.0.0:1"; c.AdvertiseAddr = "10.0.0.1:1" }, ""},
		{"bad addr", func(c *Config) { c.Addr = "nope" }, "addr"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data-dir is required"},
		{"message too small", func(c *Config) { c.Limits.MaxMessageSize = c.Limits.MaxValueSize }, "limits.max-message-size"},
		{"election vs heartbeat", func(c *Config) { c.Raft.ElectionTicks = 2 }, "raft.election-ticks"},
		{"tiny cache", func(c *Config) { c.RocksDB.BlockCacheSize = 1 }, "block-cache-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestReadMode(t *testing.T) {
	cfg, err := Parse([]string{"--read-mode", "lease"}, t.TempDir(), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "lease", cfg.Raft.ReadMode)
	require.Equal(t, "read-index", NewConfig().Raft.ReadMode, "ReadIndex is the default")
	_, err = Parse([]string{"--read-mode", "stale"}, t.TempDir(), io.Discard)
	require.ErrorContains(t, err, `raft.read-mode "stale"`)
}

func TestLogGCConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.toml")
	require.NoError(t, os.WriteFile(path, []byte("[raft]\nlog-gc-threshold = 300\nlog-gc-keep = 100\n"), 0o644))
	cfg, err := Parse([]string{"--config", path}, dir, io.Discard)
	require.NoError(t, err)
	require.Equal(t, uint64(300), cfg.Raft.LogGCThreshold)
	require.Equal(t, uint64(100), cfg.Raft.LogGCKeep)

	require.NoError(t, os.WriteFile(path, []byte("[raft]\nlog-gc-threshold = 100\nlog-gc-keep = 100\n"), 0o644))
	_, err = Parse([]string{"--config", path}, dir, io.Discard)
	require.ErrorContains(t, err, "raft.log-gc-keep (100) must be positive and below raft.log-gc-threshold (100)")
}
