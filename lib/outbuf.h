/* outbuf.h - buffered writer to a file descriptor (usually stdout).
 *
 * Tools write output lines through an outbuf rather than stdio: it costs one
 * memcpy per line, and the tool decides when to flush. The rule the tools
 * follow is "flush before blocking on input" (lib/inputs.c does it),
 * so pipes see each line promptly when input trickles, and large inputs are
 * written in big blocks. A write error is sticky: outbuf_error() reports it,
 * and further writes are dropped. EPIPE is reported as an error too; tools
 * treat it as the normal end of a filter (they ignore SIGPIPE).
 *
 * The outbuf owns its buffer; it does not own or close the descriptor.
 */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stddef.h>
#include <string.h>

typedef struct outbuf {
	int fd;
	int err;   /* errno of the first failed write, 0 if none */
	size_t len;
	size_t cap;
	char *data;
} outbuf;

/* 0, or -1 if out of memory. cap 0 = default (256 KiB). */
int outbuf_init(outbuf *o, int fd, size_t cap);
int outbuf_flush(outbuf *o);          /* 0 or -1 (errno in o->err) */
int outbuf_write_slow(outbuf *o, const void *p, size_t n);
/* Flush and free; returns 0, or -1 if any write failed. */
int outbuf_close(outbuf *o);

/* Text for a write failure with errno e (a static string): strerror(e),
 * except EBADF, which on stdout means the descriptor is closed (see
 * cli_start) or open only for reading. */
const char *outbuf_strerror(int e);
/* outbuf_strerror(o->err). */
static inline const char *outbuf_error_text(const outbuf *o) { return outbuf_strerror(o->err); }

/* 0, or -1 once any write has failed (sticky: the caller learns of a
 * failure that happened in an earlier flush, such as EPIPE). */
static inline int outbuf_write(outbuf *o, const void *p, size_t n)
{
	if (o->cap - o->len >= n && !o->err) {
		memcpy(o->data + o->len, p, n);
		o->len += n;
		return 0;
	}
	return outbuf_write_slow(o, p, n);
}

#endif
