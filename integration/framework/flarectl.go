package framework

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// CLIResult is what one flarectl invocation printed and returned.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// Flarectl runs the flarectl binary with --pd pdAddr followed by args and
// returns its output and exit code; only a failure to run it at all (or a
// run over a minute) fails the test.
func Flarectl(t testing.TB, pdAddr string, args ...string) CLIResult {
	t.Helper()
	bin, err := FlarectlBinary()
	if err != nil {
		t.Fatalf("flarectl binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--pd", pdAddr}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.Code = exit.ExitCode()
	default:
		t.Fatalf("run flarectl %v: %v (stderr: %s)", args, err, res.Stderr)
	}
	return res
}
