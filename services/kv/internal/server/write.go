package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// kvService implements kvrpcpb.KVServer on top of a Storage.
type kvService struct {
	kvrpcpb.UnimplementedKVServer
	st  Storage
	lim Limits
	// rec records each command of a BatchCommands stream as the unary
	// interceptor records a unary RPC.
	rec *recorder
	// maxMsg is the largest message the server may send.
	maxMsg int
	// stopping is closed (once, by stop) when the server stops:
	// BatchCommands streams finish their commands and end.
	stopping chan struct{}
	stopOnce sync.Once
}

func (s *kvService) stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// write runs one command and returns its result, or the routing error, or a
// status error.
func (s *kvService) write(ctx context.Context, rctx *kvrpcpb.Context, cmd *kvcmd.Command) (kvcmd.Result, *errorpb.Error, error) {
	res, rerr, err := s.st.Write(ctx, rctx, []*kvcmd.Command{cmd})
	if err != nil {
		return kvcmd.Result{}, nil, toStatus(err)
	}
	if rerr != nil {
		return kvcmd.Result{}, rerr, nil
	}
	if len(res) != 1 {
		return kvcmd.Result{}, nil, toStatus(fmt.Errorf("storage returned %d results for 1 command", len(res)))
	}
	return res[0], nil, nil
}

func (s *kvService) RawPut(ctx context.Context, req *kvrpcpb.RawPutRequest) (*kvrpcpb.RawPutResponse, error) {
	if err := s.lim.checkKey("key", req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	if err := s.lim.checkValue("value", req.GetValue()); err != nil {
		return nil, toStatus(err)
	}
	res, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{Op: kvcmd.OpPut, Key: req.GetKey(), Value: req.GetValue()})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.RawPutResponse{RegionError: rerr}, nil
	}
	return &kvrpcpb.RawPutResponse{Version: res.Version}, nil
}

func (s *kvService) RawBatchPut(ctx context.Context, req *kvrpcpb.RawBatchPutRequest) (*kvrpcpb.RawBatchPutResponse, error) {
	if err := s.lim.checkBatch(len(req.GetPairs())); err != nil {
		return nil, toStatus(err)
	}
	pairs := make([]kvcmd.Pair, len(req.GetPairs()))
	for i, p := range req.GetPairs() {
		if err := s.lim.checkKey(indexed("pairs", i)+".key", p.GetKey()); err != nil {
			return nil, toStatus(err)
		}
		if err := s.lim.checkValue(indexed("pairs", i)+".value", p.GetValue()); err != nil {
			return nil, toStatus(err)
		}
		pairs[i] = kvcmd.Pair{Key: p.GetKey(), Value: p.GetValue()}
	}
	if len(pairs) == 0 {
		return &kvrpcpb.RawBatchPutResponse{}, nil
	}
	res, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{Op: kvcmd.OpBatchPut, Pairs: pairs})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.RawBatchPutResponse{RegionError: rerr}, nil
	}
	return &kvrpcpb.RawBatchPutResponse{Versions: res.Versions}, nil
}

func (s *kvService) RawDelete(ctx context.Context, req *kvrpcpb.RawDeleteRequest) (*kvrpcpb.RawDeleteResponse, error) {
	if err := s.lim.checkKey("key", req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	_, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{Op: kvcmd.OpDelete, Key: req.GetKey()})
	if err != nil {
		return nil, err
	}
	return &kvrpcpb.RawDeleteResponse{RegionError: rerr}, nil
}

func (s *kvService) RawBatchDelete(ctx context.Context, req *kvrpcpb.RawBatchDeleteRequest) (*kvrpcpb.RawBatchDeleteResponse, error) {
	if err := s.lim.checkKeys(req.GetKeys()); err != nil {
		return nil, toStatus(err)
	}
	if len(req.GetKeys()) == 0 {
		return &kvrpcpb.RawBatchDeleteResponse{}, nil
	}
	_, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{Op: kvcmd.OpBatchDelete, Keys: req.GetKeys()})
	if err != nil {
		return nil, err
	}
	return &kvrpcpb.RawBatchDeleteResponse{RegionError: rerr}, nil
}

func (s *kvService) RawDeleteRange(ctx context.Context, req *kvrpcpb.RawDeleteRangeRequest) (*kvrpcpb.RawDeleteRangeResponse, error) {
	if len(req.GetEndKey()) == 0 {
		// An open end would wipe everything after start_key; make the
		// caller say so explicitly.
		return nil, toStatus(invalidf("end_key is empty: delete-range needs an explicit end"))
	}
	if err := s.lim.checkRange(req.GetStartKey(), req.GetEndKey()); err != nil {
		return nil, toStatus(err)
	}
	_, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{Op: kvcmd.OpDeleteRange, Key: req.GetStartKey(), EndKey: req.GetEndKey()})
	if err != nil {
		return nil, err
	}
	return &kvrpcpb.RawDeleteRangeResponse{RegionError: rerr}, nil
}

func (s *kvService) CompareAndSwap(ctx context.Context, req *kvrpcpb.CompareAndSwapRequest) (*kvrpcpb.CompareAndSwapResponse, error) {
	if err := s.lim.checkKey("key", req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	if err := s.lim.checkValue("value", req.GetValue()); err != nil {
		return nil, toStatus(err)
	}
	res, rerr, err := s.write(ctx, req.GetContext(), &kvcmd.Command{
		Op:              kvcmd.OpCAS,
		Key:             req.GetKey(),
		Value:           req.GetValue(),
		ExpectedVersion: req.GetExpectedVersion(),
		Delete:          req.GetDelete(),
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return &kvrpcpb.CompareAndSwapResponse{RegionError: rerr}, nil
	}
	return &kvrpcpb.CompareAndSwapResponse{Succeeded: res.Succeeded, Version: res.Version, Value: res.Value}, nil
}

func (s *kvService) ChangePeer(ctx context.Context, req *kvrpcpb.ChangePeerRequest) (*kvrpcpb.ChangePeerResponse, error) {
	if req.GetPeer() == nil {
		return nil, toStatus(invalidf("peer is required"))
	}
	region, rerr, err := s.st.ChangePeer(ctx, req.GetContext(), req.GetChangeType(), req.GetPeer())
	if err != nil {
		return nil, toStatus(err)
	}
	return &kvrpcpb.ChangePeerResponse{RegionError: rerr, Region: region}, nil
}

func (s *kvService) TransferLeader(ctx context.Context, req *kvrpcpb.TransferLeaderRequest) (*kvrpcpb.TransferLeaderResponse, error) {
	if req.GetPeer() == nil {
		return nil, toStatus(invalidf("peer is required"))
	}
	rerr, err := s.st.TransferLeader(ctx, req.GetContext(), req.GetPeer())
	if err != nil {
		return nil, toStatus(err)
	}
	return &kvrpcpb.TransferLeaderResponse{RegionError: rerr}, nil
}
