/* fuzz_ndjson.c - the reader against a plain split on '\n', through a
 * memfd with a small max_line and block so every boundary case is hit.
 * The first two bytes choose max_line, block size and flags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ndjson.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t max = data[0] % 64;
	size_t block = 16 + data[1] % 64;
	unsigned flags = data[1] & 0x80 ? NDJSON_CHECK_UTF8 : 0;
	const char *in = (const char *)data + 2;
	size_t n = size - 2;

	int fd = memfd_create("fuzz_ndjson", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (n && write(fd, in, n) != (ssize_t)n)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	errinfo err = {0};
	ndjson_reader *r = ndjson_open_fd(fd, "fuzz", max, flags, &err);
	if (!r)
		abort();
	if (ndjson_set_block_size(r, block) != 0)
		abort();

	size_t pos = 0;
	unsigned long no = 0;
	for (;;) {
		const char *line;
		size_t len;
		int st = ndjson_next(r, &line, &len, &err);
		if (ndjson_buffer_size(r) > max + 2 + block)
			abort();
		if (st == NDJSON_EOF) {
			if (pos < n)
				abort(); /* input left over */
			break;
		}
		if (pos >= n)
			abort(); /* a line out of nothing */
		const char *e = memchr(in + pos, '\n', n - pos);
		size_t end = e ? (size_t)(e - in) : n;
		size_t want = end - pos;
		if (want && in[end - 1] == '\r')
			want--;
		if (ndjson_lineno(r) != ++no)
			abort();
		if (want > max) {
			if (st != NDJSON_TOO_LONG)
				abort();
		} else {
			int bad = (flags & NDJSON_CHECK_UTF8) && !utf8_valid(in + pos, want);
			if (st != (bad ? NDJSON_BAD_UTF8 : NDJSON_LINE))
				abort();
			if (len != want || len > max || memchr(line, '\n', len) || line[len] != '\0' ||
			    memcmp(line, in + pos, len) != 0)
				abort();
		}
		pos = end + 1;
	}
	ndjson_close(r);
	close(fd);
	return 0;
}
