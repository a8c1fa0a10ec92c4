package kvconfig

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/flaredb/flaredb/libs/tomlconfig"
)

// ErrUsage marks errors caused by bad command-line arguments, so main can
// exit with the usage status (2) instead of the failure status (1).
var ErrUsage = errors.New("usage")

// Parse builds a Config from command-line args (without the program name):
// NewConfig defaults, then the TOML file named by --config, then every flag
// set explicitly, then Validate. workDir, when non-empty, anchors relative
// --config and data-dir paths; main passes $BUILD_WORKING_DIRECTORY so that
// `bazel run` puts data where the user ran the command, not in Bazel's
// runfiles tree. Usage output (and -h) goes to out. A -h request returns
// flag.ErrHelp.
func Parse(args []string, workDir string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet("kv", flag.ContinueOnError)
	fs.SetOutput(out)
	def := NewConfig()
	var (
		configFile = fs.String("config", "", "optional TOML config `file`; flags override it")
		addr       = fs.String("addr", def.Addr, "gRPC listen `address`")
		advertise  = fs.String("advertise-addr", def.AdvertiseAddr, "`address` clients and PD dial (default: the listen address)")
		status     = fs.String("status-addr", def.StatusAddr, "HTTP status `address` for /metrics, /status, /debug/pprof/ (empty disables)")
		dataDir    = fs.String("data-dir", def.DataDir, "data `directory`")
		pd         = fs.String("pd", "", "comma-separated PD `endpoints`; absent starts an embedded PD (dev mode)")
		devPD      = fs.String("dev-pd-addr", def.DevPDAddr, "embedded PD `address` in dev mode")
		logLevel   = fs.String("log-level", def.LogLevel, "log `level`: debug, info, warn, error")
		slow       = fs.Duration("slow-request-threshold", def.SlowRequestThreshold, "log requests slower than this at warn")
		maxValue   = fs.Int("max-value-size", def.Limits.MaxValueSize, "largest value in `bytes`")
		maxBatch   = fs.Int("max-batch-keys", def.Limits.MaxBatchKeys, "most keys in one batch request")
		maxScan    = fs.Int("max-scan-limit", def.Limits.MaxScanLimit, "largest scan limit")
		readMode   = fs.String("read-mode", def.Raft.ReadMode, "how linearizable reads are confirmed: read-index or lease")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}

	cfg := def
	if *configFile != "" {
		path := anchor(*configFile, workDir)
		if err := tomlconfig.DecodeFile(path, &cfg); err != nil {
			return Config{}, err
		}
	}

	// Only flags given on the command line override the file.
	var visitErr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "addr":
			cfg.Addr = *addr
		case "advertise-addr":
			cfg.AdvertiseAddr = *advertise
		case "status-addr":
			cfg.StatusAddr = *status
		case "data-dir":
			cfg.DataDir = *dataDir
		case "pd":
			cfg.PDEndpoints = splitEndpoints(*pd)
			if len(cfg.PDEndpoints) == 0 {
				visitErr = fmt.Errorf("%w: --pd given without endpoints", ErrUsage)
			}
		case "dev-pd-addr":
			cfg.DevPDAddr = *devPD
		case "log-level":
			cfg.LogLevel = *logLevel
		case "slow-request-threshold":
			cfg.SlowRequestThreshold = *slow
		case "max-value-size":
			cfg.Limits.MaxValueSize = *maxValue
		case "max-batch-keys":
			cfg.Limits.MaxBatchKeys = *maxBatch
		case "max-scan-limit":
			cfg.Limits.MaxScanLimit = *maxScan
		case "read-mode":
			cfg.Raft.ReadMode = *readMode
		}
	})
	if visitErr != nil {
		return Config{}, visitErr
	}
	cfg.DataDir = anchor(cfg.DataDir, workDir)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// anchor resolves a relative path under workDir when workDir is set.
func anchor(path, workDir string) string {
	if workDir == "" || path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(workDir, path)
}

func splitEndpoints(s string) []string {
	var eps []string
	for _, ep := range strings.Split(s, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}
