package client

import (
	"bytes"
	"context"
	"net"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/client/internal/batchtest"
	"github.com/flaredb/flaredb/proto/errorpb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// fakeCluster is a routing-faithful stand-in for a multi-region cluster:
// real gRPC stores on loopback that check every request's region, epoch and
// leadership the way kv-service does and answer with the same routing
// errors, over one shared in-memory key space. It lets the SDK's routing and
// retry paths be tested without a Raft cluster. PD's view (pdRegions,
// pdLeaders) can be made stale on purpose.
type fakeCluster struct {
	t      *testing.T
	stores map[uint64]string // store id -> address

	mu        sync.Mutex
	regions   map[uint64]*metapb.Region // the stores' (true) view
	leaders   map[uint64]uint64         // region id -> leader store id
	pdRegions []*pdpb.RegionInfo        // what PD answers
	data      map[string]KV
	version   uint64
	requests  map[uint64]int // store id -> requests served
	// lostReplies makes that many RawPuts apply and then fail with
	// Unavailable, as when a leader dies after applying but before
	// answering.
	lostReplies int
	// holdStore, when not 0, makes that store's Gets and RawPuts wait,
	// before doing anything, until release is closed or the request ends;
	// each announces itself on held first.
	holdStore uint64
	held      chan struct{}
	release   chan struct{}

	// drainStreams makes that many BatchCommands streams end as a stopping
	// kv-service ends them, before answering what they read.
	drainStreams int

	servers map[uint64]*grpc.Server // store id -> its gRPC server
}

// newFakeCluster starts n stores and one region [,) with a peer on each,
// led by store 1.
func newFakeCluster(t *testing.T, n int) *fakeCluster {
	fc := &fakeCluster{t: t, stores: map[uint64]string{}, regions: map[uint64]*metapb.Region{},
		leaders: map[uint64]uint64{}, data: map[string]KV{}, requests: map[uint64]int{},
		servers: map[uint64]*grpc.Server{}}
	r := &metapb.Region{Id: 1, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1}}
	for id := uint64(1); id <= uint64(n); id++ {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srv := grpc.NewServer()
		kvrpcpb.RegisterKVServer(srv, &fakeStore{fc: fc, id: id})
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		fc.stores[id] = lis.Addr().String()
		fc.servers[id] = srv
		r.Peers = append(r.Peers, &metapb.Peer{Id: 100 + id, StoreId: id})
	}
	fc.regions[1], fc.leaders[1] = r, 1
	fc.syncPD()
	return fc
}

// syncPD makes PD's view equal the stores' view.
func (fc *fakeCluster) syncPD() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.pdRegions = nil
	for id, r := range fc.regions {
		fc.pdRegions = append(fc.pdRegions, &pdpb.RegionInfo{Region: r, Leader: peerOn(r, fc.leaders[id])})
	}
	sort.Slice(fc.pdRegions, func(i, j int) bool {
		return bytes.Compare(fc.pdRegions[i].Region.StartKey, fc.pdRegions[j].Region.StartKey) < 0
	})
}

// split splits the region containing key at key (stores' view only; PD
// still reports the old layout until syncPD). The new right half gets id.
func (fc *fakeCluster) split(key string, id uint64) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for rid, r := range fc.regions {
		if inRegion(r, []byte(key)) {
			left := proto.Clone(r).(*metapb.Region)
			right := proto.Clone(r).(*metapb.Region)
			left.EndKey, right.StartKey, right.Id = []byte(key), []byte(key), id
			for i, p := range right.Peers {
				p.Id = id*100 + uint64(i) + 1
			}
			left.RegionEpoch.Version++
			right.RegionEpoch.Version = left.RegionEpoch.Version
			fc.regions[rid], fc.regions[id], fc.leaders[id] = left, right, fc.leaders[rid]
			return
		}
	}
}

func (fc *fakeCluster) setLeader(regionID, storeID uint64) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.leaders[regionID] = storeID
}

// hold makes store id's Gets and RawPuts wait until the returned release
// func is called; held receives one value per request held.
func (fc *fakeCluster) hold(id uint64) (held <-chan struct{}, release func()) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.holdStore, fc.held, fc.release = id, make(chan struct{}, 100), make(chan struct{})
	return fc.held, sync.OnceFunc(func() { close(fc.release) })
}

// wait holds a request to store id while hold is on for it.
func (fc *fakeCluster) wait(ctx context.Context, id uint64) {
	fc.mu.Lock()
	if fc.holdStore != id {
		fc.mu.Unlock()
		return
	}
	held, release := fc.held, fc.release
	fc.mu.Unlock()
	held <- struct{}{}
	select {
	case <-release:
	case <-ctx.Done():
	}
}

func (fc *fakeCluster) served(storeID uint64) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.requests[storeID]
}

func peerOn(r *metapb.Region, storeID uint64) *metapb.Peer {
	for _, p := range r.Peers {
		if p.StoreId == storeID {
			return p
		}
	}
	return nil
}

func inRegion(r *metapb.Region, key []byte) bool {
	return bytes.Compare(r.StartKey, key) <= 0 && (len(r.EndKey) == 0 || bytes.Compare(key, r.EndKey) < 0)
}

// check validates a request's routing on store id, the way kv-service does.
func (fc *fakeCluster) checkLocked(id uint64, rctx *kvrpcpb.Context, keys ...[]byte) *errorpb.Error {
	fc.requests[id]++
	r, ok := fc.regions[rctx.GetRegionId()]
	if !ok || peerOn(r, id) == nil {
		return &errorpb.Error{Message: "region not found", RegionNotFound: &errorpb.RegionNotFound{RegionId: rctx.GetRegionId()}}
	}
	if leader := fc.leaders[r.Id]; leader != id {
		return &errorpb.Error{Message: "not leader", NotLeader: &errorpb.NotLeader{RegionId: r.Id, Leader: peerOn(r, leader)}}
	}
	if !proto.Equal(r.RegionEpoch, rctx.GetRegionEpoch()) {
		var current []*metapb.Region
		for _, cr := range fc.regions {
			current = append(current, cr)
		}
		return &errorpb.Error{Message: "epoch not match", EpochNotMatch: &errorpb.EpochNotMatch{CurrentRegions: current}}
	}
	for _, k := range keys {
		if !inRegion(r, k) && !(len(k) == 0 && len(r.EndKey) == 0) {
			return &errorpb.Error{Message: "key not in region", KeyNotInRegion: &errorpb.KeyNotInRegion{Key: k, RegionId: r.Id}}
		}
	}
	return nil
}

// fakeStore is one store of a fakeCluster.
type fakeStore struct {
	kvrpcpb.UnimplementedKVServer
	fc *fakeCluster
	id uint64
}

// BatchCommands serves the SDK's batching path through the unary methods
// above.
func (s *fakeStore) BatchCommands(stream kvrpcpb.KV_BatchCommandsServer) error {
	s.fc.mu.Lock()
	drain := s.fc.drainStreams > 0
	if drain {
		s.fc.drainStreams--
	}
	s.fc.mu.Unlock()
	if drain {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		// kvrpcpb.proto: what was not answered did not run.
		stream.SetTrailer(metadata.Pairs("flaredb-batch-drained", "true"))
		return status.Error(codes.Unavailable, "kv-service is stopping")
	}
	return batchtest.Serve(s, stream)
}

func (s *fakeStore) Get(ctx context.Context, req *kvrpcpb.GetRequest) (*kvrpcpb.GetResponse, error) {
	if len(req.Key) == 0 {
		return nil, status.Error(codes.InvalidArgument, "key is empty")
	}
	fc := s.fc
	fc.wait(ctx, s.id)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if e := fc.checkLocked(s.id, req.Context, req.Key); e != nil {
		return &kvrpcpb.GetResponse{RegionError: e}, nil
	}
	kv, ok := fc.data[string(req.Key)]
	return &kvrpcpb.GetResponse{Value: kv.Value, Version: kv.Version, NotFound: !ok}, nil
}

func (s *fakeStore) RawPut(ctx context.Context, req *kvrpcpb.RawPutRequest) (*kvrpcpb.RawPutResponse, error) {
	fc := s.fc
	fc.wait(ctx, s.id)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if e := fc.checkLocked(s.id, req.Context, req.Key); e != nil {
		return &kvrpcpb.RawPutResponse{RegionError: e}, nil
	}
	fc.version++
	fc.data[string(req.Key)] = KV{Key: req.Key, Value: req.Value, Version: fc.version}
	if fc.lostReplies > 0 {
		fc.lostReplies--
		return nil, status.Error(codes.Unavailable, "transport is closing")
	}
	return &kvrpcpb.RawPutResponse{Version: fc.version}, nil
}

func (s *fakeStore) RawBatchGet(_ context.Context, req *kvrpcpb.RawBatchGetRequest) (*kvrpcpb.RawBatchGetResponse, error) {
	fc := s.fc
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if e := fc.checkLocked(s.id, req.Context, req.Keys...); e != nil {
		return &kvrpcpb.RawBatchGetResponse{RegionError: e}, nil
	}
	resp := &kvrpcpb.RawBatchGetResponse{}
	for _, k := range req.Keys {
		if kv, ok := fc.data[string(k)]; ok {
			resp.Pairs = append(resp.Pairs, &kvrpcpb.KvPair{Key: kv.Key, Value: kv.Value, Version: kv.Version})
		}
	}
	return resp, nil
}

func (s *fakeStore) RawBatchPut(_ context.Context, req *kvrpcpb.RawBatchPutRequest) (*kvrpcpb.RawBatchPutResponse, error) {
	fc := s.fc
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var keys [][]byte
	for _, p := range req.Pairs {
		keys = append(keys, p.Key)
	}
	if e := fc.checkLocked(s.id, req.Context, keys...); e != nil {
		return &kvrpcpb.RawBatchPutResponse{RegionError: e}, nil
	}
	resp := &kvrpcpb.RawBatchPutResponse{}
	for _, p := range req.Pairs {
		fc.version++
		fc.data[string(p.Key)] = KV{Key: p.Key, Value: p.Value, Version: fc.version}
		resp.Versions = append(resp.Versions, fc.version)
	}
	return resp, nil
}

func (s *fakeStore) RawScan(_ context.Context, req *kvrpcpb.RawScanRequest) (*kvrpcpb.RawScanResponse, error) {
	fc := s.fc
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if e := fc.checkLocked(s.id, req.Context, req.StartKey); e != nil {
		return &kvrpcpb.RawScanResponse{RegionError: e}, nil
	}
	if r := fc.regions[req.Context.RegionId]; len(req.EndKey) > 0 && len(r.EndKey) > 0 && bytes.Compare(req.EndKey, r.EndKey) > 0 ||
		len(req.EndKey) == 0 && len(r.EndKey) > 0 {
		return &kvrpcpb.RawScanResponse{RegionError: &errorpb.Error{Message: "end key not in region",
			KeyNotInRegion: &errorpb.KeyNotInRegion{Key: req.EndKey, RegionId: r.Id}}}, nil
	}
	var keys []string
	for k := range fc.data {
		if bytes.Compare([]byte(k), req.StartKey) >= 0 && (len(req.EndKey) == 0 || bytes.Compare([]byte(k), req.EndKey) < 0) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if req.Reverse {
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	}
	resp := &kvrpcpb.RawScanResponse{}
	for _, k := range keys {
		if len(resp.Kvs) == int(req.Limit) {
			break
		}
		kv := fc.data[k]
		p := &kvrpcpb.KvPair{Key: kv.Key, Value: kv.Value, Version: kv.Version}
		if req.KeyOnly {
			p.Value = nil
		}
		resp.Kvs = append(resp.Kvs, p)
	}
	return resp, nil
}

// fakePD answers routing questions from fakeCluster.pdRegions.
type fakePD struct{ fc *fakeCluster }

func (p fakePD) GetRegion(_ context.Context, key []byte) (*metapb.Region, *metapb.Peer, error) {
	p.fc.mu.Lock()
	defer p.fc.mu.Unlock()
	for _, info := range p.fc.pdRegions {
		if inRegion(info.Region, key) {
			return info.Region, info.Leader, nil
		}
	}
	return nil, nil, status.Error(codes.NotFound, "no region")
}

func (p fakePD) GetRegionByID(_ context.Context, id uint64) (*metapb.Region, *metapb.Peer, error) {
	p.fc.mu.Lock()
	defer p.fc.mu.Unlock()
	for _, info := range p.fc.pdRegions {
		if info.Region.Id == id {
			return info.Region, info.Leader, nil
		}
	}
	return nil, nil, status.Error(codes.NotFound, "no region")
}

func (p fakePD) ScanRegions(_ context.Context, start, end []byte, limit int) ([]*pdpb.RegionInfo, error) {
	p.fc.mu.Lock()
	defer p.fc.mu.Unlock()
	var out []*pdpb.RegionInfo
	for _, info := range p.fc.pdRegions {
		r := info.Region
		if (len(end) == 0 || bytes.Compare(r.StartKey, end) < 0) && (len(r.EndKey) == 0 || bytes.Compare(start, r.EndKey) < 0) {
			out = append(out, info)
		}
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (p fakePD) GetStore(_ context.Context, id uint64) (*metapb.Store, error) {
	return &metapb.Store{Id: id, Address: p.fc.stores[id]}, nil
}

func (p fakePD) GetAllStores(context.Context) ([]*metapb.Store, error) { return nil, nil }
func (p fakePD) GetTS(context.Context) (uint64, error)                 { return 1, nil }
