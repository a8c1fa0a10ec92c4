package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	// readyTimeout bounds how long a process may take to serve gRPC health.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds a graceful stop before the process is killed.
	stopTimeout = 30 * time.Second
	// logTail is how much of a log is dumped when a test fails.
	logTail = 64 << 10
)

// Process is one running (or stopped) child process of a test. Its methods
// are meant for the test goroutine; failures end the test (t.Fatalf), or
// panic for processes started with Launch* outside a test.
type Process struct {
	name       string
	bin        string
	args       []string
	addr       string
	statusAddr string
	pdAddr     string // kv-service in dev mode: its embedded PD
	dataDir    string
	logPath    string
	fatalf     func(format string, args ...any)

	mu struct {
		sync.Mutex
		cmd    *exec.Cmd
		exited chan struct{} // closed when cmd has exited
		starts int
		paused bool
	}
}

// Name is the process's name in logs, e.g. "kv-1".
func (p *Process) Name() string { return p.name }

// Addr is the gRPC address the process serves on.
func (p *Process) Addr() string { return p.addr }

// StatusAddr is the HTTP status address (/metrics, /status).
func (p *Process) StatusAddr() string { return p.statusAddr }

// PDAddr is the PD address to use with this process: the embedded PD's for a
// kv-service in dev mode, the process's own for PD, else empty.
func (p *Process) PDAddr() string { return p.pdAddr }

// DataDir is the process's data directory; it survives Restart.
func (p *Process) DataDir() string { return p.dataDir }

// LogPath is the file the process's stdout and stderr go to, across restarts.
func (p *Process) LogPath() string { return p.logPath }

// PID is the operating system's id of the current incarnation (0 when not
// running).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.cmd == nil || p.exitedLocked() {
		return 0
	}
	return p.mu.cmd.Process.Pid
}

// Running reports whether the current incarnation has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.cmd != nil && !p.exitedLocked()
}

func (p *Process) exitedLocked() bool {
	select {
	case <-p.mu.exited:
		return true
	default:
		return false
	}
}

// start launches a new incarnation and waits until it serves gRPC health.
func (p *Process) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	p.mu.Lock()
	p.mu.starts++
	fmt.Fprintf(logf, "=== framework: start #%d: %s %s\n", p.mu.starts, p.bin, strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies (timeout panic, kill), take the child with it
	// rather than leaving it holding ports and data directories.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.cmd, p.mu.exited, p.mu.paused = cmd, exited, false
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return p.waitReady(exited)
}

// waitReady polls grpc.health.v1 on Addr until it reports SERVING.
func (p *Process) waitReady(exited chan struct{}) error {
	cc, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited before serving; see %s", p.name, p.logPath)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("health status %s", resp.GetStatus())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not serving on %s after %s: %v; see %s", p.name, p.addr, readyTimeout, last, p.logPath)
}

func (p *Process) signal(sig syscall.Signal) (exited chan struct{}, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.cmd == nil || p.exitedLocked() {
		return p.mu.exited, false
	}
	if err := p.mu.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.fatalf("signal %s to %s: %v", sig, p.name, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.mu.paused = true
	case syscall.SIGCONT:
		p.mu.paused = false
	}
	return p.mu.exited, true
}

// Kill sends SIGKILL (kill -9) and waits for the process to exit. Nothing
// is flushed: this is the crash of a node. A no-op when not running.
func (p *Process) Kill() {
	if exited, ok := p.signal(syscall.SIGKILL); ok {
		<-exited
	}
}

// Stop sends SIGTERM and waits for a graceful exit; a process still running
// after 30s is killed and the test fails.
func (p *Process) Stop() {
	p.Resume() // a stopped process cannot handle SIGTERM
	exited, ok := p.signal(syscall.SIGTERM)
	if !ok {
		return
	}
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		p.Kill()
		p.fatalf("%s did not stop within %s after SIGTERM; killed", p.name, stopTimeout)
	}
}

// Pause freezes the process (SIGSTOP): it holds its ports and state but
// answers nothing, like a node stuck in a long GC pause or a VM freeze. It
// returns once the kernel reports the process stopped.
func (p *Process) Pause() {
	if _, ok := p.signal(syscall.SIGSTOP); !ok {
		return
	}
	stat := fmt.Sprintf("/proc/%d/stat", p.PID())
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(stat)
		if err != nil {
			return // no procfs: best effort
		}
		// The state follows the parenthesised command name: "pid (comm) T ...".
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.fatalf("%s did not stop after SIGSTOP", p.name)
}

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() {
	p.mu.Lock()
	paused := p.mu.paused
	p.mu.Unlock()
	if paused {
		p.signal(syscall.SIGCONT)
	}
}

// Restart stops the process gracefully if it is running, then starts it
// again with the same binary, flags, ports and data directory, and waits
// until it serves.
func (p *Process) Restart() {
	p.Stop()
	if err := p.start(); err != nil {
		p.fatalf("restart %s: %v", p.name, err)
	}
}

// Start starts a process that was stopped or killed, like Restart.
func (p *Process) Start() { p.Restart() }

// ReadLog returns the process's whole log.
func (p *Process) ReadLog() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	return string(b)
}

// cleanup kills the process if it still runs (a paused one included).
func (p *Process) cleanup() {
	p.Resume()
	p.Kill()
}

// bind registers p's cleanup with t: kill at the end, log dump on failure.
func (p *Process) bind(t testing.TB) {
	t.Cleanup(func() {
		p.cleanup()
		if t.Failed() {
			log := p.ReadLog()
			if len(log) > logTail {
				log = "...\n" + log[len(log)-logTail:]
			}
			t.Logf("=== %s log (%s):\n%s", p.name, p.logPath, log)
		}
	})
}

// Close kills a process started with Launch* (tests get this at cleanup).
func (p *Process) Close() { p.cleanup() }

// freeAddr returns a loopback address with a port nothing listens on now.
// Another process could take it before the child binds; on loopback in a
// test run that is rare enough to accept.
func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// newProcess prepares a process whose data and log live under dir.
func newProcess(name, bin, dir string, fatalf func(string, ...any)) (*Process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	status, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &Process{name: name, bin: bin, addr: addr, statusAddr: status, fatalf: fatalf,
		dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, name+".log")}
	return p, os.MkdirAll(p.dataDir, 0o755)
}
