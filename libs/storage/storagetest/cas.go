package storagetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
)

// apply applies cmds as one group into one batch and writes it, as the Raft
// apply loop will.
func apply(t *testing.T, e storage.Engine, cmds ...*kvcmd.Command) []kvcmd.Result {
	t.Helper()
	res, err := applyErr(e, cmds...)
	require.NoError(t, err)
	return res
}

func applyErr(e storage.Engine, cmds ...*kvcmd.Command) ([]kvcmd.Result, error) {
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	out := make([]kvcmd.Result, 0, len(cmds))
	for _, c := range cmds {
		res, err := a.Apply(c)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, e.Write(wb, storage.WriteOptions{})
}

func putCmd(k, v string) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpPut, Key: []byte(k), Value: []byte(v)}
}

func casCmd(k string, expected uint64, v string) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpCAS, Key: []byte(k), ExpectedVersion: expected, Value: []byte(v)}
}

func casDelCmd(k string, expected uint64) *kvcmd.Command {
	return &kvcmd.Command{Op: kvcmd.OpCAS, Key: []byte(k), ExpectedVersion: expected, Delete: true}
}

func delCmd(k string) *kvcmd.Command { return &kvcmd.Command{Op: kvcmd.OpDelete, Key: []byte(k)} }

func requireKV(t *testing.T, r storage.Reader, key, value string, version uint64) {
	t.Helper()
	v, ver, err := kvcmd.Get(r, []byte(key))
	require.NoError(t, err)
	require.Equal(t, version, ver, "version of %q", key)
	if version == 0 {
		require.Nil(t, v, "absent key %q has no value", key)
	} else {
		require.Equal(t, value, string(v), "value of %q", key)
	}
}

// step is one command applied alone and what it must return.
type step struct {
	cmd  *kvcmd.Command
	want kvcmd.Result
}

func runSteps(t *testing.T, e storage.Engine, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := apply(t, e, s.cmd)[0]
		require.Equal(t, s.want, got, "step %d: %s %q", i, s.cmd.Op, s.cmd.Key)
	}
}

func ok(version uint64, value string) kvcmd.Result {
	r := kvcmd.Result{Succeeded: true, Version: version}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

func conflict(version uint64, value string) kvcmd.Result {
	r := kvcmd.Result{Version: version}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

func testCAS(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	requireKV(t, e, "k", "", 0)
	runSteps(t, e, []step{
		{casCmd("k", 1, "x"), conflict(0, "")}, // absent: only version 0 matches
		{casCmd("k", 0, "a"), ok(1, "a")},      // create
		{casCmd("k", 0, "b"), conflict(1, "a")},
		{casCmd("k", 2, "b"), conflict(1, "a")}, // future version
		{casCmd("k", 1, "b"), ok(2, "b")},
		{casCmd("k", 1, "c"), conflict(2, "b")},                                          // stale
		{putCmd("k", "p"), ok(3, "")},                                                    // raw put also bumps the version
		{casCmd("k", 3, ""), kvcmd.Result{Succeeded: true, Version: 4, Value: []byte{}}}, // an empty value is a value
	})
	requireKV(t, e, "k", "", 4)
	v, _, err := kvcmd.Get(e, []byte("k"))
	require.NoError(t, err)
	require.NotNil(t, v, "present with an empty value")
}

func testCASNoABA(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	e := open(t, dir)
	runSteps(t, e, []step{
		{casCmd("k", 0, "A"), ok(1, "A")},
		{casCmd("k", 1, "B"), ok(2, "B")},
		{delCmd("k"), ok(0, "")},
		{casCmd("k", 2, "x"), conflict(0, "")}, // deleted: the old version is gone
		{casCmd("k", 0, "A"), ok(3, "A")},      // re-created above every old version
		{casCmd("k", 1, "x"), conflict(3, "A")},
		{casCmd("k", 2, "x"), conflict(3, "A")}, // same value "A" as at version 1: no ABA
	})
	// Versions survive restart.
	require.NoError(t, e.Close())
	e = openClosed(t, open, dir)
	requireKV(t, e, "k", "A", 3)
	runSteps(t, e, []step{
		{delCmd("k"), ok(0, "")},
		{putCmd("k", "again"), ok(4, "")},
	})
}

func testDeleteIfVersion(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	runSteps(t, e, []step{
		{casDelCmd("k", 1), conflict(0, "")},
		{casDelCmd("k", 0), ok(0, "")}, // absent and expected absent: nothing to do
		{putCmd("k", "a"), ok(1, "")},
		{putCmd("k", "b"), ok(2, "")},
		{casDelCmd("k", 1), conflict(2, "b")},
		{casDelCmd("k", 0), conflict(2, "b")},
		{casDelCmd("k", 2), ok(0, "")},
		{casDelCmd("k", 2), conflict(0, "")},
		{casCmd("k", 0, "c"), ok(3, "c")},
	})
	requireKV(t, e, "k", "c", 3)
}

func testDeleteRangeRecreate(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	e := open(t, dir)
	apply(t, e, putCmd("a", "1"), putCmd("b", "1"), putCmd("b", "2"), putCmd("c", "1"), putCmd("d", "1"))
	res := apply(t, e, &kvcmd.Command{Op: kvcmd.OpDeleteRange, Key: []byte("b"), EndKey: []byte("d")})
	require.True(t, res[0].Succeeded)
	requireKV(t, e, "a", "1", 1)
	requireKV(t, e, "b", "", 0)
	requireKV(t, e, "c", "", 0)
	requireKV(t, e, "d", "1", 1)
	kvs, err := kvcmd.Scan(e, nil, nil, 0, false, true)
	require.NoError(t, err)
	require.Equal(t, []kvcmd.KV{{Key: []byte("a"), Version: 1}, {Key: []byte("d"), Version: 1}}, kvs)

	require.NoError(t, e.Close())
	e = openClosed(t, open, dir)
	runSteps(t, e, []step{
		{casCmd("b", 2, "x"), conflict(0, "")},
		{casCmd("b", 0, "3"), ok(3, "3")}, // continues above the deleted version 2
		{putCmd("c", "2"), ok(2, "")},
	})
	// An unbounded range delete from the first key removes everything.
	apply(t, e, &kvcmd.Command{Op: kvcmd.OpDeleteRange})
	kvs, err = kvcmd.Scan(e, nil, nil, 0, false, false)
	require.NoError(t, err)
	require.Empty(t, kvs)
	// Values go with their keys; what stays is one version tombstone per
	// key.
	it, err := e.NewIterator(storage.CFDefault, storage.IterOptions{})
	require.NoError(t, err)
	require.Empty(t, collect(t, it), "values go with their keys")
	it, err = e.NewIterator(storage.CFVersion, storage.IterOptions{})
	require.NoError(t, err)
	require.Len(t, collect(t, it), 4, "every key keeps its version tombstone")
	runSteps(t, e, []step{{putCmd("d", "x"), ok(2, "")}})
}

// testConcurrentCAS races goroutines doing read-then-CAS on one key. Apply
// and write are serialised by a mutex, as the Raft apply loop serialises
// them; the reads are not. Every version must have exactly one winner.
func testConcurrentCAS(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	const workers, attempts = 8, 40
	var (
		applyMu sync.Mutex
		resMu   sync.Mutex
		winners = map[uint64][]string{}
		wg      sync.WaitGroup
	)
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < attempts; i++ {
				_, ver, err := kvcmd.Get(e, []byte("k"))
				if err != nil {
					errc <- err
					return
				}
				val := fmt.Sprintf("w%d-%d", w, i)
				applyMu.Lock()
				res, err := applyErr(e, casCmd("k", ver, val))
				applyMu.Unlock()
				if err != nil {
					errc <- err
					return
				}
				if res[0].Succeeded {
					if res[0].Version != ver+1 {
						errc <- fmt.Errorf("cas from %d succeeded with version %d", ver, res[0].Version)
						return
					}
					resMu.Lock()
					winners[res[0].Version] = append(winners[res[0].Version], val)
					resMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	v, final, err := kvcmd.Get(e, []byte("k"))
	require.NoError(t, err)
	require.Len(t, winners, int(final), "every version 1..final was won")
	for ver := uint64(1); ver <= final; ver++ {
		require.Len(t, winners[ver], 1, "winners of version %d", ver)
	}
	require.Equal(t, winners[final][0], string(v))
}
