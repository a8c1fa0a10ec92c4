package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/flaredb/flaredb/libs/sysmon"
	"github.com/flaredb/flaredb/services/kv/kvconfig"
	"github.com/flaredb/flaredb/services/kv/kvnode"
)

func main() {
	// First, before any goroutine or file exists (see package sysmon).
	if err := sysmon.Reexec(); err != nil {
		fmt.Fprintf(os.Stderr, "kv: cannot re-exec with GODEBUG=schedtrace, going on without it: %v\n", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 0 after a clean stop, 1 on failure, 2 on a
// usage error.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := kvconfig.Parse(args, os.Getenv("BUILD_WORKING_DIRECTORY"), stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, kvconfig.ErrUsage):
		fmt.Fprintf(stderr, "kv: %v\n", err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "kv: invalid configuration: %v\n", err)
		return 2
	}
	lg, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "kv: %v\n", err)
		return 1
	}
	defer func() { _ = lg.Sync() }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := kvnode.New(cfg, lg, reg)
	if err != nil {
		lg.Error("cannot create kv node", zap.Error(err))
		return 1
	}
	if err := node.Start(); err != nil {
		lg.Error("cannot start kv node", zap.Error(err))
		return 1
	}
	printAddresses(stdout, cfg, node)

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	sig := <-sigc
	lg.Info("stopping on signal; a second signal exits at once", zap.Stringer("signal", sig))
	go func() {
		<-sigc
		os.Exit(1)
	}()
	node.Stop()
	return 0
}

// newLogger writes JSON to stderr, or human-readable console lines in dev
// mode where a person is watching the terminal.
func newLogger(cfg kvconfig.Config) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	if cfg.DevMode() {
		zc = zap.NewDevelopmentConfig()
		zc.Development = false // no panics on DPanic in a running server
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	zc.Sampling = nil
	return zc.Build()
}

func printAddresses(w io.Writer, cfg kvconfig.Config, node *kvnode.Node) {
	mode := "cluster mode"
	if cfg.DevMode() {
		mode = "dev mode, embedded PD"
	}
	pd := strings.Join(node.PDEndpoints(), ",")
	fmt.Fprintf(w, "FlareDB kv-service %s (%s), store %d\n", kvnode.Version, mode, node.StoreID())
	fmt.Fprintf(w, "  KV gRPC:   %s\n", node.Addr())
	if sa := node.StatusAddr(); sa != "" {
		fmt.Fprintf(w, "  status:    http://%s/status  (also /metrics, /debug/pprof/)\n", sa)
	}
	fmt.Fprintf(w, "  PD:        %s\n", pd)
	fmt.Fprintf(w, "  data dir:  %s\n", cfg.DataDir)
	fmt.Fprintf(w, "  try:       flarectl --pd %s put hello world && flarectl --pd %s get hello\n", pd, pd)
}
