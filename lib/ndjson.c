/* ndjson.c - see ndjson.h
 *
 * One buffer holds [start, end) unread bytes. A line is handed out in place
 * when its '\n' is in the buffer. Otherwise the partial line is moved to the
 * front, the buffer grows if the partial line needs it (never past
 * max_line + 2 + block), and more is read. A partial line that already
 * exceeds max_line is dropped at once and the rest of it skipped block by
 * block, so memory stays bounded whatever the input.
 */
#include "ndjson.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcode.h"
#include "utf8.h"

#define BLOCK_DEFAULT (256 * 1024)
#define BLOCK_MIN 16

struct ndjson_reader {
	int fd;
	int own_fd;
	char *name;
	size_t max_line;
	unsigned flags;
	char *buf;
	size_t cap;   /* allocated bytes; one is kept for a NUL after a line */
	size_t block; /* bytes asked of each read() at least, when room allows */
	size_t start; /* first unread byte */
	size_t end;   /* one past the last byte read */
	size_t scan;  /* bytes from start known to hold no '\n' */
	unsigned long lineno;
	int eof;
	int skipping; /* inside a too-long line: discard up to its '\n' */
	void (*before_read)(void *);
	void *before_read_arg;
	const volatile sig_atomic_t *stop;
};

/* Largest buffer ever needed: a partial line of max_line + 1 bytes (a
 * '\r' may follow the last allowed byte), room for one block, the NUL. */
static size_t max_cap(const ndjson_reader *r)
{
	return r->max_line + 2 + r->block;
}

static int set_open_error(errinfo *err, const char *name, int e)
{
	return errinfo_set(err, exitcode_for_open(e), "cannot open %s: %s", name, strerror(e));
}

ndjson_reader *ndjson_open_fd(int fd, const char *name, size_t max_line, unsigned flags, errinfo *err)
{
	if (!name)
		name = "<stdin>";
	/* Keep max_line + 2 + block far from overflow; no real line is
	 * anywhere near this. */
	if (max_line > SIZE_MAX / 4)
		max_line = SIZE_MAX / 4;
	ndjson_reader *r = calloc(1, sizeof *r);
	char *nm = strdup(name);
	size_t cap = BLOCK_DEFAULT;
	char *b = malloc(cap);
	if (!r || !nm || !b) {
		free(r);
		free(nm);
		free(b);
		errinfo_set(err, EXIT_SOFTWARE, "cannot read %s: out of memory", name);
		return NULL;
	}
	r->fd = fd;
	r->name = nm;
	r->max_line = max_line;
	r->flags = flags;
	r->buf = b;
	r->cap = cap;
	r->block = BLOCK_DEFAULT;
	return r;
}

int ndjson_stdin_check(errinfo *err)
{
	/* A closed stdin (cli_start left a write-only placeholder there) is
	 * a missing input, not an empty one. */
	int fl = fcntl(STDIN_FILENO, F_GETFL);
	if (fl == -1 || (fl & O_ACCMODE) == O_WRONLY)
		return errinfo_set(err, EXIT_NOINPUT, "standard input is closed");
	return 0;
}

ndjson_reader *ndjson_open(const char *path, size_t max_line, unsigned flags, errinfo *err)
{
	if (!path || strcmp(path, "-") == 0) {
		if (ndjson_stdin_check(err) != 0)
			return NULL;
		return ndjson_open_fd(STDIN_FILENO, "<stdin>", max_line, flags, err);
	}
	int fd;
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		set_open_error(err, path, errno);
		return NULL;
	}
	/* open() succeeds on a directory; read() would fail later with a
	 * less helpful message. */
	struct stat st;
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
		close(fd);
		set_open_error(err, path, e);
		return NULL;
	}
	if (S_ISREG(st.st_mode))
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint only */
	ndjson_reader *r = ndjson_open_fd(fd, path, max_line, flags, err);
	if (!r) {
		close(fd);
		return NULL;
	}
	r->own_fd = 1;
	return r;
}

int ndjson_set_block_size(ndjson_reader *r, size_t block)
{
	if (block < BLOCK_MIN)
		block = BLOCK_MIN;
	if (block > SIZE_MAX / 4)
		block = SIZE_MAX / 4;
	if (r->start != 0 || r->end != 0 || r->lineno != 0 || r->eof)
		return -1; /* only before the first read */
	char *b = malloc(block);
	if (!b)
		return -1;
	free(r->buf);
	r->buf = b;
	r->cap = block;
	r->block = block;
	return 0;
}

void ndjson_set_stop_flag(ndjson_reader *r, const volatile sig_atomic_t *flag)
{
	r->stop = flag;
}

unsigned long ndjson_lineno(const ndjson_reader *r)
{
	return r->lineno;
}

const char *ndjson_name(const ndjson_reader *r)
{
	return r->name;
}

size_t ndjson_buffer_size(const ndjson_reader *r)
{
	return r->cap;
}

int ndjson_fd(const ndjson_reader *r) { return r->fd; }

void ndjson_set_before_read(ndjson_reader *r, void (*fn)(void *), void *arg)
{
	r->before_read = fn;
	r->before_read_arg = arg;
}

void ndjson_close(ndjson_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->buf);
	free(r->name);
	free(r);
}

static int stopped(const ndjson_reader *r)
{
	return r->stop && *r->stop;
}

/* Read once into buf[end, cap - 1). 1 data, 0 end of input (or stop
 * requested), -1 error (err set). */
static int fill(ndjson_reader *r, errinfo *err)
{
	if (stopped(r))
		return 0;
	if (r->before_read)
		r->before_read(r->before_read_arg);
	for (;;) {
		ssize_t k = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
		if (k > 0) {
			r->end += (size_t)k;
			return 1;
		}
		if (k == 0)
			return 0;
		if (errno == EINTR) {
			if (stopped(r))
				return 0;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* An inherited non-blocking descriptor: wait for data
			 * rather than fail or spin. */
			struct pollfd p = {.fd = r->fd, .events = POLLIN};
			if (poll(&p, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		errinfo_set(err, EXIT_IOERR, "cannot read %s: %s", r->name, strerror(errno));
		return -1;
	}
}

/* Make room to read at least a good part of a block after the partial line
 * in [start, end): move it to the front, and grow when it fills most of the
 * buffer. -1 only when memory is short (err set). */
static int make_room(ndjson_reader *r, errinfo *err)
{
	size_t avail = r->end - r->start;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, avail);
		r->start = 0;
		r->end = avail;
	}
	size_t room = r->cap - 1 - r->end;
	if (room >= r->block / 2 || r->cap >= max_cap(r))
		return 0;
	size_t want = r->cap * 2;
	if (want < r->end + r->block + 1)
		want = r->end + r->block + 1;
	if (want > max_cap(r))
		want = max_cap(r);
	char *b = realloc(r->buf, want);
	if (!b) {
		if (room > 0)
			return 0; /* carry on with smaller reads */
		errinfo_set(err, EXIT_SOFTWARE, "cannot read %s: out of memory", r->name);
		return -1;
	}
	r->buf = b;
	r->cap = want;
	return 0;
}

/* Hand out p[0..n), the bytes before a '\n' (or before the end of input). */
static int deliver(ndjson_reader *r, char *p, size_t n, const char **line, size_t *len, errinfo *err)
{
	if (n > 0 && p[n - 1] == '\r' && !(r->flags & NDJSON_KEEP_CR))
		n--;
	r->lineno++;
	if (n > r->max_line) {
		errinfo_set(err, EXIT_DATAERR, "line %lu is longer than %zu bytes (--max-line)",
			    r->lineno, r->max_line);
		return NDJSON_TOO_LONG;
	}
	/* Over the '\n' or '\r', or the byte kept free at the buffer's end. */
	p[n] = '\0';
	*line = p;
	*len = n;
	if (r->flags & NDJSON_CHECK_UTF8) {
		size_t ok = utf8_valid_prefix(p, n);
		if (ok != n) {
			errinfo_set(err, EXIT_DATAERR, "invalid UTF-8 at byte %zu", ok + 1);
			return NDJSON_BAD_UTF8;
		}
	}
	return NDJSON_LINE;
}

int ndjson_next(ndjson_reader *r, const char **line, size_t *len, errinfo *err)
{
	for (;;) {
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p + r->scan, '\n', avail - r->scan);
		if (r->skipping) {
			if (nl) {
				r->skipping = 0;
				r->start += (size_t)(nl - p) + 1;
				r->scan = 0;
				continue;
			}
			/* Still inside the long line: drop what we hold. */
			r->start = r->end = r->scan = 0;
		} else if (nl) {
			size_t n = (size_t)(nl - p);
			r->start += n + 1;
			r->scan = 0;
			return deliver(r, p, n, line, len, err);
		} else {
			r->scan = avail;
			if (r->eof) {
				if (avail == 0)
					return NDJSON_EOF;
				r->start = r->end;
				r->scan = 0;
				return deliver(r, p, avail, line, len, err);
			}
			/* Too long already? (max_line + 1 bytes may still be a
			 * full line plus its '\r'.) Report now and skip the
			 * rest, without buffering it. */
			if (avail > r->max_line + 1 ||
			    (avail == r->max_line + 1 && p[avail - 1] != '\r')) {
				r->lineno++;
				r->skipping = 1;
				r->start = r->end = r->scan = 0;
				errinfo_set(err, EXIT_DATAERR, "line %lu is longer than %zu bytes (--max-line)",
					    r->lineno, r->max_line);
				return NDJSON_TOO_LONG;
			}
			if (make_room(r, err) != 0)
				return NDJSON_ERROR;
		}
		if (r->eof)
			return NDJSON_EOF;
		int rc = fill(r, err);
		if (rc < 0)
			return NDJSON_ERROR;
		if (rc == 0) {
			r->eof = 1;
			if (stopped(r) || r->skipping) {
				/* A stop request must not turn a half-read
				 * line into a line; a skipped line is gone. */
				r->skipping = 0;
				r->start = r->end = r->scan = 0;
			}
		}
	}
}
