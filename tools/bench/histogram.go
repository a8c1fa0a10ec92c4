package main

import (
	"math"
	"sync/atomic"
	"time"
)

// histogram records latencies in log-spaced buckets (about 2% wide) from
// 1µs to ~100s with lock-free counters, so hundreds of client goroutines can
// record without contending on a mutex and a quantile is never more than one
// bucket width off.
type histogram struct {
	buckets [numBuckets]atomic.Uint64
	count   atomic.Uint64
}

const (
	bucketGrowth = 1.02
	numBuckets   = 940 // 1.02^940 µs ≈ 120 s
)

var logGrowth = math.Log(bucketGrowth)

func bucketOf(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	b := int(math.Log(us) / logGrowth)
	if b >= numBuckets {
		return numBuckets - 1
	}
	return b
}

// upperBound is the largest latency that falls in bucket b.
func upperBound(b int) time.Duration {
	return time.Duration(math.Pow(bucketGrowth, float64(b+1)) * float64(time.Microsecond))
}

func (h *histogram) record(d time.Duration) {
	h.buckets[bucketOf(d)].Add(1)
	h.count.Add(1)
}

// snapshot copies the counters; merge and quantiles work on the copy.
func (h *histogram) snapshot() *histSnapshot {
	s := &histSnapshot{}
	for i := range h.buckets {
		s.buckets[i] = h.buckets[i].Load()
		s.count += s.buckets[i]
	}
	return s
}

type histSnapshot struct {
	buckets [numBuckets]uint64
	count   uint64
}

// sub returns the counts recorded between prev and s.
func (s *histSnapshot) sub(prev *histSnapshot) *histSnapshot {
	d := &histSnapshot{}
	for i := range s.buckets {
		d.buckets[i] = s.buckets[i] - prev.buckets[i]
		d.count += d.buckets[i]
	}
	return d
}

// quantile returns the upper bound of the bucket holding quantile q (0..1).
func (s *histSnapshot) quantile(q float64) time.Duration {
	if s.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.count)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range s.buckets {
		seen += c
		if seen >= rank {
			return upperBound(i)
		}
	}
	return upperBound(numBuckets - 1)
}
