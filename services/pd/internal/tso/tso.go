package tso

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

const (
	// LogicalBits is the width of the logical part of a timestamp.
	LogicalBits = 18
	// MaxLogical is the largest logical value; a range never goes past it.
	MaxLogical = 1<<LogicalBits - 1
	// maxPhysical keeps physical << LogicalBits inside 64 bits.
	maxPhysical = 1<<(64-LogicalBits) - 1
)

var (
	// ErrClosed is returned by Generate after Close.
	ErrClosed = errors.New("tso: allocator closed")
	// ErrInvalidCount is returned for a count of 0 or above MaxLogical.
	ErrInvalidCount = errors.New("tso: count must be between 1 and 262143")
)

// Storage persists the saved-until bound. SaveTSOSavedUntil MUST be durable
// when it returns: timestamps up to the saved bound are handed out right
// after.
type Storage interface {
	LoadTSOSavedUntil() (int64, error)
	SaveTSOSavedUntil(ms int64) error
}

// Knobs are test hooks; the zero value (or a nil pointer) is production.
type Knobs struct {
	// Now replaces time.Now, to step the clock backwards or freeze it.
	Now func() time.Time
	// DisableTicker stops the background tick goroutine; the test calls
	// Tick itself. Overflowing requests then wait for that manual Tick.
	DisableTicker bool
}

// Config tunes the allocator.
type Config struct {
	// TickInterval is how often physical time catches up with the clock.
	TickInterval time.Duration
	// SaveWindow is how far ahead of physical the saved bound is persisted.
	SaveWindow time.Duration
	Knobs      *Knobs
}

// Allocator is the timestamp oracle.
//
// Invariants (hold at every instant after New returns):
//   - mu.physical <= mu.savedUntil, and mu.savedUntil is durable: physical is
//     only published after the bound covering it was persisted.
//   - (mu.physical, mu.logical) only grows in lexicographic order; every
//     handed-out timestamp is <= physical<<18|logical and later ones are
//     greater, so timestamps are strictly increasing across calls.
//   - At start physical = max(clock, persisted savedUntil+1), so nothing
//     handed out by a previous incarnation (<= its savedUntil) can repeat,
//     even if it was killed without a clean close.
type Allocator struct {
	lg      *zap.Logger
	st      Storage
	now     func() time.Time
	cfg     Config
	m       *metrics
	waiting atomic.Int64 // requests blocked on overflow; read by tests

	// tickMu serialises Tick so the persisted bound is written by one
	// goroutine at a time, outside mu.
	tickMu sync.Mutex
	mu     struct {
		sync.Mutex
		physical   int64 // Unix ms of the current tick
		logical    int64 // last logical value handed out in this tick
		savedUntil int64 // durable upper bound for physical
		gen        uint64
		closed     bool
	}
	cond   *sync.Cond // on mu; broadcast when physical moves or on Close
	nudgec chan struct{}
	stopc  chan struct{}
	donec  chan struct{}
}

// New loads the saved bound, moves physical strictly above it, persists the
// next bound and starts the ticker. reg may be nil.
func New(cfg Config, st Storage, lg *zap.Logger, reg prometheus.Registerer) (*Allocator, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if cfg.TickInterval <= 0 || cfg.SaveWindow <= cfg.TickInterval {
		return nil, fmt.Errorf("tso: tick interval %v must be positive and below save window %v", cfg.TickInterval, cfg.SaveWindow)
	}
	a := &Allocator{
		lg: lg, st: st, cfg: cfg, m: newMetrics(reg), now: time.Now,
		nudgec: make(chan struct{}, 1), stopc: make(chan struct{}), donec: make(chan struct{}),
	}
	if cfg.Knobs != nil && cfg.Knobs.Now != nil {
		a.now = cfg.Knobs.Now
	}
	a.cond = sync.NewCond(&a.mu)

	saved, err := st.LoadTSOSavedUntil()
	if err != nil {
		return nil, fmt.Errorf("tso: load saved bound: %w", err)
	}
	physical := max(a.now().UnixMilli(), saved+1)
	bound := physical + cfg.SaveWindow.Milliseconds()
	if bound > maxPhysical {
		return nil, fmt.Errorf("tso: physical time %d ms out of range", physical)
	}
	start := time.Now()
	if err := st.SaveTSOSavedUntil(bound); err != nil {
		a.m.saveErrors.Inc()
		return nil, fmt.Errorf("tso: save bound: %w", err)
	}
	a.m.saves.Inc()
	a.m.saveDuration.Observe(time.Since(start).Seconds())
	a.mu.physical, a.mu.savedUntil = physical, bound
	lg.Info("timestamp oracle started",
		zap.Int64("previous-saved-until-ms", saved), zap.Int64("physical-ms", physical), zap.Int64("saved-until-ms", bound))

	if cfg.Knobs != nil && cfg.Knobs.DisableTicker {
		close(a.donec)
	} else {
		go a.run()
	}
	return a, nil
}

func (a *Allocator) run() {
	defer close(a.donec)
	t := time.NewTicker(a.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stopc:
			return
		case <-t.C:
		case <-a.nudgec:
		}
		a.Tick()
	}
}

// Generate reserves count contiguous timestamps and returns the largest; the
// range is [logical-count+1, logical] under the same physical.
//
// Invariant: the returned range lies strictly above every range returned
// before (by this or any earlier incarnation). When the logical part cannot
// fit count more values, Generate waits for the next physical tick rather
// than wrapping or repeating.
func (a *Allocator) Generate(count uint32) (physical, logical int64, err error) {
	if count == 0 || count > MaxLogical {
		return 0, 0, fmt.Errorf("%w: got %d", ErrInvalidCount, count)
	}
	n := int64(count)
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if a.mu.closed {
			return 0, 0, ErrClosed
		}
		if a.mu.logical+n <= MaxLogical {
			a.mu.logical += n
			a.m.issued.Add(float64(n))
			return a.mu.physical, a.mu.logical, nil
		}
		// Exhausted this millisecond: ask the ticker to move now and wait.
		a.m.overflowWaits.Inc()
		select {
		case a.nudgec <- struct{}{}:
		default:
		}
		gen := a.mu.gen
		a.waiting.Add(1)
		for gen == a.mu.gen && !a.mu.closed {
			a.cond.Wait()
		}
		a.waiting.Add(-1)
	}
}

// Tick advances physical to the clock, or by one millisecond when the clock
// has not moved (or went backwards) but over half the logical space is used.
// It persists a new saved bound before publishing a physical past the old
// one.
//
// Invariant: physical never decreases, and is never published above the
// durable saved bound. A failed save leaves physical where it was.
func (a *Allocator) Tick() {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	now := a.now().UnixMilli()

	a.mu.Lock()
	physical, logical, saved := a.mu.physical, a.mu.logical, a.mu.savedUntil
	a.mu.Unlock()

	next := physical
	switch {
	case now > physical:
		next = now
	case logical > MaxLogical/2:
		next = physical + 1
	default:
		return
	}
	if next > maxPhysical-a.cfg.SaveWindow.Milliseconds() {
		a.lg.Error("physical time out of range; not advancing", zap.Int64("physical-ms", next))
		return
	}
	// Persist well before reaching the bound so the save is off the
	// critical path; only the tick goroutine writes savedUntil.
	if saved-next <= a.cfg.SaveWindow.Milliseconds()/3 {
		bound := next + a.cfg.SaveWindow.Milliseconds()
		start := time.Now()
		if err := a.st.SaveTSOSavedUntil(bound); err != nil {
			a.m.saveErrors.Inc()
			a.lg.Error("failed to persist tso bound", zap.Int64("saved-until-ms", bound), zap.Error(err))
			if next > saved {
				return
			}
		} else {
			a.m.saves.Inc()
			a.m.saveDuration.Observe(time.Since(start).Seconds())
			saved = bound
		}
	}

	a.mu.Lock()
	a.mu.physical, a.mu.logical, a.mu.savedUntil = next, 0, saved
	a.mu.gen++
	a.mu.Unlock()
	a.cond.Broadcast()
}

// Current returns the physical and logical values last handed out.
func (a *Allocator) Current() (physical, logical int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.physical, a.mu.logical
}

// Close stops the ticker and fails waiting and future Generate calls. It
// does not write anything: a restart relies only on the saved bound.
func (a *Allocator) Close() {
	a.mu.Lock()
	if a.mu.closed {
		a.mu.Unlock()
		return
	}
	a.mu.closed = true
	a.mu.Unlock()
	a.cond.Broadcast()
	close(a.stopc)
	<-a.donec
}

// Compose packs a timestamp.
func Compose(physical, logical int64) uint64 {
	return uint64(physical)<<LogicalBits | uint64(logical)
}
