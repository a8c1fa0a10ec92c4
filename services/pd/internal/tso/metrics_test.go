package tso

import (
	"errors"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// memStorage is an in-memory Storage whose saves can be made to fail.
type memStorage struct {
	mu    sync.Mutex
	saved int64
	fail  bool
}

func (m *memStorage) LoadTSOSavedUntil() (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saved, nil
}

func (m *memStorage) SaveTSOSavedUntil(ms int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk on fire")
	}
	m.saved = ms
	return nil
}

func (m *memStorage) setFail(f bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = f
}

// TestMetrics checks each TSO metric moves with what it counts: timestamps
// issued, saves of the window (at start and when a tick nears the bound)
// with their latency, and failed saves.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	st := &memStorage{}
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	a, err := New(testConfig(&Knobs{Now: clock.now, DisableTicker: true}), st, nil, reg)
	require.NoError(t, err)
	defer a.Close()

	value := func(name string) float64 { v, _ := gathered(t, reg, name); return v }
	saveCount := func() uint64 { _, n := gathered(t, reg, "flaredb_pd_tso_save_duration_seconds"); return n }
	require.Equal(t, 1.0, value("flaredb_pd_tso_saves_total"), "the start persists the first window")
	require.Equal(t, uint64(1), saveCount())
	require.Zero(t, value("flaredb_pd_tso_issued_total"))

	_, _, err = a.Generate(5)
	require.NoError(t, err)
	_, _, err = a.Generate(1)
	require.NoError(t, err)
	require.Equal(t, 6.0, value("flaredb_pd_tso_issued_total"))

	// A tick well inside the window does not save.
	clock.ms.Add(100)
	a.Tick()
	require.Equal(t, 1.0, value("flaredb_pd_tso_saves_total"))
	require.Equal(t, uint64(1), saveCount())

	// Within a third of the window from the bound, the tick saves.
	clock.ms.Add(2_000)
	a.Tick()
	require.Equal(t, 2.0, value("flaredb_pd_tso_saves_total"))
	require.Equal(t, uint64(2), saveCount())
	require.Zero(t, value("flaredb_pd_tso_save_errors_total"))

	// A failing save counts as an error, not as a save.
	st.setFail(true)
	clock.ms.Add(2_000)
	a.Tick()
	require.Equal(t, 1.0, value("flaredb_pd_tso_save_errors_total"))
	require.Equal(t, 2.0, value("flaredb_pd_tso_saves_total"))
	require.Equal(t, uint64(2), saveCount())
}

// gathered returns the value (counter or gauge) or the sample count
// (histogram) of the single series of family name in reg.
func gathered(t *testing.T, reg prometheus.Gatherer, name string) (value float64, count uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1, name)
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue(), m.GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0, 0
}
