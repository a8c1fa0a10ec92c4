package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func appendMsg(to, index, commit uint64, entries int) *raftpb.Message {
	m := &raftpb.Message{Type: raftpb.MessageType_MsgApp.Enum(), To: proto.Uint64(to), Term: proto.Uint64(3),
		Index: proto.Uint64(index), LogTerm: proto.Uint64(3), Commit: proto.Uint64(commit)}
	for i := 0; i < entries; i++ {
		m.Entries = append(m.Entries, &raftpb.Entry{Index: proto.Uint64(index + uint64(i) + 1)})
	}
	return m
}

func TestSupersededAppend(t *testing.T) {
	heartbeat := &raftpb.Message{Type: raftpb.MessageType_MsgHeartbeat.Enum(), To: proto.Uint64(2), Commit: proto.Uint64(9)}
	for _, tc := range []struct {
		name string
		msgs []*raftpb.Message
		want bool
	}{
		{"commit-only append followed by the next entry", []*raftpb.Message{appendMsg(2, 10, 10, 0), appendMsg(2, 10, 10, 1)}, true},
		{"later append commits more", []*raftpb.Message{appendMsg(2, 10, 9, 0), appendMsg(2, 10, 10, 1)}, true},
		{"later append to another follower", []*raftpb.Message{appendMsg(2, 10, 10, 0), appendMsg(3, 10, 10, 1)}, false},
		{"later append commits less", []*raftpb.Message{appendMsg(2, 10, 10, 0), appendMsg(2, 10, 9, 1)}, false},
		{"later append starts elsewhere", []*raftpb.Message{appendMsg(2, 10, 10, 0), appendMsg(2, 11, 10, 1)}, false},
		{"the first carries entries", []*raftpb.Message{appendMsg(2, 10, 10, 1), appendMsg(2, 11, 10, 1)}, false},
		{"nothing after it", []*raftpb.Message{appendMsg(3, 10, 10, 1), appendMsg(2, 10, 10, 0)}, false},
		{"not an append", []*raftpb.Message{heartbeat, appendMsg(2, 10, 10, 1)}, false},
	} {
		i := 0
		if tc.name == "nothing after it" {
			i = 1
		}
		if got := supersededAppend(tc.msgs, i); got != tc.want {
			t.Errorf("%s: supersededAppend = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCommitOnlyAppendsAreNotSentUnderLoad writes from many goroutines to a
// three-store region and checks that the leader coalesced appends (see
// supersededAppend) while every write was still acknowledged and readable.
func TestCommitOnlyAppendsAreNotSentUnderLoad(t *testing.T) {
	_, nodes := startThree(t)
	writeAnywhere(t, nodes, 1, put("warm", "1"))
	concurrentPuts(t, nodes, 16, 30)
	var coalesced float64
	for _, n := range nodes {
		coalesced += counterValue(t, n.store.m.appendsCoalesced)
	}
	if coalesced == 0 {
		t.Fatal("no commit-only append was coalesced under concurrent writes")
	}
	for w := 0; w < 16; w++ {
		v, ok := readAnywhere(t, nodes, 1, keyOf(w, 29))
		if !ok || v != "29" {
			t.Fatalf("%s = %q, %v; want 29", keyOf(w, 29), v, ok)
		}
	}
}

// keyOf is the key writer w puts in every round.
func keyOf(w, _ int) string { return fmt.Sprintf("w%02d", w) }

// concurrentPuts runs writers goroutines that each put their key rounds
// times (values 0..rounds-1), one write after another, at whichever node
// leads.
func concurrentPuts(t *testing.T, nodes []*testNode, writers, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				if err := putAnywhere(nodes, keyOf(w, i), fmt.Sprint(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func putAnywhere(nodes []*testNode, key, value string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, rerr, err := n.store.Write(ctx, &kvrpcpb.Context{RegionId: 1}, put(key, value))
			cancel()
			if err == nil && rerr == nil {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no node accepted the put of %s", key)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
