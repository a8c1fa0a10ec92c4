// Package locate is the SDK's region cache: it maps a key (or a region id) to
// the region that holds it, the peer believed to lead that region and the
// gRPC address of that peer's store.
//
// It exists so that the common request path costs no PD round trip: routes
// are learned from PD once and then corrected from the routing errors stores
// return (NotLeader, EpochNotMatch, RegionNotFound, KeyNotInRegion) or from
// unreachable stores, instead of being fetched again for every request.
package locate
