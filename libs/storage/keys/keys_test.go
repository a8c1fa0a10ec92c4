package keys

import (
	"bytes"
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRaftLogKeysOrderAndDecode(t *testing.T) {
	cases := []struct{ region, index uint64 }{
		{1, 0}, {1, 1}, {1, 255}, {1, 256}, {1, math.MaxUint64}, {2, 0}, {256, 7}, {math.MaxUint64, math.MaxUint64},
	}
	var ks [][]byte
	for _, c := range cases {
		k := RaftLogKey(c.region, c.index)
		r, i, err := DecodeRaftLogKey(k)
		require.NoError(t, err)
		require.Equal(t, c.region, r)
		require.Equal(t, c.index, i)
		require.True(t, bytes.HasPrefix(k, RaftLogPrefix(c.region)))
		require.True(t, bytes.HasPrefix(k, RegionRaftPrefix(c.region)))
		ks = append(ks, k)
	}
	require.True(t, sort.SliceIsSorted(ks, func(i, j int) bool { return bytes.Compare(ks[i], ks[j]) < 0 }),
		"big-endian keys must sort by (region, index)")
	_, _, err := DecodeRaftLogKey(RaftStateKey(1))
	require.Error(t, err)
}

func TestKindsNeverCollide(t *testing.T) {
	// No full key may equal or be a prefix of another: then no prefix scan
	// of one kind can return a key of another.
	all := map[string]string{}
	add := func(name string, k []byte) {
		for other, name2 := range all {
			require.False(t, bytes.HasPrefix(k, []byte(other)) || bytes.HasPrefix([]byte(other), k),
				"%s (%x) and %s (%x) overlap", name, k, name2, other)
		}
		all[string(k)] = name
	}
	for _, id := range []uint64{0, 1, 0x0102, math.MaxUint64} {
		suffix := string(rune('a' + id%26))
		add("log"+suffix, RaftLogKey(id, 1))
		add("hs"+suffix, RaftStateKey(id))
		add("as"+suffix, ApplyStateKey(id))
		add("rs"+suffix, RegionStateKey(id))
	}
	add("si", StoreIdentKey())
	add("pd", PDKey("cluster"))
	require.False(t, bytes.HasPrefix(RaftStateKey(1), RaftLogPrefix(1)))
	require.False(t, bytes.HasPrefix(ApplyStateKey(1), RaftLogPrefix(1)))
	require.True(t, bytes.HasPrefix(RegionStateKey(9), RegionStatePrefix()))
	require.False(t, bytes.HasPrefix(StoreIdentKey(), RegionStatePrefix()))
	id, err := DecodeRegionStateKey(RegionStateKey(9))
	require.NoError(t, err)
	require.Equal(t, uint64(9), id)
	_, err = DecodeRegionStateKey(StoreIdentKey())
	require.Error(t, err)
}

func TestPDKeys(t *testing.T) {
	require.Equal(t, "pd/region/00000000000000000042", string(PDKey("region", PDID(42))))
	require.Equal(t, "pd/region/", string(PDPrefix("region")))
	require.Equal(t, "pd/", string(PDPrefix()))
	require.True(t, bytes.HasPrefix(PDKey("region", PDID(1)), PDPrefix("region")))
	require.False(t, bytes.HasPrefix(PDKey("regions"), PDPrefix("region")))
	require.Less(t, string(PDKey("r", PDID(9))), string(PDKey("r", PDID(10))))
	require.Panics(t, func() { PDKey("a/b") })
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{[]byte("pd/"), []byte("pd0")},
		{[]byte{0x01, 0xff}, []byte{0x02}},
		{[]byte{0xff, 0xff}, nil},
		{nil, nil},
	}
	for _, c := range cases {
		require.Equal(t, c.want, PrefixEnd(c.in))
	}
}
