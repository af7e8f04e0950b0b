/* ndjson.h - newline-delimited input reader with a bounded line length.
 *
 * Reads a file (or stdin for "-") in large blocks and hands out one line at
 * a time without copying when it can. A line is the bytes before '\n'; a
 * trailing '\r' is removed (unless NDJSON_KEEP_CR); a last line without '\n' is still a line. A line
 * longer than max_line is never truncated: it is reported as an error with
 * its number, skipped to its end, and reading may go on.
 *
 * The reader owns its buffer; a returned line stays valid until the next
 * call to ndjson_next() or ndjson_close(), and is NUL-terminated
 * (line[len] == '\0'; the line itself may hold NUL bytes).
 *
 * Memory is bounded by max_line + block size (256 KiB) whatever the input:
 * a too-long line is never buffered whole. Messages about a line leave the
 * file name to the caller (ndjson_name), e.g. "line 12 is longer than 1048576 bytes (--max-line)" or
 * "invalid UTF-8 at byte 17" (bytes counted from 1 within the line).
 * Not thread-safe: one reader per thread.
 */
#ifndef NDJSON_H
#define NDJSON_H

#include <signal.h>
#include <stddef.h>

#include "diag.h"

#define NDJSON_DEFAULT_MAX_LINE (1024 * 1024)

enum ndjson_flags {
	NDJSON_CHECK_UTF8 = 1, /* report lines that are not valid UTF-8 */
	NDJSON_KEEP_CR = 2     /* keep a '\r' before '\n': it is data (--base64) */
};

enum ndjson_status {
	NDJSON_EOF = 0,
	NDJSON_LINE = 1,     /* *line, *len set */
	NDJSON_TOO_LONG = 2, /* line skipped; err says which; reading may go on */
	NDJSON_BAD_UTF8 = 3, /* *line, *len set anyway; err names the byte offset */
	NDJSON_ERROR = -1    /* read error (err->code EXIT_IOERR); stop */
};

typedef struct ndjson_reader ndjson_reader;

/* Open path ("-" or NULL = stdin). On failure returns NULL with err set:
 * EXIT_NOINPUT for a missing file, EXIT_NOPERM for permission, else
 * EXIT_IOERR. The name used in messages is "<stdin>" for stdin. */
ndjson_reader *ndjson_open(const char *path, size_t max_line, unsigned flags, errinfo *err);
/* 0 when stdin can be read; EXIT_NOINPUT with err "standard input is
 * closed" when it was closed at start (see cli_start) or is open only for
 * writing. ndjson_open("-") checks it; other readers of stdin call it. */
int ndjson_stdin_check(errinfo *err);
/* Read from an already-open descriptor (not closed by ndjson_close). */
ndjson_reader *ndjson_open_fd(int fd, const char *name, size_t max_line, unsigned flags, errinfo *err);
/* Next line. Returns an enum ndjson_status. */
int ndjson_next(ndjson_reader *r, const char **line, size_t *len, errinfo *err);
/* Number of the line last returned (1-based). */
unsigned long ndjson_lineno(const ndjson_reader *r);
const char *ndjson_name(const ndjson_reader *r);
/* Called before every blocking read(): tools flush their output here so a
 * pipe sees each line promptly when input trickles in. */
void ndjson_set_before_read(ndjson_reader *r, void (*fn)(void *), void *arg);
/* Optional: a flag set by the tool's SIGINT/SIGTERM handler. When it is
 * non-zero, the reader reads no more: lines already read are still handed
 * out, a half-read line is dropped, then NDJSON_EOF. A read interrupted by
 * the signal (handler installed without SA_RESTART) returns at once. */
void ndjson_set_stop_flag(ndjson_reader *r, const volatile sig_atomic_t *flag);
/* Block size for read() (default 256 KiB, minimum 16); only before the
 * first ndjson_next(). For tests and small-memory use. 0 or -1. */
int ndjson_set_block_size(ndjson_reader *r, size_t block);
/* Bytes of buffer the reader holds now (for tests and statistics). */
size_t ndjson_buffer_size(const ndjson_reader *r);
/* The descriptor being read (for poll(2) in a before_read hook). */
int ndjson_fd(const ndjson_reader *r);
void ndjson_close(ndjson_reader *r);

#endif
