package tomlconfig

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type testConfig struct {
	Addr   string `toml:"addr"`
	Limits struct {
		MaxValueSize int `toml:"max-value-size"`
	} `toml:"limits"`
}

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "c.toml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestDecodeFile(t *testing.T) {
	cfg := testConfig{Addr: "default"}
	cfg.Limits.MaxValueSize = 7
	require.NoError(t, DecodeFile(write(t, "[limits]\nmax-value-size = 9\n"), &cfg))
	require.Equal(t, "default", cfg.Addr, "absent keys keep their defaults")
	require.Equal(t, 9, cfg.Limits.MaxValueSize)

	err := DecodeFile(write(t, "adr = \"x\"\n"), &cfg)
	require.ErrorContains(t, err, "unknown keys [adr]")
	err = DecodeFile(write(t, "addr = \n"), &cfg)
	require.ErrorContains(t, err, "config file")
	err = DecodeFile(filepath.Join(t.TempDir(), "missing.toml"), &cfg)
	require.Error(t, err)
}
