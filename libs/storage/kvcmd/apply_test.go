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

// rawKeys returns every key of cf with its raw stored value.
func rawKeys(t *testing.T, r storage.Reader, cf string) map[string][]byte {
	t.Helper()
	it, err := r.NewIterator(cf, storage.IterOptions{})
	require.NoError(t, err)
	defer it.Close()
	out := map[string][]byte{}
	for ; it.Valid(); it.Next() {
		out[string(it.Key())] = append([]byte(nil), it.Value()...)
	}
	require.NoError(t, it.Err())
	return out
}

func TestOneEngineKeyPerUserKey(t *testing.T) {
	e := openEngine(t)
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	_, err := a.Apply(put("k", "v"))
	require.NoError(t, err)
	require.Equal(t, 1, wb.Count(), "a put is one write")
	_, err = a.Apply(del("k"))
	require.NoError(t, err)
	require.Equal(t, 2, wb.Count(), "a delete is one write (a tombstone)")
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))

	require.Empty(t, rawKeys(t, e, storage.CFVersion), "the version column family is not written")
	raw := rawKeys(t, e, storage.CFDefault)
	require.Len(t, raw, 1)
	v, ver, err := kvcmd.DecodeValue(raw["k"])
	require.NoError(t, err)
	require.Nil(t, v)
	require.Zero(t, ver)
}

func TestVersionContinuesAfterDelete(t *testing.T) {
	e := openEngine(t)
	require.Equal(t, uint64(1), applyBatch(t, e, put("k", "a"))[0].Version)
	require.Equal(t, uint64(2), applyBatch(t, e, put("k", "b"))[0].Version)
	applyBatch(t, e, del("k"))
	requireGet(t, e, "k", "", 0)
	// Deleting again changes nothing; the tombstone keeps version 2.
	applyBatch(t, e, del("k"))
	require.Equal(t, kvcmd.Result{Succeeded: false}, applyBatch(t, e, cas("k", 2, "x"))[0])
	require.Equal(t, uint64(3), applyBatch(t, e, put("k", "c"))[0].Version)
	requireGet(t, e, "k", "c", 3)
	applyBatch(t, e, delRange("", ""))
	require.Equal(t, kvcmd.Result{Succeeded: true, Version: 4, Value: []byte("d")}, applyBatch(t, e, cas("k", 0, "d"))[0])
	requireGet(t, e, "k", "d", 4)
}

func TestGetTombstone(t *testing.T) {
	e := openEngine(t)
	applyBatch(t, e, put("k", "v"), del("k"))
	require.Len(t, rawKeys(t, e, storage.CFDefault), 1, "the tombstone is stored")
	for _, r := range []storage.Reader{e, mustSnapshot(t, e)} {
		v, ver, err := kvcmd.Get(r, []byte("k"))
		require.NoError(t, err)
		require.Nil(t, v)
		require.Zero(t, ver)
	}
}

func mustSnapshot(t *testing.T, e storage.Engine) storage.Snapshot {
	t.Helper()
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	t.Cleanup(snap.Close)
	return snap
}

func TestDeleteRangeMixed(t *testing.T) {
	e := openEngine(t)
	// On disk: live a, c, e, g (g outside the range); tombstones b, d.
	applyBatch(t, e, put("a", "1"), put("b", "1"), put("c", "1"), put("d", "1"), put("e", "1"), put("g", "1"))
	applyBatch(t, e, del("b"), put("d", "2"), del("d"))

	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	for _, c := range []*kvcmd.Command{
		put("b", "2"),  // re-creates a tombstone: v2, live only in this batch
		del("c"),       // deleted earlier in this batch: no second tombstone
		put("cc", "1"), // new in this batch
		put("e", "2"),  // live on disk, updated in this batch: v2
		put("h", "1"),  // in the batch but outside the range
	} {
		_, err := a.Apply(c)
		require.NoError(t, err)
	}
	before := wb.Count()
	res, err := a.Apply(delRange("a", "f"))
	require.NoError(t, err)
	require.Equal(t, kvcmd.Result{Succeeded: true}, res)
	// Tombstones for a, b, cc, e; nothing for c and d (already deleted).
	require.Equal(t, before+4, wb.Count())
	// The same batch sees the range delete.
	res, err = a.Apply(put("e", "3"))
	require.NoError(t, err)
	require.Equal(t, uint64(3), res.Version)
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))

	requireGet(t, e, "a", "", 0)
	requireGet(t, e, "b", "", 0)
	requireGet(t, e, "c", "", 0)
	requireGet(t, e, "cc", "", 0)
	requireGet(t, e, "d", "", 0)
	requireGet(t, e, "e", "3", 3)
	requireGet(t, e, "g", "1", 1)
	requireGet(t, e, "h", "1", 1)
	raw := rawKeys(t, e, storage.CFDefault)
	require.Len(t, raw, 8, "every key ever written keeps one record")
	// Versions continue above what each tombstone kept.
	res2 := applyBatch(t, e, put("a", "x"), put("b", "x"), put("cc", "x"), put("d", "x"))
	require.Equal(t, []uint64{2, 3, 2, 3}, []uint64{res2[0].Version, res2[1].Version, res2[2].Version, res2[3].Version})
}

// TestDeleteRangeDeterministic applies the same commands on two engines with
// the same data and expects identical batches, whatever the map order in
// the Applier was.
func TestDeleteRangeDeterministic(t *testing.T) {
	var dumps []map[string][]byte
	for i := 0; i < 2; i++ {
		e := openEngine(t)
		applyBatch(t, e, put("k1", "1"), put("k3", "1"), put("k5", "1"))
		applyBatch(t, e, put("k2", "1"), put("k4", "1"), put("k6", "1"), delRange("k", ""), put("k1", "2"))
		dumps = append(dumps, rawKeys(t, e, storage.CFDefault))
	}
	require.Equal(t, dumps[0], dumps[1])
}

func TestCorruptRecord(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"old format 1", []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0}, "format 1"},
		{"short", []byte{2, 0, 0}, "shorter than"},
		{"empty", []byte{}, "shorter than"},
		{"unknown format", []byte{3, 0, 0, 0, 0, 0, 0, 0, 7, 0}, "unknown format 3"},
		{"unknown flags", []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 2}, "unknown flags"},
		{"version 0", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'v'}, "version 0"},
		{"tombstone with value", []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 1, 'v'}, "tombstone with 1 value bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := openEngine(t)
			wb := e.NewWriteBatch()
			wb.Put(storage.CFDefault, []byte("k"), c.raw)
			require.NoError(t, e.Write(wb, storage.WriteOptions{}))
			wb.Close()

			_, _, err := kvcmd.Get(e, []byte("k"))
			require.ErrorIs(t, err, kvcmd.ErrCorrupt)
			require.Contains(t, err.Error(), c.want)
			_, err = kvcmd.Scan(e, nil, nil, 0, false, true)
			require.ErrorIs(t, err, kvcmd.ErrCorrupt)
			_, _, err = kvcmd.DecodeValue(c.raw)
			require.ErrorIs(t, err, kvcmd.ErrCorrupt)

			wb = e.NewWriteBatch()
			defer wb.Close()
			a := kvcmd.NewApplier(e, wb)
			for _, cmd := range []*kvcmd.Command{put("k", "v"), del("k"), cas("k", 7, "v"), delRange("", "")} {
				_, err := a.Apply(cmd)
				require.ErrorIs(t, err, kvcmd.ErrCorrupt, "op %v", cmd.Op)
				require.NotErrorIs(t, err, kvcmd.ErrInvalid)
			}
			require.Zero(t, wb.Count(), "a failed read adds nothing")
		})
	}
}
