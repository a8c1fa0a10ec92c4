package raftstore

import "go.etcd.io/raft/v3/raftpb"

// supersededAppend reports whether msgs[i] is an append without entries
// (a leader telling a follower its new commit index) that a later append of
// the same Ready to the same follower makes redundant.
//
// Under load this happens every round: acks commit the entry in flight, so
// raft broadcasts the new commit index in empty appends, and in the same
// loop round the writes held back for that commit are proposed (see
// holdWrites), which broadcasts appends carrying the entry and the same
// commit index. Sending both costs each follower a second message, a
// second persist round and a second ack, and costs the leader the ack.
// Dropping the first is safe: raft tolerates lost messages, and the later
// append has the same previous index and log term, so the follower accepts
// or rejects it exactly as it would the first, and learns at least the
// same commit index from it.
func supersededAppend(msgs []*raftpb.Message, i int) bool {
	m := msgs[i]
	if m.GetType() != raftpb.MessageType_MsgApp || len(m.GetEntries()) > 0 {
		return false
	}
	for _, n := range msgs[i+1:] {
		if n.GetType() == raftpb.MessageType_MsgApp && n.GetTo() == m.GetTo() && n.GetTerm() == m.GetTerm() &&
			n.GetIndex() == m.GetIndex() && n.GetLogTerm() == m.GetLogTerm() && n.GetCommit() >= m.GetCommit() {
			return true
		}
	}
	return false
}
