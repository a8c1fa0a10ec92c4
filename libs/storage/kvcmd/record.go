package kvcmd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt wraps every error about a stored record that cannot be
// decoded. It is a storage failure, not a client mistake.
var ErrCorrupt = errors.New("kvcmd: corrupt record")

// record is the header of what is stored under a user key in
// storage.CFDefault: the key's latest version and whether the key is
// currently deleted. The value bytes follow the header in the same
// RocksDB value, so one engine read or write covers version and value.
//
// A record is never removed, only turned into a tombstone (the deleted flag
// and no value bytes), so the next version of a re-created key continues
// above every version the key ever had. Tombstones are kept forever for
// now; reclaiming them needs a version floor that survives region split and
// merge, which a later issue must design.
//
// Keeping the version beside the user key (rather than in a per-region
// counter) is what lets versions survive region split, leader change and
// restart: the record moves with its key in Raft snapshots and splits.
type record struct {
	version uint64
	deleted bool
}

// Record layout: [format][version uint64 big-endian][flags][value...].
//
// Format 1 kept the header alone in storage.CFVersion and the value under
// the same key in storage.CFDefault (two keys per user key). Format 2 puts
// both in CFDefault. There is no migration: FlareDB has no release whose
// data must be read, so a format 1 record is reported as corrupt and the
// data directory has to be recreated.
const (
	recordFormat    = 2
	oldRecordFormat = 1
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

// appendRecord encodes r followed by value (which must be empty for a
// tombstone) onto dst.
func appendRecord(dst []byte, r record, value []byte) []byte {
	dst = append(dst, recordFormat)
	dst = binary.BigEndian.AppendUint64(dst, r.version)
	var flags byte
	if r.deleted {
		flags |= recordDeleted
	}
	dst = append(dst, flags)
	return append(dst, value...)
}

// decodeRecord splits a stored record into its header and value. The value
// is a subslice of b, not a copy: it is only valid as long as b is. For a
// tombstone the value is nil; for a live key it is non-nil (empty for an
// empty value).
func decodeRecord(b []byte) (record, []byte, error) {
	if len(b) < recordHeaderLen {
		return record{}, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), recordHeaderLen)
	}
	switch b[0] {
	case recordFormat:
	case oldRecordFormat:
		return record{}, nil, fmt.Errorf("%w: format 1 (version and value in separate column families) is no longer "+
			"supported and is not migrated; recreate the data directory", ErrCorrupt)
	default:
		return record{}, nil, fmt.Errorf("%w: unknown format %d", ErrCorrupt, b[0])
	}
	flags := b[9]
	if flags&^recordDeleted != 0 {
		return record{}, nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	r := record{version: binary.BigEndian.Uint64(b[1:9]), deleted: flags&recordDeleted != 0}
	if r.version == 0 {
		return record{}, nil, fmt.Errorf("%w: version 0", ErrCorrupt)
	}
	if r.deleted {
		if len(b) != recordHeaderLen {
			return record{}, nil, fmt.Errorf("%w: tombstone with %d value bytes", ErrCorrupt, len(b)-recordHeaderLen)
		}
		return r, nil, nil
	}
	return r, b[recordHeaderLen:], nil
}

// DecodeValue decodes a raw storage.CFDefault value as kvcmd writes it, for
// code that walks the column family itself (e.g. to size a region): it
// returns the user value and version, or a nil value and version 0 for a
// deleted key's tombstone. The value is a subslice of raw, not a copy.
func DecodeValue(raw []byte) (value []byte, version uint64, err error) {
	r, v, err := decodeRecord(raw)
	if err != nil {
		return nil, 0, err
	}
	return v, r.current(), nil
}
