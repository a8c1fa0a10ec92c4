package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// The region commands against a live cluster are tested in
// integration/raft_region_cli_test.go; these cases fail before any RPC.
func TestRegionUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"add-peer needs two ids", []string{"region", "add-peer", "1"}, "want 2 argument(s) (REGION_ID STORE_ID)"},
		{"remove-peer too many", []string{"region", "remove-peer", "1", "2", "3"}, "want 2 argument(s)"},
		{"region id not a number", []string{"region", "add-peer", "x", "2"}, `REGION_ID "x" is not a positive integer`},
		{"store id zero", []string{"region", "transfer-leader", "1", "0"}, `STORE_ID "0" is not a positive integer`},
		{"negative store id", []string{"region", "remove-peer", "1", "--", "-2"}, `STORE_ID "-2" is not a positive integer`},
		{"unknown subcommand", []string{"region", "split", "1"}, `unknown command "region split"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--pd", "127.0.0.1:1", "--timeout", "1s"}, tt.args...)
			code := run(args, &stdout, &stderr)
			require.Equal(t, exitUsage, code, stderr.String())
			require.Contains(t, stderr.String(), tt.stderr)
			require.Empty(t, stdout.String())
		})
	}
}

func TestRegionCommandsListedInHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"help"}, &stdout, &stderr))
	for _, name := range []string{"region add-peer REGION_ID STORE_ID", "region remove-peer", "region transfer-leader"} {
		require.Contains(t, stdout.String(), name)
	}
}

func TestRegionUnreachablePDIsAnError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--pd", "127.0.0.1:1", "--timeout", "300ms", "region", "add-peer", "1", "2"}, &stdout, &stderr)
	require.Equal(t, exitError, code)
	require.Contains(t, stderr.String(), "flarectl region add-peer:")
}
