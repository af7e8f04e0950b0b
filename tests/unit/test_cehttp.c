/* test_cehttp.c - CloudEvents over real HTTP: libcurl against the local
 * recording server tests/helpers/http-sink.py (python3 is a build
 * dependency, so the server always runs; a failure to start it fails). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "base64.h"
#include "cehttp.h"
#include "exitcode.h"
#include "unit.h"

/* ---- the sink process ---- */

typedef struct sink {
	pid_t pid;
	int feed;  /* write end of its stdin: closing it ends the server */
	int port;
	char dir[64], log[96], portfile[96];
} sink;

static int slurp(const char *path, buf *out)
{
	buf_reset(out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		if (buf_append(out, tmp, n) != 0)
			break;
	int bad = ferror(f);
	fclose(f);
	if (!out->data)
		buf_append(out, "", 0);
	return bad ? -1 : 0;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start the sink; poll (bounded: 15 s) for its port file. 0 or -1. */
static int sink_start(sink *s, const char *statuses)
{
	memset(s, 0, sizeof *s);
	s->pid = -1;
	s->feed = -1;
	strcpy(s->dir, "/tmp/test_cehttp.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->log, sizeof s->log, "%s/log", s->dir);
	snprintf(s->portfile, sizeof s->portfile, "%s/port", s->dir);
	const char *script = getenv("HTTP_SINK");
	if (!script)
		script = "tests/helpers/http-sink.py";
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 1);
		execlp("python3", "python3", script, "--port-file", s->portfile, "--log", s->log,
		       "--statuses", statuses ? statuses : "", "--lifetime", "300", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	s->feed = fds[1];
	buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1500; i++) {
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = -1;
			printf("# http-sink exited before it was ready\n");
			break;
		}
		if (slurp(s->portfile, &b) == 0 && b.len > 0) {
			s->port = atoi(b.data);
			break;
		}
		pause_ms(10);
	}
	buf_free(&b);
	return s->port > 0 ? 0 : -1;
}

static void sink_stop(sink *s)
{
	if (s->feed >= 0)
		close(s->feed);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	unlink(s->log);
	unlink(s->portfile);
	rmdir(s->dir);
}

/* The recorded requests, as a cJSON array (caller deletes). */
static cJSON *sink_records(const sink *s)
{
	buf b;
	buf_init(&b, 0);
	cJSON *arr = cJSON_CreateArray();
	if (slurp(s->log, &b) == 0) {
		char *line = b.data;
		while (line && *line) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			cJSON *rec = cJSON_Parse(line);
			if (rec)
				cJSON_AddItemToArray(arr, rec);
			line = nl ? nl + 1 : NULL;
		}
	}
	buf_free(&b);
	return arr;
}

static int sink_count(const sink *s)
{
	cJSON *r = sink_records(s);
	int n = cJSON_GetArraySize(r);
	cJSON_Delete(r);
	return n;
}

/* The value of header name (case-insensitive) in rec, or NULL; *count
 * gets how many times it occurs. */
static const char *rec_header(const cJSON *rec, const char *name, int *count)
{
	const char *v = NULL;
	int n = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(rec, "headers")) {
		const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
		if (strcasecmp(k, name) == 0) {
			n++;
			v = cJSON_GetArrayItem(h, 1)->valuestring;
		}
	}
	if (count)
		*count = n;
	return v;
}

static int rec_ce_headers(const cJSON *rec)
{
	int n = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(rec, "headers"))
		n += strncasecmp(cJSON_GetArrayItem(h, 0)->valuestring, "ce-", 3) == 0;
	return n;
}

static int rec_body_is(const cJSON *rec, const void *want, size_t n)
{
	const char *b64 = cJSON_GetObjectItem(rec, "body_b64")->valuestring;
	buf b;
	buf_init(&b, 0);
	int ok = base64_decode(&b, b64, strlen(b64)) == 0 && b.len == n &&
		 (n == 0 || memcmp(b.data, want, n) == 0);
	if (!ok)
		printf("# body (base64) %s, %zu bytes wanted\n", b64, n);
	buf_free(&b);
	return ok;
}

static sink S; /* one server for most tests */

static cehttp *open_url(const char *path)
{
	char url[256];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", S.port, path);
	cehttp_options o = { .url = url, .connect_timeout_ms = 5000, .timeout_ms = 10000 };
	cehttp *h = NULL;
	errinfo err;
	if (cehttp_new(&h, &o, &err) != 0)
		printf("# cehttp_new: %s\n", err.text);
	return h;
}

#define ATTR(n, v) { n, sizeof n - 1, v, sizeof v - 1 }

/* ---- pure functions ---- */

static void test_pct_encode(void)
{
	static const struct { const char *in; size_t n; const char *want; } t[] = {
		{ "plain-ASCII_~!#&'()*+,/:;<=>?@[]^`{|}", 37, "plain-ASCII_~!#&'()*+,/:;<=>?@[]^`{|}" },
		{ "a b", 3, "a%20b" },
		{ "\"q\"", 3, "%22q%22" },
		{ "100%", 4, "100%25" },
		{ "caf\xc3\xa9", 5, "caf%C3%A9" },
		{ "\x01\x1f\x7f\t\r\n", 6, "%01%1F%7F%09%0D%0A" },
		{ "nul\0x", 5, "nul%00x" },
		/* the binding's own example */
		{ "Euro \xe2\x82\xac \xf0\x9f\x98\x80", 13, "Euro%20%E2%82%AC%20%F0%9F%98%80" },
		{ "", 0, "" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		buf b;
		buf_init(&b, 0);
		CHECK_INT(buf_puts(&b, "x:"), 0);
		CHECK_INT(cehttp_pct_encode(&b, t[i].in, t[i].n), 0);
		CHECK_STR(b.data + 2, t[i].want);
		buf_free(&b);
	}
	/* All or nothing at the buffer's maximum. */
	buf b;
	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "ab"), 0);
	CHECK_INT(cehttp_pct_encode(&b, "   ", 3), -1); /* 2 + 9 > 8 */
	CHECK_STR(b.data, "ab");
	CHECK_INT(b.len, 2);
	buf_free(&b);
}

static void test_redact_url(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "http://host/x", "http://host/x" },
		{ "https://user:secret@host:8443/in", "https://***@host:8443/in" },
		{ "http://tok@host", "http://***@host" },
		{ "http://a:b@c@host/p", "http://***@host/p" },
		{ "http://host/p?token=abc&x=1", "http://host/p?***" },
		{ "http://u:p@host/p?k=v#frag", "http://***@host/p?***" },
		{ "http://host/p#frag", "http://host/p" },
		{ "user:pw@host/x", "***@host/x" },
		{ "http://host/a@b", "http://host/a@b" },
		{ "http://host?q=http://u:p@x", "http://host?***" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[128];
		cehttp_redact_url(t[i].in, out, sizeof out);
		CHECK_STR(out, t[i].want);
	}
	char small[12];
	cehttp_redact_url("https://user:secret@host/", small, sizeof small);
	CHECK_STR(small, "https://***");
}

static void test_retry_after(void)
{
	CHECK_INT(cehttp_parse_retry_after("5", 1), 5);
	CHECK_INT(cehttp_parse_retry_after(" 120\t", 5), 120);
	CHECK_INT(cehttp_parse_retry_after("0", 1), 0);
	CHECK_INT(cehttp_parse_retry_after("99999999999999999999", 20), 86400L * 365);
	CHECK_INT(cehttp_parse_retry_after("5s", 2), -1);
	CHECK_INT(cehttp_parse_retry_after("", 0), -1);
	CHECK_INT(cehttp_parse_retry_after("soon", 4), -1);
	/* An HTTP-date in the past means now. */
	CHECK_INT(cehttp_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 29), 0);
	long far = cehttp_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", 29);
	CHECK(far > 86400L * 365 * 50);
}

static void test_bad_options(void)
{
	static const char *bad[] = { "ftp://host/x", "file:///etc/passwd", "not a url", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cehttp_options o = { .url = bad[i] };
		cehttp *h = (cehttp *)&o;
		errinfo err;
		CHECK_INT(cehttp_new(&h, &o, &err), EXIT_CONFIG);
		CHECK(h == NULL);
	}
	cehttp_options o = { .url = "ftp://user:secret@host/x?k=v" };
	cehttp *h;
	errinfo err;
	CHECK_INT(cehttp_new(&h, &o, &err), EXIT_CONFIG);
	CHECK_STR(err.text, "not an http or https URL: ftp://***@host/x?***");
	o = (cehttp_options){ .url = "http://host/", .method = "PO ST" };
	CHECK_INT(cehttp_new(&h, &o, &err), EXIT_CONFIG);
}

/* ---- against the sink ---- */

static const char data_bytes[] = "bin\0ary\r\nline\xff\0" "end";

static void test_binary_mode(void)
{
	cehttp *h = open_url("/events");
	CHECK(h != NULL);
	if (!h)
		return;
	int before = sink_count(&S);
	cehttp_attr attrs[] = {
		ATTR("specversion", "1.0"),
		ATTR("id", "e-1"),
		ATTR("source", "/src/x"),
		ATTR("type", "com.example.t"),
		ATTR("datacontenttype", "application/x-ignored"),
		ATTR("subject", "a b\"c%d\xc3\xa9\x01z"),
		ATTR("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		ATTR("empty", ""),
	};
	cehttp_header extra[] = {
		{ "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01" },
		{ "tracestate", "k=v" },
	};
	cehttp_outcome out;
	errinfo err;
	cehttp_result r = cehttp_send_binary(h, attrs, 8, data_bytes, sizeof data_bytes - 1,
					     "application/octet-stream", extra, 2, &out, &err);
	CHECK_INT(r, CEHTTP_OK);
	CHECK_INT(out.status, 200);
	CHECK_INT(out.auth, 0);
	CHECK_INT(out.retry_after, -1);
	cJSON *recs = sink_records(&S);
	CHECK_INT(cJSON_GetArraySize(recs), before + 1);
	const cJSON *rec = cJSON_GetArrayItem(recs, before);
	if (rec) {
		int n;
		CHECK_STR(cJSON_GetObjectItem(rec, "method")->valuestring, "POST");
		CHECK_STR(cJSON_GetObjectItem(rec, "path")->valuestring, "/events");
		CHECK_STR(rec_header(rec, "ce-specversion", NULL), "1.0");
		CHECK_STR(rec_header(rec, "ce-id", NULL), "e-1");
		CHECK_STR(rec_header(rec, "ce-source", NULL), "/src/x");
		CHECK_STR(rec_header(rec, "ce-type", NULL), "com.example.t");
		CHECK_STR(rec_header(rec, "ce-subject", NULL), "a%20b%22c%25d%C3%A9%01z");
		CHECK_STR(rec_header(rec, "ce-traceparent", NULL),
			  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
		CHECK_STR(rec_header(rec, "ce-empty", &n), "");
		CHECK_INT(n, 1);
		CHECK(rec_header(rec, "ce-datacontenttype", NULL) == NULL);
		/* The explicit content type wins over the attribute. */
		CHECK_STR(rec_header(rec, "Content-Type", &n), "application/octet-stream");
		CHECK_INT(n, 1);
		CHECK_INT(rec_ce_headers(rec), 7);
		CHECK_STR(rec_header(rec, "traceparent", NULL),
			  "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");
		CHECK_STR(rec_header(rec, "tracestate", NULL), "k=v");
		CHECK(rec_header(rec, "Expect", NULL) == NULL);
		CHECK_STR(rec_header(rec, "Content-Length", NULL), "18");
		CHECK(rec_body_is(rec, data_bytes, sizeof data_bytes - 1));
	}
	cJSON_Delete(recs);

	/* Without content_type the datacontenttype attribute is used; without
	 * either there is no Content-Type at all (not libcurl's form type),
	 * and an empty body is sent as such. */
	r = cehttp_send_binary(h, attrs, 5, "{}", 2, NULL, NULL, 0, &out, &err);
	CHECK_INT(r, CEHTTP_OK);
	r = cehttp_send_binary(h, attrs, 4, NULL, 0, NULL, NULL, 0, NULL, &err);
	CHECK_INT(r, CEHTTP_OK);
	recs = sink_records(&S);
	CHECK_INT(cJSON_GetArraySize(recs), before + 3);
	rec = cJSON_GetArrayItem(recs, before + 1);
	if (rec) {
		CHECK_STR(rec_header(rec, "Content-Type", NULL), "application/x-ignored");
		CHECK(rec_header(rec, "ce-datacontenttype", NULL) == NULL);
		CHECK(rec_body_is(rec, "{}", 2));
	}
	rec = cJSON_GetArrayItem(recs, before + 2);
	if (rec) {
		CHECK(rec_header(rec, "Content-Type", NULL) == NULL);
		CHECK_INT(rec_ce_headers(rec), 4);
		CHECK(rec_body_is(rec, "", 0));
	}
	cJSON_Delete(recs);

	/* libcurl would ask "Expect: 100-continue" (and wait) for a body
	 * this large; the handle never lets it. */
	size_t big = (size_t)2 << 20;
	char *blob = malloc(big);
	CHECK(blob != NULL);
	if (blob) {
		for (size_t i = 0; i < big; i++)
			blob[i] = (char)(i * 7 + (i >> 11));
		CHECK_INT(cehttp_send_binary(h, attrs, 4, blob, big, "application/octet-stream",
					     NULL, 0, NULL, &err), CEHTTP_OK);
		recs = sink_records(&S);
		rec = cJSON_GetArrayItem(recs, before + 3);
		CHECK(rec != NULL);
		if (rec) {
			CHECK(rec_header(rec, "Expect", NULL) == NULL);
			CHECK(rec_body_is(rec, blob, big));
		}
		cJSON_Delete(recs);
		free(blob);
	}
	cehttp_free(h);
}

static void test_structured_and_batch(void)
{
	cehttp *h = open_url("/s");
	CHECK(h != NULL);
	if (!h)
		return;
	int before = sink_count(&S);
	const char *e1 = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"data\":{\"k\":\"\\u00e9 x\"}}";
	const char *e2 = "{\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"/s\",\"type\":\"t\"}";
	cehttp_header extra[] = { { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } };
	errinfo err;
	CHECK_INT(cehttp_send_structured(h, e1, strlen(e1), extra, 1, NULL, &err), CEHTTP_OK);
	cehttp_span evs[] = { { e1, strlen(e1) }, { e2, strlen(e2) } };
	CHECK_INT(cehttp_send_batch(h, evs, 2, NULL, 0, NULL, &err), CEHTTP_OK);
	CHECK_INT(cehttp_send_batch(h, evs, 0, NULL, 0, NULL, NULL), CEHTTP_OK); /* err optional */
	cJSON *recs = sink_records(&S);
	CHECK_INT(cJSON_GetArraySize(recs), before + 3);
	const cJSON *rec = cJSON_GetArrayItem(recs, before);
	if (rec) {
		CHECK_STR(rec_header(rec, "Content-Type", NULL),
			  "application/cloudevents+json; charset=UTF-8");
		CHECK_INT(rec_ce_headers(rec), 0);
		CHECK_STR(rec_header(rec, "traceparent", NULL),
			  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
		CHECK(rec_body_is(rec, e1, strlen(e1)));
	}
	rec = cJSON_GetArrayItem(recs, before + 1);
	if (rec) {
		CHECK_STR(rec_header(rec, "Content-Type", NULL),
			  "application/cloudevents-batch+json; charset=UTF-8");
		char want[512];
		snprintf(want, sizeof want, "[%s,%s]", e1, e2);
		CHECK(rec_body_is(rec, want, strlen(want)));
	}
	rec = cJSON_GetArrayItem(recs, before + 2);
	if (rec)
		CHECK(rec_body_is(rec, "[]", 2));
	cJSON_Delete(recs);
	cehttp_free(h);
}

static void test_classification(void)
{
	static const struct { int status; cehttp_result r; int code; int auth; const char *text; } t[] = {
		{ 200, CEHTTP_OK, 0, 0, NULL },
		{ 201, CEHTTP_OK, 0, 0, NULL },
		{ 204, CEHTTP_OK, 0, 0, NULL },
		{ 400, CEHTTP_PERMANENT, EXIT_DATAERR, 0, "HTTP 400" },
		{ 404, CEHTTP_PERMANENT, EXIT_DATAERR, 0, "HTTP 404" },
		{ 413, CEHTTP_PERMANENT, EXIT_DATAERR, 0, "HTTP 413" },
		{ 401, CEHTTP_PERMANENT, EXIT_NOPERM, 1, "HTTP 401 (authentication required)" },
		{ 403, CEHTTP_PERMANENT, EXIT_NOPERM, 1, "HTTP 403 (forbidden)" },
		{ 301, CEHTTP_PERMANENT, EXIT_CONFIG, 0, "HTTP 301 (redirects are not followed)" },
		{ 408, CEHTTP_RETRY, EXIT_TEMPFAIL, 0, "HTTP 408" },
		{ 429, CEHTTP_RETRY, EXIT_TEMPFAIL, 0, "HTTP 429" },
		{ 500, CEHTTP_RETRY, EXIT_UNAVAILABLE, 0, "HTTP 500" },
		{ 502, CEHTTP_RETRY, EXIT_UNAVAILABLE, 0, "HTTP 502" },
		{ 503, CEHTTP_RETRY, EXIT_UNAVAILABLE, 0, "HTTP 503" },
	};
	cehttp_attr attrs[] = { ATTR("specversion", "1.0"), ATTR("id", "1"), ATTR("source", "/s"),
				ATTR("type", "t") };
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char path[64], want[160];
		snprintf(path, sizeof path, "/c?status=%d", t[i].status);
		cehttp *h = open_url(path);
		CHECK(h != NULL);
		if (!h)
			continue;
		cehttp_outcome out;
		errinfo err = { 0, "" };
		cehttp_result r = cehttp_send_binary(h, attrs, 4, "x", 1, "text/plain", NULL, 0,
						     &out, &err);
		if (r != t[i].r)
			printf("# status %d\n", t[i].status);
		CHECK_INT(r, t[i].r);
		CHECK_INT(out.status, t[i].status);
		CHECK_INT(out.auth, t[i].auth);
		CHECK_INT(err.code, t[i].code);
		if (t[i].text) {
			snprintf(want, sizeof want, "POST http://127.0.0.1:%d/c?***: %s", S.port, t[i].text);
			CHECK_STR(err.text, want);
		}
		cehttp_free(h);
	}

	/* Retry-After, as seconds and as a date. */
	cehttp *h = open_url("/r?status=503&retry_after=7");
	CHECK(h != NULL);
	if (h) {
		cehttp_outcome out;
		errinfo err;
		CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, &out, &err), CEHTTP_RETRY);
		CHECK_INT(out.retry_after, 7);
		CHECK_STR(out.retry_after_text, "7");
		CHECK(strstr(err.text, ": HTTP 503 (Retry-After: 7)") != NULL);
		cehttp_free(h);
	}
	h = open_url("/r?status=429&retry_after=Wed,%2021%20Oct%202015%2007:28:00%20GMT");
	CHECK(h != NULL);
	if (h) {
		cehttp_outcome out;
		errinfo err;
		CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, &out, &err), CEHTTP_RETRY);
		CHECK_INT(out.retry_after, 0);
		CHECK_STR(out.retry_after_text, "Wed, 21 Oct 2015 07:28:00 GMT");
		CHECK_INT(err.code, EXIT_TEMPFAIL);
		cehttp_free(h);
	}
}

/* A port bound but not listening: connection refused, reliably. */
static void test_closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	char url[128];
	snprintf(url, sizeof url, "http://user:secret@127.0.0.1:%d/x?token=abc", ntohs(a.sin_port));
	cehttp_options o = { .url = url, .connect_timeout_ms = 5000, .timeout_ms = 5000 };
	cehttp *h;
	errinfo err;
	CHECK_INT(cehttp_new(&h, &o, &err), 0);
	cehttp_outcome out;
	CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, &out, &err), CEHTTP_RETRY);
	CHECK_INT(err.code, EXIT_UNAVAILABLE);
	CHECK_INT(out.status, 0);
	CHECK(strstr(err.text, "POST http://***@127.0.0.1:") == err.text);
	CHECK(strstr(err.text, "onnect") != NULL);
	CHECK(strstr(err.text, "secret") == NULL);
	CHECK(strstr(err.text, "token") == NULL);
	cehttp_free(h);
	close(fd);
}

/* A listener that never accepts: the connection completes in the kernel's
 * backlog but no answer comes, so the total timeout must end the call. */
static void test_timeout(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
	cehttp_options o = { .url = url, .connect_timeout_ms = 2000, .timeout_ms = 300 };
	cehttp *h;
	errinfo err;
	CHECK_INT(cehttp_new(&h, &o, &err), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, NULL, &err), CEHTTP_RETRY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 250 && ms < 5000);
	CHECK_INT(err.code, EXIT_UNAVAILABLE);
	CHECK(strstr(err.text, "timed out") != NULL);
	cehttp_free(h);
	close(fd);
}

static int rec_conn(const cJSON *recs, int i)
{
	const cJSON *r = cJSON_GetArrayItem(recs, i);
	return r ? cJSON_GetObjectItem(r, "conn")->valueint : -1;
}

static void test_keepalive(void)
{
	cehttp *h = open_url("/k");
	cehttp *h2 = open_url("/k2");
	CHECK(h && h2);
	if (!h || !h2)
		return;
	int before = sink_count(&S);
	cehttp_attr attrs[] = { ATTR("specversion", "1.0"), ATTR("id", "1"), ATTR("source", "/s"),
				ATTR("type", "t") };
	errinfo err;
	for (int i = 0; i < 10; i++)
		CHECK_INT(cehttp_send_binary(h, attrs, 4, "x", 1, "text/plain", NULL, 0, NULL, &err),
			  CEHTTP_OK);
	CHECK_INT(cehttp_send_structured(h2, "{}", 2, NULL, 0, NULL, &err), CEHTTP_OK);
	cJSON *recs = sink_records(&S);
	CHECK_INT(cJSON_GetArraySize(recs), before + 11);
	int c0 = rec_conn(recs, before);
	for (int i = 1; i < 10; i++)
		CHECK_INT(rec_conn(recs, before + i), c0);
	/* A second handle is a second connection: the count means something. */
	CHECK(rec_conn(recs, before + 10) != c0);
	cJSON_Delete(recs);
	cehttp_free(h);
	cehttp_free(h2);
}

/* A retryable answer does not cost the connection; the status queue. */
static void test_retry_sequence(void)
{
	sink q;
	CHECK_INT(sink_start(&q, "503,503,200"), 0);
	if (q.port > 0) {
		char url[128];
		snprintf(url, sizeof url, "http://127.0.0.1:%d/q", q.port);
		cehttp_options o = { .url = url, .timeout_ms = 10000 };
		cehttp *h;
		errinfo err;
		CHECK_INT(cehttp_new(&h, &o, &err), 0);
		CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, NULL, &err), CEHTTP_RETRY);
		CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, NULL, &err), CEHTTP_RETRY);
		CHECK_INT(cehttp_send_structured(h, "{}", 2, NULL, 0, NULL, &err), CEHTTP_OK);
		cJSON *recs = sink_records(&q);
		CHECK_INT(cJSON_GetArraySize(recs), 3);
		CHECK_INT(rec_conn(recs, 0), 1);
		CHECK_INT(rec_conn(recs, 2), 1);
		cJSON_Delete(recs);
		cehttp_free(h);
	}
	sink_stop(&q);
}

static void test_rejected_before_sending(void)
{
	cehttp *h = open_url("/never");
	CHECK(h != NULL);
	if (!h)
		return;
	int before = sink_count(&S);
	errinfo err;
	cehttp_attr badname[] = { ATTR("id", "1"), ATTR("Bad-Name", "v") };
	CHECK_INT(cehttp_send_binary(h, badname, 2, "x", 1, NULL, NULL, 0, NULL, &err),
		  CEHTTP_PERMANENT);
	CHECK_INT(err.code, EXIT_DATAERR);
	CHECK(strstr(err.text, "attribute 2: name \"Bad-Name\" is not [a-z0-9]+") != NULL);
	cehttp_attr ok[] = { ATTR("id", "1") };
	cehttp_header inj[] = { { "x-a", "v\r\nce-id: forged" } };
	CHECK_INT(cehttp_send_binary(h, ok, 1, "x", 1, NULL, inj, 1, NULL, &err), CEHTTP_PERMANENT);
	CHECK_INT(err.code, EXIT_DATAERR);
	CHECK_INT(cehttp_send_structured(h, "{}", 2, inj, 1, NULL, &err), CEHTTP_PERMANENT);
	cehttp_header badhdr[] = { { "bad name", "v" } };
	CHECK_INT(cehttp_send_batch(h, NULL, 0, badhdr, 1, NULL, NULL), CEHTTP_PERMANENT);
	CHECK_INT(cehttp_send_binary(h, ok, 1, "x", 1, "text/plain\r\nX-Evil: 1", NULL, 0, NULL, &err),
		  CEHTTP_PERMANENT);
	CHECK_INT(err.code, EXIT_DATAERR);
	CHECK_INT(sink_count(&S), before);
	/* The handle still works after a refusal. */
	CHECK_INT(cehttp_send_binary(h, ok, 1, "x", 1, NULL, NULL, 0, NULL, &err), CEHTTP_OK);
	CHECK_INT(sink_count(&S), before + 1);
	cehttp_free(h);
}

int main(void)
{
	/* The tests talk to 127.0.0.1 directly, whatever the environment. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	RUN(test_pct_encode);
	RUN(test_redact_url);
	RUN(test_retry_after);
	RUN(test_bad_options);
	if (sink_start(&S, "") != 0) {
		printf("not ok - http-sink.py did not start (python3 tests/helpers/http-sink.py)\n");
		sink_stop(&S);
		unit_failed++;
		return unit_done();
	}
	RUN(test_binary_mode);
	RUN(test_structured_and_batch);
	RUN(test_classification);
	RUN(test_closed_port);
	RUN(test_timeout);
	RUN(test_keepalive);
	RUN(test_retry_sequence);
	RUN(test_rejected_before_sending);
	sink_stop(&S);
	return unit_done();
}
