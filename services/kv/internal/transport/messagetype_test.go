package transport

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestMessageTypeMatchesFullDecode(t *testing.T) {
	data := []byte("entry")
	for _, m := range []*raftpb.Message{
		{Type: raftpb.MsgApp.Enum(), To: proto.Uint64(2), Entries: []*raftpb.Entry{{Index: proto.Uint64(7), Data: data}}},
		{Type: raftpb.MsgSnap.Enum(), Snapshot: &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(9)}}},
		{Type: raftpb.MsgHeartbeat.Enum(), Commit: proto.Uint64(3)},
		{To: proto.Uint64(1)}, // type unset: MsgHup, the proto2 default
		{Type: raftpb.MsgAppResp.Enum(), Reject: proto.Bool(true), RejectHint: proto.Uint64(5)},
	} {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, m.GetType(), messageType(b), "message %v", m)
	}
	require.Equal(t, raftpb.MsgHup, messageType([]byte{0xff, 0xff}))
}
