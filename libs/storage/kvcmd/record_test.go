package kvcmd

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		rec   record
		value []byte
	}{
		{"live", record{version: 1}, []byte("value")},
		{"live empty value", record{version: 7}, nil},
		{"max version", record{version: 1<<64 - 1}, []byte{0, 1, 2}},
		{"tombstone", record{version: 42, deleted: true}, nil},
	}
	for _, c := range cases {
		b := appendRecord([]byte("prefix"), c.rec, c.value)[len("prefix"):]
		require.Len(t, b, recordHeaderLen+len(c.value), c.name)
		require.Equal(t, byte(recordFormat), b[0], c.name)
		rec, v, err := decodeRecord(b)
		require.NoError(t, err, c.name)
		require.Equal(t, c.rec, rec, c.name)
		if c.rec.deleted {
			require.Nil(t, v, c.name)
			require.Zero(t, rec.current(), c.name)
		} else {
			require.NotNil(t, v, "%s: a live value is never nil", c.name)
			require.Equal(t, string(c.value), string(v), c.name)
			require.Equal(t, c.rec.version, rec.current(), c.name)
		}
		// Decoding does not copy: the value aliases the input.
		if len(v) > 0 {
			b[recordHeaderLen] ^= 0xff
			require.Equal(t, b[recordHeaderLen], v[0], c.name)
		}
	}
}

func TestDecodeRecordGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.IntN(24))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if len(b) > 0 && r.IntN(2) == 0 {
			b[0] = recordFormat
		}
		rec, v, err := decodeRecord(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			continue
		}
		// Whatever decodes re-encodes to the same bytes.
		require.Equal(t, b, appendRecord(nil, rec, v))
	}
}
