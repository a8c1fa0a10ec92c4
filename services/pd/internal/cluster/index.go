package cluster

import (
	"bytes"
	"sort"
)

// regionIndex keeps regions sorted by start key. Regions in it never
// overlap: an insert is preceded by removing every overlapping region.
// A sorted slice is enough for the region counts one PD serves here.
type regionIndex struct {
	items []*regionEntry
}

// search returns the position of the first region whose start key is
// greater than key.
func (x *regionIndex) search(key []byte) int {
	return sort.Search(len(x.items), func(i int) bool {
		return bytes.Compare(x.items[i].region.GetStartKey(), key) > 0
	})
}

// find returns the region containing key, or nil.
func (x *regionIndex) find(key []byte) *regionEntry {
	i := x.search(key) - 1
	if i < 0 {
		return nil
	}
	e := x.items[i]
	if end := e.region.GetEndKey(); len(end) != 0 && bytes.Compare(key, end) >= 0 {
		return nil
	}
	return e
}

// overlaps returns the regions intersecting [start, end); empty end means
// +infinity.
func (x *regionIndex) overlaps(start, end []byte) []*regionEntry {
	i := max(x.search(start)-1, 0)
	var out []*regionEntry
	for ; i < len(x.items); i++ {
		r := x.items[i].region
		if len(end) != 0 && bytes.Compare(r.GetStartKey(), end) >= 0 {
			break
		}
		if re := r.GetEndKey(); len(re) != 0 && bytes.Compare(re, start) <= 0 {
			continue
		}
		out = append(out, x.items[i])
	}
	return out
}

func (x *regionIndex) insert(e *regionEntry) {
	i := x.search(e.region.GetStartKey())
	x.items = append(x.items, nil)
	copy(x.items[i+1:], x.items[i:])
	x.items[i] = e
}

func (x *regionIndex) remove(e *regionEntry) {
	for i, it := range x.items {
		if it == e {
			x.items = append(x.items[:i], x.items[i+1:]...)
			return
		}
	}
}

// scan returns up to limit regions intersecting [start, end) in key order;
// limit <= 0 means no limit.
func (x *regionIndex) scan(start, end []byte, limit int) []*regionEntry {
	out := x.overlaps(start, end)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
