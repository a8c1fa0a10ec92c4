// Package keys encodes every key FlareDB stores that is not a user key:
// Raft log entries and Raft state per region (storage.CFRaft), region and
// store metadata (storage.CFMeta), and PD's own durable state (storage.CFMeta
// under a "pd/" prefix). It exists so that each kind of key has exactly one
// encoding, kinds never collide, and numeric parts are big-endian so that
// iteration order is numeric order (a region's log scans by index).
package keys
