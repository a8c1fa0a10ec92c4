package main

import (
	"context"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/pdclient"
)

var pdBin = flag.String("pd-bin", "", "path of a built pd binary; empty builds one with go build")

// pdBinary returns the binary under test, building it when not given.
func pdBinary(t *testing.T) string {
	t.Helper()
	if *pdBin != "" {
		// Under Bazel the flag is a $(rootpath), relative to the runfiles
		// workspace directory rather than to this package's directory.
		if srcdir, ws := os.Getenv("TEST_SRCDIR"), os.Getenv("TEST_WORKSPACE"); !filepath.IsAbs(*pdBin) && srcdir != "" && ws != "" {
			return filepath.Join(srcdir, ws, *pdBin)
		}
		p, err := filepath.Abs(*pdBin)
		require.NoError(t, err)
		return p
	}
	out := filepath.Join(t.TempDir(), "pd")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", out, "github.com/flaredb/flaredb/services/pd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Run(), "go build pd")
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func startProcess(t *testing.T, bin, addr, dataDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--addr", addr, "--status-addr", "", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestTSOAcrossKill runs the real pd binary, takes timestamps from 1,000
// goroutines through pdclient, kills PD with SIGKILL mid-run and restarts
// it on the same data directory. Every timestamp must be unique, each
// caller's must increase, and every timestamp requested after the kill
// must exceed every timestamp obtained before it.
func TestTSOAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pd binary")
	}
	bin := pdBinary(t)
	addr, dataDir := freeAddr(t), t.TempDir()
	proc := startProcess(t, bin, addr, dataDir)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c, err := pdclient.New(ctx, []string{addr}, zap.NewNop())
	require.NoError(t, err)
	defer c.Close()

	const callers = 1000
	type sample struct {
		ts                 uint64
		startedAfterKill   bool
		finishedBeforeKill bool
	}
	var (
		killed atomic.Bool
		stop   atomic.Bool
		total  atomic.Int64
		after  atomic.Int64
		wg     sync.WaitGroup
	)
	samples := make([][]sample, callers)
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				startedAfter := killed.Load()
				ts, err := c.GetTS(ctx)
				if err != nil {
					errs <- err
					return
				}
				samples[g] = append(samples[g], sample{ts: ts, startedAfterKill: startedAfter, finishedBeforeKill: !killed.Load()})
				total.Add(1)
				if startedAfter {
					after.Add(1)
				}
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		for !cond() {
			select {
			case err := <-errs:
				t.Fatalf("GetTS failed while waiting for %s: %v", what, err)
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitFor("timestamps before the kill", func() bool { return total.Load() >= 20_000 })
	require.NoError(t, proc.Process.Kill()) // SIGKILL: no clean shutdown
	_ = proc.Wait()
	killed.Store(true)
	startProcess(t, bin, addr, dataDir)
	waitFor("timestamps after the restart", func() bool { return after.Load() >= 20_000 })
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("GetTS failed: %v", err)
	default:
	}

	seen := make(map[uint64]struct{}, total.Load())
	var maxBefore uint64
	minAfter := ^uint64(0)
	for _, ss := range samples {
		for i, s := range ss {
			_, dup := seen[s.ts]
			require.False(t, dup, "timestamp %d handed out twice", s.ts)
			seen[s.ts] = struct{}{}
			if i > 0 {
				require.Greater(t, s.ts, ss[i-1].ts, "a caller's timestamps must increase")
			}
			if s.finishedBeforeKill {
				maxBefore = max(maxBefore, s.ts)
			}
			if s.startedAfterKill {
				minAfter = min(minAfter, s.ts)
			}
		}
	}
	require.NotZero(t, maxBefore)
	require.Greater(t, minAfter, maxBefore, "a timestamp after the restart is <= one before it")
	t.Logf("%d timestamps, %d after the restart", total.Load(), after.Load())
}
