package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	h := &histogram{}
	// 1..1000 ms, one each: p50 ≈ 500ms, p99 ≈ 990ms, within one bucket (2%).
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	s := h.snapshot()
	require.Equal(t, uint64(1000), s.count)
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}} {
		got := s.quantile(tc.q)
		require.InEpsilon(t, float64(tc.want), float64(got), 0.03, "q=%v got %v", tc.q, got)
		require.GreaterOrEqual(t, got, tc.want, "quantile is an upper bound")
	}
}

func TestHistogramWindow(t *testing.T) {
	h := &histogram{}
	h.record(time.Millisecond)
	first := h.snapshot()
	h.record(time.Second)
	h.record(time.Second)
	win := h.snapshot().sub(first)
	require.Equal(t, uint64(2), win.count)
	require.InEpsilon(t, float64(time.Second), float64(win.quantile(0.5)), 0.03)
	require.Zero(t, (&histSnapshot{}).quantile(0.99))
}
