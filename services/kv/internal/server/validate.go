package server

import (
	"bytes"
	"strconv"
)

// Limits bounds what one request may carry. Every violation is refused with
// codes.InvalidArgument and a message naming the limit and the actual size,
// so a client can tell which knob it ran into.
type Limits struct {
	// MaxKeySize is the largest key (and scan or range bound) in bytes.
	MaxKeySize int
	// MaxValueSize is the largest value in bytes.
	MaxValueSize int
	// MaxBatchKeys is the most keys or pairs in one batch request.
	MaxBatchKeys int
	// MaxScanLimit is the largest scan limit; limit 0 means this.
	MaxScanLimit int
}

func (l Limits) checkKey(field string, key []byte) error {
	if len(key) == 0 {
		return invalidf("%s is empty", field)
	}
	return l.checkBound(field, key)
}

// checkBound checks a range bound, which unlike a key may be empty (meaning
// the start or the end of the key space).
func (l Limits) checkBound(field string, key []byte) error {
	if len(key) > l.MaxKeySize {
		return invalidf("%s is %d bytes, over the max key size of %d bytes", field, len(key), l.MaxKeySize)
	}
	return nil
}

func (l Limits) checkValue(field string, value []byte) error {
	if len(value) > l.MaxValueSize {
		return invalidf("%s is %d bytes, over the max value size of %d bytes", field, len(value), l.MaxValueSize)
	}
	return nil
}

func (l Limits) checkBatch(n int) error {
	if n > l.MaxBatchKeys {
		return invalidf("batch has %d keys, over the max batch size of %d keys", n, l.MaxBatchKeys)
	}
	return nil
}

func (l Limits) checkKeys(keys [][]byte) error {
	if err := l.checkBatch(len(keys)); err != nil {
		return err
	}
	for i, k := range keys {
		if err := l.checkKey(indexed("keys", i), k); err != nil {
			return err
		}
	}
	return nil
}

// checkRange checks [start, end) where an empty end means the end of the key
// space; a non-empty end must sort after start.
func (l Limits) checkRange(start, end []byte) error {
	if err := l.checkBound("start_key", start); err != nil {
		return err
	}
	if err := l.checkBound("end_key", end); err != nil {
		return err
	}
	if len(end) > 0 && bytes.Compare(start, end) >= 0 {
		return invalidf("start_key %q must sort before end_key %q", truncate(start), truncate(end))
	}
	return nil
}

// scanLimit resolves a requested scan limit; 0 selects the maximum.
func (l Limits) scanLimit(limit uint32) (int, error) {
	if limit == 0 {
		return l.MaxScanLimit, nil
	}
	if uint64(limit) > uint64(l.MaxScanLimit) {
		return 0, invalidf("limit %d is over the max scan limit of %d", limit, l.MaxScanLimit)
	}
	return int(limit), nil
}

func indexed(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// truncate keeps error messages short when keys are large.
func truncate(k []byte) []byte {
	const max = 64
	if len(k) > max {
		return k[:max]
	}
	return k
}
