package retry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNextGrowsAndCaps(t *testing.T) {
	tests := []struct {
		name   string
		jitter func(int64) int64
		want   []time.Duration
	}{
		{
			name:   "no jitter: half the ceiling",
			jitter: func(int64) int64 { return 0 },
			want:   []time.Duration{5, 10, 20, 40, 50, 50},
		},
		{
			name:   "max jitter: the full ceiling",
			jitter: func(n int64) int64 { return n - 1 },
			want:   []time.Duration{10, 20, 40, 80, 100, 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Policy{Base: 10 * time.Millisecond, Cap: 100 * time.Millisecond})
			b.jitter = tt.jitter
			for i, w := range tt.want {
				require.Equal(t, w*time.Millisecond, b.Next(), "attempt %d", i)
			}
			require.Equal(t, len(tt.want), b.Attempts())
		})
	}
}

func TestNextStaysWithinBounds(t *testing.T) {
	b := New(DefaultPolicy)
	for i := 0; i < 50; i++ {
		d := b.Next()
		require.Greater(t, d, time.Duration(0))
		require.LessOrEqual(t, d, DefaultPolicy.Cap)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	b := New(Policy{Base: time.Hour, Cap: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.Wait(ctx, 0), context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	b = New(Policy{Base: time.Hour, Cap: time.Hour})
	require.ErrorIs(t, b.Wait(ctx, 0), context.Canceled)
}

func TestWaitUsesLongerHint(t *testing.T) {
	b := New(Policy{Base: time.Nanosecond, Cap: time.Nanosecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A hint longer than the remaining deadline fails fast instead of sleeping.
	require.ErrorIs(t, b.Wait(ctx, time.Hour), context.DeadlineExceeded)
	require.NoError(t, b.Wait(context.Background(), time.Millisecond))
}
