package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// These tests need no cluster: every case fails before connecting to PD
// (which is pointed at a closed port to prove it).
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "usage: flarectl"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"--nope", "get", "k"}, "flag provided but not defined"},
		{"too few args", []string{"put", "k"}, "want 2 argument(s)"},
		{"too many args", []string{"get", "a", "b"}, "want 1 argument(s)"},
		{"scan needs start", []string{"scan"}, "want 1 to 2 arguments"},
		{"bad output format", []string{"-o", "yaml", "tso"}, "-o must be text or json"},
		{"bad hex", []string{"--hex", "get", "zz"}, "not valid hex"},
		{"cas without expectation", []string{"cas", "k", "v"}, "--expect-version is required"},
		{"cas bad version", []string{"cas", "k", "v", "--expect-version", "x"}, "invalid value"},
		{"zero limit", []string{"scan", "a", "--limit", "0"}, "--limit must be positive"},
		{"unknown command flag", []string{"get", "k", "--limit", "3"}, "flag provided but not defined"},
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

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"get", "-h"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, exitOK, run(args, &stdout, &stderr), args)
		require.Contains(t, stdout.String(), "usage: flarectl", args)
	}
}

func TestUnreachablePDIsAnError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--pd", "127.0.0.1:1", "--timeout", "300ms", "get", "k"}, &stdout, &stderr)
	require.Equal(t, exitError, code)
	require.Contains(t, stderr.String(), "flarectl get:")
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		pos     []string
		limit   int
		reverse bool
	}{
		{[]string{"a", "z"}, []string{"a", "z"}, 100, false},
		{[]string{"--limit", "5", "a", "z"}, []string{"a", "z"}, 5, false},
		{[]string{"a", "--reverse", "z", "--limit=7"}, []string{"a", "z"}, 7, true},
		{[]string{"--reverse", "--", "-a", "--limit"}, []string{"-a", "--limit"}, 100, true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("scan", flag.ContinueOnError)
		limit := fs.Int("limit", 100, "")
		reverse := fs.Bool("reverse", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		require.NoError(t, err, tt.args)
		require.Equal(t, tt.pos, pos, tt.args)
		require.Equal(t, tt.limit, *limit, tt.args)
		require.Equal(t, tt.reverse, *reverse, tt.args)
	}
}

func TestLookupTwoWordCommands(t *testing.T) {
	register(&command{name: "test sub", minArgs: 1, maxArgs: 1})
	t.Cleanup(func() { delete(commands, "test sub") })
	c, rest := lookup([]string{"test", "sub", "x"})
	require.NotNil(t, c)
	require.Equal(t, "test sub", c.name)
	require.Equal(t, []string{"x"}, rest)
	c, rest = lookup([]string{"get", "sub"})
	require.Equal(t, "get", c.name)
	require.Equal(t, []string{"sub"}, rest)
	require.Panics(t, func() { register(&command{name: "get"}) })
}

func TestTextAndJSONBytes(t *testing.T) {
	tests := []struct {
		in        []byte
		hex       bool
		text      string
		jsonValue any
	}{
		{[]byte("plain"), false, "plain", "plain"},
		{[]byte("two words"), false, `"two words"`, "two words"},
		{[]byte("a=b"), false, `"a=b"`, "a=b"},
		{[]byte{}, false, `""`, ""},
		{[]byte{0xff, 0x00}, false, `"\xff\x00"`, "\xff\x00"},
		{[]byte{0xff, 0x00}, true, "ff00", "ff00"},
		{nil, false, `""`, nil},
	}
	for _, tt := range tests {
		e := &env{g: globals{hex: tt.hex}}
		require.Equal(t, tt.text, e.textBytes(tt.in), "%q", tt.in)
		require.Equal(t, tt.jsonValue, e.jsonBytes(tt.in), "%q", tt.in)
	}
}
