package id

import (
	"fmt"
	"sync"
)

// Storage persists the end of the current block. SaveIDAllocEnd MUST be
// durable when it returns.
type Storage interface {
	LoadIDAllocEnd() (uint64, error)
	SaveIDAllocEnd(end uint64) error
}

// DefaultStep is the block size: one sync write per this many ids.
const DefaultStep = 1000

// Allocator hands out ids 1, 2, 3, ... in increasing order.
//
// Invariant: mu.base < every id handed out <= mu.end, and mu.end is durable
// before any id in (old end, new end] is returned. After a restart base =
// end = the persisted end, so no id repeats.
type Allocator struct {
	st   Storage
	step uint64
	mu   struct {
		sync.Mutex
		base uint64 // last id handed out
		end  uint64 // persisted end of the current block
	}
}

// New loads the persisted block end; step 0 means DefaultStep.
func New(st Storage, step uint64) (*Allocator, error) {
	if step == 0 {
		step = DefaultStep
	}
	end, err := st.LoadIDAllocEnd()
	if err != nil {
		return nil, fmt.Errorf("id: load block end: %w", err)
	}
	a := &Allocator{st: st, step: step}
	a.mu.base, a.mu.end = end, end
	return a, nil
}

// Alloc returns a new id, persisting a new block when the current one is
// used up.
func (a *Allocator) Alloc() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.base == a.mu.end {
		end := a.mu.end + a.step
		if err := a.st.SaveIDAllocEnd(end); err != nil {
			return 0, fmt.Errorf("id: save block end: %w", err)
		}
		a.mu.end = end
	}
	a.mu.base++
	return a.mu.base, nil
}

// Reserve makes sure every future id is above floor; bootstrap uses it so
// ids picked by the first store (its own store, region and peer ids) are
// never handed out again.
func (a *Allocator) Reserve(floor uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.base >= floor {
		return nil
	}
	if floor > a.mu.end {
		if err := a.st.SaveIDAllocEnd(floor); err != nil {
			return fmt.Errorf("id: save block end: %w", err)
		}
		a.mu.end = floor
	}
	a.mu.base = floor
	return nil
}
