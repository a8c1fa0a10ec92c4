package framework

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	kvBinFlag       = flag.String("kv-bin", "", "path to the kv-service binary (built with go build when empty)")
	pdBinFlag       = flag.String("pd-bin", "", "path to the pd-service binary (built with go build when empty)")
	flarectlBinFlag = flag.String("flarectl-bin", "", "path to the flarectl binary (built with go build when empty)")
)

// binary is one program the framework can run, located or built once.
type binary struct {
	name     string // file name of the built binary
	pkg      string // Go package to build when flag is empty
	flagName string
	flag     *string // the -x-bin flag's value

	once sync.Once
	path string
	err  error
}

var (
	kvBinary       = &binary{name: "kv", pkg: "./services/kv", flagName: "kv-bin", flag: kvBinFlag}
	pdBinary       = &binary{name: "pd", pkg: "./services/pd", flagName: "pd-bin", flag: pdBinFlag}
	flarectlBinary = &binary{name: "flarectl", pkg: "./tools/flarectl", flagName: "flarectl-bin", flag: flarectlBinFlag}
)

// buildDir holds binaries built by this test process; Main removes it.
var buildDir struct {
	sync.Mutex
	path string
}

// Main runs the tests of m and then removes binaries the framework built.
// Use it as `func TestMain(m *testing.M) { framework.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBuilt()
	os.Exit(code)
}

// RemoveBuilt removes binaries the framework built, for TestMains that
// cannot use Main (they must stop their own processes before exiting).
func RemoveBuilt() {
	buildDir.Lock()
	defer buildDir.Unlock()
	if buildDir.path != "" {
		_ = os.RemoveAll(buildDir.path)
		buildDir.path = ""
	}
}

// KVBinary returns the path of the kv-service binary, building it if needed.
func KVBinary() (string, error) { return kvBinary.get() }

// PDBinary returns the path of the pd-service binary, building it if needed.
func PDBinary() (string, error) { return pdBinary.get() }

// FlarectlBinary returns the path of the flarectl binary, building it if
// needed.
func FlarectlBinary() (string, error) { return flarectlBinary.get() }

func (b *binary) get() (string, error) {
	b.once.Do(func() {
		if *b.flag != "" {
			b.path, b.err = flagPath(*b.flag)
			return
		}
		b.path, b.err = b.build()
	})
	return b.path, b.err
}

func (b *binary) build() (string, error) {
	if os.Getenv("TEST_SRCDIR") != "" {
		// Bazel sandboxes have no Go toolchain to build with.
		return "", fmt.Errorf("under Bazel pass -%s=$(rootpath //%s) in the test's args and data",
			b.flagName, strings.TrimPrefix(b.pkg, "./"))
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	buildDir.Lock()
	if buildDir.path == "" {
		if buildDir.path, err = os.MkdirTemp("", "flaredb-bin-"); err != nil {
			buildDir.Unlock()
			return "", fmt.Errorf("create build dir: %w", err)
		}
	}
	out := filepath.Join(buildDir.path, b.name)
	buildDir.Unlock()
	cmd := exec.Command("go", "build", "-o", out, b.pkg)
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, output)
	}
	return out, nil
}

// moduleRoot is the directory of the go.mod enclosing the working directory
// (go test runs a package's tests in its source directory).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the flaredb Go module; pass the -*-bin flags")
	}
	return filepath.Dir(gomod), nil
}

// flagPath makes a -*-bin value absolute. Under Bazel the value is a
// $(rootpath ...), relative to the workspace's runfiles directory, while
// go_test runs in the package's directory inside it.
func flagPath(p string) (string, error) {
	if srcdir, ws := os.Getenv("TEST_SRCDIR"), os.Getenv("TEST_WORKSPACE"); !filepath.IsAbs(p) && srcdir != "" && ws != "" {
		return filepath.Join(srcdir, ws, p), nil
	}
	return filepath.Abs(p)
}
