package kvcmd_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
)

func openEngine(t *testing.T) *rocksdb.Engine {
	t.Helper()
	e, err := rocksdb.Open(t.TempDir(), rocksdb.NewConfig(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// applyBatch applies cmds as one group into one batch and writes it, like
// the Raft apply loop does.
func applyBatch(t *testing.T, e storage.Engine, cmds ...*kvcmd.Command) []kvcmd.Result {
	t.Helper()
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	var out []kvcmd.Result
	for _, c := range cmds {
		res, err := a.Apply(c)
		require.NoError(t, err)
		out = append(out, res)
	}
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
	return out
}

func put(k, v string) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpPut, Key: []byte(k), Value: []byte(v)}
}

func del(k string) *kvcmd.Command { return &kvcmd.Command{Op: kvcmd.OpDelete, Key: []byte(k)} }

func cas(k string, expected uint64, v string) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpCAS, Key: []byte(k), ExpectedVersion: expected, Value: []byte(v)}
}

func casDel(k string, expected uint64) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpCAS, Key: []byte(k), ExpectedVersion: expected, Delete: true}
}

func delRange(start, end string) *kvcmd.Command {
	c := &kvcmd.Command{Op: kvcmd.OpDeleteRange, Key: []byte(start)}
	if end != "" {
		c.EndKey = []byte(end)
	}
	return c
}

func requireGet(t *testing.T, r storage.Reader, key string, wantValue string, wantVersion uint64) {
	t.Helper()
	v, ver, err := kvcmd.Get(r, []byte(key))
	require.NoError(t, err)
	require.Equal(t, wantVersion, ver, "version of %q", key)
	if wantVersion == 0 {
		require.Nil(t, v)
		return
	}
	require.Equal(t, wantValue, string(v))
}

func TestSameBatchCommandsSeeEachOther(t *testing.T) {
	e := openEngine(t)
	res := applyBatch(t, e,
		put("k", "a"),        // v1
		cas("k", 1, "b"),     // sees v1 -> v2
		cas("k", 1, "x"),     // stale -> conflict with v2 "b"
		del("k"),             // tombstone at v2
		cas("k", 0, "c"),     // absent -> v3
		put("other", "o"),    // v1
		delRange("a", "l"),   // deletes k (v3) but not other
		put("k", "d"),        // v4
		casDel("other", 1),   // deletes other
		cas("other", 0, "p"), // v2
	)
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 1}, res[0])
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 2, Value: []byte("b")}, res[1])
	require.Equal(t, kvcmd.Result{Succeeded: false, Version: 2, Value: []byte("b")}, res[2])
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 3, Value: []byte("c")}, res[4])
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 4}, res[7])
	require.Equal(t, kvcmd.Result{Succeeded: true}, res[8])
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 2, Value: []byte("p")}, res[9])
	requireGet(t, e, "k", "d", 4)
	requireGet(t, e, "other", "p", 2)

	// The next batch continues from what was written.
	res = applyBatch(t, e, delRange("", ""), put("k", "e"))
	require.Equal(t, uint64(5), res[1].Version)
	requireGet(t, e, "other", "", 0)
	kvs, err := kvcmd.Scan(e, nil, nil, 0, false, false)
	require.NoError(t, err)
	require.Equal(t, []kvcmd.KV{{Key: []byte("k"), Value: []byte("e"), Version: 5}}, kvs)
}

func TestInvalidCommandAddsNothing(t *testing.T) {
	e := openEngine(t)
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	for _, c := range []*kvcmd.Command{
		nil,
		{Op: 0},
		{Op: kvcmd.OpPut},
		{Op: kvcmd.OpBatchPut, Pairs: []kvcmd.Pair{{Key: []byte("a")}, {}}},
		{Op: kvcmd.OpDeleteRange, Key: []byte("b"), EndKey: []byte("a")},
	} {
		_, err := a.Apply(c)
		require.ErrorIs(t, err, kvcmd.ErrInvalid)
	}
	require.Zero(t, wb.Count())
}

func TestBatchOpsAndScan(t *testing.T) {
	e := openEngine(t)
	res := applyBatch(t, e, &kvcmd.Command{Op: kvcmd.OpBatchPut, Pairs: []kvcmd.Pair{
		{Key: []byte("a"), Value: []byte("1")},
		{Key: []byte("b"), Value: []byte("1")},
		{Key: []byte("a"), Value: []byte("2")}, // same key twice: sees the first
		{Key: []byte("c"), Value: []byte("1")},
		{Key: []byte("d"), Value: []byte("1")},
	}})
	require.Equal(t, []uint64{1, 1, 2, 1, 1}, res[0].Versions)
	applyBatch(t, e, &kvcmd.Command{Op: kvcmd.OpBatchDelete, Keys: [][]byte{[]byte("b"), []byte("zz")}})

	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	defer snap.Close()
	kv := func(k, v string, ver uint64) kvcmd.KV {
		out := kvcmd.KV{Key: []byte(k), Version: ver}
		if v != "" {
			out.Value = []byte(v)
		}
		return out
	}
	cases := []struct {
		name             string
		start, end       string
		limit            int
		reverse, keyOnly bool
		want             []kvcmd.KV
	}{
		{"all", "", "", 0, false, false, []kvcmd.KV{kv("a", "2", 2), kv("c", "1", 1), kv("d", "1", 1)}},
		{"reverse limit", "", "", 2, true, false, []kvcmd.KV{kv("d", "1", 1), kv("c", "1", 1)}},
		{"bounded keys only", "b", "d", 0, false, true, []kvcmd.KV{kv("c", "", 1)}},
		{"bounded reverse", "a", "d", 0, true, false, []kvcmd.KV{kv("c", "1", 1), kv("a", "2", 2)}},
		{"limit 1", "", "", 1, false, false, []kvcmd.KV{kv("a", "2", 2)}},
		{"nothing", "e", "", 0, false, false, nil},
	}
	for _, c := range cases {
		var start, end []byte
		if c.start != "" {
			start = []byte(c.start)
		}
		if c.end != "" {
			end = []byte(c.end)
		}
		got, err := kvcmd.Scan(snap, start, end, c.limit, c.reverse, c.keyOnly)
		require.NoError(t, err, c.name)
		require.Equal(t, c.want, got, c.name)
	}
	requireGet(t, snap, "b", "", 0)
}
