/* test_ndjson.c - the bounded line reader on real files and pipes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exitcode.h"
#include "ndjson.h"
#include "unit.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/test_ndjson.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(70);
	}
}

/* Write data to a new file in tmpdir; returns its path (static storage,
 * one at a time is enough here). */
static const char *write_file(const char *name, const void *data, size_t n)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(70);
	}
	return path;
}

/* One result of ndjson_next, copied out. */
struct res {
	int st;
	unsigned long lineno;
	char text[520];
	size_t len;
};

/* Read everything; returns the number of results (at most cap). */
static size_t read_all(ndjson_reader *r, struct res *out, size_t cap)
{
	size_t k = 0;
	for (;;) {
		const char *line = NULL;
		size_t len = 0;
		errinfo err = {0};
		int st = ndjson_next(r, &line, &len, &err);
		if (st == NDJSON_EOF || k == cap)
			break;
		out[k].st = st;
		out[k].lineno = ndjson_lineno(r);
		out[k].len = len;
		if (st == NDJSON_LINE || st == NDJSON_BAD_UTF8) {
			snprintf(out[k].text, sizeof out[k].text, "%.*s", (int)(len < 60 ? len : 60), line);
			if (line[len] != '\0')
				out[k].st = 99; /* NUL-termination broken */
		} else {
			snprintf(out[k].text, sizeof out[k].text, "%s", err.text);
		}
		k++;
		if (st == NDJSON_ERROR)
			break;
	}
	return k;
}

static ndjson_reader *open_data(const char *data, size_t n, size_t max, unsigned flags, size_t block)
{
	const char *p = write_file("in.ndjson", data, n);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open(p, max, flags, &err);
	CHECK(r != NULL);
	if (r && block)
		CHECK_INT(ndjson_set_block_size(r, block), 0);
	return r;
}

#define S(lit) lit, sizeof lit - 1

static void test_basic_lines(void)
{
	struct res v[16];
	ndjson_reader *r = open_data(S("a\r\nbb\n\n\r\nccc"), 100, 0, 0);
	if (!r)
		return;
	size_t k = read_all(r, v, 16);
	CHECK_INT(k, 5);
	CHECK_STR(v[0].text, "a");
	CHECK_STR(v[1].text, "bb");
	CHECK_STR(v[2].text, "");
	CHECK_STR(v[3].text, "");
	CHECK_STR(v[4].text, "ccc"); /* no final newline */
	for (size_t i = 0; i < k; i++) {
		CHECK_INT(v[i].st, NDJSON_LINE);
		CHECK_INT(v[i].lineno, i + 1);
	}
	/* EOF is sticky. */
	const char *line;
	size_t len;
	errinfo err = {0};
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_EOF);
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_EOF);
	ndjson_close(r);

	r = open_data("", 0, 100, 0, 0);
	CHECK_INT(read_all(r, v, 16), 0);
	ndjson_close(r);
	r = open_data(S("\n"), 100, 0, 0);
	CHECK_INT(read_all(r, v, 16), 1);
	CHECK_INT(v[0].len, 0);
	ndjson_close(r);
	/* A lone '\r' only goes when it ends the line. */
	r = open_data(S("a\rb\r\r\n\r"), 100, 0, 0);
	CHECK_INT(read_all(r, v, 16), 2);
	CHECK_STR(v[0].text, "a\rb\r");
	CHECK_STR(v[1].text, "");
	ndjson_close(r);
	/* NUL bytes are data. */
	r = open_data(S("a\0b\n"), 100, 0, 0);
	CHECK_INT(read_all(r, v, 16), 1);
	CHECK_INT(v[0].len, 3);
	const char *nm = ndjson_name(r);
	CHECK(strlen(nm) > 9 && strcmp(nm + strlen(nm) - 9, "in.ndjson") == 0);
	ndjson_close(r);
}

static void test_max_line_edges(void)
{
	struct res v[16];
	/* max 5: exactly 5 is fine (with or without '\r', with or without a
	 * final '\n'); 6 is too long. */
	ndjson_reader *r = open_data(S("12345\n123456\n12345\r\n123456\r\nx\n12345"), 5, 0, 0);
	size_t k = read_all(r, v, 16);
	CHECK_INT(k, 6);
	CHECK_INT(v[0].st, NDJSON_LINE);
	CHECK_STR(v[0].text, "12345");
	CHECK_INT(v[1].st, NDJSON_TOO_LONG);
	CHECK_STR(v[1].text, "line 2 is longer than 5 bytes (--max-line)");
	CHECK_INT(v[2].st, NDJSON_LINE);
	CHECK_STR(v[2].text, "12345");
	CHECK_INT(v[3].st, NDJSON_TOO_LONG);
	CHECK_INT(v[3].lineno, 4);
	CHECK_INT(v[4].st, NDJSON_LINE);
	CHECK_STR(v[4].text, "x");
	CHECK_INT(v[4].lineno, 5);
	CHECK_INT(v[5].st, NDJSON_LINE);
	CHECK_STR(v[5].text, "12345");
	ndjson_close(r);

	/* The same with a block smaller than a line, so that each decision
	 * is taken on a partial line. */
	for (size_t block = 16; block <= 24; block++) {
		r = open_data(S("123456789012345\n1234567890123456\n123456789012345\r\n1234567890123456\r\n"
				"12345678901234567890123456789012345678901234567890\nok\n123456789012345\r"),
			      15, 0, block);
		k = read_all(r, v, 16);
		CHECK_INT(k, 7);
		int want[] = {NDJSON_LINE, NDJSON_TOO_LONG, NDJSON_LINE, NDJSON_TOO_LONG,
			      NDJSON_TOO_LONG, NDJSON_LINE, NDJSON_LINE};
		for (size_t i = 0; i < 7 && i < k; i++) {
			CHECK_INT(v[i].st, want[i]);
			CHECK_INT(v[i].lineno, i + 1);
		}
		CHECK_STR(v[5].text, "ok");
		CHECK_STR(v[6].text, "123456789012345");
		CHECK(ndjson_buffer_size(r) <= 15 + 2 + block);
		ndjson_close(r);
	}
	/* Too long at the end of input, without '\n'. */
	r = open_data(S("ok\n1234567"), 5, 0, 16);
	k = read_all(r, v, 16);
	CHECK_INT(k, 2);
	CHECK_INT(v[1].st, NDJSON_TOO_LONG);
	CHECK_STR(v[1].text, "line 2 is longer than 5 bytes (--max-line)");
	ndjson_close(r);
	/* max 0: only empty lines. */
	r = open_data(S("\n\r\nx\n"), 0, 0, 0);
	k = read_all(r, v, 16);
	CHECK_INT(k, 3);
	CHECK_INT(v[0].st, NDJSON_LINE);
	CHECK_INT(v[1].st, NDJSON_LINE);
	CHECK_INT(v[2].st, NDJSON_TOO_LONG);
	ndjson_close(r);
}

static void test_huge_line_bounded(void)
{
	/* A line 10x the default maximum between two short lines: reported,
	 * skipped, and the buffer never exceeds max_line + 2 + block. */
	size_t max = NDJSON_DEFAULT_MAX_LINE, n = 10 * max + 100;
	char *data = malloc(n);
	CHECK(data != NULL);
	if (!data)
		return;
	memset(data, 'x', n);
	memcpy(data, "first\n", 6);
	memcpy(data + n - 6, "\nlast", 5);
	data[n - 1] = '\n';
	const char *p = write_file("huge.ndjson", data, n);
	free(data);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open(p, max, 0, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	const char *line;
	size_t len, peak = 0;
	int st, i = 0, sts[8];
	while ((st = ndjson_next(r, &line, &len, &err)) != NDJSON_EOF && i < 8) {
		sts[i++] = st;
		if (ndjson_buffer_size(r) > peak)
			peak = ndjson_buffer_size(r);
		if (st == NDJSON_TOO_LONG) {
			CHECK_STR(err.text, "line 2 is longer than 1048576 bytes (--max-line)");
			CHECK_INT(err.code, EXIT_DATAERR);
		}
		if (i == 3) {
			CHECK_INT(len, 4);
			CHECK(memcmp(line, "last", 4) == 0);
			CHECK_INT(ndjson_lineno(r), 3);
		}
	}
	CHECK_INT(i, 3);
	CHECK_INT(sts[0], NDJSON_LINE);
	CHECK_INT(sts[1], NDJSON_TOO_LONG);
	CHECK_INT(sts[2], NDJSON_LINE);
	CHECK(peak <= max + 2 + 256 * 1024);
	ndjson_close(r);
}

/* Reference: split data by '\n' the simple way and compare with the
 * reader over every small block size. */
static void test_block_boundaries(void)
{
	enum { N = 6000 };
	static char data[N];
	uint32_t x = 2463534242u;
	size_t n = 0;
	while (n < N - 1) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t len = x % 41; /* 0..40, some over max 30 */
		for (size_t i = 0; i < len && n < N - 1; i++)
			data[n++] = (char)('a' + (i + x) % 26);
		if (n < N - 1 && x % 7 == 0)
			data[n++] = '\r';
		if (n < N - 1)
			data[n++] = '\n';
	}
	const size_t max = 30;
	int mismatches = 0;
	for (size_t block = 16; block <= 80 && mismatches < 5; block += 3) {
		ndjson_reader *r = open_data(data, n, max, 0, block);
		if (!r)
			return;
		size_t pos = 0;
		unsigned long want_no = 0;
		while (pos < n) {
			const char *e = memchr(data + pos, '\n', n - pos);
			size_t end = e ? (size_t)(e - data) : n;
			size_t len = end - pos;
			if (len && data[end - 1] == '\r')
				len--;
			want_no++;
			const char *line;
			size_t got;
			errinfo err = {0};
			int st = ndjson_next(r, &line, &got, &err);
			int want_st = len > max ? NDJSON_TOO_LONG : NDJSON_LINE;
			if (st != want_st || ndjson_lineno(r) != want_no ||
			    (st == NDJSON_LINE && (got != len || memcmp(line, data + pos, len) != 0))) {
				printf("# block %zu line %lu: status %d want %d\n", block, want_no, st, want_st);
				mismatches++;
				break;
			}
			pos = end + 1;
			if (!e)
				break;
		}
		const char *line;
		size_t got;
		errinfo err = {0};
		CHECK_INT(ndjson_next(r, &line, &got, &err), NDJSON_EOF);
		CHECK(ndjson_buffer_size(r) <= max + 2 + block);
		ndjson_close(r);
	}
	CHECK_INT(mismatches, 0);
}

static void test_utf8(void)
{
	struct res v[8];
	ndjson_reader *r = open_data(S("{\"a\":\"\xc3\xa9\"}\n\xff\nabc\xc3\n\xed\xa0\x80\n"), 100,
				     NDJSON_CHECK_UTF8, 0);
	size_t k = read_all(r, v, 8);
	CHECK_INT(k, 4);
	CHECK_INT(v[0].st, NDJSON_LINE);
	CHECK_INT(v[1].st, NDJSON_BAD_UTF8);
	CHECK_INT(v[1].len, 1);
	CHECK_INT(v[2].st, NDJSON_BAD_UTF8);
	CHECK_STR(v[2].text, "abc\xc3");
	CHECK_INT(v[3].st, NDJSON_BAD_UTF8); /* surrogate */
	CHECK_INT(v[3].lineno, 4);
	ndjson_close(r);

	r = open_data(S("0123456789012345\xff\n"), 100, NDJSON_CHECK_UTF8, 0);
	const char *line;
	size_t len;
	errinfo err = {0};
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_BAD_UTF8);
	CHECK_STR(err.text, "invalid UTF-8 at byte 17");
	CHECK_INT(err.code, EXIT_DATAERR);
	CHECK_INT(len, 17);
	ndjson_close(r);
	/* Without the flag, bytes are bytes. */
	r = open_data(S("\xff\n"), 100, 0, 0);
	CHECK_INT(read_all(r, v, 8), 1);
	CHECK_INT(v[0].st, NDJSON_LINE);
	ndjson_close(r);
}

static void test_open_errors(void)
{
	errinfo err = {0};
	char path[600];
	snprintf(path, sizeof path, "%s/missing.ndjson", tmpdir);
	CHECK(ndjson_open(path, 100, 0, &err) == NULL);
	CHECK_INT(err.code, EXIT_NOINPUT);
	char want[700];
	snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
	CHECK_STR(err.text, want);

	errinfo_clear(&err);
	CHECK(ndjson_open(tmpdir, 100, 0, &err) == NULL);
	CHECK_INT(err.code, EXIT_IOERR);
	snprintf(want, sizeof want, "cannot open %s: Is a directory", tmpdir);
	CHECK_STR(err.text, want);

	snprintf(path, sizeof path, "%s/missing-dir/x", tmpdir);
	CHECK(ndjson_open(path, 100, 0, &err) == NULL);
	CHECK_INT(err.code, EXIT_NOINPUT);

	if (geteuid() != 0) { /* root reads anything */
		const char *p = write_file("secret.ndjson", "x\n", 2);
		CHECK_INT(chmod(p, 0), 0);
		errinfo_clear(&err);
		CHECK(ndjson_open(p, 100, 0, &err) == NULL);
		CHECK_INT(err.code, EXIT_NOPERM);
		CHECK(strstr(err.text, "Permission denied") != NULL);
	}
}

static void count_call(void *arg)
{
	(*(int *)arg)++;
}

/* A child writes the chunks to the pipe one by one, each as its own
 * write(), so the reader sees lines split across reads. */
static pid_t spawn_writer(int wfd, int rfd, const char *const *chunks)
{
	pid_t pid = fork();
	if (pid == 0) {
		close(rfd);
		for (size_t i = 0; chunks[i]; i++) {
			size_t n = strlen(chunks[i]);
			if (write(wfd, chunks[i], n) != (ssize_t)n)
				_exit(1);
		}
		_exit(0);
	}
	return pid;
}

static void test_pipe_stdin(void)
{
	int fds[2];
	CHECK_INT(pipe(fds), 0);
	static const char *const chunks[] = {"{\"a\":1}\n{\"b", "\":2}\r", "\n\n", "tail", NULL};
	pid_t pid = spawn_writer(fds[1], fds[0], chunks);
	CHECK(pid > 0);
	close(fds[1]);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open_fd(fds[0], NULL, 100, NDJSON_CHECK_UTF8, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_STR(ndjson_name(r), "<stdin>");
	int calls = 0;
	ndjson_set_before_read(r, count_call, &calls);
	struct res v[8];
	size_t k = read_all(r, v, 8);
	CHECK_INT(k, 4);
	CHECK_STR(v[0].text, "{\"a\":1}");
	CHECK_STR(v[1].text, "{\"b\":2}");
	CHECK_STR(v[2].text, "");
	CHECK_STR(v[3].text, "tail");
	CHECK(calls >= 2); /* at least the first read and the one seeing EOF */
	ndjson_close(r);
	/* The descriptor belongs to the caller: still open. */
	CHECK(fcntl(fds[0], F_GETFD) != -1);
	close(fds[0]);
	int status;
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_pipe_huge_line(void)
{
	/* A long line through a pipe, written in many small pieces. */
	int fds[2];
	CHECK_INT(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		char chunk[1000];
		memset(chunk, 'y', sizeof chunk);
		if (write(fds[1], "a\n", 2) != 2)
			_exit(1);
		for (int i = 0; i < 3000; i++)
			if (write(fds[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk)
				_exit(1);
		if (write(fds[1], "\nb\n", 3) != 3)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open_fd(fds[0], "pipe", 4096, 0, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_INT(ndjson_set_block_size(r, 1024), 0);
	struct res v[8];
	size_t k = read_all(r, v, 8);
	CHECK_INT(k, 3);
	CHECK_STR(v[0].text, "a");
	CHECK_INT(v[1].st, NDJSON_TOO_LONG);
	CHECK_STR(v[1].text, "line 2 is longer than 4096 bytes (--max-line)");
	CHECK_STR(v[2].text, "b");
	CHECK_INT(v[2].lineno, 3);
	CHECK(ndjson_buffer_size(r) <= 4096 + 2 + 1024);
	ndjson_close(r);
	close(fds[0]);
	int status;
	CHECK_INT(waitpid(pid, &status, 0), pid);
}

static void test_stop_flag(void)
{
	volatile sig_atomic_t stop = 0;
	ndjson_reader *r = open_data(S("a\nb\npartial"), 100, 0, 16);
	ndjson_set_stop_flag(r, &stop);
	const char *line;
	size_t len;
	errinfo err = {0};
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_LINE);
	stop = 1;
	/* Already read: still handed out. Half-read: dropped. */
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_LINE);
	CHECK_STR(line, "b");
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_EOF);
	ndjson_close(r);
}

static volatile sig_atomic_t alarm_stop;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_stop = 1;
}

static void test_eintr_stop(void)
{
	/* A read blocked on an idle pipe is interrupted by a signal whose
	 * handler sets the stop flag: the reader ends instead of retrying,
	 * and drops the half-read line. */
	int fds[2];
	CHECK_INT(pipe(fds), 0);
	CHECK_INT(write(fds[1], "a\nhalf", 6), 6);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	CHECK_INT(sigaction(SIGALRM, &sa, &old), 0);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open_fd(fds[0], "pipe", 100, 0, &err);
	ndjson_set_stop_flag(r, &alarm_stop);
	const char *line;
	size_t len;
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_LINE);
	CHECK_STR(line, "a");
	/* The signal is what the read waits for; 20 ms keeps the test quick. */
	struct itimerval it = {{0, 0}, {0, 20000}}, off = {{0, 0}, {0, 0}};
	CHECK_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_EOF);
	CHECK_INT(setitimer(ITIMER_REAL, &off, NULL), 0);
	CHECK_INT(alarm_stop, 1);
	CHECK_INT(sigaction(SIGALRM, &old, NULL), 0);
	ndjson_close(r);
	close(fds[0]);
	close(fds[1]);
}

static void test_read_error(void)
{
	/* A write-only descriptor cannot be read: EXIT_IOERR naming it. */
	const char *p = write_file("wo.ndjson", "", 0);
	int fd = open(p, O_WRONLY);
	CHECK(fd >= 0);
	errinfo err = {0};
	ndjson_reader *r = ndjson_open_fd(fd, "wo", 100, 0, &err);
	const char *line;
	size_t len;
	CHECK_INT(ndjson_next(r, &line, &len, &err), NDJSON_ERROR);
	CHECK_INT(err.code, EXIT_IOERR);
	CHECK_STR(err.text, "cannot read wo: Bad file descriptor");
	ndjson_close(r);
	close(fd);
}

static void cleanup(void)
{
	static const char *names[] = {"in.ndjson", "huge.ndjson", "secret.ndjson", "wo.ndjson"};
	char path[600];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int main(void)
{
	make_tmpdir();
	RUN(test_basic_lines);
	RUN(test_max_line_edges);
	RUN(test_huge_line_bounded);
	RUN(test_block_boundaries);
	RUN(test_utf8);
	RUN(test_open_errors);
	RUN(test_pipe_stdin);
	RUN(test_pipe_huge_line);
	RUN(test_stop_flag);
	RUN(test_eintr_stop);
	RUN(test_read_error);
	cleanup();
	return unit_done();
}
