package kvcmd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// codecFormat is the first byte of every encoded command, so the encoding
// can change later without misreading old Raft log entries.
const codecFormat = 1

const flagDelete = 1 << 0

// Marshal encodes c compactly and deterministically (the same command
// always gives the same bytes) for Raft proposals:
//
//	format(1) op(1) flags(1) uvarint(ExpectedVersion)
//	bytes(Key) bytes(EndKey) bytes(Value)
//	uvarint(len Pairs) {bytes(Key) bytes(Value)}...
//	uvarint(len Keys) {bytes(Key)}...
//
// where bytes(x) is uvarint(len x) followed by x. Nil and empty slices
// encode alike.
func (c *Command) Marshal() []byte {
	n := 3 + uvarintLen(c.ExpectedVersion) + bytesLen(c.Key) + bytesLen(c.EndKey) + bytesLen(c.Value) +
		uvarintLen(uint64(len(c.Pairs))) + uvarintLen(uint64(len(c.Keys)))
	for _, p := range c.Pairs {
		n += bytesLen(p.Key) + bytesLen(p.Value)
	}
	for _, k := range c.Keys {
		n += bytesLen(k)
	}
	b := make([]byte, 0, n)
	var flags byte
	if c.Delete {
		flags |= flagDelete
	}
	b = append(b, codecFormat, byte(c.Op), flags)
	b = binary.AppendUvarint(b, c.ExpectedVersion)
	b = appendBytes(b, c.Key)
	b = appendBytes(b, c.EndKey)
	b = appendBytes(b, c.Value)
	b = binary.AppendUvarint(b, uint64(len(c.Pairs)))
	for _, p := range c.Pairs {
		b = appendBytes(b, p.Key)
		b = appendBytes(b, p.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Keys)))
	for _, k := range c.Keys {
		b = appendBytes(b, k)
	}
	return b
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func bytesLen(x []byte) int { return uvarintLen(uint64(len(x))) + len(x) }

func appendBytes(b, x []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

var errTruncated = errors.New("kvcmd: truncated command")

// Unmarshal decodes what Marshal produced. It copies b once, so the caller
// may reuse b; empty fields decode as nil. It checks the encoding only;
// Apply and Validate judge the command.
func Unmarshal(b []byte) (*Command, error) {
	if len(b) < 3 {
		return nil, errTruncated
	}
	if b[0] != codecFormat {
		return nil, fmt.Errorf("kvcmd: unknown command format %d", b[0])
	}
	if b[2]&^flagDelete != 0 {
		return nil, fmt.Errorf("kvcmd: unknown command flags %#x", b[2])
	}
	d := decoder{buf: append([]byte(nil), b[3:]...)}
	c := &Command{Op: Op(b[1]), Delete: b[2]&flagDelete != 0}
	c.ExpectedVersion = d.uvarint()
	c.Key = d.bytes()
	c.EndKey = d.bytes()
	c.Value = d.bytes()
	// Each element takes at least one byte per field, which bounds the
	// counts by what is left and keeps a corrupt count from allocating
	// huge slices.
	if n := d.count(2); n > 0 {
		c.Pairs = make([]Pair, n)
		for i := range c.Pairs {
			c.Pairs[i].Key = d.bytes()
			c.Pairs[i].Value = d.bytes()
		}
	}
	if n := d.count(1); n > 0 {
		c.Keys = make([][]byte, n)
		for i := range c.Keys {
			c.Keys[i] = d.bytes()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("kvcmd: %d trailing bytes after command", len(d.buf))
	}
	return c, nil
}

// decoder consumes buf; after the first error every read returns zero.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.err = errTruncated
		return nil
	}
	if n == 0 {
		return nil
	}
	// Cap the slice so an append by the caller cannot clobber the next field.
	x := d.buf[:n:n]
	d.buf = d.buf[n:]
	return x
}

func (d *decoder) count(minElemLen uint64) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf))/minElemLen {
		d.err = errTruncated
		return 0
	}
	return int(n)
}
