package rocksdb

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
)

func TestSmoke(t *testing.T) {
	e, err := Open(t.TempDir(), NewConfig(), nil)
	require.NoError(t, err)
	wb := e.NewWriteBatch()
	wb.Put(storage.CFDefault, []byte("a"), []byte("1"))
	wb.Put(storage.CFDefault, []byte("b"), []byte{})
	require.NoError(t, e.Write(wb, storage.WriteOptions{Sync: true}))
	wb.Close()
	v, err := e.Get(storage.CFDefault, []byte("b"))
	require.NoError(t, err)
	require.NotNil(t, v)
	require.Len(t, v, 0)
	it, err := e.NewIterator(storage.CFDefault, storage.IterOptions{Reverse: true})
	require.NoError(t, err)
	var ks []string
	for ; it.Valid(); it.Next() {
		ks = append(ks, string(it.Key()))
	}
	require.NoError(t, it.Err())
	it.Close()
	require.Equal(t, []string{"b", "a"}, ks)
	t.Logf("%+v", e.Stats())
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
}
