/* walbuf.c - see walbuf.h.
 *
 * What SQLite (wal.c) writes into a WAL, and what this relies on:
 *   offset 0: the 32-byte WAL header, then sync or not;
 *   each frame: a 24-byte frame header (bytes 4-7: the database size in
 *   pages for the commit frame of a transaction, 0 for any other), then
 *   the page, at the next offset;
 *   a frame rewritten in place by a transaction that spilled it earlier,
 *   and checksums rewritten after, at lower offsets.
 * SQLite publishes a transaction's frames (the wal-index header) only after
 * the writes of its commit frame returned, so the buffer is written out
 * right there, in those xWrite calls, whose failure fails the commit:
 * two pwrites per transaction (up to the header, then the last page).
 */
#include "walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define WAL_FRAME_HEADER 24

typedef struct walbuf_file {
	sqlite3_file base;   /* pMethods = &wal_methods */
	char *buf;           /* WALBUF_BYTES, allocated on the first write */
	sqlite3_int64 off;   /* file offset of buf[0] */
	size_t len;          /* bytes buffered */
	int commit_frame;    /* the last write was a commit frame's header */
	sqlite3_file *real;  /* the default VFS's file, right after this */
} walbuf_file;

static sqlite3_vfs walbuf_vfs_def;
static sqlite3_vfs *real_vfs;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

/* Write the buffer to the file. */
static int flush(walbuf_file *f)
{
	if (!f->len)
		return SQLITE_OK;
	int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
	f->off += (sqlite3_int64)f->len;
	f->len = 0;
	return rc;
}

static int wal_close(sqlite3_file *p)
{
	walbuf_file *f = (walbuf_file *)p;
	int rc = flush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
	walbuf_file *f = (walbuf_file *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int wal_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
	walbuf_file *f = (walbuf_file *)p;
	size_t len = (size_t)n;
	if (!f->buf && !(f->buf = malloc(WALBUF_BYTES)))
		return f->real->pMethods->xWrite(f->real, data, n, off); /* unbuffered: slower, correct */
	int rc;
	if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + len > WALBUF_BYTES) &&
	    (rc = flush(f)) != SQLITE_OK)
		return rc;
	if (len > WALBUF_BYTES)
		return f->real->pMethods->xWrite(f->real, data, n, off);
	if (!f->len)
		f->off = off;
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	/* A commit frame's page completes the transaction: out it goes,
	 * before SQLite makes it visible to readers. */
	if (f->commit_frame) {
		f->commit_frame = 0;
		return flush(f);
	}
	/* So does its header, with all before it: when SQLite rewrites the
	 * checksums of a transaction's frames, a commit frame's header is
	 * the last thing it writes before publishing them. */
	if (len == WAL_FRAME_HEADER) {
		const unsigned char *h = data;
		if (h[4] | h[5] | h[6] | h[7]) {
			f->commit_frame = 1;
			return flush(f);
		}
	}
	return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	walbuf_file *f = (walbuf_file *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wal_sync(sqlite3_file *p, int flags)
{
	walbuf_file *f = (walbuf_file *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wal_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
	walbuf_file *f = (walbuf_file *)p;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wal_lock(sqlite3_file *p, int level)
{
	walbuf_file *f = (walbuf_file *)p;
	return f->real->pMethods->xLock(f->real, level);
}

static int wal_unlock(sqlite3_file *p, int level)
{
	walbuf_file *f = (walbuf_file *)p;
	return f->real->pMethods->xUnlock(f->real, level);
}

static int wal_check_reserved(sqlite3_file *p, int *out)
{
	walbuf_file *f = (walbuf_file *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wal_file_control(sqlite3_file *p, int op, void *arg)
{
	walbuf_file *f = (walbuf_file *)p;
	/* Size hints, chunk sizes, persist-WAL: none must pass what is still
	 * in the buffer. */
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wal_sector_size(sqlite3_file *p)
{
	walbuf_file *f = (walbuf_file *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int wal_device(sqlite3_file *p)
{
	walbuf_file *f = (walbuf_file *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* A WAL file has no shared memory and is never memory-mapped: version 1
 * methods, so SQLite asks for neither. */
static const sqlite3_io_methods wal_methods = {
	1,
	wal_close,
	wal_read,
	wal_write,
	wal_truncate,
	wal_sync,
	wal_file_size,
	wal_lock,
	wal_unlock,
	wal_check_reserved,
	wal_file_control,
	wal_sector_size,
	wal_device,
	NULL, NULL, NULL, NULL, NULL, NULL,
};

static int walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		       int *out_flags)
{
	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		return real_vfs->xOpen(real_vfs, name, file, flags, out_flags);
	walbuf_file *f = (walbuf_file *)file;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	/* SQLite calls xClose only when pMethods is set. */
	f->base.pMethods = f->real->pMethods ? &wal_methods : NULL;
	return rc;
}

static void register_vfs(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (!real_vfs)
		return;
	/* The default VFS's own methods and data: they see the same
	 * pAppData and limits, whichever of the two pointers they get. */
	walbuf_vfs_def = *real_vfs;
	walbuf_vfs_def.pNext = NULL;
	walbuf_vfs_def.zName = "outbox-walbuf";
	walbuf_vfs_def.szOsFile = (int)sizeof(walbuf_file) + real_vfs->szOsFile;
	walbuf_vfs_def.xOpen = walbuf_open;
	registered = sqlite3_vfs_register(&walbuf_vfs_def, 0) == SQLITE_OK;
}

const char *walbuf_vfs(void)
{
	if (pthread_once(&once, register_vfs) != 0 || !registered)
		return NULL;
	return walbuf_vfs_def.zName;
}
