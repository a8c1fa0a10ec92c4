package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompareRatios(t *testing.T) {
	in := strings.Join([]string{
		`{"driver":"etcd","workload":"put","clients":64,"ops_per_sec":4000,"p99_ms":40}`,
		`{"driver":"flaredb","workload":"put","clients":64,"ops_per_sec":10000,"p99_ms":10}`,
		`progress lines and tables are ignored`,
		`{"driver":"flaredb","workload":"get","clients":1,"ops_per_sec":500,"p99_ms":3}`,
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, compare(strings.NewReader(in), &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	require.Contains(t, lines[2], "| get | 1 | 500 | 0 | n/a |")
	require.Contains(t, lines[3], "| put | 64 | 10000 | 4000 | 2.50x | 10.00 | 40.00 | 0.25x |")
	require.Error(t, compare(strings.NewReader(`{"driver":`), &out))
}
