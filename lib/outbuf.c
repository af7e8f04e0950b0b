/* outbuf.c - see outbuf.h */
#include "outbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A pipe's buffer is 64 KiB: a 256 KiB block then blocks the writer four
 * times, each time until the reader has drained it all, and on a busy
 * machine every one of those waits is two context switches. Grown to
 * PIPE_BYTES (Linux allows unprivileged processes up to 1 MiB,
 * /proc/sys/fs/pipe-max-size), a block goes in at once while the reader
 * works on the last. Only grown, never shrunk; where it cannot be,
 * nothing changes. */
#define PIPE_BYTES (1024 * 1024)

static void grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
		return;
	int now = fcntl(fd, F_GETPIPE_SZ);
	if (now >= 0 && now < PIPE_BYTES)
		(void)fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
#else
	(void)fd;
#endif
}

int outbuf_init(outbuf *o, int fd, size_t cap)
{
	grow_pipe(fd);
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
