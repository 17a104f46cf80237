package db

import (
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache lines, from one buffer the process keeps
// (SQLITE_CONFIG_PAGECACHE, https://sqlite.org/c3ref/c_config_covering_index_scan.html#sqliteconfigpagecache).
//
// In WAL mode a connection empties its page cache whenever another
// connection has committed since its last read (pager_reset), and reads
// the pages again. Each page is a malloc of about 4.3 KB, which the pure-Go
// port's allocator (modernc.org/memory) places in 8 KB slots of 64 KB
// mappings, and unmaps a mapping as soon as its slots are all free: under
// concurrent writes every connection's cache was freed and refilled with
// an munmap and an mmap per few pages, 3–5 % of the node's CPU on the token
// endpoint and the partner API (issue 14's profiles). From one buffer
// SQLite takes and returns lines under its own lock and never gives memory
// back, so nothing is mapped or unmapped on the way.
//
// pageCacheLines is the buffer's size in lines: more than every pooled
// connection's working set (SetMaxOpenConns(8) × a few dozen pages); a
// request for more, or for a page larger than pageCacheLinePage, falls
// back to SQLite's malloc as before.
const (
	pageCacheLines    = 2048
	pageCacheLinePage = 4096 // SQLite's default page size, which Bankbridge's databases keep
)

// pageCacheOnce configures the page cache once per process, before SQLite
// is initialised (sqlite3_config refuses afterwards).
var pageCacheOnce sync.Once

// pageCacheConfigured is whether SQLite took the buffer: false when SQLite
// was initialised before the first Open (then it keeps its malloc, which
// is only slower).
var pageCacheConfigured bool

// configurePageCache gives SQLite its page cache buffer, once, before the
// first SQLite connection of the process is opened.
func configurePageCache() {
	pageCacheOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		// The bytes SQLite keeps beside each page (SQLITE_CONFIG_PCACHE_HDRSZ),
		// written into C memory (Go memory may move while SQLite writes).
		hdr := libc.Xmalloc(tls, 8)
		if hdr == 0 {
			return
		}
		defer libc.Xfree(tls, hdr)
		va := libc.NewVaList(hdr)
		rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, va)
		libc.Xfree(tls, va)
		if rc != sqlite3.SQLITE_OK {
			return
		}
		line := (pageCacheLinePage + int(libc.AtomicLoadPInt32(hdr)) + 7) &^ 7
		// The buffer lives as long as the process: SQLite holds it from
		// here on, so it is never freed.
		buf := libc.Xmalloc(tls, libc.Tsize_t(line*pageCacheLines))
		if buf == 0 {
			return
		}
		va = libc.NewVaList(buf, int32(line), int32(pageCacheLines))
		rc = sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, va)
		libc.Xfree(tls, va)
		if rc != sqlite3.SQLITE_OK {
			libc.Xfree(tls, buf)
			return
		}
		pageCacheConfigured = true
	})
}

// PageCacheStats is the state of SQLite's page cache buffer in this process.
type PageCacheStats struct {
	// Configured is whether SQLite took the buffer.
	Configured bool
	// Lines is the buffer's size in page cache lines.
	Lines int64
	// InUse and HighWater are the lines taken now and at most since the
	// process started (SQLITE_STATUS_PAGECACHE_USED).
	InUse, HighWater int64
}

// SQLitePageCache reports on the page cache buffer (configurePageCache).
func SQLitePageCache() PageCacheStats {
	out := PageCacheStats{Configured: pageCacheConfigured, Lines: pageCacheLines}
	tls := libc.NewTLS()
	defer tls.Close()
	p := libc.Xmalloc(tls, 16) // C memory: Go memory may move while SQLite writes
	if p == 0 {
		return out
	}
	defer libc.Xfree(tls, p)
	if sqlite3.Xsqlite3_status64(tls, sqlite3.SQLITE_STATUS_PAGECACHE_USED, p, p+8, 0) == sqlite3.SQLITE_OK {
		out.InUse, out.HighWater = libc.AtomicLoadPInt64(p), libc.AtomicLoadPInt64(p+8)
	}
	return out
}
