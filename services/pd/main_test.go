package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pd.toml")
	require.NoError(t, os.WriteFile(file, []byte(`
addr = "127.0.0.1:3000"
data-dir = "/from/file"
max-store-down-time = "1m"
`), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte(`adr = "typo"`), 0o600))

	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, addr, dataDir, status string, down time.Duration)
	}{
		{name: "defaults", check: func(t *testing.T, addr, dataDir, status string, _ time.Duration) {
			require.Equal(t, "127.0.0.1:2379", addr)
			require.Equal(t, "./flaredb-pd-data", dataDir)
			require.Equal(t, "127.0.0.1:2381", status)
		}},
		{name: "file", args: []string{"--config", file}, check: func(t *testing.T, addr, dataDir, _ string, down time.Duration) {
			require.Equal(t, "127.0.0.1:3000", addr)
			require.Equal(t, "/from/file", dataDir)
			require.Equal(t, time.Minute, down)
		}},
		{name: "flags override file", args: []string{"--config", file, "--data-dir", "/flag", "--status-addr", ""},
			check: func(t *testing.T, addr, dataDir, status string, _ time.Duration) {
				require.Equal(t, "127.0.0.1:3000", addr)
				require.Equal(t, "/flag", dataDir)
				require.Empty(t, status)
			}},
		{name: "unknown key", args: []string{"--config", bad}, wantErr: "unknown keys"},
		{name: "invalid addr", args: []string{"--addr", "nope"}, wantErr: "addr"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.args)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg.Addr, cfg.DataDir, cfg.StatusAddr, cfg.MaxStoreDownTime)
		})
	}
}
