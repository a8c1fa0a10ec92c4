package kvcmd

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrInvalid wraps every error about a malformed command, so callers can
// tell a client's mistake from a storage failure.
var ErrInvalid = errors.New("kvcmd: invalid command")

// Limits bounds what a client may propose. A zero field means no limit.
// Limits are checked when a command is proposed (Validate), never at apply
// time: replicas with different limits must still apply identically.
type Limits struct {
	MaxKeySize   int
	MaxValueSize int
	// MaxBatchKeys bounds the pairs of a batch put and the keys of a batch
	// delete. It does not bound how many keys a delete-range touches.
	MaxBatchKeys int
}

// DefaultLimits returns 4KiB keys, 4MiB values and 10000 keys per batch.
func DefaultLimits() Limits {
	return Limits{MaxKeySize: 4096, MaxValueSize: 4 << 20, MaxBatchKeys: 10000}
}

// String names the op for messages.
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpDeleteRange:
		return "delete-range"
	case OpBatchPut:
		return "batch-put"
	case OpBatchDelete:
		return "batch-delete"
	case OpCAS:
		return "cas"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// check rejects commands that no limits make valid. Apply runs it, so it
// must depend on nothing but the command.
func check(cmd *Command) error {
	if cmd == nil {
		return invalid("nil command")
	}
	switch cmd.Op {
	case OpPut, OpDelete, OpCAS:
		if len(cmd.Key) == 0 {
			return invalid("%s: empty key", cmd.Op)
		}
	case OpDeleteRange:
		if len(cmd.EndKey) > 0 && bytes.Compare(cmd.Key, cmd.EndKey) >= 0 {
			return invalid("delete-range: start key %q is not below end key %q", cmd.Key, cmd.EndKey)
		}
	case OpBatchPut:
		if len(cmd.Pairs) == 0 {
			return invalid("batch-put: no pairs")
		}
		for i, p := range cmd.Pairs {
			if len(p.Key) == 0 {
				return invalid("batch-put: pair %d: empty key", i)
			}
		}
	case OpBatchDelete:
		if len(cmd.Keys) == 0 {
			return invalid("batch-delete: no keys")
		}
		for i, k := range cmd.Keys {
			if len(k) == 0 {
				return invalid("batch-delete: key %d: empty key", i)
			}
		}
	default:
		return invalid("unknown op %d", uint8(cmd.Op))
	}
	return nil
}

// Validate returns nil or an error (wrapping ErrInvalid) whose message
// names the problem and, for size problems, the limit.
func Validate(cmd *Command, lim Limits) error {
	if err := check(cmd); err != nil {
		return err
	}
	key := func(what string, k []byte) error {
		if lim.MaxKeySize > 0 && len(k) > lim.MaxKeySize {
			return invalid("%s: %s is %d bytes, over the limit of %d (max key size)", cmd.Op, what, len(k), lim.MaxKeySize)
		}
		return nil
	}
	value := func(what string, v []byte) error {
		if lim.MaxValueSize > 0 && len(v) > lim.MaxValueSize {
			return invalid("%s: %s is %d bytes, over the limit of %d (max value size)", cmd.Op, what, len(v), lim.MaxValueSize)
		}
		return nil
	}
	count := func(n int) error {
		if lim.MaxBatchKeys > 0 && n > lim.MaxBatchKeys {
			return invalid("%s: %d keys, over the limit of %d (max batch keys)", cmd.Op, n, lim.MaxBatchKeys)
		}
		return nil
	}
	switch cmd.Op {
	case OpPut, OpCAS:
		return errors.Join(key("key", cmd.Key), value("value", cmd.Value))
	case OpDelete:
		return key("key", cmd.Key)
	case OpDeleteRange:
		return errors.Join(key("start key", cmd.Key), key("end key", cmd.EndKey))
	case OpBatchPut:
		if err := count(len(cmd.Pairs)); err != nil {
			return err
		}
		for i, p := range cmd.Pairs {
			if err := errors.Join(key(fmt.Sprintf("pair %d key", i), p.Key), value(fmt.Sprintf("pair %d value", i), p.Value)); err != nil {
				return err
			}
		}
	case OpBatchDelete:
		if err := count(len(cmd.Keys)); err != nil {
			return err
		}
		for i, k := range cmd.Keys {
			if err := key(fmt.Sprintf("key %d", i), k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Span returns the smallest key range [start, end) covering every key the
// command touches, for region checks; end nil means unbounded (a delete
// range to the end of the key space). The result is meaningless for a
// command that fails Validate.
func (c *Command) Span() (start, end []byte) {
	switch c.Op {
	case OpPut, OpDelete, OpCAS:
		return c.Key, successor(c.Key)
	case OpDeleteRange:
		if len(c.EndKey) == 0 {
			return c.Key, nil
		}
		return c.Key, c.EndKey
	case OpBatchPut:
		if len(c.Pairs) == 0 {
			return nil, nil
		}
		lo, hi := c.Pairs[0].Key, c.Pairs[0].Key
		for _, p := range c.Pairs[1:] {
			lo, hi = minKey(lo, p.Key), maxKey(hi, p.Key)
		}
		return lo, successor(hi)
	case OpBatchDelete:
		if len(c.Keys) == 0 {
			return nil, nil
		}
		lo, hi := c.Keys[0], c.Keys[0]
		for _, k := range c.Keys[1:] {
			lo, hi = minKey(lo, k), maxKey(hi, k)
		}
		return lo, successor(hi)
	}
	return nil, nil
}

// successor is the smallest key above k.
func successor(k []byte) []byte {
	return append(append(make([]byte, 0, len(k)+1), k...), 0)
}

func minKey(a, b []byte) []byte {
	if bytes.Compare(b, a) < 0 {
		return b
	}
	return a
}

func maxKey(a, b []byte) []byte {
	if bytes.Compare(b, a) > 0 {
		return b
	}
	return a
}
