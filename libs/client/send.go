package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/libs/client/internal/batch"
	"github.com/flaredb/flaredb/libs/client/internal/locate"
	"github.com/flaredb/flaredb/libs/client/internal/retry"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// A call is split into work items (the keys of a batch, the one key of a
// point operation, the current position of a scan). Each attempt groups the
// pending items by route, sends one RPC per group, and keeps the items of
// groups that failed with a retryable error for the next attempt. Items of a
// group that succeeded are done, so a batch spanning a region that moved
// resends only that region's share.

// group is the work items one RPC carries to one region.
type group struct {
	loc  *locate.Location
	idxs []int
}

// planFunc groups pending work items by route.
type planFunc func(ctx context.Context, pending []int) ([]group, error)

// sendFunc sends one group. It stores results for idxs itself (each group
// owns disjoint indexes, so no locking) and returns the response's region
// error or the RPC error.
type sendFunc func(ctx context.Context, kv kvrpcpb.KVClient, loc *locate.Location, idxs []int) (*errorpb.Error, error)

// outcome of one group's attempt.
type outcome struct {
	err    error // nil on success
	retry  bool
	reason string
	hint   time.Duration
}

// run executes a call of n work items until every item succeeded, an error
// is not retryable, retries ran out, or ctx ended.
func (c *Client) run(ctx context.Context, cmd string, n int, plan planFunc, send sendFunc) error {
	start := time.Now()
	defer c.observe(cmd, start)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.retryLoop(ctx, cmd, n, plan, send)
}

// retryLoop is run without the per-call timeout and metrics, for calls made
// of several steps (scans) that apply those once.
func (c *Client) retryLoop(ctx context.Context, cmd string, n int, plan planFunc, send sendFunc) error {
	if c.closed.Load() {
		return ErrClosed
	}
	bo := retry.New(retry.Policy{Base: c.cfg.BackoffBase, Cap: c.cfg.BackoffCap})
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	for {
		var (
			failed []int
			last   outcome
		)
		groups, err := plan(ctx, pending)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("%s: %w", cmd, ctx.Err())
		case err != nil:
			// PD unreachable or the cluster still bootstrapping: both pass.
			failed, last = pending, outcome{err: err, retry: true, reason: "no_route"}
		default:
			outs := c.sendAll(ctx, cmd, groups, send)
			for i, o := range outs {
				if o.err == nil {
					continue
				}
				if !o.retry {
					return o.err
				}
				failed = append(failed, groups[i].idxs...)
				if o.hint > last.hint || last.err == nil {
					last = o
				}
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if bo.Attempts() >= c.cfg.MaxRetries {
			return fmt.Errorf("%w: %s gave up after %d retries: %w", ErrRegionUnavailable, cmd, bo.Attempts(), last.err)
		}
		c.metrics.retries.WithLabelValues(last.reason).Inc()
		c.lg.Debug("retrying request", zap.String("cmd", cmd), zap.String("reason", last.reason),
			zap.Int("attempt", bo.Attempts()+1), zap.Error(last.err))
		if err := bo.Wait(ctx, last.hint); err != nil {
			return fmt.Errorf("%s: %w (last error: %w)", cmd, err, last.err)
		}
		if c.closed.Load() {
			return ErrClosed
		}
		pending = failed
	}
}

// sendAll sends every group, concurrently when there are several.
func (c *Client) sendAll(ctx context.Context, cmd string, groups []group, send sendFunc) []outcome {
	outs := make([]outcome, len(groups))
	if len(groups) == 1 {
		outs[0] = c.attempt(ctx, cmd, groups[0], send)
		return outs
	}
	var wg sync.WaitGroup
	for i := range groups {
		wg.Go(func() { outs[i] = c.attempt(ctx, cmd, groups[i], send) })
	}
	wg.Wait()
	return outs
}

// attempt sends one group once and classifies the result, updating the
// region cache from whatever the failure taught.
func (c *Client) attempt(ctx context.Context, cmd string, g group, send sendFunc) outcome {
	cc, err := c.pool.Get(g.loc.Addr)
	if err != nil {
		return outcome{err: c.errClosedIfClosed(err)}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	regionErr, err := send(actx, c.kvClient(cc), g.loc, g.idxs)
	cancel()
	if regionErr != nil {
		return c.onRegionError(g.loc, regionErr)
	}
	if err == nil {
		return outcome{}
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.InvalidArgument:
		return outcome{err: fmt.Errorf("%w: %s", ErrInvalidArgument, st.Message())}
	case codes.Unavailable:
		if c.closed.Load() {
			return outcome{err: ErrClosed}
		}
		c.cache.OnPeerUnreachable(g.loc.Region.GetId(), g.loc.Peer)
		if notApplyOnce[cmd] && !neverSent(st) {
			return outcome{err: fmt.Errorf("%w: %s to store %s: %w", ErrUndetermined, cmd, g.loc.Addr, err)}
		}
		return outcome{err: fmt.Errorf("store %s: %w", g.loc.Addr, err), retry: true, reason: "unavailable"}
	case codes.DeadlineExceeded:
		if ctx.Err() != nil {
			return outcome{err: fmt.Errorf("store %s: %w", g.loc.Addr, ctx.Err())}
		}
		// Only this attempt timed out: the peer may be partitioned or
		// paused while another peer leads, so move on to the next one.
		c.cache.OnPeerUnreachable(g.loc.Region.GetId(), g.loc.Peer)
		if notApplyOnce[cmd] {
			return outcome{err: fmt.Errorf("%w: %s to store %s: %w", ErrUndetermined, cmd, g.loc.Addr, err)}
		}
		return outcome{err: fmt.Errorf("store %s: %w", g.loc.Addr, err), retry: true, reason: "timeout"}
	case codes.Canceled:
		if c.closed.Load() {
			return outcome{err: ErrClosed}
		}
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return outcome{err: ctx.Err()}
	}
	return outcome{err: fmt.Errorf("store %s: %w", g.loc.Addr, err)}
}

// kvClient returns the KV client for a store connection: the one batching
// requests on the connection's BatchCommands stream unless disabled. Either
// answers with the statuses a unary call would, so attempt classifies both
// alike.
func (c *Client) kvClient(cc *grpc.ClientConn) kvrpcpb.KVClient {
	if c.batches == nil {
		return kvrpcpb.NewKVClient(cc)
	}
	return c.batches.Get(cc)
}

// notApplyOnce names the commands that must not be sent again once a
// request may have reached the leader: applying them twice is visible (a put
// or CAS gives the key a second new version; a retried CAS can conflict with
// its own first attempt). Reads and deletes are safe to repeat. Routing
// errors are still retried for every command, because a store answers them
// before proposing anything.
var notApplyOnce = map[string]bool{
	"put": true, "batch_put": true, "cas": true, "change_peer": true,
}

// neverSent reports whether an Unavailable status proves that no store ran
// the request, so resending cannot apply it twice: the connection could not
// be established, or the batch stream says the request did not run. A
// batch stream that broke after the request was sent proves nothing,
// whatever its cause says.
func neverSent(st *status.Status) bool {
	switch {
	case batch.NotRun(st):
		return true
	case batch.IsBroken(st):
		return false
	}
	msg := st.Message()
	return strings.Contains(msg, "Error while dialing") || strings.Contains(msg, "connection refused")
}

// onRegionError corrects the region cache from a routing error; every
// routing error is retryable.
func (c *Client) onRegionError(loc *locate.Location, e *errorpb.Error) outcome {
	id := loc.Region.GetId()
	o := outcome{err: &RegionError{RegionID: id, Err: e}, retry: true, reason: regionErrorReason(e)}
	switch {
	case e.GetNotLeader() != nil:
		c.cache.OnNotLeader(id, e.GetNotLeader().GetLeader())
	case e.GetEpochNotMatch() != nil:
		c.cache.OnEpochNotMatch(id, e.GetEpochNotMatch().GetCurrentRegions(), loc.Peer.GetStoreId())
	case e.GetServerIsBusy() != nil:
		o.hint = time.Duration(e.GetServerIsBusy().GetBackoffMs()) * time.Millisecond
	case e.GetStoreNotMatch() != nil:
		c.cache.InvalidateStore(loc.Peer.GetStoreId())
		c.cache.Invalidate(id)
	default:
		c.cache.Invalidate(id)
	}
	return o
}

// byKey plans work items that are keys: items whose keys share a route go
// in one group, in item order.
func (c *Client) byKey(keys [][]byte) planFunc {
	return func(ctx context.Context, pending []int) ([]group, error) {
		var groups []group
		byRegion := make(map[uint64]int)
		for _, i := range pending {
			loc, err := c.cache.Locate(ctx, keys[i])
			if err != nil {
				return nil, err
			}
			gi, ok := byRegion[loc.Region.GetId()]
			if !ok {
				gi = len(groups)
				byRegion[loc.Region.GetId()] = gi
				groups = append(groups, group{loc: loc})
			}
			groups[gi].idxs = append(groups[gi].idxs, i)
		}
		return groups, nil
	}
}

// oneRoute plans a single work item routed by locate.
func oneRoute(locate func(ctx context.Context) (*locate.Location, error)) planFunc {
	return func(ctx context.Context, _ []int) ([]group, error) {
		loc, err := locate(ctx)
		if err != nil {
			return nil, err
		}
		return []group{{loc: loc, idxs: []int{0}}}, nil
	}
}
