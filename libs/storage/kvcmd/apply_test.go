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

func TestLayout(t *testing.T) {
	e := openEngine(t)
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	_, err := a.Apply(put("k", "v"))
	require.NoError(t, err)
	require.Equal(t, 1, wb.Count(), "a put writes one value record")
	_, err = a.Apply(put("gone", "v"))
	require.NoError(t, err)
	_, err = a.Apply(del("gone"))
	require.NoError(t, err)
	require.Equal(t, 4, wb.Count(), "a delete writes a tombstone and deletes the value")
	_, err = a.Apply(put("back", "v"))
	require.NoError(t, err)
	_, err = a.Apply(del("back"))
	require.NoError(t, err)
	_, err = a.Apply(put("back", "v2"))
	require.NoError(t, err)
	require.Equal(t, 9, wb.Count(), "re-creating a key removes its tombstone")
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))

	versions := rawKeys(t, e, storage.CFVersion)
	require.Len(t, versions, 1, "only the deleted key has a tombstone")
	require.Contains(t, versions, "gone")
	values := rawKeys(t, e, storage.CFDefault)
	require.Len(t, values, 2, "only the live keys have value records")
	v, ver, err := kvcmd.DecodeValue(values["k"])
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.Equal(t, uint64(1), ver)
	v, ver, err = kvcmd.DecodeValue(values["back"])
	require.NoError(t, err)
	require.Equal(t, "v2", string(v))
	require.Equal(t, uint64(2), ver, "the version continues above the tombstone's")
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
	require.Len(t, rawKeys(t, e, storage.CFVersion), 1, "the tombstone is stored")
	require.Empty(t, rawKeys(t, e, storage.CFDefault), "the value is gone")
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
	// Tombstones (and value deletes) for a, b, cc, e; nothing for c and d
	// (already deleted).
	require.Equal(t, before+8, wb.Count())
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
	require.Len(t, rawKeys(t, e, storage.CFVersion), 5, "a, b, c, cc and d keep tombstones")
	require.Len(t, rawKeys(t, e, storage.CFDefault), 3, "only e, g and h have values")
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
		dumps = append(dumps, rawKeys(t, e, storage.CFDefault), rawKeys(t, e, storage.CFVersion))
	}
	require.Equal(t, dumps[0], dumps[2])
	require.Equal(t, dumps[1], dumps[3])
}

func TestCorruptRecord(t *testing.T) {
	cases := []struct {
		name    string
		cf      string
		raw     []byte
		want    string
		readers bool // whether Get and Scan read this column family
	}{
		{"value: short", storage.CFDefault, []byte{2, 0, 0}, "shorter than", true},
		{"value: empty", storage.CFDefault, []byte{}, "shorter than", true},
		{"value: version record", storage.CFDefault, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0}, "header", true},
		{"value: flags", storage.CFDefault, []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 1}, "header", true},
		{"value: version 0", storage.CFDefault, []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'v'}, "version 0", true},
		{"version: too long", storage.CFVersion, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0}, "version record", false},
		{"version: value record", storage.CFVersion, []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 0}, "version record", false},
		{"version: flags", storage.CFVersion, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 2}, "version record", false},
		{"version: live record", storage.CFVersion, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0}, "live version record", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := openEngine(t)
			wb := e.NewWriteBatch()
			wb.Put(c.cf, []byte("k"), c.raw)
			require.NoError(t, e.Write(wb, storage.WriteOptions{}))
			wb.Close()

			if c.readers {
				_, _, err := kvcmd.Get(e, []byte("k"))
				require.ErrorIs(t, err, kvcmd.ErrCorrupt)
				require.Contains(t, err.Error(), c.want)
				_, err = kvcmd.Scan(e, nil, nil, 0, false, true)
				require.ErrorIs(t, err, kvcmd.ErrCorrupt)
				_, _, err = kvcmd.DecodeValue(c.raw)
				require.ErrorIs(t, err, kvcmd.ErrCorrupt)
				wb := e.NewWriteBatch()
				defer wb.Close()
				a := kvcmd.NewApplier(e, wb)
				for _, cmd := range []*kvcmd.Command{put("k", "v"), del("k"), cas("k", 7, "v"), delRange("", "")} {
					_, err := a.Apply(cmd)
					require.ErrorIs(t, err, kvcmd.ErrCorrupt, "op %v", cmd.Op)
				}
				require.Zero(t, wb.Count(), "a failed read adds nothing")
				return
			}
			wb = e.NewWriteBatch()
			defer wb.Close()
			a := kvcmd.NewApplier(e, wb)
			// Delete-range walks value records only, so a corrupt tombstone
			// is met by the commands that load the key.
			for _, cmd := range []*kvcmd.Command{put("k", "v"), del("k"), cas("k", 7, "v")} {
				_, err := a.Apply(cmd)
				require.ErrorIs(t, err, kvcmd.ErrCorrupt, "op %v", cmd.Op)
				require.Contains(t, err.Error(), c.want)
				require.NotErrorIs(t, err, kvcmd.ErrInvalid)
			}
			require.Zero(t, wb.Count(), "a failed read adds nothing")
		})
	}
}

// A CAS conflict on a key read from the engine returns the value record's
// version and value.
func TestCASConflictReadsValueRecord(t *testing.T) {
	e := openEngine(t)
	applyBatch(t, e, put("k", "v"))
	wb := e.NewWriteBatch()
	defer wb.Close()
	res, err := kvcmd.NewApplier(e, wb).Apply(cas("k", 5, "x"))
	require.NoError(t, err)
	require.Equal(t, kvcmd.Result{Version: 1, Value: []byte("v")}, res)
}

// With Retain, a second batch writing the same keys reads nothing from the
// engine, and still numbers versions on from the first batch.
func TestRetainAcrossBatches(t *testing.T) {
	e := openEngine(t)
	r := &countingReader{Reader: e}
	a := kvcmd.NewApplier(r, nil)
	a.Retain(100)
	apply := func(cmds ...*kvcmd.Command) []kvcmd.Result {
		wb := e.NewWriteBatch()
		defer wb.Close()
		a.Reset(r, wb)
		var out []kvcmd.Result
		for _, c := range cmds {
			res, err := a.Apply(c)
			require.NoError(t, err)
			out = append(out, res)
		}
		require.NoError(t, e.Write(wb, storage.WriteOptions{}))
		return out
	}
	apply(put("a", "1"), put("b", "1"))
	reads := r.gets
	res := apply(put("a", "2"), del("b"), cas("a", 1, "x"))
	require.Equal(t, reads, r.gets, "retained keys are not read again")
	require.Equal(t, uint64(2), res[0].Version)
	require.Equal(t, kvcmd.Result{Version: 2, Value: []byte("2")}, res[2], "a conflict sees the value put in its batch")
	// Values are not retained across batches: a conflict reads the value.
	res = apply(cas("a", 1, "x"))
	require.Equal(t, reads+1, r.gets)
	require.Equal(t, kvcmd.Result{Version: 2, Value: []byte("2")}, res[0])
	reads = r.gets
	requireGet(t, e, "a", "2", 2)

	// Something else changes the data (as a Raft snapshot would): after
	// Forget the Applier reads it again.
	wb := e.NewWriteBatch()
	wb.Put(storage.CFDefault, []byte("a"), valueRecord(t, 9))
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
	wb.Close()
	a.Forget()
	require.Equal(t, uint64(10), apply(put("a", "3"))[0].Version)

	// Beyond the key bound everything is forgotten at the next Reset.
	a.Retain(1)
	apply(put("a", "4"), put("b", "4"))
	reads = r.gets
	apply(put("a", "5"))
	require.Equal(t, reads+1, r.gets)
}

// valueRecord returns the value record a key has after v puts, as kvcmd
// stores it, made by putting v times on a scratch engine.
func valueRecord(t *testing.T, v uint64) []byte {
	t.Helper()
	scratch := openEngine(t)
	for i := uint64(0); i < v; i++ {
		applyBatch(t, scratch, put("a", "x"))
	}
	raw := rawKeys(t, scratch, storage.CFDefault)["a"]
	require.NotNil(t, raw)
	return raw
}

type countingReader struct {
	storage.Reader
	gets int
}

func (r *countingReader) Get(cf string, key []byte) ([]byte, error) {
	r.gets++
	return r.Reader.Get(cf, key)
}
