package kvcmd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt wraps every error about a stored record that cannot be
// decoded. It is a storage failure, not a client mistake.
var ErrCorrupt = errors.New("kvcmd: corrupt record")

// record is a key's version state: its latest version and whether it is
// currently deleted. Versions of a key strictly increase over its whole
// life, across delete and re-create, because a deleted key keeps its last
// version as a tombstone. Tombstones are kept forever for now; reclaiming
// them needs a version floor that survives region split and merge, which a
// later issue must design.
//
// Where it is stored: a live key has one value record in storage.CFDefault,
// [2][version][0][value], so a put writes one key and a read reads one. A
// deleted key's version must outlive its value, so deletion moves it to a
// tombstone in storage.CFVersion, [1][version][flags=deleted], and deletes
// the value record; re-creating the key removes the tombstone again. A key
// is thus in at most one of the two column families.
//
// Keeping the version beside the user key (rather than in a per-region
// counter) is what lets versions survive region split, leader change and
// restart: the records move with their key in Raft snapshots and splits.
type record struct {
	version uint64
	deleted bool
}

// Layouts. Version record (CFVersion, tombstones only): [1][version uint64
// big-endian][flags]. Value record (CFDefault, live keys only): [2][version
// uint64 big-endian][0][value...].
const (
	versionFormat   = 1
	valueFormat     = 2
	recordHeaderLen = 1 + 8 + 1
	recordDeleted   = 1 << 0
)

// current is the version a reader sees: the record's version, or 0 when
// the key is deleted.
func (r record) current() uint64 {
	if r.deleted {
		return 0
	}
	return r.version
}

// appendVersion encodes r as a version record onto dst.
func appendVersion(dst []byte, r record) []byte {
	dst = append(dst, versionFormat)
	dst = binary.BigEndian.AppendUint64(dst, r.version)
	var flags byte
	if r.deleted {
		flags |= recordDeleted
	}
	return append(dst, flags)
}

// appendValue encodes a live key's value record onto dst.
func appendValue(dst []byte, version uint64, value []byte) []byte {
	dst = append(dst, valueFormat)
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = append(dst, 0)
	return append(dst, value...)
}

// decodeVersion decodes a version record.
func decodeVersion(b []byte) (record, error) {
	if len(b) != recordHeaderLen || b[0] != versionFormat || b[9]&^recordDeleted != 0 {
		return record{}, fmt.Errorf("%w: version record %x", ErrCorrupt, b)
	}
	r := record{version: binary.BigEndian.Uint64(b[1:9]), deleted: b[9]&recordDeleted != 0}
	if r.version == 0 {
		return record{}, fmt.Errorf("%w: version 0", ErrCorrupt)
	}
	return r, nil
}

// DecodeValue decodes a raw storage.CFDefault value as kvcmd writes it,
// returning the user value and its version, for code that walks the column
// family itself (e.g. to size a region). The value is a subslice of raw,
// not a copy: it is only valid as long as raw is; it is non-nil (empty for
// an empty value).
func DecodeValue(raw []byte) (value []byte, version uint64, err error) {
	if len(raw) < recordHeaderLen {
		return nil, 0, fmt.Errorf("%w: value record of %d bytes, shorter than the %d-byte header", ErrCorrupt, len(raw), recordHeaderLen)
	}
	if raw[0] != valueFormat || raw[9] != 0 {
		return nil, 0, fmt.Errorf("%w: value record header %x", ErrCorrupt, raw[:recordHeaderLen])
	}
	version = binary.BigEndian.Uint64(raw[1:9])
	if version == 0 {
		return nil, 0, fmt.Errorf("%w: version 0", ErrCorrupt)
	}
	return raw[recordHeaderLen:], version, nil
}
