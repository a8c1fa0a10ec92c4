package pdserver

import (
	"context"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
)

// service implements pdpb.PDServer. Handlers are thin: check the header,
// call the core, let reply map the error.
type service struct {
	pdpb.UnimplementedPDServer
	s *Server
}

// checkHeader rejects requests addressed to another cluster; cluster id 0
// is a client that has not learned it yet.
func (v *service) checkHeader(h *pdpb.RequestHeader) error {
	if id := h.GetClusterId(); id != 0 && id != v.s.cluster.ID() {
		return errClusterMismatchf(id, v.s.cluster.ID())
	}
	return nil
}

func (v *service) GetMembers(ctx context.Context, req *pdpb.GetMembersRequest) (*pdpb.GetMembersResponse, error) {
	err := v.checkHeader(req.GetHeader())
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.GetMembersResponse {
		m := v.s.member()
		return &pdpb.GetMembersResponse{Header: h, Members: []*pdpb.Member{m}, Leader: m}
	})
}

func (v *service) AllocID(ctx context.Context, req *pdpb.AllocIDRequest) (*pdpb.AllocIDResponse, error) {
	var id uint64
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		id, err = v.s.ids.Alloc()
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.AllocIDResponse {
		return &pdpb.AllocIDResponse{Header: h, Id: id}
	})
}

func (v *service) Bootstrap(ctx context.Context, req *pdpb.BootstrapRequest) (*pdpb.BootstrapResponse, error) {
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		err = v.s.cluster.Bootstrap(req.GetStore(), req.GetRegion())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.BootstrapResponse {
		return &pdpb.BootstrapResponse{Header: h}
	})
}

func (v *service) IsBootstrapped(ctx context.Context, req *pdpb.IsBootstrappedRequest) (*pdpb.IsBootstrappedResponse, error) {
	err := v.checkHeader(req.GetHeader())
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.IsBootstrappedResponse {
		return &pdpb.IsBootstrappedResponse{Header: h, Bootstrapped: err == nil && v.s.cluster.IsBootstrapped()}
	})
}

func (v *service) PutStore(ctx context.Context, req *pdpb.PutStoreRequest) (*pdpb.PutStoreResponse, error) {
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		err = v.s.cluster.PutStore(req.GetStore())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.PutStoreResponse {
		return &pdpb.PutStoreResponse{Header: h}
	})
}

func (v *service) GetStore(ctx context.Context, req *pdpb.GetStoreRequest) (*pdpb.GetStoreResponse, error) {
	var store *metapb.Store
	var stats *pdpb.StoreStats
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		store, stats, err = v.s.cluster.GetStore(req.GetStoreId())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.GetStoreResponse {
		return &pdpb.GetStoreResponse{Header: h, Store: store, Stats: stats}
	})
}

func (v *service) GetAllStores(ctx context.Context, req *pdpb.GetAllStoresRequest) (*pdpb.GetAllStoresResponse, error) {
	var stores []*metapb.Store
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		stores, err = v.s.cluster.GetAllStores(req.GetExcludeTombstoneStores())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.GetAllStoresResponse {
		return &pdpb.GetAllStoresResponse{Header: h, Stores: stores}
	})
}

func (v *service) StoreHeartbeat(ctx context.Context, req *pdpb.StoreHeartbeatRequest) (*pdpb.StoreHeartbeatResponse, error) {
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		err = v.s.cluster.StoreHeartbeat(req.GetStats())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.StoreHeartbeatResponse {
		return &pdpb.StoreHeartbeatResponse{Header: h}
	})
}

func (v *service) GetRegion(ctx context.Context, req *pdpb.GetRegionRequest) (*pdpb.GetRegionResponse, error) {
	var region *metapb.Region
	var leader *metapb.Peer
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		region, leader, err = v.s.cluster.GetRegion(req.GetRegionKey())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.GetRegionResponse {
		return &pdpb.GetRegionResponse{Header: h, Region: region, Leader: leader}
	})
}

func (v *service) GetRegionByID(ctx context.Context, req *pdpb.GetRegionByIDRequest) (*pdpb.GetRegionResponse, error) {
	var region *metapb.Region
	var leader *metapb.Peer
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		region, leader, err = v.s.cluster.GetRegionByID(req.GetRegionId())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.GetRegionResponse {
		return &pdpb.GetRegionResponse{Header: h, Region: region, Leader: leader}
	})
}

func (v *service) ScanRegions(ctx context.Context, req *pdpb.ScanRegionsRequest) (*pdpb.ScanRegionsResponse, error) {
	var regions []*pdpb.RegionInfo
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		regions, err = v.s.cluster.ScanRegions(req.GetStartKey(), req.GetEndKey(), int(req.GetLimit()))
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.ScanRegionsResponse {
		return &pdpb.ScanRegionsResponse{Header: h, Regions: regions}
	})
}

func (v *service) Operator(ctx context.Context, req *pdpb.OperatorRequest) (*pdpb.OperatorResponse, error) {
	err := v.checkHeader(req.GetHeader())
	if err == nil {
		err = v.s.cluster.QueueOperator(req.GetRegionId(), req.GetChangePeer(), req.GetTransferLeader())
	}
	return reply(v.s, err, func(h *pdpb.ResponseHeader) *pdpb.OperatorResponse {
		return &pdpb.OperatorResponse{Header: h}
	})
}
