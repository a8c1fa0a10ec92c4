package framework

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// PDOptions configures a pd-service process.
type PDOptions struct {
	// LogLevel is passed as --log-level (default "info").
	LogLevel string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// KVOptions configures a kv-service process.
type KVOptions struct {
	// PDEndpoints are passed as --pd. When empty the store runs in dev mode
	// with an embedded PD on a free port (Process.PDAddr).
	PDEndpoints []string
	// LogLevel is passed as --log-level (default "info").
	LogLevel string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// seq numbers processes so that names in logs are unique per test binary.
var seq atomic.Int64

// StartPD starts pd-service on free loopback ports with a data directory
// under t.TempDir(), waits until it serves, and kills it at cleanup.
func StartPD(t testing.TB, opts PDOptions) *Process {
	t.Helper()
	p, err := launchPD(t.TempDir(), opts, t.Fatalf)
	if err != nil {
		t.Fatalf("start pd: %v", err)
	}
	p.bind(t)
	return p
}

// StartKV starts kv-service on free loopback ports with a data directory
// under t.TempDir(), waits until it serves, and kills it at cleanup.
func StartKV(t testing.TB, opts KVOptions) *Process {
	t.Helper()
	p, err := launchKV(t.TempDir(), opts, t.Fatalf)
	if err != nil {
		t.Fatalf("start kv: %v", err)
	}
	p.bind(t)
	return p
}

// StartSingleNode starts a PD and one kv-service registered with it: the
// smallest real cluster.
func StartSingleNode(t testing.TB) (pd, kv *Process) {
	t.Helper()
	pd = StartPD(t, PDOptions{})
	kv = StartKV(t, KVOptions{PDEndpoints: []string{pd.Addr()}})
	return pd, kv
}

// LaunchPD is StartPD outside a test (TestMain, examples): data and logs go
// under dir, failures of later method calls panic, and the caller must call
// Close.
func LaunchPD(dir string, opts PDOptions) (*Process, error) {
	return launchPD(dir, opts, panicf)
}

// LaunchKV is StartKV outside a test; see LaunchPD.
func LaunchKV(dir string, opts KVOptions) (*Process, error) {
	return launchKV(dir, opts, panicf)
}

func panicf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func launchPD(parent string, opts PDOptions, fatalf func(string, ...any)) (*Process, error) {
	bin, err := PDBinary()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("pd-%d", seq.Add(1))
	p, err := newProcess(name, bin, dirUnder(parent, name), fatalf)
	if err != nil {
		return nil, err
	}
	p.pdAddr = p.addr
	p.args = append([]string{
		"--addr", p.addr,
		"--status-addr", p.statusAddr,
		"--data-dir", p.dataDir,
		"--log-level", orDefault(opts.LogLevel, "info"),
	}, opts.ExtraArgs...)
	return p, startOrClean(p)
}

func launchKV(parent string, opts KVOptions, fatalf func(string, ...any)) (*Process, error) {
	bin, err := KVBinary()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("kv-%d", seq.Add(1))
	p, err := newProcess(name, bin, dirUnder(parent, name), fatalf)
	if err != nil {
		return nil, err
	}
	p.args = []string{
		"--addr", p.addr,
		"--status-addr", p.statusAddr,
		"--data-dir", p.dataDir,
		"--log-level", orDefault(opts.LogLevel, "info"),
	}
	if len(opts.PDEndpoints) > 0 {
		p.args = append(p.args, "--pd", strings.Join(opts.PDEndpoints, ","))
	} else {
		if p.pdAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		p.args = append(p.args, "--dev-pd-addr", p.pdAddr)
	}
	p.args = append(p.args, opts.ExtraArgs...)
	return p, startOrClean(p)
}

// startOrClean starts p; on failure it makes sure nothing is left running.
func startOrClean(p *Process) error {
	if err := p.start(); err != nil {
		p.cleanup()
		return fmt.Errorf("%w\n%s", err, tail(p.ReadLog()))
	}
	return nil
}

func tail(s string) string {
	if len(s) > logTail {
		return "...\n" + s[len(s)-logTail:]
	}
	return s
}

func dirUnder(parent, name string) string {
	return parent + string(os.PathSeparator) + name
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
