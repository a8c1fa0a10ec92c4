package pdclient

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/services/pd/pdserver"
)

// startPD runs an in-process PD on a free port with its data in dir.
func startPD(tb testing.TB, dir string) *pdserver.Server {
	tb.Helper()
	cfg := pdserver.NewConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.StatusAddr = ""
	cfg.DataDir = dir
	cfg.GracefulStopTimeout = time.Second
	s, err := pdserver.New(cfg, zap.NewNop(), nil)
	require.NoError(tb, err)
	require.NoError(tb, s.Start())
	return s
}

func newClient(tb testing.TB, addr string) *Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx, []string{addr}, zap.NewNop())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
