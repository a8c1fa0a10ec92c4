package batch

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// Client is a kvrpcpb.KVClient for one connection whose data RPCs travel
// on the connection's BatchCommands stream. Calls with CallOptions, calls
// too large to batch, the admin RPCs and every call to a store that does
// not implement BatchCommands go as plain unary RPCs. Safe for concurrent
// use.
type Client struct {
	plain kvrpcpb.KVClient
	b     *batcher
}

var _ kvrpcpb.KVClient = (*Client)(nil)

// New returns a Client over cc. observe, when not nil, is called with the
// number of requests in every stream message sent. Close stops it.
func New(cc grpc.ClientConnInterface, observe func(n int)) *Client {
	plain := kvrpcpb.NewKVClient(cc)
	return &Client{plain: plain, b: newBatcher(plain, observe)}
}

// Close fails the calls waiting for answers with Canceled and ends the
// stream. It does not close the connection.
func (c *Client) Close() { c.b.close() }

// call sends in on the stream and unpacks the answer with get, falling back
// to the unary RPC where batching does not apply.
func call[Req any, Resp comparable](c *Client, ctx context.Context, in Req, opts []grpc.CallOption,
	unary func(context.Context, Req, ...grpc.CallOption) (Resp, error),
	wrap func(Req) *kvrpcpb.BatchCommandsRequest_Request,
	get func(*kvrpcpb.BatchCommandsResponse_Response) Resp,
) (Resp, error) {
	var zero Resp
	if len(opts) > 0 || c.b.unsupported.Load() {
		return unary(ctx, in, opts...)
	}
	resp, err := c.b.do(ctx, wrap(in))
	if errors.Is(err, errTooLarge) || errors.Is(err, errUnsupported) {
		return unary(ctx, in)
	}
	if err != nil {
		return zero, err
	}
	if code := codes.Code(resp.GetCode()); code != codes.OK {
		return zero, status.Error(code, resp.GetMessage())
	}
	out := get(resp)
	if out == zero {
		return zero, status.Errorf(codes.Internal, "batch response %T carries no %T", resp.GetCmd(), zero)
	}
	return out, nil
}

func (c *Client) RawGet(ctx context.Context, in *kvrpcpb.RawGetRequest, opts ...grpc.CallOption) (*kvrpcpb.RawGetResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawGet, func(r *kvrpcpb.RawGetRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawGet{RawGet: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawGet)
}

func (c *Client) RawBatchGet(ctx context.Context, in *kvrpcpb.RawBatchGetRequest, opts ...grpc.CallOption) (*kvrpcpb.RawBatchGetResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawBatchGet, func(r *kvrpcpb.RawBatchGetRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchGet{RawBatchGet: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawBatchGet)
}

func (c *Client) RawPut(ctx context.Context, in *kvrpcpb.RawPutRequest, opts ...grpc.CallOption) (*kvrpcpb.RawPutResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawPut, func(r *kvrpcpb.RawPutRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawPut{RawPut: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawPut)
}

func (c *Client) RawBatchPut(ctx context.Context, in *kvrpcpb.RawBatchPutRequest, opts ...grpc.CallOption) (*kvrpcpb.RawBatchPutResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawBatchPut, func(r *kvrpcpb.RawBatchPutRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchPut{RawBatchPut: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawBatchPut)
}

func (c *Client) RawDelete(ctx context.Context, in *kvrpcpb.RawDeleteRequest, opts ...grpc.CallOption) (*kvrpcpb.RawDeleteResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawDelete, func(r *kvrpcpb.RawDeleteRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawDelete{RawDelete: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawDelete)
}

func (c *Client) RawBatchDelete(ctx context.Context, in *kvrpcpb.RawBatchDeleteRequest, opts ...grpc.CallOption) (*kvrpcpb.RawBatchDeleteResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawBatchDelete, func(r *kvrpcpb.RawBatchDeleteRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawBatchDelete{RawBatchDelete: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawBatchDelete)
}

func (c *Client) RawScan(ctx context.Context, in *kvrpcpb.RawScanRequest, opts ...grpc.CallOption) (*kvrpcpb.RawScanResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawScan, func(r *kvrpcpb.RawScanRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawScan{RawScan: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawScan)
}

func (c *Client) RawDeleteRange(ctx context.Context, in *kvrpcpb.RawDeleteRangeRequest, opts ...grpc.CallOption) (*kvrpcpb.RawDeleteRangeResponse, error) {
	return call(c, ctx, in, opts, c.plain.RawDeleteRange, func(r *kvrpcpb.RawDeleteRangeRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange{RawDeleteRange: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetRawDeleteRange)
}

func (c *Client) CompareAndSwap(ctx context.Context, in *kvrpcpb.CompareAndSwapRequest, opts ...grpc.CallOption) (*kvrpcpb.CompareAndSwapResponse, error) {
	return call(c, ctx, in, opts, c.plain.CompareAndSwap, func(r *kvrpcpb.CompareAndSwapRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap{CompareAndSwap: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetCompareAndSwap)
}

func (c *Client) Get(ctx context.Context, in *kvrpcpb.GetRequest, opts ...grpc.CallOption) (*kvrpcpb.GetResponse, error) {
	return call(c, ctx, in, opts, c.plain.Get, func(r *kvrpcpb.GetRequest) *kvrpcpb.BatchCommandsRequest_Request {
		return &kvrpcpb.BatchCommandsRequest_Request{Cmd: &kvrpcpb.BatchCommandsRequest_Request_Get{Get: r}}
	}, (*kvrpcpb.BatchCommandsResponse_Response).GetGet)
}

// ChangePeer is an admin RPC: always unary.
func (c *Client) ChangePeer(ctx context.Context, in *kvrpcpb.ChangePeerRequest, opts ...grpc.CallOption) (*kvrpcpb.ChangePeerResponse, error) {
	return c.plain.ChangePeer(ctx, in, opts...)
}

// TransferLeader is an admin RPC: always unary.
func (c *Client) TransferLeader(ctx context.Context, in *kvrpcpb.TransferLeaderRequest, opts ...grpc.CallOption) (*kvrpcpb.TransferLeaderResponse, error) {
	return c.plain.TransferLeader(ctx, in, opts...)
}

// BatchCommands opens a stream of its own, apart from the Client's.
func (c *Client) BatchCommands(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[kvrpcpb.BatchCommandsRequest, kvrpcpb.BatchCommandsResponse], error) {
	return c.plain.BatchCommands(ctx, opts...)
}

// Clients keeps one Client per connection. Safe for concurrent use.
type Clients struct {
	observe func(n int)

	mu struct {
		sync.Mutex
		// clients maps a connection to its Client.
		clients map[grpc.ClientConnInterface]*Client
		closed  bool
	}
}

// NewClients returns an empty set whose Clients report to observe (may be
// nil).
func NewClients(observe func(n int)) *Clients {
	cs := &Clients{observe: observe}
	cs.mu.clients = make(map[grpc.ClientConnInterface]*Client)
	return cs
}

// Get returns cc's Client, creating it on first use. After Close it
// returns a closed Client, whose calls fail with Canceled.
func (cs *Clients) Get(cc grpc.ClientConnInterface) *Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.mu.clients[cc]; ok {
		return c
	}
	c := New(cc, cs.observe)
	if cs.mu.closed {
		c.Close()
		return c
	}
	cs.mu.clients[cc] = c
	return c
}

// Close closes every Client. Close is idempotent.
func (cs *Clients) Close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.mu.closed = true
	for cc, c := range cs.mu.clients {
		c.Close()
		delete(cs.mu.clients, cc)
	}
}
