// Package integration holds FlareDB's end-to-end tests: real PD and
// kv-service binaries started as processes by integration/framework, driven
// over loopback gRPC through the public SDK and the flarectl binary.
//
// It exists apart from the unit tests beside each package because these
// tests check what no single package can: the assembled binaries, their
// flags, their wire protocol and their crash recovery. The package has no
// non-test code beyond this file.
package integration
