/* test_core.c - unit tests of the small shared modules: buf, outbuf, utf8,
 * cli parsing, diag's errinfo, the inputs loop and the wrap engine. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "diag.h"
#include "exitcode.h"
#include "inputs.h"
#include "outbuf.h"
#include "utf8.h"
#include "cloudevent.h"
#include "wrap.h"
#include "unit.h"

static void test_buf_bounded_all_or_nothing(void)
{
	buf b = BUF_INIT(8);
	CHECK_INT(buf_append(&b, "abcdef", 6), 0);
	CHECK_INT(buf_append(&b, "xyz", 3), -1); /* would pass the maximum */
	CHECK_INT(b.len, 6);
	CHECK_STR(b.data, "abcdef");
	CHECK_INT(buf_puts(&b, "gh"), 0);
	CHECK_INT(buf_putc(&b, 'i'), -1);
	CHECK_STR(b.data, "abcdefgh");
	buf_reset(&b);
	CHECK_INT(buf_printf(&b, "%d-%s", 42, "x"), 0);
	CHECK_STR(b.data, "42-x");
	CHECK_INT(buf_printf(&b, "%s", "123456789"), -1);
	CHECK_STR(b.data, "42-x");
	buf_free(&b);
	CHECK(b.data == NULL);
}

static void test_utf8_table(void)
{
	static const struct { const char *s; size_t n, valid; } t[] = {
		{ "plain ascii text", 16, 16 },
		{ "\xc3\xa9", 2, 2 },                   /* U+00E9 */
		{ "\xe2\x82\xac", 3, 3 },               /* U+20AC */
		{ "\xf0\x9f\x98\x80", 4, 4 },           /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", 4, 4 },           /* U+10FFFF */
		{ "\xc0\xaf", 2, 0 },                   /* overlong */
		{ "\xe0\x80\xaf", 3, 0 },               /* overlong */
		{ "\xed\xa0\x80", 3, 0 },               /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },           /* > U+10FFFF */
		{ "ab\xff", 3, 2 },
		{ "abcdefghij\x80", 11, 10 },           /* after the 8-byte fast path */
		{ "\xe2\x82", 2, 0 },                   /* truncated */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		CHECK_INT(utf8_valid_prefix(t[i].s, t[i].n), t[i].valid);
}

static void test_cli_parsers(void)
{
	size_t sz;
	uint64_t v;
	CHECK_INT(cli_parse_size("1M", SIZE_MAX, &sz), 0);
	CHECK_INT(sz, 1048576);
	CHECK_INT(cli_parse_size("4k", SIZE_MAX, &sz), 0);
	CHECK_INT(sz, 4096);
	CHECK_INT(cli_parse_size("12", SIZE_MAX, &sz), 0);
	CHECK_INT(sz, 12);
	CHECK_INT(cli_parse_size("2G", 1024, &sz), -1);
	CHECK_INT(cli_parse_size("1T", SIZE_MAX, &sz), -1);
	CHECK_INT(cli_parse_size("", SIZE_MAX, &sz), -1);
	CHECK_INT(cli_parse_size("-1", SIZE_MAX, &sz), -1);
	CHECK_INT(cli_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	CHECK_INT(cli_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
	CHECK_INT(cli_parse_uint("10x", 100, &v), -1);
	CHECK_INT(cli_parse_uint("101", 100, &v), -1);
	CHECK_INT(cli_parse_duration_ms("250ms", &v), 0);
	CHECK_INT(v, 250);
	CHECK_INT(cli_parse_duration_ms("5", &v), 0);
	CHECK_INT(v, 5000);
	CHECK_INT(cli_parse_duration_ms("2m", &v), 0);
	CHECK_INT(v, 120000);
	CHECK_INT(cli_parse_duration_ms("5h", &v), 0);
	CHECK_INT(v, 5 * 3600000);
	CHECK_INT(cli_parse_duration_ms("7d", &v), 0);
	CHECK_INT(v, 7 * 86400000LL);
	CHECK_INT(cli_parse_duration_ms("5w", &v), -1);
	CHECK_INT(cli_parse_duration_ms("h", &v), -1);
}

static void test_errinfo(void)
{
	errinfo e = { 0 };
	CHECK_INT(errinfo_set(&e, EXIT_DATAERR, "bad %s", "thing"), EXIT_DATAERR);
	errinfo_prefix(&e, "%s", "file.ndjson");
	CHECK_STR(e.text, "file.ndjson: bad thing");
	CHECK_INT(e.code, EXIT_DATAERR);
	char longname[1000];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	errinfo_prefix(&e, "%s", longname); /* truncated, still terminated */
	CHECK(strlen(e.text) < sizeof e.text);
	CHECK_STR(exitcode_meaning(EXIT_TEMPFAIL), "temporary failure");
	CHECK_STR(exitcode_meaning(12345), "unknown status");
}

static void test_outbuf_sticky_error(void)
{
	int p[2];
	CHECK_INT(pipe(p), 0);
	outbuf o;
	CHECK_INT(outbuf_init(&o, p[1], 16), 0);
	CHECK_INT(outbuf_write(&o, "hello\n", 6), 0);
	CHECK_INT(outbuf_flush(&o), 0);
	char got[16] = { 0 };
	CHECK_INT(read(p[0], got, sizeof got), 6);
	CHECK_STR(got, "hello\n");
	close(p[0]); /* the reader goes away */
	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(outbuf_write(&o, "x\n", 2), 0); /* buffered */
	CHECK_INT(outbuf_flush(&o), -1);
	CHECK_INT(o.err, EPIPE);
	CHECK_INT(outbuf_write(&o, "y\n", 2), -1); /* sticky */
	CHECK_INT(outbuf_close(&o), -1);
	close(p[1]);
}

/* A pipe on stdout is grown to 1 MiB (when the system allows it), only
 * ever grown; anything else is left alone. */
static void test_outbuf_grows_pipes(void)
{
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
	long max = 0;
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	int p[2];
	CHECK_INT(pipe(p), 0);
	outbuf o;
	CHECK_INT(outbuf_init(&o, p[1], 0), 0);
	int want = max >= 1024 * 1024 ? 1024 * 1024 : 65536;
	CHECK_INT(fcntl(p[1], F_GETPIPE_SZ), want);
	outbuf_close(&o);
	/* a larger pipe stays as large */
	if (max >= 2 * 1024 * 1024 && fcntl(p[1], F_SETPIPE_SZ, 2 * 1024 * 1024) >= 0) {
		CHECK_INT(outbuf_init(&o, p[1], 0), 0);
		CHECK_INT(fcntl(p[1], F_GETPIPE_SZ), 2 * 1024 * 1024);
		outbuf_close(&o);
	}
	close(p[0]);
	close(p[1]);
	/* a regular file: nothing to grow, writes as before */
	char path[] = "/tmp/test_core.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_INT(outbuf_init(&o, fd, 0), 0);
	CHECK_INT(outbuf_write(&o, "x\n", 2), 0);
	CHECK_INT(outbuf_close(&o), 0);
	CHECK_INT(lseek(fd, 0, SEEK_END), 2);
	close(fd);
	unlink(path);
}

static int tmpfile_with(const char *content, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "/tmp/test_core.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t n = strlen(content);
	int ok = write(fd, content, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

struct collect {
	buf seen;
	int stop_after;
	int calls;
};

/* A line "bad" is bad input; "stop" ends quietly; others are collected. */
static int collect_line(void *ctx, const char *line, size_t len, errinfo *err)
{
	struct collect *c = ctx;
	c->calls++;
	if (len == 3 && !memcmp(line, "bad", 3))
		return errinfo_set(err, EXIT_DATAERR, "bad line");
	if (len == 4 && !memcmp(line, "stop", 4))
		return INPUTS_STOP;
	if (buf_append(&c->seen, line, len) || buf_putc(&c->seen, '|'))
		return errinfo_set(err, EXIT_SOFTWARE, "full");
	return 0;
}

static void test_inputs_policies(void)
{
	char path[64];
	CHECK_INT(tmpfile_with("a\n  \nbad\nb\r\nbad\nc", path, sizeof path), 0);
	char *files[] = { path };
	int saved = diag_verbosity;
	diag_verbosity = -1;
	fclose(stderr); /* the expected error lines are not test output */

	struct collect c = { BUF_INIT(1024), 0, 0 };
	inputs in = { 0 };
	in.files = files;
	in.nfiles = 1;
	in.skip_blank = 1;
	CHECK_INT(inputs_run(&in, collect_line, &c), EXIT_DATAERR);
	CHECK_STR(c.seen.data, "a|");
	CHECK_INT(in.bad, 1);
	CHECK_INT(in.cur_line, 3);

	buf_reset(&c.seen);
	in.on_error = ON_ERROR_SKIP;
	CHECK_INT(inputs_run(&in, collect_line, &c), EXIT_DATAERR);
	CHECK_STR(c.seen.data, "a|b|c|"); /* CR removed, last line without \n */
	CHECK_INT(in.bad, 2);
	CHECK_INT(in.lines, 5);

	buf_reset(&c.seen);
	in.skip_blank = 0;
	CHECK_INT(tmpfile_with("x\nstop\ny\n", path, sizeof path), 0);
	CHECK_INT(inputs_run(&in, collect_line, &c), 0);
	CHECK_STR(c.seen.data, "x|");
	CHECK(in.stopped);

	char *missing[] = { "/nonexistent/input" };
	in.files = missing;
	CHECK_INT(inputs_run(&in, collect_line, &c), EXIT_NOINPUT);
	enum on_error oe;
	CHECK_INT(on_error_parse("skip", &oe), 0);
	CHECK_INT(oe, ON_ERROR_SKIP);
	CHECK_INT(on_error_parse("maybe", &oe), -1);
	diag_verbosity = saved;
	buf_free(&c.seen);
	unlink(path);
}

static void test_wrap_options(void)
{
	wrapper *w;
	errinfo err = { 0 };
	wrap_opts o = { 0 };
	CHECK_INT(wrapper_new(&w, &o, &err), EXIT_USAGE);
	o.type = "T";
	o.source = "/s";
	o.time = "yesterday";
	CHECK_INT(wrapper_new(&w, &o, &err), EXIT_USAGE);
	CHECK(strstr(err.text, "--time") != NULL);
	o.time = NULL;
	wrap_ext bad_ext[] = { { "Bad", "1" } };
	o.ext = bad_ext;
	o.n_ext = 1;
	CHECK_INT(wrapper_new(&w, &o, &err), EXIT_USAGE);
	o.n_ext = 0;
	o.id_from = "no-slash";
	CHECK_INT(wrapper_new(&w, &o, &err), EXIT_USAGE);
	o.id_from = "/id";
	o.payload = WRAP_TEXT;
	CHECK_INT(wrapper_new(&w, &o, &err), EXIT_USAGE);
}

static void test_wrap_event(void)
{
	wrapper *w;
	errinfo err = { 0 };
	const char *masks[] = { "/secret", "/nested/deep" };
	wrap_ext ext[] = { { "zz", "last" }, { "aa", "first" } };
	wrap_opts o = { 0 };
	o.type = "T";
	o.source = "/s";
	o.time = "2026-11-27T10:00:00Z";
	o.id_from = "/id";
	o.partition_key_from = "/k";
	o.mask = masks;
	o.n_mask = 2;
	o.ext = ext;
	o.n_ext = 2;
	o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	CHECK_INT(wrapper_new(&w, &o, &err), 0);
	buf out = BUF_INIT(4096);
	const char *payload = "{ \"id\": 7, \"k\": \"key\", \"secret\": [1,2], \"nested\": {\"deep\": \"x\"} }";
	CHECK_INT(wrapper_event(w, payload, strlen(payload), &out, &err), 0);
	CHECK_STR(out.data,
		  "{\"specversion\":\"1.0\",\"id\":\"7\",\"source\":\"/s\",\"type\":\"T\","
		  "\"time\":\"2026-11-27T10:00:00Z\",\"datacontenttype\":\"application/json\","
		  "\"aa\":\"first\",\"partitionkey\":\"key\","
		  "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
		  "\"zz\":\"last\",\"data\":{\"id\":7,\"k\":\"key\",\"secret\":\"***\","
		  "\"nested\":{\"deep\":\"***\"}}}\n");
	size_t before = out.len;
	CHECK_INT(wrapper_event(w, "{\"k\":\"x\"}", 9, &out, &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "--id-from /id") != NULL);
	CHECK_INT(out.len, before); /* nothing half-written */
	CHECK_INT(wrapper_event(w, "{nope", 5, &out, &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "not valid JSON") != NULL);
	CHECK_INT(out.len, before);
	buf_free(&out);
	wrapper_free(w);
}

static unsigned long long prop_state;
static unsigned prop_rand(unsigned n)
{
	prop_state ^= prop_state << 13;
	prop_state ^= prop_state >> 7;
	prop_state ^= prop_state << 17;
	return (unsigned)(prop_state % n);
}

/* Property: whatever the wrap engine writes passes the validator, for
 * random option values (controls, noncharacters, bad UTF-8 included) and
 * random payloads (duplicate keys, escapes, nesting). Seeded: a failure
 * prints the seed and the case. */
#define PICK_STR() (prop_rand(3) ? good[prop_rand(5)] : strs[prop_rand(17)])
static void test_wrap_property(void)
{
	static const char *good[] = { "T", "/src", "\xc3\xbc", "x y", "http://x/s" };
	static const char *strs[] = { "T", "a\x01", "/src", "\xc3\xbc", "\x7f", "x y", "\xef\xbf\xbe",
				      "\xc2\x85", "\t", "urn:a", "\xff", "text/plain", "application/json",
				      "a/b;c=d", "http://x/s", "", "\xef\xb7\x90" };
	static const char *vals[] = { "\"ok\"", "\"a\\u0000\"", "\"x\\ny\"", "\"\\u007f\"", "\"\\uffff\"",
				      "\"\\ud83d\\ude00\"", "42", "-1.5e3", "null", "true", "{\"k\":\"v\",\"k\":1}",
				      "[1,\"\\u0001\"]", "\"\"", "\"\\u009f\"", "\"\\ufdd0\"", "\"v\"", "7" };
	static const char *ptrs[] = { "/k0", "/k1", "/k2", "/k0/k", "/k1/0", "" };
	unsigned long long seed = 0x5eed2026;
	const char *env = getenv("WRAP_PROP_SEED");
	if (env)
		seed = strtoull(env, NULL, 0);
	prop_state = seed | 1;
	int wrapped = 0;
	buf out = BUF_INIT(1 << 20);
	for (int i = 0; i < 20000; i++) {
		wrap_opts o = { 0 };
		wrap_ext ext[2];
		const char *mask[2];
		o.type = PICK_STR();
		o.source = PICK_STR();
		if (!prop_rand(3))
			o.subject = PICK_STR();
		if (!prop_rand(4))
			o.dataschema = strs[prop_rand(17)];
		if (!prop_rand(4))
			o.datacontenttype = strs[prop_rand(17)];
		o.payload = prop_rand(3) ? WRAP_JSON : prop_rand(2) ? WRAP_TEXT : WRAP_BASE64;
		if (!prop_rand(3)) {
			ext[0] = (wrap_ext){ prop_rand(2) ? "ext" : "tracestate", PICK_STR() };
			o.ext = ext;
			o.n_ext = 1;
		}
		if (!prop_rand(3))
			o.id_from = ptrs[prop_rand(6)];
		if (!prop_rand(3))
			o.subject_from = ptrs[prop_rand(6)];
		if (!prop_rand(3))
			o.partition_key_from = ptrs[prop_rand(6)];
		if (!prop_rand(2)) {
			mask[0] = ptrs[prop_rand(6)];
			o.mask = mask;
			o.n_mask = 1;
		}
		if (!prop_rand(5))
			o.traceparent = prop_rand(2) ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : "junk";
		o.tracestate = "a=b";
		char payload[512];
		size_t n = 0;
		n += (size_t)snprintf(payload + n, sizeof payload - n, "{");
		for (unsigned j = 0, m = prop_rand(5); j <= m; j++)
			n += (size_t)snprintf(payload + n, sizeof payload - n, "\"k%u\":%s,", prop_rand(3),
					      vals[prop_rand(17)]);
		n += (size_t)snprintf(payload + n, sizeof payload - n, "\"z\":%s}", vals[prop_rand(17)]);
		if (!prop_rand(6))
			n = (size_t)snprintf(payload, sizeof payload, "%s", vals[prop_rand(17)]);
		wrapper *w;
		errinfo err = { 0 };
		int saved = diag_verbosity;
		diag_verbosity = -1; /* the TRACEPARENT warning */
		int rc = wrapper_new(&w, &o, &err);
		diag_verbosity = saved;
		if (rc != 0) {
			CHECK_INT(rc, EXIT_USAGE);
			continue;
		}
		buf_reset(&out);
		rc = wrapper_event(w, payload, n, &out, &err);
		if (rc == 0) {
			cloudevent ev;
			ce_error ce;
			wrapped++;
			if (ce_parse(&ev, out.data, out.len, &ce) != 0) {
				printf("# seed %#llx case %d: wrote an invalid event (%s: %s): %s", seed, i,
				       ce.attribute, ce.text, out.data);
				CHECK(0);
				break;
			}
		} else {
			CHECK_INT(rc, EXIT_DATAERR);
			CHECK_INT(out.len, 0);
		}
		wrapper_free(w);
	}
	if (wrapped <= 1000)
		printf("# only %d of 20000 cases wrapped\n", wrapped);
	CHECK(wrapped > 1000);
	buf_free(&out);
}
#undef PICK_STR

static void test_diag_messages(void)
{
	char a[DIAG_ARG_MAX];
	CHECK_STR(diag_arg("/short", a), "/short");
	char longs[300];
	memset(longs, 'x', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	longs[63] = '\xc3'; /* a 2-byte character across the cut */
	longs[64] = '\xa9';
	diag_arg(longs, a);
	CHECK_INT(strlen(a), 63 + 3);
	CHECK(strcmp(a + 63, "...") == 0);
	/* what reaches stderr: controls, C1 and invalid UTF-8 as \xHH */
	char path[] = "/tmp/test_core_diagXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	diag_error("a\x1b[31mb\x07 \xc2\x9b \xff \xc3\xa9 \\ %s", "tab\there");
	diag_input_error("f\nile", 3, "x");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char got[512] = "";
	ssize_t r = pread(fd, got, sizeof got - 1, 0);
	close(fd);
	unlink(path);
	CHECK(r > 0);
	CHECK(strstr(got, "a\\x1b[31mb\\x07 \\xc2\\x9b \\xff \xc3\xa9 \\ tab\\x09here\n") != NULL);
	CHECK(strstr(got, "error: f\\x0aile:3: x\n") != NULL);
}

int main(void)
{
	RUN(test_buf_bounded_all_or_nothing);
	RUN(test_utf8_table);
	RUN(test_cli_parsers);
	RUN(test_errinfo);
	RUN(test_outbuf_sticky_error);
	RUN(test_outbuf_grows_pipes);
	RUN(test_wrap_options);
	RUN(test_wrap_event);
	RUN(test_wrap_property);
	RUN(test_diag_messages);
	RUN(test_inputs_policies); /* last: it closes stderr */
	return unit_done();
}
