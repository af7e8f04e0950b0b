/* outbuf.c - see outbuf.h */
#include "outbuf.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

int outbuf_init(outbuf *o, int fd, size_t cap)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	o->cap = cap ? cap : 256 * 1024;
	o->data = malloc(o->cap);
	return o->data ? 0 : -1;
}

static int write_all(outbuf *o, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int outbuf_flush(outbuf *o)
{
	if (o->err) {
		o->len = 0;
		return -1;
	}
	int rc = write_all(o, o->data, o->len);
	o->len = 0;
	return rc;
}

int outbuf_write_slow(outbuf *o, const void *p, size_t n)
{
	if (outbuf_flush(o) != 0)
		return -1;
	if (n >= o->cap)
		return write_all(o, p, n);
	memcpy(o->data, p, n);
	o->len = n;
	return 0;
}

int outbuf_close(outbuf *o)
{
	int rc = outbuf_flush(o);
	free(o->data);
	o->data = NULL;
	o->cap = 0;
	return rc;
}

const char *outbuf_strerror(int e)
{
	if (e == EBADF)
		return "output is closed or not open for writing";
	return strerror(e);
}
