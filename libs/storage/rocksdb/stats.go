package rocksdb

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/linxGnu/grocksdb"

	"github.com/flaredb/flaredb/libs/storage"
)

// Stats implements storage.Engine. Counters come from RocksDB's statistics
// (cumulative since Open); sizes are summed over the column families'
// properties. It is meant for a metrics scrape, not a hot path: it parses
// RocksDB's statistics dump. After Close it returns zeros.
func (e *Engine) Stats() storage.Stats {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var st storage.Stats
	if e.closed {
		return st
	}
	t := parseTickers(e.opts.GetStatisticsString())
	st.BytesWritten = t["rocksdb.bytes.written"]
	st.BytesRead = t["rocksdb.bytes.read"]
	st.BlockCacheHit = t["rocksdb.block.cache.hit"]
	st.BlockCacheMiss = t["rocksdb.block.cache.miss"]
	st.WALSyncs = t["rocksdb.wal.synced"]
	for _, h := range e.handles {
		st.MemtableBytes += e.intProp("rocksdb.cur-size-all-mem-tables", h)
		st.PendingCompactionBytes += e.intProp("rocksdb.estimate-pending-compaction-bytes", h)
		st.LiveDataBytes += e.intProp("rocksdb.estimate-live-data-size", h)
		st.EstimatedKeys += e.intProp("rocksdb.estimate-num-keys", h)
	}
	return st
}

func (e *Engine) intProp(name string, h *grocksdb.ColumnFamilyHandle) uint64 {
	v, _ := e.db.GetIntPropertyCF(name, h)
	return v
}

// parseTickers reads the "name COUNT : n" lines of a RocksDB statistics
// dump; histogram lines do not match and are skipped.
func parseTickers(dump string) map[string]uint64 {
	out := make(map[string]uint64)
	sc := bufio.NewScanner(strings.NewReader(dump))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[1] != "COUNT" || f[2] != ":" {
			continue
		}
		if n, err := strconv.ParseUint(f[3], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out
}
