package batch

import (
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

const (
	// maxBatchRequests and maxBatchBytes bound one stream message: the
	// sender packs what is queued up to either. The server accepts up to
	// 1024 requests per message.
	maxBatchRequests = 128
	maxBatchBytes    = 4 << 20
	// maxBatchedRequestBytes is the largest request sent on the stream;
	// larger ones go as unary RPCs, so a request over the store's message
	// limit fails alone, as ResourceExhausted, instead of breaking the
	// stream for everyone, and big requests do not delay small ones.
	maxBatchedRequestBytes = 1 << 20
	// queueLen is how many requests may wait for the sender.
	queueLen = 1024
)

// brokenPrefix starts the message of the status a request gets when its
// stream broke after the request was sent; IsBroken looks for it.
const brokenPrefix = "batch stream broken after the request was sent"

// IsBroken reports whether st is the Unavailable a request got because its
// stream broke after the request was sent: the store may have run it, so a
// write must not be resent.
func IsBroken(st *status.Status) bool {
	return st.Code() == codes.Unavailable && strings.HasPrefix(st.Message(), brokenPrefix)
}

// notRunPrefix starts the message of the Unavailable a request gets when it
// provably did not run: its stream had ended before the message carrying it
// was written, or a stopping store ended the stream after answering every
// request it had read (it says so in the drainedTrailer trailer). NotRun
// looks for it.
const notRunPrefix = "batch request not run"

// drainedTrailer is the trailer key with which a stopping store says that
// it answered every request it read before ending the stream (see the
// BatchCommands rpc in kvrpcpb.proto).
const drainedTrailer = "flaredb-batch-drained"

// NotRun reports whether st is the Unavailable a request got because it
// provably did not run: resending it cannot apply it twice.
func NotRun(st *status.Status) bool {
	return st.Code() == codes.Unavailable && strings.HasPrefix(st.Message(), notRunPrefix)
}

// errUnsupported is delivered to the requests of a stream the store refused
// as Unimplemented (a store older than BatchCommands): none of them ran, so
// the Client sends them, and every later request, as unary RPCs.
var errUnsupported = errors.New("batch: store does not implement BatchCommands")

// errTooLarge is returned for a request over maxBatchedRequestBytes; the
// Client sends it as a unary RPC.
var errTooLarge = errors.New("batch: request too large to batch")

// errClosing is what requests get once the Client is closed, as unary RPCs
// on a closed connection do.
var errClosing = status.Error(codes.Canceled, "grpc: the client connection is closing")

// entry is one request waiting for its answer. Its request is encoded by
// the caller before it is queued, so the sender never reads memory the
// caller may reuse once it stopped waiting.
type entry struct {
	id    uint64
	enc   []byte      // the request as a field of BatchCommandsRequest
	donec chan result // buffered; receives at most one result
	// abandoned is set when the caller stopped waiting; the sender skips
	// the entry if it has not sent it yet.
	abandoned atomic.Bool
	// st is the stream the entry was sent on, so the caller can withdraw
	// it.
	st atomic.Pointer[stream]
}

type result struct {
	resp *kvrpcpb.BatchCommandsResponse_Response
	err  error
}

// batcher owns the BatchCommands stream of one connection: a sender
// goroutine packs queued requests into messages, and one receiver goroutine
// per stream routes the answers by request id. A broken stream is replaced
// by a new one when the next message is sent.
type batcher struct {
	kv      kvrpcpb.KVClient // opens streams
	observe func(n int)
	reqc    chan *entry
	// ctx ends at close; streams live under it.
	ctx    context.Context
	cancel context.CancelFunc
	// senderDone is closed when the sender goroutine has exited.
	senderDone  chan struct{}
	unsupported atomic.Bool
	// nextID numbers requests.
	nextID atomic.Uint64
}

func newBatcher(kv kvrpcpb.KVClient, observe func(int)) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{
		kv:         kv,
		observe:    observe,
		reqc:       make(chan *entry, queueLen),
		ctx:        ctx,
		cancel:     cancel,
		senderDone: make(chan struct{}),
	}
	go b.run()
	return b
}

// close fails every waiting request with errClosing and ends the streams.
func (b *batcher) close() {
	b.cancel()
	<-b.senderDone
}

// do sends req, giving it what is left of ctx's deadline, and waits for
// its answer or for ctx to end.
func (b *batcher) do(ctx context.Context, req *kvrpcpb.BatchCommandsRequest_Request) (*kvrpcpb.BatchCommandsResponse_Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	req.TimeoutMs = timeoutMs(ctx)
	e := &entry{id: b.nextID.Add(1), donec: make(chan result, 1)}
	var err error
	if e.enc, err = encodeRequest(req); err != nil {
		return nil, err
	}
	select {
	case b.reqc <- e:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-b.senderDone:
		return nil, errClosing
	}
	select {
	case r := <-e.donec:
		return r.resp, r.err
	case <-b.senderDone:
		// Closed; the entry may have been queued after the sender left.
		select {
		case r := <-e.donec:
			return r.resp, r.err
		default:
			return nil, errClosing
		}
	case <-ctx.Done():
		e.abandoned.Store(true)
		if st := e.st.Load(); st != nil {
			st.withdraw(e.id)
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// run is the sender goroutine.
func (b *batcher) run() {
	defer close(b.senderDone)
	var (
		st   *stream
		next *entry // did not fit the previous message
	)
	batch := make([]*entry, 0, maxBatchRequests)
	for {
		batch = batch[:0]
		if next != nil {
			batch, next = append(batch, next), nil
		} else {
			select {
			case e := <-b.reqc:
				batch = append(batch, e)
			case <-b.ctx.Done():
				b.drainClosed()
				return
			}
		}
		size := batch[0].size()
		yielded := false
	drain:
		for len(batch) < maxBatchRequests {
			select {
			case e := <-b.reqc:
				if size+e.size() > maxBatchBytes {
					next = e
					break drain
				}
				batch = append(batch, e)
				size += e.size()
			default:
				if yielded {
					break drain
				}
				// Callers woken by the answers of one message send
				// their next requests together: letting them run once
				// before sending packs those into one message instead
				// of one message each. Without them it costs nothing.
				yielded = true
				runtime.Gosched()
			}
		}
		st = b.send(st, batch)
	}
}

// drainClosed fails what is still queued after close.
func (b *batcher) drainClosed() {
	for {
		select {
		case e := <-b.reqc:
			e.donec <- result{err: errClosing}
		default:
			return
		}
	}
}

// send sends the entries of batch whose callers still wait in one message
// on st, or on a new stream when st is nil or broken, and returns the
// stream to use next.
func (b *batcher) send(st *stream, batch []*entry) *stream {
	live := batch[:0]
	for _, e := range batch {
		if !e.abandoned.Load() {
			live = append(live, e)
		}
	}
	// A message that its stream had ended before was not sent; it is sent
	// once more, on a new stream.
	for attempt := 0; ; attempt++ {
		if st == nil || st.broken() {
			var err error
			if st, err = b.open(); err != nil {
				// Nothing was sent: the same status a unary call gets
				// from a connection that cannot be established.
				for _, e := range live {
					e.donec <- result{err: err}
				}
				return nil
			}
		}
		err := io.EOF
		if st.register(live) {
			if err = st.cs.Send(message(live)); err == nil {
				if b.observe != nil {
					b.observe(len(live))
				}
				return st
			}
			// The message did not go out. io.EOF: the stream had ended
			// (its receiver reports why); otherwise the stream failed on
			// this message and is finished. The receiver may already
			// have failed some of the entries.
			live = st.unregister(live)
		}
		if err != io.EOF {
			for _, e := range live {
				e.donec <- result{err: status.Convert(err).Err()}
			}
			return nil
		}
		if len(live) == 0 {
			return nil
		}
		if attempt > 0 {
			for _, e := range live {
				e.donec <- result{err: status.Error(codes.Unavailable, notRunPrefix+": batch stream ended before the request was sent")}
			}
			return nil
		}
		st = nil
	}
}

// Field numbers of BatchCommandsRequest in kvrpcpb.proto.
const (
	requestsField   protowire.Number = 1
	requestIDsField protowire.Number = 2
)

// encodeRequest encodes req as one element of BatchCommandsRequest.requests,
// or returns errTooLarge.
func encodeRequest(req *kvrpcpb.BatchCommandsRequest_Request) ([]byte, error) {
	n := proto.Size(req)
	if n > maxBatchedRequestBytes {
		return nil, errTooLarge
	}
	buf := make([]byte, 0, protowire.SizeTag(requestsField)+protowire.SizeVarint(uint64(n))+n)
	buf = protowire.AppendTag(buf, requestsField, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(n))
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	return buf, nil
}

// size is what e adds to a message.
func (e *entry) size() int { return len(e.enc) + protowire.SizeVarint(e.id) }

// message assembles one stream message from encoded requests: a
// BatchCommandsRequest whose fields are all carried as already encoded
// (unknown) fields, which gRPC marshals verbatim and the store decodes as
// requests and request_ids.
func message(entries []*entry) *kvrpcpb.BatchCommandsRequest {
	n, idsLen := 0, 0
	for _, e := range entries {
		n += len(e.enc)
		idsLen += protowire.SizeVarint(e.id)
	}
	buf := make([]byte, 0, n+protowire.SizeTag(requestIDsField)+protowire.SizeVarint(uint64(idsLen))+idsLen)
	for _, e := range entries {
		buf = append(buf, e.enc...)
	}
	buf = protowire.AppendTag(buf, requestIDsField, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(idsLen))
	for _, e := range entries {
		buf = protowire.AppendVarint(buf, e.id)
	}
	msg := &kvrpcpb.BatchCommandsRequest{}
	msg.ProtoReflect().SetUnknown(buf)
	return msg
}

// timeoutMs is the time left before ctx's deadline, rounded up to a
// millisecond; 0 means no deadline.
func timeoutMs(ctx context.Context) uint64 {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	left := time.Until(d)
	if left <= 0 {
		return 1
	}
	return uint64(math.Ceil(float64(left) / float64(time.Millisecond)))
}

// open opens a stream and starts its receiver.
func (b *batcher) open() (*stream, error) {
	ctx, cancel := context.WithCancel(b.ctx)
	cs, err := b.kv.BatchCommands(ctx)
	if err != nil {
		cancel()
		if b.ctx.Err() != nil {
			return nil, errClosing
		}
		return nil, status.Convert(err).Err()
	}
	st := &stream{b: b, cs: cs, cancel: cancel}
	st.mu.pending = make(map[uint64]*entry)
	go st.receive()
	return st, nil
}

// stream is one BatchCommands stream and the requests sent on it that
// await their answers.
type stream struct {
	b      *batcher
	cs     kvrpcpb.KV_BatchCommandsClient
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		// pending maps request ids to the entries awaiting answers.
		pending map[uint64]*entry
		// err is why the stream broke; no entry is registered after.
		err error
	}
}

func (st *stream) broken() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.mu.err != nil
}

// register adds entries before they are sent, so that an answer arriving
// at once finds them. It fails when the stream already broke.
func (st *stream) register(entries []*entry) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mu.err != nil {
		return false
	}
	for _, e := range entries {
		st.mu.pending[e.id] = e
		e.st.Store(st)
	}
	return true
}

// unregister removes entries whose message was not sent and returns those
// the receiver had not already failed.
func (st *stream) unregister(entries []*entry) []*entry {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*entry
	for _, e := range entries {
		if _, ok := st.mu.pending[e.id]; ok {
			delete(st.mu.pending, e.id)
			out = append(out, e)
		}
	}
	return out
}

// withdraw forgets a request whose caller stopped waiting; its answer, if
// one comes, is dropped.
func (st *stream) withdraw(id uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.mu.pending, id)
}

// receive routes answers to their requests until the stream breaks, then
// fails the requests still awaiting answers.
func (st *stream) receive() {
	for {
		msg, err := st.cs.Recv()
		if err == nil && len(msg.GetRequestIds()) != len(msg.GetResponses()) {
			err = status.Errorf(codes.Internal, "batch response has %d responses but %d request ids",
				len(msg.GetResponses()), len(msg.GetRequestIds()))
			st.fail(err, false)
			return
		}
		if err != nil {
			st.fail(err, len(st.cs.Trailer().Get(drainedTrailer)) > 0)
			return
		}
		st.mu.Lock()
		for i, id := range msg.GetRequestIds() {
			if e, ok := st.mu.pending[id]; ok {
				delete(st.mu.pending, id)
				e.donec <- result{resp: msg.GetResponses()[i]}
			}
		}
		st.mu.Unlock()
	}
}

// fail marks the stream broken and fails every request awaiting an answer.
// drained says the store answered every request it read, so the requests
// still awaiting answers did not run.
func (st *stream) fail(err error, drained bool) {
	st.cancel()
	var res result
	switch {
	case st.b.ctx.Err() != nil:
		res.err = errClosing
	case drained:
		res.err = status.Errorf(codes.Unavailable, "%s: the store ended the stream before reading it: %v",
			notRunPrefix, status.Convert(err).Message())
	case status.Code(err) == codes.Unimplemented:
		// The store refused the stream itself: nothing on it ran.
		st.b.unsupported.Store(true)
		res.err = errUnsupported
	default:
		if err == io.EOF {
			err = errors.New("stream ended by the store")
		}
		res.err = status.Errorf(codes.Unavailable, "%s: %v", brokenPrefix, status.Convert(err).Message())
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mu.err == nil {
		st.mu.err = err
	}
	for id, e := range st.mu.pending {
		delete(st.mu.pending, id)
		e.donec <- res
	}
}
