package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flaredb/flaredb/libs/sysmon"
	"github.com/flaredb/flaredb/libs/tomlconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/flaredb/flaredb/services/pd/pdserver"
)

func main() {
	// First, before any goroutine or file exists (see package sysmon).
	if err := sysmon.Reexec(); err != nil {
		fmt.Fprintf(os.Stderr, "pd: cannot re-exec with GODEBUG=schedtrace, going on without it: %v\n", err)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pd:", err)
		os.Exit(1)
	}
}

// loadConfig applies defaults, then the --config file, then explicitly set
// flags, so a flag always wins over the file.
func loadConfig(args []string) (pdserver.Config, error) {
	cfg := pdserver.NewConfig()
	fs := flag.NewFlagSet("pd", flag.ContinueOnError)
	configPath := fs.String("config", "", "TOML config file")
	addr := fs.String("addr", cfg.Addr, "gRPC listen address")
	advertise := fs.String("advertise-addr", cfg.AdvertiseAddr, "address clients dial (default: the listen address)")
	statusAddr := fs.String("status-addr", cfg.StatusAddr, "HTTP status address for /metrics, /status, /debug/pprof/ (empty disables)")
	dataDir := fs.String("data-dir", cfg.DataDir, "directory for PD's durable state")
	logLevel := fs.String("log-level", cfg.LogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *configPath != "" {
		if err := tomlconfig.DecodeFile(*configPath, &cfg); err != nil {
			return cfg, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "addr":
			cfg.Addr = *addr
		case "advertise-addr":
			cfg.AdvertiseAddr = *advertise
		case "status-addr":
			cfg.StatusAddr = *statusAddr
		case "data-dir":
			cfg.DataDir = *dataDir
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})
	return cfg, cfg.Validate()
}

func newLogger(level string) (*zap.Logger, error) {
	lvl := zapcore.InfoLevel
	if level != "" {
		if err := lvl.Set(level); err != nil {
			return nil, err
		}
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	zc.EncoderConfig.TimeKey = "ts"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

func run(args []string) error {
	cfg, err := loadConfig(args)
	if err != nil {
		return err
	}
	lg, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = lg.Sync() }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := pdserver.New(cfg, lg, reg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		srv.Stop()
		return err
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	sig := <-sigc
	lg.Info("received signal; stopping", zap.String("signal", sig.String()))
	srv.Stop()
	return nil
}
