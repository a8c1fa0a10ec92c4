package tso

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/services/pd/internal/metastore"
)

// fakeClock is a settable clock for Knobs.Now.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

func openStore(t *testing.T, dir string) (*metastore.Store, func()) {
	t.Helper()
	eng, err := rocksdb.Open(dir, rocksdb.NewConfig(), zap.NewNop())
	require.NoError(t, err)
	return metastore.New(eng), func() { require.NoError(t, eng.Close()) }
}

func testConfig(k *Knobs) Config {
	return Config{TickInterval: time.Millisecond, SaveWindow: 3 * time.Second, Knobs: k}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	for _, cfg := range []Config{
		{TickInterval: 0, SaveWindow: time.Second},
		{TickInterval: time.Second, SaveWindow: time.Second},
	} {
		_, err := New(cfg, st, nil, nil)
		require.Error(t, err)
	}
}

func TestGenerateRejectsBadCount(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	a, err := New(testConfig(&Knobs{DisableTicker: true}), st, nil, nil)
	require.NoError(t, err)
	defer a.Close()
	for _, n := range []uint32{0, MaxLogical + 1} {
		_, _, err := a.Generate(n)
		require.ErrorIs(t, err, ErrInvalidCount)
	}
}

func TestMonotonicUnderConcurrency(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	a, err := New(testConfig(nil), st, zap.NewNop(), nil)
	require.NoError(t, err)
	defer a.Close()

	const workers, perWorker = 8, 3000
	got := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				n := uint32(i%7 + 1)
				p, l, err := a.Generate(n)
				if err != nil {
					t.Error(err)
					return
				}
				for k := int64(n) - 1; k >= 0; k-- {
					got[w] = append(got[w], Compose(p, l-k))
				}
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint64]bool)
	for _, ts := range got {
		for i, v := range ts {
			require.False(t, seen[v], "timestamp %d handed out twice", v)
			seen[v] = true
			if i > 0 {
				require.Greater(t, v, ts[i-1], "timestamps of one caller must increase")
			}
		}
	}
}

// TestRestartWithoutCloseStartsAboveSavedBound drops the allocator without
// Close (as kill -9 would) with a frozen clock: the new incarnation must
// still start above everything handed out, because it starts above the
// persisted bound rather than at the clock.
func TestRestartWithoutCloseStartsAboveSavedBound(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	knobs := &Knobs{Now: clock.now, DisableTicker: true}

	var maxBefore uint64
	for round := range 3 {
		st, closeEng := openStore(t, dir)
		a, err := New(testConfig(knobs), st, nil, nil)
		require.NoError(t, err)
		for range 100 {
			p, l, err := a.Generate(5)
			require.NoError(t, err)
			require.Greater(t, Compose(p, l-4), maxBefore, "round %d repeated a timestamp", round)
			maxBefore = Compose(p, l)
		}
		saved, err := st.LoadTSOSavedUntil()
		require.NoError(t, err)
		p, _ := a.Current()
		require.LessOrEqual(t, p, saved, "physical must never pass the durable bound")
		// No a.Close(): only the storage goes away, like a crash (every
		// write was synced, so the engine holds what a crash would leave).
		closeEng()
		if round == 1 {
			clock.ms.Add(-60_000) // and the clock steps back across a restart
		}
	}
}

func TestClockGoingBackwards(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	a, err := New(testConfig(&Knobs{Now: clock.now, DisableTicker: true}), st, nil, nil)
	require.NoError(t, err)
	defer a.Close()

	p0, l0, err := a.Generate(1)
	require.NoError(t, err)
	last := Compose(p0, l0)
	for _, step := range []int64{-10_000, 5, -1, -3_600_000, 0} {
		clock.ms.Add(step)
		a.Tick()
		p, l, err := a.Generate(1)
		require.NoError(t, err)
		ts := Compose(p, l)
		require.Greater(t, ts, last, "after a clock step of %d ms", step)
		require.GreaterOrEqual(t, p, p0, "physical must not go backwards")
		last = ts
	}

	// With the clock stuck behind, a tick moves physical by 1 ms once more
	// than half the logical space of the current millisecond is used.
	before, _ := a.Current()
	_, _, err = a.Generate(MaxLogical/2 + 1)
	require.NoError(t, err)
	a.Tick()
	after, logical := a.Current()
	require.Equal(t, before+1, after)
	require.Zero(t, logical)
}

func TestLogicalOverflowWaitsForNextTick(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	a, err := New(testConfig(&Knobs{Now: clock.now, DisableTicker: true}), st, nil, nil)
	require.NoError(t, err)
	defer a.Close()

	p0, l0, err := a.Generate(MaxLogical)
	require.NoError(t, err)
	require.Equal(t, int64(MaxLogical), l0)

	type result struct {
		p, l int64
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		p, l, err := a.Generate(1)
		resc <- result{p, l, err}
	}()
	// The request must park waiting for a tick, not wrap or repeat.
	require.Eventually(t, func() bool { return a.waiting.Load() == 1 }, 10*time.Second, time.Millisecond)
	select {
	case r := <-resc:
		t.Fatalf("overflowing Generate returned %+v before a tick", r)
	default:
	}
	clock.ms.Add(1)
	a.Tick()
	r := <-resc
	require.NoError(t, r.err)
	require.Equal(t, p0+1, r.p)
	require.Equal(t, int64(1), r.l)
}

func TestCloseReleasesWaiters(t *testing.T) {
	st, closeEng := openStore(t, t.TempDir())
	defer closeEng()
	a, err := New(testConfig(&Knobs{DisableTicker: true}), st, nil, nil)
	require.NoError(t, err)
	_, _, err = a.Generate(MaxLogical)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.Generate(1)
		errc <- err
	}()
	require.Eventually(t, func() bool { return a.waiting.Load() == 1 }, 10*time.Second, time.Millisecond)
	a.Close()
	require.ErrorIs(t, <-errc, ErrClosed)
}
