package server

import (
	"context"
	"io"
	"math"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// BatchCommands multiplexes the data RPCs over one stream: a client sends
// many concurrent requests in one message and gets many answers in one, so
// per-RPC costs (HTTP/2 frames, one write per response, a goroutine and
// interceptor chain per RPC) are paid per message rather than per request.
//
// Each command runs on its own goroutine through the same handler as its
// unary RPC, recorded by the same observer (metrics under the unary method
// name, slow-request log) and with the same panic recovery, so its answer is
// exactly what the unary call would have returned, its gRPC status carried
// in the response's code and message.

const (
	// maxBatchCommands is the most requests one BatchCommands message may
	// carry; the requests of a larger message are refused one by one.
	maxBatchCommands = 1024
	// maxBatchResponses and batchResponseBytes bound one response message:
	// the sender packs what is ready up to either.
	maxBatchResponses  = 256
	batchResponseBytes = 4 << 20
)

// Field numbers of BatchCommandsResponse in kvrpcpb.proto.
const (
	responsesField  protowire.Number = 1
	requestIDsField protowire.Number = 2
)

// batchResult is one command's answer on its way to the sender, encoded by
// the command's goroutine: encoding is spread over the commands instead of
// the one sender, and an answer that cannot be encoded fails alone.
type batchResult struct {
	id  uint64
	enc []byte // the response as a field of BatchCommandsResponse
}

// size is what r adds to a message.
func (r batchResult) size() int { return len(r.enc) + protowire.SizeVarint(r.id) }

// BatchCommands serves one stream until the client closes its side (then
// the commands in flight are answered first), the client goes away (they
// are cancelled), a message is malformed, or the server stops (they are
// answered, then the stream ends with Unavailable and drainedTrailer, so
// the client resends what it sent meanwhile on a new stream, elsewhere if
// need be). It returns only after every command goroutine finished.
func (s *kvService) BatchCommands(stream kvrpcpb.KV_BatchCommandsServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()

	// Recv runs on its own goroutine so that a stopping server can stop
	// taking commands without cutting the stream under those in flight.
	// When the handler returns, gRPC ends the stream, which unblocks Recv.
	recvc := make(chan *kvrpcpb.BatchCommandsRequest)
	recvErrc := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				recvErrc <- err
				return
			}
			select {
			case recvc <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()

	respc := make(chan batchResult, maxBatchResponses)
	sendErrc := make(chan error, 1)
	go func() { sendErrc <- s.sendBatches(stream, respc, cancel) }()

	var wg sync.WaitGroup
	err := s.receiveBatches(ctx, cancel, recvc, recvErrc, respc, &wg)
	wg.Wait()
	close(respc)
	if sendErr := <-sendErrc; sendErr != nil {
		// Answers were lost: the client cannot tell what ran.
		return sendErr
	}
	if err == errStopping {
		// Every request read was answered: the client may resend the
		// ones it sent after, which never ran.
		stream.SetTrailer(metadata.Pairs(drainedTrailer, "true"))
	}
	return err
}

// errStopping ends the streams of a stopping server, with drainedTrailer.
var errStopping = status.Error(codes.Unavailable, "kv-service is stopping")

// drainedTrailer is the trailer key with which a stopping server says it
// answered every request it read (see the BatchCommands rpc in
// kvrpcpb.proto).
const drainedTrailer = "flaredb-batch-drained"

// receiveBatches starts the commands of every message received. It cancels
// the commands in flight only when the stream is gone (nobody would read
// their answers); otherwise they run to completion and are answered.
func (s *kvService) receiveBatches(ctx context.Context, cancel context.CancelFunc,
	recvc <-chan *kvrpcpb.BatchCommandsRequest, recvErrc <-chan error,
	respc chan<- batchResult, wg *sync.WaitGroup,
) error {
	for {
		select {
		case msg := <-recvc:
			if err := s.startBatch(ctx, msg, respc, wg); err != nil {
				return err
			}
		case err := <-recvErrc:
			if err == io.EOF {
				return nil
			}
			cancel()
			return err
		case <-ctx.Done():
			// The sender failed: the stream is broken.
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			return errStopping
		}
	}
}

// startBatch starts one goroutine per request of msg. Mismatched request
// ids make the answers unroutable, so they fail the whole stream.
func (s *kvService) startBatch(ctx context.Context, msg *kvrpcpb.BatchCommandsRequest, respc chan<- batchResult, wg *sync.WaitGroup) error {
	reqs, ids := msg.GetRequests(), msg.GetRequestIds()
	if len(reqs) != len(ids) {
		return status.Errorf(codes.InvalidArgument, "batch has %d requests but %d request ids", len(reqs), len(ids))
	}
	if len(reqs) == 0 {
		return nil
	}
	s.rec.m.batchSize.Observe(float64(len(reqs)))
	if len(reqs) > maxBatchCommands {
		err := status.Errorf(codes.InvalidArgument, "batch has %d requests, over the max of %d requests per message",
			len(reqs), maxBatchCommands)
		for _, id := range ids {
			respc <- s.result(id, errResponse(err))
		}
		return nil
	}
	for i, r := range reqs {
		wg.Go(func() { respc <- s.result(ids[i], s.runCommand(ctx, i, r)) })
	}
	return nil
}

// runCommand runs request i of a message the way its unary RPC runs:
// observed, panic-safe, under the client's remaining deadline.
func (s *kvService) runCommand(ctx context.Context, i int, r *kvrpcpb.BatchCommandsRequest_Request) *kvrpcpb.BatchCommandsResponse_Response {
	fullMethod, req, handler := s.command(r)
	if handler == nil {
		return errResponse(status.Errorf(codes.InvalidArgument, "batch request %d has no command", i))
	}
	if ms := r.GetTimeoutMs(); ms > 0 && ms < math.MaxInt64/uint64(time.Millisecond) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	resp, err := s.rec.record(ctx, path.Base(fullMethod), req, func(ctx context.Context, req any) (any, error) {
		return callRecovering(ctx, s.rec.m, s.rec.lg, fullMethod, req, handler)
	})
	if err != nil {
		return errResponse(err)
	}
	return okResponse(resp)
}

// result encodes resp for the sender. A response that cannot be encoded,
// or is too large for one message, fails as its unary RPC would have
// (Internal, ResourceExhausted) rather than breaking the stream for every
// other request.
func (s *kvService) result(id uint64, resp *kvrpcpb.BatchCommandsResponse_Response) batchResult {
	enc, err := encodeResponse(resp)
	switch {
	case err != nil:
		enc, _ = encodeResponse(errResponse(status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)))
	case len(enc)+protowire.SizeVarint(id) > s.maxMsg:
		enc, _ = encodeResponse(errResponse(status.Errorf(codes.ResourceExhausted,
			"grpc: trying to send message larger than max (%d vs. %d)", len(enc), s.maxMsg)))
	}
	return batchResult{id: id, enc: enc}
}

// encodeResponse encodes resp as one element of
// BatchCommandsResponse.responses.
func encodeResponse(resp *kvrpcpb.BatchCommandsResponse_Response) ([]byte, error) {
	n := proto.Size(resp)
	buf := make([]byte, 0, protowire.SizeTag(responsesField)+protowire.SizeVarint(uint64(n))+n)
	buf = protowire.AppendTag(buf, responsesField, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(n))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, resp)
}

// message assembles one response message from encoded answers: a
// BatchCommandsResponse whose fields are all carried as already encoded
// (unknown) fields, which gRPC marshals verbatim and the client decodes as
// responses and request_ids.
func message(results []batchResult) *kvrpcpb.BatchCommandsResponse {
	n, idsLen := 0, 0
	for _, r := range results {
		n += len(r.enc)
		idsLen += protowire.SizeVarint(r.id)
	}
	buf := make([]byte, 0, n+protowire.SizeTag(requestIDsField)+protowire.SizeVarint(uint64(idsLen))+idsLen)
	for _, r := range results {
		buf = append(buf, r.enc...)
	}
	buf = protowire.AppendTag(buf, requestIDsField, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(idsLen))
	for _, r := range results {
		buf = protowire.AppendVarint(buf, r.id)
	}
	msg := &kvrpcpb.BatchCommandsResponse{}
	msg.ProtoReflect().SetUnknown(buf)
	return msg
}

// sendBatches sends the answers from respc until it is closed, each message
// packing what is ready (without waiting for more) up to maxBatchResponses
// and batchResponseBytes. After a failed Send it cancels the commands and
// discards the rest; it returns that Send's error.
func (s *kvService) sendBatches(stream kvrpcpb.KV_BatchCommandsServer, respc <-chan batchResult, cancel context.CancelFunc) error {
	var (
		sendErr error
		batch   = make([]batchResult, 0, maxBatchResponses)
		next    *batchResult // did not fit the previous message
	)
	for {
		batch = batch[:0]
		if next != nil {
			batch, next = append(batch, *next), nil
		} else {
			r, ok := <-respc
			if !ok {
				return sendErr
			}
			batch = append(batch, r)
		}
		size := batch[0].size()
		yielded := false
	drain:
		for len(batch) < maxBatchResponses {
			select {
			case r, ok := <-respc:
				if !ok {
					break drain
				}
				if size+r.size() > batchResponseBytes || size+r.size() > s.maxMsg {
					next = &r
					break drain
				}
				batch = append(batch, r)
				size += r.size()
			default:
				if yielded {
					break drain
				}
				// The writes of one Raft entry finish together: letting
				// their goroutines run once packs their answers into
				// this message instead of one message each.
				yielded = true
				runtime.Gosched()
			}
		}
		if sendErr != nil {
			continue
		}
		if err := stream.Send(message(batch)); err != nil {
			sendErr = err
			cancel()
		}
	}
}

// command resolves a batched request to its unary method, request and
// handler; the handler is nil when no command is set.
func (s *kvService) command(r *kvrpcpb.BatchCommandsRequest_Request) (fullMethod string, req any, handler grpc.UnaryHandler) {
	switch c := r.GetCmd().(type) {
	case *kvrpcpb.BatchCommandsRequest_Request_RawGet:
		return kvrpcpb.KV_RawGet_FullMethodName, c.RawGet, unary(s.RawGet)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchGet:
		return kvrpcpb.KV_RawBatchGet_FullMethodName, c.RawBatchGet, unary(s.RawBatchGet)
	case *kvrpcpb.BatchCommandsRequest_Request_RawPut:
		return kvrpcpb.KV_RawPut_FullMethodName, c.RawPut, unary(s.RawPut)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchPut:
		return kvrpcpb.KV_RawBatchPut_FullMethodName, c.RawBatchPut, unary(s.RawBatchPut)
	case *kvrpcpb.BatchCommandsRequest_Request_RawDelete:
		return kvrpcpb.KV_RawDelete_FullMethodName, c.RawDelete, unary(s.RawDelete)
	case *kvrpcpb.BatchCommandsRequest_Request_RawBatchDelete:
		return kvrpcpb.KV_RawBatchDelete_FullMethodName, c.RawBatchDelete, unary(s.RawBatchDelete)
	case *kvrpcpb.BatchCommandsRequest_Request_RawScan:
		return kvrpcpb.KV_RawScan_FullMethodName, c.RawScan, unary(s.RawScan)
	case *kvrpcpb.BatchCommandsRequest_Request_RawDeleteRange:
		return kvrpcpb.KV_RawDeleteRange_FullMethodName, c.RawDeleteRange, unary(s.RawDeleteRange)
	case *kvrpcpb.BatchCommandsRequest_Request_CompareAndSwap:
		return kvrpcpb.KV_CompareAndSwap_FullMethodName, c.CompareAndSwap, unary(s.CompareAndSwap)
	case *kvrpcpb.BatchCommandsRequest_Request_Get:
		return kvrpcpb.KV_Get_FullMethodName, c.Get, unary(s.Get)
	default:
		return "", nil, nil
	}
}

// unary adapts a typed handler to grpc.UnaryHandler.
func unary[Req, Resp any](h func(context.Context, Req) (Resp, error)) grpc.UnaryHandler {
	return func(ctx context.Context, req any) (any, error) { return h(ctx, req.(Req)) }
}

// okResponse wraps a unary handler's response.
func okResponse(resp any) *kvrpcpb.BatchCommandsResponse_Response {
	out := &kvrpcpb.BatchCommandsResponse_Response{}
	switch r := resp.(type) {
	case *kvrpcpb.RawGetResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawGet{RawGet: r}
	case *kvrpcpb.RawBatchGetResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchGet{RawBatchGet: r}
	case *kvrpcpb.RawPutResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawPut{RawPut: r}
	case *kvrpcpb.RawBatchPutResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchPut{RawBatchPut: r}
	case *kvrpcpb.RawDeleteResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawDelete{RawDelete: r}
	case *kvrpcpb.RawBatchDeleteResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawBatchDelete{RawBatchDelete: r}
	case *kvrpcpb.RawScanResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawScan{RawScan: r}
	case *kvrpcpb.RawDeleteRangeResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_RawDeleteRange{RawDeleteRange: r}
	case *kvrpcpb.CompareAndSwapResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_CompareAndSwap{CompareAndSwap: r}
	case *kvrpcpb.GetResponse:
		out.Cmd = &kvrpcpb.BatchCommandsResponse_Response_Get{Get: r}
	default:
		return errResponse(status.Errorf(codes.Internal, "no batch response for %T", resp))
	}
	return out
}

// errResponse carries err's gRPC status, as the unary RPC would have
// failed with it. The message is made valid UTF-8, as a proto3 string must
// be (a unary status travels in a header, which has no such rule).
func errResponse(err error) *kvrpcpb.BatchCommandsResponse_Response {
	st := status.Convert(err)
	return &kvrpcpb.BatchCommandsResponse_Response{
		Code:    uint32(st.Code()),
		Message: strings.ToValidUTF8(st.Message(), "\uFFFD"),
	}
}
