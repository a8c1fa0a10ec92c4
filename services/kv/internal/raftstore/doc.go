// Package raftstore replicates every region of a store through its own Raft
// group (go.etcd.io/raft/v3) and implements server.Storage on top of it.
//
// One store-wide Raft loop drives every peer: it ticks, steps inbound
// messages, takes proposals and collects the Ready of every peer that has
// one, so that the entries and HardStates of many regions are persisted in a
// single engine write (group commit). Raft runs with AsyncStorageWrites: the
// loop writes each round unsynced and in order, a syncer goroutine fsyncs the
// WAL (one sync covers every round written before it), and the responses
// raft attached to each MsgStorageAppend (a follower's acks and votes, the
// leader's own ack) are delivered in round order only once their round is
// durable (persist.go). So, as in etcd's raftNode, committed entries go to
// the apply goroutine, a leader may send before its write, and a follower
// sends only after it; the loop keeps stepping messages during the fsync.
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
