package pdclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	maxTSOBatch = 10000
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

// tsoRequest is one GetTS call waiting in a batch. done is buffered so the
// dispatcher never blocks on a caller that gave up.
type tsoRequest struct {
	done chan struct{}
	ts   uint64
	err  error
}

var tsoRequestPool = sync.Pool{New: func() any { return &tsoRequest{done: make(chan struct{}, 1)} }}

// GetTS returns a timestamp that is unique and greater than every timestamp
// any caller obtained before this call started. Concurrent calls are merged
// into one Tso stream request; a broken stream is reopened and the call
// retried within ctx (or the retry timeout when ctx has no deadline).
func (c *Client) GetTS(ctx context.Context) (uint64, error) {
	var start time.Time
	if c.m != nil {
		start = time.Now()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.retryTimeout)
		defer cancel()
	}
	backoff := backoffBase
	for {
		r := tsoRequestPool.Get().(*tsoRequest)
		select {
		case c.tsoReqc <- r:
		case <-ctx.Done():
			tsoRequestPool.Put(r)
			return 0, ctx.Err()
		case <-c.ctx.Done():
			tsoRequestPool.Put(r)
			return 0, ErrClosed
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			// The dispatcher still owns r; leave it to the garbage collector.
			return 0, ctx.Err()
		case <-c.ctx.Done():
			return 0, ErrClosed
		}
		ts, err := r.ts, r.err
		r.ts, r.err = 0, nil
		tsoRequestPool.Put(r)
		if err == nil {
			if c.m != nil {
				c.m.getTSDuration.Observe(time.Since(start).Seconds())
			}
			return ts, nil
		}
		if !retryable(err) {
			return 0, err
		}
		if serr := c.sleep(ctx, backoff); serr != nil {
			return 0, fmt.Errorf("%w (last error: %v)", serr, err)
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// tsoStream is one open Tso stream with its own cancel.
type tsoStream struct {
	s      pdpb.PD_TsoClient
	cancel context.CancelFunc
}

// tsoLoop is the single dispatcher: it takes the first waiting request,
// sweeps up every other one already queued, asks PD for that many
// timestamps in one stream request and hands them out in queue order.
// Only one request is in flight, so while it waits the next batch grows.
func (c *Client) tsoLoop() {
	defer c.wg.Done()
	var st *tsoStream
	defer func() {
		if st != nil {
			st.cancel()
		}
		c.failPending()
	}()
	batch := make([]*tsoRequest, 0, maxTSOBatch)
	for {
		select {
		case r := <-c.tsoReqc:
			batch = append(batch, r)
		case <-c.ctx.Done():
			return
		}
	sweep:
		for len(batch) < maxTSOBatch {
			select {
			case r := <-c.tsoReqc:
				batch = append(batch, r)
			default:
				break sweep
			}
		}
		if st == nil {
			var err error
			if st, err = c.openTSOStream(); err != nil {
				finish(batch, err)
				batch = batch[:0]
				continue
			}
		}
		if err := c.processBatch(st, batch); err != nil {
			st.cancel()
			st = nil
			if c.ctx.Err() == nil {
				c.lg.Info("tso stream failed; reconnecting", zap.Error(err))
			}
			finish(batch, err)
		}
		batch = batch[:0]
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

func (c *Client) processBatch(st *tsoStream, batch []*tsoRequest) error {
	n := uint32(len(batch))
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
	physical, last := resp.GetTimestamp().GetPhysical(), resp.GetTimestamp().GetLogical()
	first := last - int64(n) + 1
	for i, r := range batch {
		r.ts = ComposeTS(physical, first+int64(i))
		r.done <- struct{}{}
	}
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

func finish(batch []*tsoRequest, err error) {
	for _, r := range batch {
		r.err = err
		r.done <- struct{}{}
	}
}

// failPending fails requests still queued when the client closes.
func (c *Client) failPending() {
	for {
		select {
		case r := <-c.tsoReqc:
			r.err = ErrClosed
			r.done <- struct{}{}
		default:
			return
		}
	}
}
