package storagetest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
)

// OpenFunc opens (creating if needed) an engine in dir. The suite closes
// every engine it opens; it calls OpenFunc again on the same dir to test
// reopening.
type OpenFunc func(t *testing.T, dir string) storage.Engine

// RunConformance runs the whole suite against the engine open returns.
// Everything runs under the race detector when the caller's tests do.
//
// The crash test re-executes the calling test binary as a child process
// that writes until it is SIGKILLed; that child calls RunConformance too and
// is recognised by an environment variable, so RunConformance must be
// called directly from a top-level Test function.
func RunConformance(t *testing.T, open OpenFunc) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		t.Run("CrashReopen", func(t *testing.T) { crashChild(t, open, dir) })
		return
	}
	tests := []struct {
		name string
		run  func(t *testing.T, open OpenFunc)
	}{
		{"GetReturnsCopiesAndNotFound", testGet},
		{"BatchAppliesAtomically", testBatchAtomic},
		{"FailingBatchAppliesNothing", testFailingBatch},
		{"DeleteAndDeleteRange", testDeletes},
		{"IteratorBounds", testIteratorBounds},
		{"SnapshotIsolation", testSnapshot},
		{"ReopenKeepsData", testReopen},
		{"CrashReopen", testCrashReopen},
		{"Misuse", testMisuse},
		{"ConcurrentCloseIsSafe", testConcurrentClose},
		{"CAS", testCAS},
		{"CASNoABAAfterDelete", testCASNoABA},
		{"DeleteIfVersion", testDeleteIfVersion},
		{"DeleteRangeThenRecreate", testDeleteRangeRecreate},
		{"ConcurrentCASOneWinnerPerVersion", testConcurrentCAS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

// openClosed opens an engine that the test cleanup closes.
func openClosed(t *testing.T, open OpenFunc, dir string) storage.Engine {
	t.Helper()
	e := open(t, dir)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func write(t *testing.T, e storage.Engine, fill func(wb storage.WriteBatch)) {
	t.Helper()
	wb := e.NewWriteBatch()
	defer wb.Close()
	fill(wb)
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
}

func requireValue(t *testing.T, r storage.Reader, cf, key, want string) {
	t.Helper()
	v, err := r.Get(cf, []byte(key))
	require.NoError(t, err, "get %s/%s", cf, key)
	require.Equal(t, want, string(v), "value of %s/%s", cf, key)
}

func requireAbsent(t *testing.T, r storage.Reader, cf, key string) {
	t.Helper()
	_, err := r.Get(cf, []byte(key))
	require.ErrorIs(t, err, storage.ErrNotFound, "%s/%s should be absent", cf, key)
}

func testGet(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) {
		wb.Put(storage.CFDefault, []byte("k"), []byte("v"))
		wb.Put(storage.CFDefault, []byte("empty"), nil)
	})
	v, err := e.Get(storage.CFDefault, []byte("k"))
	require.NoError(t, err)
	v[0] = 'X' // the caller owns the copy
	requireValue(t, e, storage.CFDefault, "k", "v")
	v, err = e.Get(storage.CFDefault, []byte("empty"))
	require.NoError(t, err, "an empty value is present, not missing")
	require.Empty(t, v)
	requireAbsent(t, e, storage.CFDefault, "missing")
	requireAbsent(t, e, storage.CFMeta, "k") // families do not share keys
}

func testBatchAtomic(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	wb := e.NewWriteBatch()
	defer wb.Close()
	for i, cf := range storage.ColumnFamilies {
		wb.Put(cf, []byte("k"), []byte(cf))
		wb.Put(cf, []byte(fmt.Sprintf("n%d", i)), []byte("x"))
	}
	require.Equal(t, 2*len(storage.ColumnFamilies), wb.Count())
	require.Positive(t, wb.Size())
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	defer snap.Close()
	require.NoError(t, e.Write(wb, storage.WriteOptions{Sync: true}))
	for _, cf := range storage.ColumnFamilies {
		requireValue(t, e, cf, "k", cf)
		requireAbsent(t, snap, cf, "k") // nothing leaked before the write
	}
	wb.Clear()
	require.Zero(t, wb.Count())
	wb.Delete(storage.CFDefault, []byte("k"))
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
	requireAbsent(t, e, storage.CFDefault, "k")
	requireValue(t, e, storage.CFMeta, "k", storage.CFMeta)
}

func testFailingBatch(t *testing.T, open OpenFunc) {
	cases := []struct {
		name    string
		bad     func(wb storage.WriteBatch)
		wantErr error
	}{
		{"unknown cf put", func(wb storage.WriteBatch) { wb.Put("nope", []byte("k"), []byte("v")) }, storage.ErrUnknownCF},
		{"unknown cf delete", func(wb storage.WriteBatch) { wb.Delete("nope", []byte("k")) }, storage.ErrUnknownCF},
		{"empty key put", func(wb storage.WriteBatch) { wb.Put(storage.CFDefault, nil, []byte("v")) }, storage.ErrEmptyKey},
		{"empty key delete", func(wb storage.WriteBatch) { wb.Delete(storage.CFRaft, []byte{}) }, storage.ErrEmptyKey},
		{"empty range end", func(wb storage.WriteBatch) { wb.DeleteRange(storage.CFDefault, []byte("a"), nil) }, storage.ErrEmptyKey},
	}
	e := openClosed(t, open, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) { wb.Put(storage.CFDefault, []byte("old"), []byte("1")) })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wb := e.NewWriteBatch()
			defer wb.Close()
			wb.Put(storage.CFDefault, []byte("before"), []byte("x"))
			wb.Delete(storage.CFDefault, []byte("old"))
			c.bad(wb)
			wb.Put(storage.CFMeta, []byte("after"), []byte("x"))
			require.ErrorIs(t, e.Write(wb, storage.WriteOptions{Sync: true}), c.wantErr)
			requireAbsent(t, e, storage.CFDefault, "before")
			requireAbsent(t, e, storage.CFMeta, "after")
			requireValue(t, e, storage.CFDefault, "old", "1")
		})
	}
}

func testDeletes(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) {
		for _, k := range []string{"a", "b", "c", "d"} {
			wb.Put(storage.CFDefault, []byte(k), []byte(k))
			wb.Put(storage.CFRaft, []byte(k), []byte(k))
		}
	})
	write(t, e, func(wb storage.WriteBatch) {
		wb.Delete(storage.CFDefault, []byte("a"))
		wb.DeleteRange(storage.CFDefault, []byte("b"), []byte("d"))
		wb.DeleteRange(storage.CFDefault, []byte("z"), []byte("y")) // inverted: deletes nothing
		wb.Put(storage.CFDefault, []byte("c"), []byte("again"))     // after the range delete: survives
	})
	requireAbsent(t, e, storage.CFDefault, "a")
	requireAbsent(t, e, storage.CFDefault, "b")
	requireValue(t, e, storage.CFDefault, "c", "again")
	requireValue(t, e, storage.CFDefault, "d", "d")
	for _, k := range []string{"a", "b", "c", "d"} {
		requireValue(t, e, storage.CFRaft, k, k) // other families untouched
	}
}

func testReopen(t *testing.T, open OpenFunc) {
	dir := t.TempDir()
	e := open(t, dir)
	write(t, e, func(wb storage.WriteBatch) {
		for _, cf := range storage.ColumnFamilies {
			wb.Put(cf, []byte("k"), []byte("v-"+cf))
		}
	})
	require.NoError(t, e.Close())
	e = openClosed(t, open, dir)
	for _, cf := range storage.ColumnFamilies {
		requireValue(t, e, cf, "k", "v-"+cf)
	}
}

func testMisuse(t *testing.T, open OpenFunc) {
	e := open(t, t.TempDir())
	_, err := e.Get(storage.CFDefault, nil)
	require.ErrorIs(t, err, storage.ErrEmptyKey)
	_, err = e.Get("nope", []byte("k"))
	require.ErrorIs(t, err, storage.ErrUnknownCF)
	_, err = e.NewIterator("nope", storage.IterOptions{})
	require.ErrorIs(t, err, storage.ErrUnknownCF)

	kept := e.NewWriteBatch()
	kept.Put(storage.CFDefault, []byte("k"), []byte("v"))
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")

	_, err = e.Get(storage.CFDefault, []byte("k"))
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = e.NewIterator(storage.CFDefault, storage.IterOptions{})
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = e.NewSnapshot()
	require.ErrorIs(t, err, storage.ErrClosed)
	require.ErrorIs(t, e.SyncWAL(), storage.ErrClosed)
	require.ErrorIs(t, e.Write(kept, storage.WriteOptions{}), storage.ErrClosed)
	kept.Close()
	kept.Close() // closing a batch twice is harmless

	wb := e.NewWriteBatch()
	wb.Put(storage.CFDefault, []byte("k"), []byte("v"))
	require.ErrorIs(t, e.Write(wb, storage.WriteOptions{Sync: true}), storage.ErrClosed)
	wb.Close()
	require.Equal(t, storage.Stats{}, e.Stats())
}

// testConcurrentClose closes the engine while other goroutines use it:
// every call must return normally (nil or ErrClosed), never crash.
func testConcurrentClose(t *testing.T, open OpenFunc) {
	e := open(t, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) {
		for i := 0; i < 100; i++ {
			wb.Put(storage.CFDefault, []byte(fmt.Sprintf("k%03d", i)), []byte("v"))
		}
	})
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	started := make(chan struct{}, 3)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			for {
				err := f()
				if err == nil {
					continue
				}
				if !errors.Is(err, storage.ErrClosed) {
					errc <- err
				}
				return
			}
		}()
	}
	run(func() error {
		_, err := e.Get(storage.CFDefault, []byte("k001"))
		return err
	})
	run(func() error {
		wb := e.NewWriteBatch()
		defer wb.Close()
		wb.Put(storage.CFDefault, []byte("w"), []byte("v"))
		return e.Write(wb, storage.WriteOptions{})
	})
	run(func() error {
		it, err := e.NewIterator(storage.CFDefault, storage.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		for ; it.Valid(); it.Next() {
			_ = append([]byte(nil), it.Key()...)
		}
		return it.Err()
	})
	for i := 0; i < 3; i++ {
		<-started
	}
	require.NoError(t, e.Close())
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
}
