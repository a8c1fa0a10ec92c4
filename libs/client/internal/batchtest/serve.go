package batchtest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// Serve answers stream by calling srv's unary method for each request, each
// on its own goroutine under the request's timeout, and sends every answer
// as soon as it is ready. It returns once the client closed its side and
// every request was answered, or the stream failed.
func Serve(srv kvrpcpb.KVServer, stream kvrpcpb.KV_BatchCommandsServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // serialises Send
		sendErr error
	)
	send := func(id uint64, resp *kvrpcpb.BatchCommandsResponse_Response) {
		mu.Lock()
		defer mu.Unlock()
		if sendErr == nil {
			sendErr = stream.Send(&kvrpcpb.BatchCommandsResponse{
				Responses: []*kvrpcpb.BatchCommandsResponse_Response{resp}, RequestIds: []uint64{id},
			})
		}
	}
	for {
		msg, err := stream.Recv()
		if err == nil && len(msg.GetRequests()) != len(msg.GetRequestIds()) {
			err = status.Errorf(codes.InvalidArgument, "batch has %d requests but %d request ids",
				len(msg.GetRequests()), len(msg.GetRequestIds()))
		}
		if err != nil {
			if err != io.EOF {
				cancel()
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if err == io.EOF {
				return sendErr
			}
			return err
		}
		for i, r := range msg.GetRequests() {
			id := msg.GetRequestIds()[i]
			wg.Go(func() { send(id, Do(ctx, srv, i, r)) })
		}
	}
}

// Do runs request i of a message through srv's unary method and returns
// what that method answered, its error as a status code and message.
func Do(ctx context.Context, srv kvrpcpb.KVServer, i int, r *kvrpcpb.BatchCommandsRequest_Request) *kvrpcpb.BatchCommandsResponse_Response {
	if ms := r.GetTimeoutMs(); ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	var (
		out = &kvrpcpb.BatchCommandsResponse_Response{}
		err error
	)
	switch c := r.GetCmd().(type) {
	case *kvrpcpb.BatchCommandsRequest_Request_RawGet:
		var resp *kvrpcpb.RawGetResponse
		resp, err = srv.RawGet(ctx, c.RawGet)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawGet{RawGet: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchGet:
		var resp *kvrpcpb.RawBatchGetResponse
		resp, err = srv.RawBatchGet(ctx, c.RawBatchGet)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchGet{RawBatchGet: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawPut:
		var resp *kvrpcpb.RawPutResponse
		resp, err = srv.RawPut(ctx, c.RawPut)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawPut{RawPut: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchPut:
		var resp *kvrpcpb.RawBatchPutResponse
		resp, err = srv.RawBatchPut(ctx, c.RawBatchPut)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchPut{RawBatchPut: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawDelete:
		var resp *kvrpcpb.RawDeleteResponse
		resp, err = srv.RawDelete(ctx, c.RawDelete)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawDelete{RawDelete: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchDelete:
		var resp *kvrpcpb.RawBatchDeleteResponse
		resp, err = srv.RawBatchDelete(ctx, c.RawBatchDelete)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchDelete{RawBatchDelete: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawScan:
		var resp *kvrpcpb.RawScanResponse
		resp, err = srv.RawScan(ctx, c.RawScan)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawScan{RawScan: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange:
		var resp *kvrpcpb.RawDeleteRangeResponse
		resp, err = srv.RawDeleteRange(ctx, c.RawDeleteRange)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawDeleteRange{RawDeleteRange: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap:
		var resp *kvrpcpb.CompareAndSwapResponse
		resp, err = srv.CompareAndSwap(ctx, c.CompareAndSwap)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_CompareAndSwap{CompareAndSwap: resp}
	case *kvrpcpb.BatchCommandsRequest_Request_Get:
		var resp *kvrpcpb.GetResponse
		resp, err = srv.Get(ctx, c.Get)
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_Get{Get: resp}
	default:
		err = status.Error(codes.InvalidArgument, fmt.Sprintf("batch request %d has no command", i))
	}
	if err != nil {
		st := status.Convert(err)
		return &kvrpcpb.BatchCommandsResponse_Response{Code: uint32(st.Code()), Message: st.Message()}
	}
	return out
}
