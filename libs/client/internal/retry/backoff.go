package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy configures a Backoff. The zero value is not useful; see
// DefaultPolicy.
type Policy struct {
	// Base is the delay ceiling after the first failure; it doubles after
	// every further failure up to Cap.
	Base time.Duration
	Cap  time.Duration
}

// DefaultPolicy suits region routing errors: a leader change or a split
// resolves in tens of milliseconds, an election in about a second.
var DefaultPolicy = Policy{Base: 10 * time.Millisecond, Cap: time.Second}

// Backoff yields the delays of one operation's retries. It is not safe for
// concurrent use.
type Backoff struct {
	policy  Policy
	attempt int
	// jitter returns a uniform value in [0, n); replaced in tests.
	jitter func(n int64) int64
}

// New returns a Backoff for one operation.
func New(p Policy) *Backoff {
	return &Backoff{policy: p, jitter: rand.Int64N}
}

// Attempts is how many delays Next has produced.
func (b *Backoff) Attempts() int { return b.attempt }

// Next returns the delay before the next retry: "equal jitter", half the
// exponential ceiling plus a random part of the other half. The fixed half
// keeps clients from hammering a recovering store; the random half keeps
// clients that failed together from retrying together.
func (b *Backoff) Next() time.Duration {
	ceiling := b.policy.Base
	for i := 0; i < b.attempt && ceiling < b.policy.Cap; i++ {
		ceiling *= 2
	}
	if ceiling > b.policy.Cap {
		ceiling = b.policy.Cap
	}
	b.attempt++
	half := int64(ceiling / 2)
	if half <= 0 {
		return ceiling
	}
	return time.Duration(half + b.jitter(half+1))
}

// Wait sleeps for the next delay, or for hint if the server asked for a
// longer one (ServerIsBusy's backoff). It returns context.DeadlineExceeded
// at once when the delay would end after ctx's deadline (a retry that cannot
// start in time is pointless), and ctx's error if ctx ends while sleeping.
func (b *Backoff) Wait(ctx context.Context, hint time.Duration) error {
	d := b.Next()
	if hint > d {
		d = hint
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
