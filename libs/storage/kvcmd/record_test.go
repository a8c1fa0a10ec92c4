package kvcmd

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionRecordRoundTrip(t *testing.T) {
	for _, rec := range []record{{version: 1}, {version: 1<<64 - 1}, {version: 42, deleted: true}} {
		b := appendVersion([]byte("prefix"), rec)[len("prefix"):]
		require.Len(t, b, recordHeaderLen)
		got, err := decodeVersion(b)
		require.NoError(t, err)
		require.Equal(t, rec, got)
	}
	_, err := decodeVersion(appendVersion(nil, record{}))
	require.ErrorIs(t, err, ErrCorrupt, "version 0 is never stored")
}

func TestValueRecordRoundTrip(t *testing.T) {
	for _, c := range []struct {
		version uint64
		value   []byte
	}{{1, []byte("value")}, {7, nil}, {1<<64 - 1, []byte{0, 1, 2}}} {
		b := appendValue([]byte("prefix"), c.version, c.value)[len("prefix"):]
		require.Len(t, b, recordHeaderLen+len(c.value))
		v, version, err := DecodeValue(b)
		require.NoError(t, err)
		require.Equal(t, c.version, version)
		require.NotNil(t, v, "a live value is never nil")
		require.Equal(t, string(c.value), string(v))
		// Decoding does not copy: the value aliases the input.
		if len(v) > 0 {
			b[recordHeaderLen] ^= 0xff
			require.Equal(t, b[recordHeaderLen], v[0])
		}
	}
	// A version record is not a value record, nor the reverse.
	_, _, err := DecodeValue(appendVersion(nil, record{version: 3}))
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = decodeVersion(appendValue(nil, 3, nil))
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestDecodeRecordGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.IntN(24))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if len(b) > 0 && r.IntN(2) == 0 {
			b[0] = byte(versionFormat + r.IntN(2))
		}
		// Whatever decodes re-encodes to the same bytes.
		if rec, err := decodeVersion(b); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
		} else {
			require.Equal(t, b, appendVersion(nil, rec))
		}
		if v, version, err := DecodeValue(b); err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
		} else {
			require.Equal(t, b, appendValue(nil, version, v))
		}
	}
}
