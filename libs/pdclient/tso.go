package pdclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/pdpb"
)

const (
	logicalBits = 18
	// maxTSOBatch caps one Tso request; well below the 2^18 logical values
	// one physical tick holds.
	maxTSOBatch = 1 << 16
	// tsoRPCTimeout bounds one batched request so a hung PD is noticed.
	tsoRPCTimeout = 3 * time.Second
)

// errTSOStream marks a broken Tso stream; GetTS retries it.
var errTSOStream = status.Error(codes.Unavailable, "pdclient: tso stream broken")

// ComposeTS packs a timestamp: physical milliseconds << 18 | logical.
func ComposeTS(physicalMs, logical int64) uint64 {
	return uint64(physicalMs)<<logicalBits | uint64(logical)
}

// ParseTS splits a timestamp into its physical milliseconds and logical
// parts.
func ParseTS(ts uint64) (physicalMs, logical int64) {
	return int64(ts >> logicalBits), int64(ts & (1<<logicalBits - 1))
}

// tsoBatch collects concurrent GetTS callers. Each caller takes the next
// slot under tsoMu; the dispatcher asks PD for n timestamps at once and
// closes done, waking every caller together; slot i gets first+i.
type tsoBatch struct {
	n        int64
	done     chan struct{}
	physical int64
	first    int64 // logical value of slot 0
	err      error
}

func newTSOBatch() *tsoBatch { return &tsoBatch{done: make(chan struct{})} }

// joinTSOBatch reserves a slot in the batch being filled and wakes the
// dispatcher. Every batch it returns is eventually completed: after the
// dispatcher's final sweep no one can join (closed is set under tsoMu).
func (c *Client) joinTSOBatch() (*tsoBatch, int64, error) {
	c.tsoMu.Lock()
	if c.tsoMu.closed {
		c.tsoMu.Unlock()
		return nil, 0, ErrClosed
	}
	b := c.tsoMu.cur
	if b.n == maxTSOBatch {
		c.tsoMu.full = append(c.tsoMu.full, b)
		b = newTSOBatch()
		c.tsoMu.cur = b
	}
	slot := b.n
	b.n++
	c.tsoMu.Unlock()
	select {
	case c.tsoKickc <- struct{}{}:
	default:
	}
	return b, slot, nil
}

// GetTS returns a timestamp that is unique and greater than every timestamp
// any caller obtained before this call started. Concurrent calls are merged
// into one Tso stream request; a broken stream is reopened and the call
// retried within ctx's deadline (or the retry timeout when it has none).
func (c *Client) GetTS(ctx context.Context) (uint64, error) {
	var start time.Time
	if c.m != nil {
		start = time.Now()
	}
	var retryUntil time.Time
	backoff := backoffBase
	for {
		b, slot, err := c.joinTSOBatch()
		if err != nil {
			return 0, err
		}
		if done := ctx.Done(); done == nil {
			<-b.done // Close completes every batch, so this cannot hang
		} else {
			select {
			case <-b.done:
			case <-done:
				return 0, ctx.Err() // the slot is simply never used
			}
		}
		if b.err == nil {
			if c.m != nil {
				c.m.getTSDuration.Observe(time.Since(start).Seconds())
			}
			return ComposeTS(b.physical, b.first+slot), nil
		}
		if !retryable(b.err) {
			return 0, b.err
		}
		if _, ok := ctx.Deadline(); !ok {
			if retryUntil.IsZero() {
				retryUntil = time.Now().Add(c.opts.retryTimeout)
			} else if time.Now().After(retryUntil) {
				return 0, fmt.Errorf("pdclient: gave up after %v: %w", c.opts.retryTimeout, b.err)
			}
		}
		if serr := c.sleep(ctx, backoff); serr != nil {
			return 0, fmt.Errorf("%w (last error: %v)", serr, b.err)
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// tsoStream is one open Tso stream with its own cancel.
type tsoStream struct {
	s      pdpb.PD_TsoClient
	cancel context.CancelFunc
}

// takeTSOBatches hands the dispatcher every batch with callers in it and
// starts a fresh one for newcomers; final also stops newcomers for good.
func (c *Client) takeTSOBatches(final bool) []*tsoBatch {
	c.tsoMu.Lock()
	defer c.tsoMu.Unlock()
	c.tsoMu.closed = c.tsoMu.closed || final
	out := c.tsoMu.full
	c.tsoMu.full = nil
	if c.tsoMu.cur.n > 0 {
		out = append(out, c.tsoMu.cur)
		c.tsoMu.cur = newTSOBatch()
	}
	return out
}

// tsoLoop is the single dispatcher. Woken by a caller, it takes the batch
// being filled, asks PD for that many timestamps in one stream request and
// releases the callers. Only one request is in flight, so while it waits
// the next batch grows: thousands of callers cost few RPCs.
func (c *Client) tsoLoop() {
	defer c.wg.Done()
	var st *tsoStream
	defer func() {
		if st != nil {
			st.cancel()
		}
		for _, b := range c.takeTSOBatches(true) {
			b.err = ErrClosed
			close(b.done)
		}
	}()
	for {
		select {
		case <-c.tsoKickc:
		case <-c.ctx.Done():
			return
		}
		for _, b := range c.takeTSOBatches(false) {
			if st == nil {
				var err error
				if st, err = c.openTSOStream(); err != nil {
					b.err = err
					close(b.done)
					continue
				}
			}
			if err := c.processBatch(st, b); err != nil {
				st.cancel()
				st = nil
				if c.ctx.Err() == nil {
					c.lg.Info("tso stream failed; reconnecting", zap.Error(err))
				}
				b.err = err
			}
			close(b.done)
		}
	}
}

func (c *Client) openTSOStream() (*tsoStream, error) {
	ctx, cancel := context.WithCancel(c.ctx)
	s, err := c.pd().Tso(ctx)
	if err != nil {
		cancel()
		c.rotate()
		return nil, err
	}
	if c.m != nil {
		c.m.reconnects.WithLabelValues("tso").Inc()
	}
	return &tsoStream{s: s, cancel: cancel}, nil
}

// processBatch fills b with PD's answer; the caller closes b.done.
func (c *Client) processBatch(st *tsoStream, b *tsoBatch) error {
	n := uint32(b.n)
	start := time.Now()
	// A hung PD must not hold callers forever: cancel the stream if the
	// answer does not come in time.
	watchdog := time.AfterFunc(tsoRPCTimeout, st.cancel)
	defer watchdog.Stop()
	if err := st.s.Send(&pdpb.TsoRequest{Header: c.header(), Count: n}); err != nil {
		return wrapStreamErr(err)
	}
	resp, err := st.s.Recv()
	if err != nil {
		return wrapStreamErr(err)
	}
	if herr := HeaderError(resp.GetHeader()); herr != nil {
		return herr
	}
	if resp.GetCount() != n || resp.GetTimestamp() == nil {
		return fmt.Errorf("pdclient: tso asked for %d timestamps, got %d", n, resp.GetCount())
	}
	if c.m != nil {
		c.m.tsoBatchSize.Observe(float64(n))
		c.m.tsoRPCDuration.Observe(time.Since(start).Seconds())
	}
	b.physical = resp.GetTimestamp().GetPhysical()
	b.first = resp.GetTimestamp().GetLogical() - int64(n) + 1
	return nil
}

// wrapStreamErr makes every transport failure retryable by GetTS, except
// statuses PD chose deliberately (e.g. InvalidArgument).
func wrapStreamErr(err error) error {
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.InvalidArgument, codes.FailedPrecondition, codes.Unimplemented:
			return err
		}
	}
	return errors.Join(errTSOStream, err)
}
