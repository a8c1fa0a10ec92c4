package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"help", []string{"-h"}, 0, "-dev-pd-addr"},
		{"unknown flag", []string{"--bogus"}, 2, "bogus"},
		{"invalid config", []string{"--log-level", "loud"}, 2, "invalid configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, tt.code, run(tt.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tt.stderr)
		})
	}
}
