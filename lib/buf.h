/* buf.h - growable byte buffer with a hard maximum.
 *
 * A buf owns its storage; buf_free() releases it. Appends are all or
 * nothing: a failed append (out of memory, or past the maximum given to
 * buf_init) returns -1 and leaves the contents unchanged. The data is always
 * NUL-terminated after a successful append (the NUL is not counted in len).
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard maximum for len */
} buf;

#define BUF_INIT(maxlen) { NULL, 0, 0, (maxlen) }

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
/* Make room for extra more bytes (plus a NUL); 0 or -1. */
int buf_grow(buf *b, size_t extra);
int buf_printf(buf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static inline void buf_reset(buf *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

static inline int buf_reserve(buf *b, size_t extra)
{
	if (b->cap - b->len > extra)
		return 0;
	return buf_grow(b, extra);
}

static inline int buf_append(buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static inline int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

static inline int buf_putc(buf *b, char c)
{
	if (buf_reserve(b, 1) != 0)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

#endif
