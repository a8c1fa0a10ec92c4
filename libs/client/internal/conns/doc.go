// Package conns keeps one gRPC connection per store address for the SDK.
//
// It exists because a grpc.ClientConn multiplexes any number of concurrent
// RPCs and is expensive to set up (TCP, HTTP/2 handshake); dialing per request
// would dominate latency. Connections are created lazily and live until the
// pool is closed.
package conns
