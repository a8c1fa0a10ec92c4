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

// With repeated runs each driver's median run fills the row, and every
// run's ops/s is listed in a last column.
func TestCompareRepeatedRunsUseTheMedian(t *testing.T) {
	in := strings.Join([]string{
		`{"driver":"etcd","workload":"put","clients":64,"ops_per_sec":4000,"p99_ms":40}`,
		`{"driver":"flaredb","workload":"put","clients":64,"ops_per_sec":9000,"p99_ms":12}`,
		`{"driver":"etcd","workload":"put","clients":64,"ops_per_sec":3000,"p99_ms":50}`,
		`{"driver":"flaredb","workload":"put","clients":64,"ops_per_sec":7000,"p99_ms":15}`,
		`{"driver":"etcd","workload":"put","clients":64,"ops_per_sec":3500,"p99_ms":45}`,
		`{"driver":"flaredb","workload":"put","clients":64,"ops_per_sec":8000,"p99_ms":14}`,
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, compare(strings.NewReader(in), &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	require.True(t, strings.HasSuffix(lines[0], "| runs ops/s (flaredb; etcd) |"), lines[0])
	require.Contains(t, lines[2], "| put | 64 | 8000 | 3500 | 2.29x | 14.00 | 45.00 | 0.31x |")
	require.True(t, strings.HasSuffix(lines[2], "| 9000, 7000, 8000; 4000, 3000, 3500 |"), lines[2])
}
