// Package id allocates cluster-unique uint64 ids (stores, regions, peers).
// It persists the end of a block of ids before handing any of them out, so
// ids stay unique across restarts at the cost of skipping the unused rest of
// a block after a crash.
package id
