// Package raftstore replicates every region of a store through its own Raft
// group (go.etcd.io/raft/v3) and implements server.Storage on top of it.
//
// One store-wide Raft loop drives every peer: it ticks, steps inbound
// messages, takes proposals and collects the Ready of every peer that has
// one, so that the entries and HardStates of many regions are persisted in a
// single synced engine write (group commit). The loop follows etcd's raftNode
// order: committed entries go to the apply goroutine, a leader sends before
// its write, the write is durable before a follower sends, Advance comes last.
// A storage error is fatal: the store stops and never continues.
//
// The apply goroutine applies committed entries of many regions with one
// kvcmd.Applier into one write batch that also carries each region's
// RaftApplyState and RegionLocalState, so a restart resumes exactly where the
// last successful apply stopped.
//
// Layout on disk (see libs/storage/keys): log entries, HardState and
// RaftApplyState live in CFRaft; RegionLocalState lives in CFMeta. A region
// state of PeerState_Applying marks an uninitialized peer that waits for its
// first snapshot; PeerState_Tombstone marks a removed peer.
package raftstore
