package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	driver, workload, dist, prefix string
	endpoints                      []string
	keys                           uint64
	valueSize, clients, conns      int
	scanLimit                      int
	duration, warmup, opTimeout    time.Duration
	label                          string
}

// result is the final JSON line; field names are a contract for scripts.
type result struct {
	Driver       string  `json:"driver"`
	Workload     string  `json:"workload"`
	Label        string  `json:"label,omitempty"`
	Clients      int     `json:"clients"`
	Conns        int     `json:"conns"`
	Dist         string  `json:"dist"`
	ValueSize    int     `json:"value_size"`
	DurationS    float64 `json:"duration_s"`
	Ops          uint64  `json:"ops"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	P50Ms        float64 `json:"p50_ms"`
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	P999Ms       float64 `json:"p999_ms"`
	Errors       uint64  `json:"errors"`
	CASConflicts uint64  `json:"cas_conflicts,omitempty"`
	BenchCPU     float64 `json:"bench_cpu_cores"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoints := fs.String("endpoints", "127.0.0.1:2379", "comma-separated endpoints: PD for flaredb, etcd members for etcd")
	fs.StringVar(&o.driver, "driver", "flaredb", "flaredb or etcd")
	fs.StringVar(&o.workload, "workload", "put", "put, get, ycsb-a, ycsb-b, ycsb-c, cas, scan, tso")
	fs.StringVar(&o.dist, "dist", "uniform", "key distribution: uniform or zipfian")
	fs.StringVar(&o.prefix, "prefix", "bench/", "key prefix")
	fs.Uint64Var(&o.keys, "keys", 10000, "size of the key space")
	fs.IntVar(&o.valueSize, "value-size", 100, "value size in bytes")
	fs.IntVar(&o.clients, "clients", 16, "concurrent client goroutines")
	fs.IntVar(&o.conns, "conns", 1, "independent client connections (clients share them round-robin)")
	fs.IntVar(&o.scanLimit, "scan-limit", 100, "pairs per scan")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured run time")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured run time before measuring")
	fs.DurationVar(&o.opTimeout, "op-timeout", 10*time.Second, "timeout of one operation")
	fs.StringVar(&o.label, "label", "", "free-form label copied into the JSON result")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if _, ok := workloads[o.workload]; !ok {
		return o, fmt.Errorf("unknown workload %q", o.workload)
	}
	if o.clients < 1 || o.conns < 1 || o.keys < 2 || o.valueSize < 0 || o.duration <= 0 {
		return o, fmt.Errorf("clients and conns must be >= 1, keys >= 2, value-size >= 0, duration > 0")
	}
	o.endpoints = strings.Split(*endpoints, ",")
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(args[1:], stdout, stderr)
	}
	o, err := parse(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	printTable(stdout, []result{res})
	line, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(line))
	return 0
}

func bench(ctx context.Context, o options, progress io.Writer) (result, error) {
	w := workloads[o.workload]
	d, err := newDriver(ctx, o.driver, o.endpoints, o.conns)
	if err != nil {
		return result{}, err
	}
	defer d.Close()
	value := make([]byte, o.valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	if w.needsPreload() {
		if err := preload(ctx, d, o, value); err != nil {
			return result{}, fmt.Errorf("preload: %w", err)
		}
	}

	hist := &histogram{}
	var ops, errs, conflicts atomic.Uint64
	var measuring atomic.Bool
	runCtx, cancel := context.WithTimeout(ctx, o.warmup+o.duration)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for c := 0; c < o.clients; c++ {
		kc, err := newKeyChooser(int64(c)+1, o.keys, o.dist)
		if err != nil {
			return result{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				// The op's deadline is its own, not the run's: an op cut
				// short by the run's end would fail with DeadlineExceeded a
				// moment before runCtx reports done, and count (hundreds of
				// times, as the next ops fail at once) as an error.
				opCtx, opCancel := context.WithTimeout(ctx, o.opTimeout)
				start := time.Now()
				n, err := runOp(opCtx, d, w, kc, o.prefix, value, o.scanLimit)
				took := time.Since(start)
				opCancel()
				if runCtx.Err() != nil {
					return // cut off by the end of the run: not an error
				}
				if !measuring.Load() {
					continue
				}
				conflicts.Add(uint64(n))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ops.Add(1)
				hist.record(took)
			}
		}()
	}

	select {
	case <-time.After(o.warmup):
	case <-runCtx.Done():
	}
	measuring.Store(true)
	cpu0, t0 := cpuTime(), time.Now()
	prev := hist.snapshot()
	var prevOps uint64
	tick := time.NewTicker(time.Second)
	for done := false; !done; {
		select {
		case <-tick.C:
			cur := hist.snapshot()
			win := cur.sub(prev)
			n := ops.Load()
			fmt.Fprintf(progress, "[%s %s c=%d] t=%3.0fs ops/s=%8d p99=%7.2fms errors=%d\n",
				o.driver, o.workload, o.clients, time.Since(t0).Seconds(), n-prevOps,
				ms(win.quantile(0.99)), errs.Load())
			prev, prevOps = cur, n
		case <-runCtx.Done():
			done = true
		}
	}
	tick.Stop()
	elapsed := time.Since(t0)
	wg.Wait()
	cpu := (cpuTime() - cpu0).Seconds() / elapsed.Seconds()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(progress, "bench: first error: %v\n", e)
	}
	s := hist.snapshot()
	return result{
		Driver: o.driver, Workload: o.workload, Label: o.label, Clients: o.clients, Conns: o.conns,
		Dist: o.dist, ValueSize: o.valueSize, DurationS: elapsed.Seconds(),
		Ops: ops.Load(), OpsPerSec: float64(ops.Load()) / elapsed.Seconds(),
		P50Ms: ms(s.quantile(0.50)), P95Ms: ms(s.quantile(0.95)), P99Ms: ms(s.quantile(0.99)),
		P999Ms: ms(s.quantile(0.999)), Errors: errs.Load(), CASConflicts: conflicts.Load(), BenchCPU: cpu,
	}, nil
}

// preload writes every key once so reads hit existing data, using a bounded
// number of concurrent writers.
func preload(ctx context.Context, d Driver, o options, value []byte) error {
	const writers = 32
	var next atomic.Uint64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := next.Add(1) - 1; k < o.keys; k = next.Add(1) - 1 {
				opCtx, cancel := context.WithTimeout(ctx, o.opTimeout)
				err := d.Put(opCtx, benchKey(o.prefix, k), value)
				cancel()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printTable(w io.Writer, rs []result) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Clients < rs[j].Clients })
	fmt.Fprintf(w, "%-8s %-8s %7s %10s %10s %8s %8s %8s %8s %7s %9s\n",
		"driver", "workload", "clients", "ops", "ops/s", "p50ms", "p95ms", "p99ms", "p999ms", "errors", "benchcpu")
	for _, r := range rs {
		fmt.Fprintf(w, "%-8s %-8s %7d %10d %10.0f %8.2f %8.2f %8.2f %8.2f %7d %9.2f\n",
			r.Driver, r.Workload, r.Clients, r.Ops, r.OpsPerSec, r.P50Ms, r.P95Ms, r.P99Ms, r.P999Ms, r.Errors, r.BenchCPU)
	}
}
