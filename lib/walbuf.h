/* walbuf.h - an SQLite VFS that writes a WAL in large pieces.
 *
 * SQLite writes each WAL frame as two pwrite calls, a 24-byte header and
 * the page, at offsets that straddle the file system's blocks: for a
 * growing WAL the kernel allocates and zero-fills every block twice over,
 * and a transaction of a few MB costs over a thousand system calls. The
 * relay's writer and the dedupe store write such transactions back to
 * back. This VFS wraps the default one and gathers the frames of a WAL
 * file in a buffer (WALBUF_BYTES), written with one pwrite when full, and
 * always at the end of a transaction's commit frame, before SQLite
 * publishes the frames in the wal-index: a reader never sees a frame
 * that is not in the file, and a failed write fails the commit. Any other
 * access to the WAL (a read, its size, a sync, a truncation, a write
 * elsewhere, closing) writes the buffer out first. Every other file goes
 * to the default VFS untouched.
 */
#ifndef WALBUF_H
#define WALBUF_H

/* The unix VFS writes at most 128 KiB - 1 bytes per call (its xWrite
 * masks the length with 0x1ffff and calls a shorter write a full disk). */
#define WALBUF_BYTES (126 * 1024)

/* The name of the VFS to pass to sqlite3_open_v2(), registered on first
 * use (not as the default); NULL if it could not be. */
const char *walbuf_vfs(void);

#endif
