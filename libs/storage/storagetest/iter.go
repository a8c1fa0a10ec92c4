package storagetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
)

// collect drains an iterator into "key=value" strings and closes it.
func collect(t *testing.T, it storage.Iterator) []string {
	t.Helper()
	defer it.Close()
	var out []string
	for ; it.Valid(); it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	require.NoError(t, it.Err())
	return out
}

func b(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func testIteratorBounds(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) {
		for _, k := range []string{"a", "b", "b\x00", "c", "d"} {
			wb.Put(storage.CFVersion, []byte(k), []byte(k))
		}
		// Neighbours in other families must never show up.
		wb.Put(storage.CFDefault, []byte("b1"), []byte("x"))
		wb.Put(storage.CFMeta, []byte("c1"), []byte("x"))
	})
	cases := []struct {
		name         string
		lower, upper string
		want         []string // ascending
	}{
		{"unbounded", "", "", []string{"a", "b", "b\x00", "c", "d"}},
		{"lower only", "b", "", []string{"b", "b\x00", "c", "d"}},
		{"upper only", "", "c", []string{"a", "b", "b\x00"}},
		{"both", "b", "c", []string{"b", "b\x00"}},
		{"between keys", "a0", "c0", []string{"b", "b\x00", "c"}},
		{"single key", "b", "b\x00", []string{"b"}},
		{"empty range", "c", "c", nil},
		{"inverted", "d", "a", nil},
		{"above all", "e", "", nil},
		{"below all", "", "a", nil},
	}
	for _, c := range cases {
		for _, reverse := range []bool{false, true} {
			name := c.name
			if reverse {
				name += " reverse"
			}
			t.Run(name, func(t *testing.T) {
				it, err := e.NewIterator(storage.CFVersion, storage.IterOptions{
					LowerBound: b(c.lower), UpperBound: b(c.upper), Reverse: reverse,
				})
				require.NoError(t, err)
				var want []string
				for _, k := range c.want {
					want = append(want, k+"="+k)
				}
				if reverse {
					for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
						want[i], want[j] = want[j], want[i]
					}
				}
				require.Equal(t, want, collect(t, it))
			})
		}
	}
}

func testSnapshot(t *testing.T, open OpenFunc) {
	e := openClosed(t, open, t.TempDir())
	write(t, e, func(wb storage.WriteBatch) {
		wb.Put(storage.CFDefault, []byte("a"), []byte("1"))
		wb.Put(storage.CFDefault, []byte("b"), []byte("1"))
	})
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	write(t, e, func(wb storage.WriteBatch) {
		wb.Put(storage.CFDefault, []byte("a"), []byte("2"))
		wb.Delete(storage.CFDefault, []byte("b"))
		wb.Put(storage.CFDefault, []byte("c"), []byte("2"))
	})
	requireValue(t, snap, storage.CFDefault, "a", "1")
	requireValue(t, snap, storage.CFDefault, "b", "1")
	requireAbsent(t, snap, storage.CFDefault, "c")
	for _, reverse := range []bool{false, true} {
		it, err := snap.NewIterator(storage.CFDefault, storage.IterOptions{Reverse: reverse})
		require.NoError(t, err)
		want := []string{"a=1", "b=1"}
		if reverse {
			want = []string{"b=1", "a=1"}
		}
		require.Equal(t, want, collect(t, it))
	}
	it, err := e.NewIterator(storage.CFDefault, storage.IterOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"a=2", "c=2"}, collect(t, it))

	// An iterator sees the state as of its creation, even without a snapshot.
	it, err = e.NewIterator(storage.CFDefault, storage.IterOptions{})
	require.NoError(t, err)
	write(t, e, func(wb storage.WriteBatch) { wb.Put(storage.CFDefault, []byte("d"), []byte("3")) })
	require.Equal(t, []string{"a=2", "c=2"}, collect(t, it))

	snap.Close()
	snap.Close() // idempotent
	_, err = snap.Get(storage.CFDefault, []byte("a"))
	require.ErrorIs(t, err, storage.ErrClosed)
}
