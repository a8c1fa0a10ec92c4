package framework

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The test binary doubles as a tiny server process, so the launcher is
// tested against real child processes without needing FlareDB's binaries:
// with FRAMEWORK_HELPER set it serves grpc.health.v1 on --addr and exits 0
// on SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("FRAMEWORK_HELPER") == "1" {
		os.Exit(helperServer(os.Args[1:]))
	}
	Main(m)
}

func helperServer(args []string) int {
	fs := flag.NewFlagSet("helper", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM)
	go func() {
		<-sigc
		fmt.Println("helper: stopping gracefully")
		srv.GracefulStop()
	}()
	fmt.Println("helper: serving on", *addr)
	_ = srv.Serve(lis)
	return 0
}

func startHelper(t *testing.T) *Process {
	t.Helper()
	t.Setenv("FRAMEWORK_HELPER", "1")
	p, err := newProcess("helper", os.Args[0], t.TempDir(), t.Fatalf)
	require.NoError(t, err)
	p.args = []string{"--addr", p.addr}
	require.NoError(t, p.start())
	p.bind(t)
	return p
}

func healthy(t *testing.T, addr string) bool {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

func TestProcessLifecycle(t *testing.T) {
	p := startHelper(t)
	require.True(t, p.Running())
	require.True(t, healthy(t, p.Addr()))
	firstPID := p.PID()

	p.Pause()
	require.False(t, healthy(t, p.Addr()), "a paused process answers nothing")
	p.Resume()
	require.True(t, healthy(t, p.Addr()))

	p.Kill()
	require.False(t, p.Running())
	require.Zero(t, p.PID())
	require.False(t, healthy(t, p.Addr()))

	p.Restart()
	require.True(t, healthy(t, p.Addr()), "restart reuses the address")
	require.NotEqual(t, firstPID, p.PID())

	p.Stop()
	require.False(t, p.Running())
	log := p.ReadLog()
	require.Contains(t, log, "start #1")
	require.Contains(t, log, "start #2")
	require.Contains(t, log, "helper: stopping gracefully", "Stop sends SIGTERM")
}

func TestStopWhilePaused(t *testing.T) {
	p := startHelper(t)
	p.Pause()
	p.Stop()
	require.False(t, p.Running())
}

func TestStartFailsWhenProcessExits(t *testing.T) {
	t.Setenv("FRAMEWORK_HELPER", "1")
	p, err := newProcess("broken", os.Args[0], t.TempDir(), t.Fatalf)
	require.NoError(t, err)
	p.args = []string{"--no-such-flag"}
	err = p.start()
	require.ErrorContains(t, err, "exited before serving")
	require.Equal(t, filepath.Join(filepath.Dir(p.dataDir), "broken.log"), p.LogPath())
}
