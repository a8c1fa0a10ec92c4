package kvcmd

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// normalize maps empty slices to nil, as decoding does.
func normalize(c *Command) *Command {
	n := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	out := &Command{Op: c.Op, Key: n(c.Key), EndKey: n(c.EndKey), Value: n(c.Value),
		ExpectedVersion: c.ExpectedVersion, Delete: c.Delete}
	for _, p := range c.Pairs {
		out.Pairs = append(out.Pairs, Pair{Key: n(p.Key), Value: n(p.Value)})
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, n(k))
	}
	return out
}

func randBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(300))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randCommand(r *rand.Rand) *Command {
	c := &Command{Op: Op(r.IntN(8)), Key: randBytes(r), EndKey: randBytes(r), Value: randBytes(r), Delete: r.IntN(2) == 0}
	switch r.IntN(3) {
	case 0:
		c.ExpectedVersion = r.Uint64()
	case 1:
		c.ExpectedVersion = uint64(r.IntN(200))
	}
	for i := r.IntN(4) * r.IntN(20); i > 0; i-- {
		c.Pairs = append(c.Pairs, Pair{Key: randBytes(r), Value: randBytes(r)})
	}
	for i := r.IntN(4) * r.IntN(20); i > 0; i-- {
		c.Keys = append(c.Keys, randBytes(r))
	}
	return c
}

func TestMarshalRoundTrip(t *testing.T) {
	cases := []*Command{
		{Op: OpPut, Key: []byte("k"), Value: []byte("v")},
		{Op: OpCAS, Key: []byte("k"), ExpectedVersion: 1<<64 - 1, Delete: true},
		{Op: OpDeleteRange, Key: nil, EndKey: []byte{0xff}},
		{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("a"), Value: nil}, {Key: []byte("b"), Value: []byte("2")}}},
		{Op: OpBatchDelete, Keys: [][]byte{[]byte("a"), []byte("b")}},
		{},
	}
	r := rand.New(rand.NewPCG(42, 7))
	for i := 0; i < 2000; i++ {
		cases = append(cases, randCommand(r))
	}
	for i, c := range cases {
		b := c.Marshal()
		require.Equal(t, b, c.Marshal(), "case %d: deterministic", i)
		got, err := Unmarshal(b)
		require.NoError(t, err, "case %d", i)
		require.Equal(t, normalize(c), got, "case %d", i)
		// Decoding copies: scribbling over the input changes nothing.
		for j := range b {
			b[j] = 0xAA
		}
		require.Equal(t, normalize(c), got, "case %d after input reuse", i)
	}
}

func TestUnmarshalRejectsCorruptInput(t *testing.T) {
	good := (&Command{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("key"), Value: []byte("value")}}}).Marshal()
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"unknown format", append([]byte{9}, good[1:]...), "unknown command format 9"},
		{"unknown flags", append([]byte{good[0], good[1], 0x80}, good[3:]...), "unknown command flags"},
		{"trailing", append(append([]byte(nil), good...), 0), "1 trailing bytes"},
		{"huge count", []byte{codecFormat, byte(OpBatchPut), 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "truncated"},
	}
	for i := 1; i < len(good); i++ {
		cases = append(cases, struct {
			name string
			in   []byte
			want string
		}{"cut", good[:i], "truncated"})
	}
	for _, c := range cases {
		_, err := Unmarshal(c.in)
		require.Error(t, err, c.name)
		require.Contains(t, err.Error(), c.want, c.name)
	}
	// Random garbage never panics.
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.IntN(40))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 && len(b) > 0 {
			b[0] = codecFormat
		}
		_, _ = Unmarshal(b)
	}
}

func TestValidateMessages(t *testing.T) {
	lim := Limits{MaxKeySize: 8, MaxValueSize: 16, MaxBatchKeys: 2}
	long := []byte(strings.Repeat("k", 9))
	cases := []struct {
		name string
		cmd  *Command
		want string // "" = valid
	}{
		{"nil", nil, "nil command"},
		{"unknown op", &Command{Op: 99, Key: []byte("k")}, "unknown op 99"},
		{"put ok", &Command{Op: OpPut, Key: []byte("k"), Value: make([]byte, 16)}, ""},
		{"put empty key", &Command{Op: OpPut}, "put: empty key"},
		{"put long key", &Command{Op: OpPut, Key: long}, "put: key is 9 bytes, over the limit of 8 (max key size)"},
		{"put long value", &Command{Op: OpPut, Key: []byte("k"), Value: make([]byte, 17)}, "value is 17 bytes, over the limit of 16 (max value size)"},
		{"cas empty key", &Command{Op: OpCAS}, "cas: empty key"},
		{"delete long key", &Command{Op: OpDelete, Key: long}, "delete: key is 9 bytes"},
		{"range ok unbounded", &Command{Op: OpDeleteRange}, ""},
		{"range inverted", &Command{Op: OpDeleteRange, Key: []byte("b"), EndKey: []byte("a")}, `start key "b" is not below end key "a"`},
		{"range empty", &Command{Op: OpDeleteRange, Key: []byte("a"), EndKey: []byte("a")}, "is not below"},
		{"range long end", &Command{Op: OpDeleteRange, EndKey: long}, "end key is 9 bytes"},
		{"batch put none", &Command{Op: OpBatchPut}, "batch-put: no pairs"},
		{"batch put empty keys", &Command{Op: OpBatchPut, Pairs: make([]Pair, 3)}, "batch-put: pair 0: empty key"},
		{"batch put too many", &Command{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("a")}, {Key: []byte("b")}, {Key: []byte("c")}}}, "batch-put: 3 keys, over the limit of 2 (max batch keys)"},
		{"batch put empty key", &Command{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("a")}, {}}}, "batch-put: pair 1: empty key"},
		{"batch put long value", &Command{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("a"), Value: make([]byte, 17)}}}, "pair 0 value is 17 bytes"},
		{"batch delete too many", &Command{Op: OpBatchDelete, Keys: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}, "batch-delete: 3 keys, over the limit of 2 (max batch keys)"},
		{"batch delete empty key", &Command{Op: OpBatchDelete, Keys: [][]byte{nil}}, "batch-delete: key 0: empty key"},
	}
	for _, c := range cases {
		err := Validate(c.cmd, lim)
		if c.want == "" {
			require.NoError(t, err, c.name)
			continue
		}
		require.ErrorIs(t, err, ErrInvalid, c.name)
		require.Contains(t, err.Error(), c.want, c.name)
	}
	// Zero limits mean unlimited; DefaultLimits are what the issue fixes.
	require.NoError(t, Validate(&Command{Op: OpPut, Key: make([]byte, 1<<16)}, Limits{}))
	require.Equal(t, Limits{MaxKeySize: 4096, MaxValueSize: 4 << 20, MaxBatchKeys: 10000}, DefaultLimits())
}

func TestSpan(t *testing.T) {
	cases := []struct {
		name       string
		cmd        *Command
		start, end string
		unbounded  bool
	}{
		{"put", &Command{Op: OpPut, Key: []byte("k")}, "k", "k\x00", false},
		{"cas", &Command{Op: OpCAS, Key: []byte("k")}, "k", "k\x00", false},
		{"range", &Command{Op: OpDeleteRange, Key: []byte("a"), EndKey: []byte("c")}, "a", "c", false},
		{"range unbounded", &Command{Op: OpDeleteRange, Key: []byte("a")}, "a", "", true},
		{"batch put", &Command{Op: OpBatchPut, Pairs: []Pair{{Key: []byte("m")}, {Key: []byte("b")}, {Key: []byte("x")}}}, "b", "x\x00", false},
		{"batch delete", &Command{Op: OpBatchDelete, Keys: [][]byte{[]byte("q"), []byte("q")}}, "q", "q\x00", false},
	}
	for _, c := range cases {
		start, end := c.cmd.Span()
		require.Equal(t, c.start, string(start), c.name)
		if c.unbounded {
			require.Nil(t, end, c.name)
		} else {
			require.Equal(t, c.end, string(end), c.name)
		}
	}
}
