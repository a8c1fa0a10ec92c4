package kvcmd

import (
	"encoding/binary"
	"fmt"
)

// record is the value stored under a user key in storage.CFVersion: the
// key's latest version and whether the key is currently deleted. A record
// is never removed, only turned into a tombstone, so the next version of a
// re-created key continues above every version the key ever had. Tombstones
// are kept forever for now; reclaiming them needs a version floor that
// survives region split and merge, which a later issue must design.
//
// Keeping the version beside the user key (rather than in a per-region
// counter) is what lets versions survive region split, leader change and
// restart: the record moves with its key in Raft snapshots and splits.
type record struct {
	version uint64
	deleted bool
}

const (
	recordFormat  = 1
	recordLen     = 1 + 8 + 1
	recordDeleted = 1 << 0
)

// current is the version a reader sees: the record's version, or 0 when
// the key is deleted.
func (r record) current() uint64 {
	if r.deleted {
		return 0
	}
	return r.version
}

// appendTo encodes r as [format][version big-endian][flags].
func (r record) appendTo(dst []byte) []byte {
	dst = append(dst, recordFormat)
	dst = binary.BigEndian.AppendUint64(dst, r.version)
	var flags byte
	if r.deleted {
		flags |= recordDeleted
	}
	return append(dst, flags)
}

func decodeRecord(b []byte) (record, error) {
	if len(b) != recordLen || b[0] != recordFormat || b[9]&^recordDeleted != 0 {
		return record{}, fmt.Errorf("kvcmd: corrupt version record %x", b)
	}
	return record{version: binary.BigEndian.Uint64(b[1:9]), deleted: b[9]&recordDeleted != 0}, nil
}
