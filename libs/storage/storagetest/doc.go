// Package storagetest is the conformance suite every storage.Engine must
// pass. The contracts in libs/storage are only as good as the tests that
// hold each implementation to them, so they live here once, and each engine
// package runs RunConformance from its own tests. The suite also covers the
// versioned data model of kvcmd on top of the engine, because that is what
// every later layer relies on.
package storagetest
