/* test_cekafka.c - unit tests of lib/cekafka.c: the Kafka binding's
 * headers and values for each attribute and data kind, decoding in both
 * modes with every error, the hop trace headers, and the round trip over
 * the CloudEvents conformance vectors ($SHARED_DIR/conformance) and over
 * generated events, in which cekafka_binary_lossless() must say exactly
 * which events binary mode changes. A timing of the encoder is printed
 * (not asserted). */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cekafka.h"
#include "exitcode.h"
#include "unit.h"

#define CONFORMANCE "/conformance/cloudevents-json/"
#define BIG ((size_t)1 << 26)

/* ---- helpers ---- */

/* A heap copy of exactly the string's bytes, so ASan sees over-reads. */
static char *dup_exact(const char *s, size_t n)
{
	char *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, s, n);
	return c;
}

/* "name=value\n" per header, for comparisons. */
static void dump_headers(const cekafka_msg *m, buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < m->n_headers; i++) {
		buf_append(out, m->h[i].name, m->h[i].name_len);
		buf_putc(out, '=');
		buf_append(out, m->h[i].value, m->h[i].value_len);
		buf_putc(out, '\n');
	}
	if (!out->data)
		buf_puts(out, "");
}

static int span_is(const void *p, size_t n, const char *want)
{
	if (!p)
		return want == NULL;
	int ok = want && n == strlen(want) && memcmp(p, want, n) == 0;
	if (!ok)
		printf("#   got \"%.*s\" want \"%s\"\n", (int)n, (const char *)p, want ? want : "(null)");
	return ok;
}

/* Encode event; returns the status and leaves headers dumped in hd. */
static int enc(cekafka_msg *m, const char *event, enum cekafka_mode mode, buf *scratch, buf *hd,
	       errinfo *err)
{
	int r = cekafka_encode(m, event, strlen(event), mode, scratch, err);
	if (r == 0)
		dump_headers(m, hd);
	return r;
}

/* Decode a message given as "name=value" strings (value "\x01" = NULL). */
static int dec(const char *const *hs, const char *value, size_t vlen, buf *out, cekafka_info *info,
	       errinfo *err)
{
	cekafka_header h[16];
	size_t n = 0;
	for (; hs && hs[n]; n++) {
		const char *eqs = strchr(hs[n], '=');
		h[n].name = hs[n];
		h[n].name_len = (size_t)(eqs - hs[n]);
		h[n].value = strcmp(eqs + 1, "\x01") == 0 ? NULL : eqs + 1;
		h[n].value_len = h[n].value ? strlen(eqs + 1) : 0;
	}
	buf_reset(out);
	return cekafka_decode(h, n, value, vlen, out, info, err);
}

static const char typical[] =
	"{\"specversion\":\"1.0\",\"id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\","
	"\"source\":\"/wallet-service\",\"type\":\"WalletCreatedEvent\",\"subject\":\"wallet-42\","
	"\"time\":\"2026-11-27T09:51:38.123456Z\",\"datacontenttype\":\"application/json\","
	"\"partitionkey\":\"wallet-42\",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
	"00f067aa0ba902b7-01\",\"tracestate\":\"vendor=abc\",\"data\":{\"walletId\":\"wallet-42\","
	"\"owner\":\"alice\",\"currency\":\"EUR\",\"balance\":0,\"tags\":[\"new\",\"retail\"]}}";

/* ---- encode ---- */

static void test_encode_binary_typical(void)
{
	cekafka_msg m;
	buf s = BUF_INIT(BIG), hd = BUF_INIT(BIG);
	errinfo err;
	char *ev = dup_exact(typical, strlen(typical));
	CHECK_INT(cekafka_encode(&m, ev, strlen(typical), CEKAFKA_BINARY, &s, &err), 0);
	dump_headers(&m, &hd);
	CHECK_STR(hd.data, "ce_specversion=1.0\n"
			   "ce_id=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n"
			   "ce_source=/wallet-service\n"
			   "ce_type=WalletCreatedEvent\n"
			   "ce_subject=wallet-42\n"
			   "ce_time=2026-11-27T09:51:38.123456Z\n"
			   "content-type=application/json\n"
			   "ce_partitionkey=wallet-42\n"
			   "ce_traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n"
			   "ce_tracestate=vendor=abc\n");
	CHECK(span_is(m.value, m.value_len,
		      "{\"walletId\":\"wallet-42\",\"owner\":\"alice\",\"currency\":\"EUR\","
		      "\"balance\":0,\"tags\":[\"new\",\"retail\"]}"));
	/* canonical JSON data is not copied */
	CHECK((const char *)m.value > ev && (const char *)m.value < ev + strlen(typical));
	CHECK(span_is(m.key, m.key_len, "wallet-42"));
	CHECK(span_is(m.type, m.type_len, "WalletCreatedEvent"));
	CHECK(span_is(m.traceparent, m.traceparent_len,
		      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
	CHECK(span_is(m.tracestate, m.tracestate_len, "vendor=abc"));
	free(ev);
	buf_free(&s);
	buf_free(&hd);
}

static void test_encode_values(void)
{
	cekafka_msg m;
	buf s = BUF_INIT(BIG), hd = BUF_INIT(BIG);
	errinfo err;
	/* escapes decoded, integers and booleans as written, escaped
	 * extension name decoded, no datacontenttype: no content-type */
	CHECK_INT(enc(&m,
		      "{ \"specversion\": \"1.0\", \"id\": \"a\\\"b\\u00e9\\/\", \"source\": \"s\","
		      " \"type\": \"t\", \"\\u0063ount\": -42, \"flag\": false, \"partitionkey\": 7,"
		      " \"data\": [1, 2] }",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK_STR(hd.data, "ce_specversion=1.0\nce_id=a\"b\xc3\xa9/\nce_source=s\nce_type=t\n"
			   "ce_count=-42\nce_flag=false\nce_partitionkey=7\n");
	CHECK(span_is(m.value, m.value_len, "[1,2]")); /* compacted */
	CHECK(span_is(m.key, m.key_len, "7"));
	CHECK(m.traceparent == NULL && m.tracestate == NULL);

	/* data kinds */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"datacontenttype\":\"text/plain\",\"data\":\"line\\nnext\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(span_is(m.value, m.value_len, "line\nnext"));
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"datacontenttype\":\"text/plain\",\"data\":{\"a\":1}}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(span_is(m.value, m.value_len, "{\"a\":1}"));
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"data\":\"str\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(span_is(m.value, m.value_len, "\"str\"")); /* no type: JSON */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"datacontenttype\":\"application/octet-stream\",\"data_base64\":\"AAEC/w==\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK_INT(m.value_len, 4);
	CHECK(m.value && memcmp(m.value, "\x00\x01\x02\xff", 4) == 0);
	CHECK_STR(hd.data, "ce_specversion=1.0\nce_id=1\nce_source=s\nce_type=t\n"
			   "content-type=application/octet-stream\n");
	/* no data: a null value; empty data: an empty, non-null value */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"data\":null}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(m.value == NULL && m.value_len == 0);
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"datacontenttype\":\"text/plain\",\"data\":\"\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(m.value != NULL && m.value_len == 0);
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"data_base64\":\"\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	CHECK(m.value != NULL && m.value_len == 0);
	buf_free(&s);
	buf_free(&hd);
}

static void test_encode_structured(void)
{
	cekafka_msg m;
	buf s = BUF_INIT(BIG), hd = BUF_INIT(BIG);
	errinfo err;
	char *ev = dup_exact(typical, strlen(typical));
	CHECK_INT(cekafka_encode(&m, ev, strlen(typical), CEKAFKA_STRUCTURED, &s, &err), 0);
	dump_headers(&m, &hd);
	CHECK_STR(hd.data, "content-type=application/cloudevents+json; charset=UTF-8\n");
	CHECK(m.value == ev && m.value_len == strlen(typical)); /* the input itself */
	CHECK(span_is(m.key, m.key_len, "wallet-42"));
	CHECK(span_is(m.type, m.type_len, "WalletCreatedEvent"));
	free(ev);
	/* not canonical: a canonical copy */
	CHECK_INT(enc(&m, " {\"type\":\"t\\u0041\", \"zz\":1,\"id\":\"1\",\"source\":\"s\","
			  "\"specversion\":\"1.0\",\"aa\":\"x\",\"subject\":null} ",
		      CEKAFKA_STRUCTURED, &s, &hd, &err),
		  0);
	CHECK(span_is(m.value, m.value_len,
		      "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\\u0041\","
		      "\"aa\":\"x\",\"zz\":1}"));
	CHECK(span_is(m.type, m.type_len, "tA"));
	CHECK_INT(m.mode, CEKAFKA_STRUCTURED);
	/* an event carrying an event goes structured even when binary is
	 * asked for: its content-type would say structured to a receiver */
	static const char nested[] = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\","
				     "\"type\":\"t\",\"datacontenttype\":\"Application/CloudEvents+json\","
				     "\"data\":{\"specversion\":\"1.0\"}}";
	CHECK_INT(enc(&m, nested, CEKAFKA_BINARY, &s, &hd, &err), 0);
	CHECK_INT(m.mode, CEKAFKA_STRUCTURED);
	CHECK_STR(hd.data, "content-type=application/cloudevents+json; charset=UTF-8\n");
	CHECK(span_is(m.value, m.value_len, nested));
	CHECK_INT(enc(&m, typical, CEKAFKA_BINARY, &s, &hd, &err), 0);
	CHECK_INT(m.mode, CEKAFKA_BINARY);
	buf_free(&s);
	buf_free(&hd);
}

static void test_encode_invalid(void)
{
	static const struct {
		const char *event, *msg;
	} cases[] = {
		{"{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\"}", "id: "},
		{"{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}", "specversion: "},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"time\":\"x\"}",
		 "time: "},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"Ext\":\"x\"}",
		 "Ext: "},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
		 "\"data_base64\":\"!!\"}",
		 "data_base64: "},
		{"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\",\"e\":\"a\\u0001\"}",
		 "e: "},
		{"{\"specversion\":\"1.0\",", "invalid JSON at byte "},
		{"", "invalid JSON at byte "},
		{"[]", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cekafka_msg m;
		buf s = BUF_INIT(BIG);
		errinfo err;
		char *ev = dup_exact(cases[i].event, strlen(cases[i].event));
		int r = cekafka_encode(&m, ev, strlen(cases[i].event), CEKAFKA_BINARY, &s, &err);
		CHECK_INT(r, EXIT_DATAERR);
		if (r == EXIT_DATAERR && strncmp(err.text, cases[i].msg, strlen(cases[i].msg)) != 0) {
			printf("# %s -> \"%s\"\n", cases[i].event, err.text);
			CHECK(0);
		}
		CHECK(m.n_headers == 0 && m.value == NULL);
		free(ev);
		buf_free(&s);
	}
	/* a scratch buffer too small to hold the work: 70, not garbage */
	cekafka_msg m;
	buf s = BUF_INIT(16);
	errinfo err;
	CHECK_INT(cekafka_encode(&m, typical, strlen(typical), CEKAFKA_BINARY, &s, &err), EXIT_SOFTWARE);
	buf_free(&s);
}

static void test_hop_headers(void)
{
	cekafka_msg m;
	buf s = BUF_INIT(BIG), hd = BUF_INIT(BIG);
	errinfo err;
	traceparent hop, ev_tp;
	CHECK_INT(enc(&m, typical, CEKAFKA_BINARY, &s, &hd, &err), 0);
	size_t before = m.n_headers;
	CHECK_INT(cekafka_hop_headers(&m, &hop, &err), 0);
	CHECK_INT(m.n_headers, before + 2);
	const cekafka_header *tp = &m.h[before], *ts = &m.h[before + 1];
	CHECK(span_is(tp->name, tp->name_len, "traceparent"));
	CHECK_INT(tp->value_len, TRACEPARENT_LEN);
	/* same trace id and flags, a new parent id */
	CHECK(memcmp(tp->value, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36) == 0);
	CHECK(memcmp(tp->value + 52, "-01", 3) == 0);
	CHECK(memcmp(tp->value + 36, "00f067aa0ba902b7", 16) != 0);
	traceparent parsed;
	CHECK_INT(traceparent_parse(&parsed, tp->value, tp->value_len), 0);
	CHECK(memcmp(parsed.parent_id, hop.parent_id, 8) == 0);
	CHECK(span_is(ts->name, ts->name_len, "tracestate"));
	CHECK(span_is(ts->value, ts->value_len, "vendor=abc"));
	/* the event's own header is untouched */
	int seen = 0;
	for (size_t i = 0; i < m.n_headers; i++)
		if (m.h[i].name_len == 14 && memcmp(m.h[i].name, "ce_traceparent", 14) == 0)
			seen = span_is(m.h[i].value, m.h[i].value_len,
				       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	CHECK(seen);
	CHECK_INT(traceparent_parse(&ev_tp, m.traceparent, m.traceparent_len), 0);
	CHECK(memcmp(ev_tp.trace_id, hop.trace_id, 16) == 0);

	/* without a hop struct (the relay's call) the child is written from
	 * the text ce_parse checked: the same headers */
	CHECK_INT(enc(&m, typical, CEKAFKA_BINARY, &s, &hd, &err), 0);
	before = m.n_headers;
	CHECK_INT(cekafka_hop_headers(&m, NULL, &err), 0);
	CHECK_INT(m.n_headers, before + 2);
	CHECK(span_is(m.h[before].name, m.h[before].name_len, "traceparent"));
	CHECK_INT(m.h[before].value_len, TRACEPARENT_LEN);
	CHECK(memcmp(m.h[before].value, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36) == 0);
	CHECK(memcmp(m.h[before].value + 52, "-01", 3) == 0);
	CHECK(memcmp(m.h[before].value + 36, "00f067aa0ba902b7", 16) != 0);
	CHECK_INT(traceparent_parse(&parsed, m.h[before].value, m.h[before].value_len), 0);
	CHECK(span_is(m.h[before + 1].value, m.h[before + 1].value_len, "vendor=abc"));
	/* a message whose trace context was changed after the encode is
	 * checked again, not trusted: an invalid traceparent gives a new
	 * root and drops the tracestate, an invalid tracestate is dropped */
	static const char zero_tp[] = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
	static const char bad_ts[] = "=bad";
	for (int edit = 0; edit < 2; edit++) {
		CHECK_INT(enc(&m, typical, CEKAFKA_BINARY, &s, &hd, &err), 0);
		if (edit == 0) {
			m.traceparent = zero_tp;
			m.traceparent_len = sizeof zero_tp - 1;
		} else {
			m.tracestate = bad_ts;
			m.tracestate_len = sizeof bad_ts - 1;
		}
		before = m.n_headers;
		CHECK_INT(cekafka_hop_headers(&m, NULL, &err), 0);
		CHECK_INT(m.n_headers, before + 1);
		CHECK_INT(traceparent_parse(&parsed, m.h[before].value, m.h[before].value_len), 0);
		CHECK_INT(memcmp(m.h[before].value, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36) == 0,
			  edit == 1);
	}

	/* an invalid traceparent or tracestate extension is a bad event (the
	 * validator checks W3C Trace Context): never put on the wire */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"traceparent\":\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\","
			  "\"tracestate\":\"a=b\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  EXIT_DATAERR);
	/* none: a new root too; structured mode gets the same headers */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"tracestate\":\"a=b\"}",
		      CEKAFKA_STRUCTURED, &s, &hd, &err),
		  0);
	CHECK_INT(cekafka_hop_headers(&m, &hop, &err), 0);
	CHECK_INT(m.n_headers, 2);
	CHECK(span_is(m.h[1].name, m.h[1].name_len, "traceparent"));
	CHECK_INT(traceparent_parse(&parsed, m.h[1].value, m.h[1].value_len), 0);
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\","
			  "\"tracestate\":\"=bad\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  EXIT_DATAERR);
	/* flags are kept: an unsampled parent gives an unsampled hop */
	CHECK_INT(enc(&m, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
			  "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\"}",
		      CEKAFKA_BINARY, &s, &hd, &err),
		  0);
	before = m.n_headers;
	CHECK_INT(cekafka_hop_headers(&m, &hop, &err), 0);
	CHECK_INT(m.n_headers, before + 1);
	CHECK(memcmp(m.h[before].value + 52, "-00", 3) == 0);
	/* the maximum of headers leaves room for the hop */
	buf big = BUF_INIT(BIG);
	buf_puts(&big, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
		       "\"subject\":\"x\","
		       "\"time\":\"2020-01-01T00:00:00Z\",\"datacontenttype\":\"text/plain\","
		       "\"dataschema\":\"http://x\"");
	for (int i = 0; i < CE_MAX_EXTENSIONS; i++)
		buf_printf(&big, ",\"e%02d\":\"v\"", i);
	buf_puts(&big, ",\"data\":\"x\"}");
	CHECK_INT(cekafka_encode(&m, big.data, big.len, CEKAFKA_BINARY, &s, &err), 0);
	CHECK_INT(m.n_headers, 8 + CE_MAX_EXTENSIONS);
	CHECK_INT(cekafka_hop_headers(&m, NULL, &err), 0);
	CHECK_INT(m.n_headers, CEKAFKA_MAX_HEADERS - 1);
	buf_free(&big);
	buf_free(&s);
	buf_free(&hd);
}

/* ---- decode ---- */

static void test_decode_binary(void)
{
	buf out = BUF_INIT(BIG);
	errinfo err;
	cekafka_info info;
	const char *h1[] = {"ce_specversion=1.0", "ce_type=t", "ce_id=a\"b\\c\xc3\xa9",
			    "ce_source=/s", "content-type=application/json", "ce_zeta=1",
			    "ce_alpha=x y", "ce_time=2018-04-05T17:31:00.1Z",
			    "contentType=application/xml", "spring_json_header_types={}",
			    "id=42", "timestamp=1", "ce_partitionkey=k", NULL};
	const char v1[] = " {\"a\" : [1, 2]} ";
	CHECK_INT(dec(h1, v1, sizeof v1 - 1, &out, &info, &err), 0);
	CHECK_STR(out.data, "{\"specversion\":\"1.0\",\"id\":\"a\\\"b\\\\c\xc3\xa9\",\"source\":\"/s\","
			    "\"type\":\"t\",\"time\":\"2018-04-05T17:31:00.1Z\","
			    "\"datacontenttype\":\"application/json\",\"alpha\":\"x y\","
			    "\"partitionkey\":\"k\",\"zeta\":\"1\",\"data\":{\"a\":[1,2]}}");
	CHECK_INT(info.mode, CEKAFKA_BINARY);
	CHECK_INT(info.has_traceparent, 0);

	static const struct {
		const char *ct;    /* content-type header or NULL */
		const char *cect;  /* ce_datacontenttype or NULL */
		const char *value; /* NULL: null value */
		size_t len;
		const char *tail;  /* what follows "type":"t" */
	} cases[] = {
		{NULL, NULL, NULL, 0, "}"},
		{NULL, NULL, "", 0, "}"},
		{"text/plain", NULL, "", 0, ",\"datacontenttype\":\"text/plain\"}"},
		{NULL, NULL, "[1]", 3, ",\"data\":[1]}"},
		{NULL, NULL, "hello", 5, ",\"data_base64\":\"aGVsbG8=\"}"},
		/* JSON data already compact and flat goes as it is; anything
		 * else is parsed, then compacted or (not JSON) base64 */
		{NULL, NULL, "{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":null,\"e\":-0.5e3}", 44,
		 ",\"data\":{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":null,\"e\":-0.5e3}}"},
		{NULL, NULL, "{}", 2, ",\"data\":{}}"},
		{NULL, NULL, "{\"a\":1, \"b\":2}", 14, ",\"data\":{\"a\":1,\"b\":2}}"},
		{NULL, NULL, "{\"a\":{\"b\":[1]},\"c\":\"\\u00e9\"}", 28,
		 ",\"data\":{\"a\":{\"b\":[1]},\"c\":\"\\u00e9\"}}"},
		{NULL, NULL, "{\"a\":01}", 8, ",\"data_base64\":\"eyJhIjowMX0=\"}"},
		{NULL, NULL, "{\"a\":1}x", 8, ",\"data_base64\":\"eyJhIjoxfXg=\"}"},
		{NULL, NULL, "{\"a\":1,}", 8, ",\"data_base64\":\"eyJhIjoxLH0=\"}"},
		{"TEXT/plain; charset=utf-8", NULL, "a\tb", 3,
		 ",\"datacontenttype\":\"TEXT/plain; charset=utf-8\",\"data\":\"a\\tb\"}"},
		{"text/plain", NULL, "\xff", 1, ",\"datacontenttype\":\"text/plain\",\"data_base64\":\"/w==\"}"},
		{"application/json", NULL, "{", 1,
		 ",\"datacontenttype\":\"application/json\",\"data_base64\":\"ew==\"}"},
		{"application/vnd.x+json", NULL, "\"s\"", 3,
		 ",\"datacontenttype\":\"application/vnd.x+json\",\"data\":\"s\"}"},
		{"application/xml", NULL, "<a/>", 4,
		 ",\"datacontenttype\":\"application/xml\",\"data_base64\":\"PGEvPg==\"}"},
		/* ce_datacontenttype only without content-type; content-type wins */
		{NULL, "text/plain", "x", 1, ",\"datacontenttype\":\"text/plain\",\"data\":\"x\"}"},
		{"text/csv", "text/plain", "x", 1, ",\"datacontenttype\":\"text/csv\",\"data\":\"x\"}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char ct[128], cect[128];
		const char *hs[8] = {"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t"};
		size_t k = 4;
		if (cases[i].ct) {
			snprintf(ct, sizeof ct, "Content-Type=%s", cases[i].ct);
			hs[k++] = ct;
		}
		if (cases[i].cect) {
			snprintf(cect, sizeof cect, "ce_datacontenttype=%s", cases[i].cect);
			hs[k++] = cect;
		}
		hs[k] = NULL;
		char *v = cases[i].value ? dup_exact(cases[i].value, cases[i].len) : NULL;
		int r = dec(hs, v, cases[i].len, &out, NULL, &err);
		CHECK_INT(r, 0);
		char want[256];
		snprintf(want, sizeof want,
			 "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"%s",
			 cases[i].tail);
		if (r == 0)
			CHECK_STR(out.data, want);
		else
			printf("# case %zu: %s\n", i, err.text);
		free(v);
	}
	/* out is appended to */
	buf_reset(&out);
	buf_puts(&out, "X");
	cekafka_header h[4] = {{"ce_specversion", 14, "1.0", 3}, {"ce_id", 5, "1", 1},
			       {"ce_source", 9, "s", 1}, {"ce_type", 7, "t", 1}};
	CHECK_INT(cekafka_decode(h, 4, NULL, 0, &out, NULL, &err), 0);
	CHECK_STR(out.data, "X{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}");
	buf_free(&out);
}

static void test_decode_structured(void)
{
	buf out = BUF_INIT(BIG);
	errinfo err;
	cekafka_info info;
	const char ev[] = "{ \"type\":\"t\", \"id\":\"1\",\"source\":\"s\",\"specversion\":\"1.0\","
			  "\"ext\":5,\"data\":{ } }";
	const char *cts[] = {"content-type=application/cloudevents+json; charset=UTF-8",
			     "CONTENT-TYPE=Application/CloudEvents+JSON",
			     "content-type=application/cloudevents+json;charset=utf-8", NULL};
	for (int i = 0; cts[i]; i++) {
		/* ce_ headers beside a structured value are ignored */
		const char *hs[] = {cts[i], "ce_id=other", NULL};
		char *v = dup_exact(ev, sizeof ev - 1);
		CHECK_INT(dec(hs, v, sizeof ev - 1, &out, &info, &err), 0);
		CHECK_STR(out.data, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\","
				    "\"ext\":5,\"data\":{}}");
		CHECK_INT(info.mode, CEKAFKA_STRUCTURED);
		free(v);
	}
	static const struct {
		const char *ct, *value, *msg;
	} bad[] = {
		{"content-type=application/cloudevents-batch+json", "[]",
		 "content-type: application/cloudevents-batch+json: batch mode is not supported on Kafka"},
		{"content-type=application/cloudevents+avro", "x",
		 "content-type: application/cloudevents+avro: unsupported event format"},
		{"content-type=application/cloudevents+jsonx", "x",
		 "content-type: application/cloudevents+jsonx: unsupported event format"},
		{"content-type=application/cloudevents", "x",
		 "content-type: application/cloudevents: unsupported event format"},
		{"content-type=application/cloudevents+json", NULL,
		 "structured mode message without a value"},
		{"content-type=application/cloudevents+json", "{\"specversion\":\"1.0\"}", "id: "},
		{"content-type=application/cloudevents+json", "{", "invalid JSON at byte "},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *hs[] = {bad[i].ct, NULL};
		buf_reset(&out);
		buf_puts(&out, "keep");
		cekafka_header h = {hs[0], (size_t)(strchr(hs[0], '=') - hs[0]), strchr(hs[0], '=') + 1,
				    strlen(strchr(hs[0], '=') + 1)};
		int r = cekafka_decode(&h, 1, bad[i].value, bad[i].value ? strlen(bad[i].value) : 0,
				       &out, NULL, &err);
		CHECK_INT(r, EXIT_DATAERR);
		if (strncmp(err.text, bad[i].msg, strlen(bad[i].msg)) != 0) {
			printf("# %s -> \"%s\"\n", bad[i].ct, err.text);
			CHECK(0);
		}
		CHECK_STR(out.data, "keep");
	}
	buf_free(&out);
}

static void test_decode_errors(void)
{
	static const struct {
		const char *h[8];
		const char *msg;
	} cases[] = {
		{{"key=x", "contentType=application/json", NULL},
		 "not a CloudEvent: no content-type application/cloudevents... and no ce_ headers"},
		{{"content-type=application/json", NULL}, "not a CloudEvent: "},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", NULL}, "ce_type: required header missing"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_id=2", "ce_source=s", "ce_type=t", NULL},
		 "ce_id: header appears twice"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_x=1", "ce_x=2", NULL},
		 "ce_x: header appears twice"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "content-type=a/b",
		  "Content-Type=a/b", NULL},
		 "content-type: header appears twice"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_Foo=1", NULL},
		 "ce_Foo: not a CloudEvents attribute name"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_=1", NULL},
		 "ce_: not a CloudEvents attribute name"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_data=1", NULL},
		 "ce_data: not a CloudEvents attribute name"},
		{{"ce_specversion=1.0", "ce_id=a\nb", "ce_source=s", "ce_type=t", NULL},
		 "ce_id: header value is not UTF-8 text without control characters"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_e=\xc2\x85", NULL},
		 "ce_e: header value is not UTF-8"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_e=\xc3", NULL},
		 "ce_e: header value is not UTF-8"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_e=\x7f", NULL},
		 "ce_e: header value is not UTF-8"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "content-type=a\x01", NULL},
		 "content-type: header value is not UTF-8"},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_time=2020-13-01T00:00:00Z",
		  NULL},
		 "ce_time: "},
		{{"ce_specversion=0.3", "ce_id=1", "ce_source=s", "ce_type=t", NULL}, "ce_specversion: "},
		{{"ce_specversion=1.0", "ce_id=", "ce_source=s", "ce_type=t", NULL}, "ce_id: "},
		{{"ce_specversion=1.0", "ce_id=\x01", "ce_source=s", "ce_type=t", NULL}, "ce_id: "},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "content-type=nonsense", NULL},
		 "content-type: "},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_datacontenttype=x", NULL},
		 "ce_datacontenttype: "},
		{{"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", "ce_subject=\xef\xbf\xbf", NULL},
		 "ce_subject: "}, /* a noncharacter, caught by ce_parse */
		{{"ce_specversion=1.0", "ce_id=\x01", "ce_source=s", "ce_type=t", NULL}, "ce_id: "},
		{{"ce_specversion=\x01", "ce_id=1", "ce_source=s", "ce_type=t", NULL}, "ce_specversion: "},
	};
	buf out = BUF_INIT(BIG);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		errinfo err;
		int r = dec(cases[i].h, "v", 1, &out, NULL, &err);
		CHECK_INT(r, EXIT_DATAERR);
		if (r != EXIT_DATAERR || strncmp(err.text, cases[i].msg, strlen(cases[i].msg)) != 0) {
			printf("# case %zu -> %d \"%s\"\n", i, r, r ? err.text : out.data);
			CHECK(0);
		}
		CHECK_INT(out.len, 0);
	}
	/* a header name with control characters is shown safely */
	cekafka_header h[5] = {{"ce_specversion", 14, "1.0", 3}, {"ce_id", 5, "1", 1},
			       {"ce_source", 9, "s", 1}, {"ce_type", 7, "t", 1}, {"ce_\x1b[2J", 7, "1", 1}};
	errinfo err;
	CHECK_INT(cekafka_decode(h, 5, NULL, 0, &out, NULL, &err), EXIT_DATAERR);
	CHECK_STR(err.text, "ce_?[2J: not a CloudEvents attribute name (lower-case letters and digits)");
	/* a full out buffer: 70, out unchanged */
	buf small = BUF_INIT(10);
	buf_puts(&small, "ab");
	CHECK_INT(cekafka_decode(h, 4, NULL, 0, &small, NULL, &err), EXIT_SOFTWARE);
	CHECK_STR(small.data, "ab");
	buf_free(&small);
	/* more extensions than CE_MAX_EXTENSIONS */
	cekafka_header many[4 + CE_MAX_EXTENSIONS + 1];
	char names[CE_MAX_EXTENSIONS + 1][16];
	memcpy(many, h, 4 * sizeof h[0]);
	for (int i = 0; i <= CE_MAX_EXTENSIONS; i++) {
		snprintf(names[i], sizeof names[i], "ce_e%02u", (unsigned)i & 0xffu);
		many[4 + i] = (cekafka_header){names[i], strlen(names[i]), "v", 1};
	}
	CHECK_INT(cekafka_decode(many, 4 + CE_MAX_EXTENSIONS, NULL, 0, &out, NULL, &err), 0);
	buf_reset(&out);
	CHECK_INT(cekafka_decode(many, 5 + CE_MAX_EXTENSIONS, NULL, 0, &out, NULL, &err), EXIT_DATAERR);
	buf_free(&out);
}

static void test_decode_trace(void)
{
	buf out = BUF_INIT(BIG);
	errinfo err;
	cekafka_info info;
	const char *tp = "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	const char *h1[] = {"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", tp,
			    "tracestate=a=1,b=2", NULL};
	CHECK_INT(dec(h1, NULL, 0, &out, &info, &err), 0);
	CHECK_INT(info.has_traceparent, 1);
	CHECK_INT(info.traceparent.flags, 1);
	CHECK_INT(info.traceparent.trace_id[0], 0x4b);
	CHECK(span_is(info.tracestate, info.tracestate_len, "a=1,b=2"));
	/* the hop's headers are not event attributes */
	CHECK_STR(out.data, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}");
	const char *h2[] = {"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t",
			    "traceparent=00-xyz", "tracestate=a=1", NULL};
	CHECK_INT(dec(h2, NULL, 0, &out, &info, &err), 0);
	CHECK(info.has_traceparent == 0 && info.tracestate == NULL);
	const char *h3[] = {"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", tp, tp, NULL};
	CHECK_INT(dec(h3, NULL, 0, &out, &info, &err), 0);
	CHECK_INT(info.has_traceparent, 0);
	const char *h4[] = {"ce_specversion=1.0", "ce_id=1", "ce_source=s", "ce_type=t", tp,
			    "tracestate=", NULL};
	CHECK_INT(dec(h4, NULL, 0, &out, &info, &err), 0);
	CHECK(info.has_traceparent == 1 && info.tracestate == NULL);
	/* reported for structured messages and for rejected ones too */
	const char *h5[] = {"content-type=application/cloudevents+json", tp, NULL};
	CHECK_INT(dec(h5, "{}", 2, &out, &info, &err), EXIT_DATAERR);
	CHECK(info.has_traceparent == 1 && info.mode == CEKAFKA_STRUCTURED);
	const char *h6[] = {"ce_id=1", "ce_id=2",
			    "TraceParent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", NULL};
	CHECK_INT(dec(h6, NULL, 0, &out, &info, &err), EXIT_DATAERR);
	CHECK(info.has_traceparent == 1 && info.traceparent.flags == 0);
	buf_free(&out);
}

/* ---- round trips ---- */

/* Encode canonical text E in a mode and decode the message into out. */
static int via_kafka(const char *e, size_t n, enum cekafka_mode mode, buf *out, errinfo *err)
{
	cekafka_msg m;
	buf s = BUF_INIT(BIG);
	int r = cekafka_encode(&m, e, n, mode, &s, err);
	if (r == 0) {
		buf_reset(out);
		r = cekafka_decode(m.h, m.n_headers, m.value, m.value_len, out, NULL, err);
	}
	buf_free(&s);
	return r;
}

static int lossless_of(const char *e, size_t n)
{
	cloudevent ev;
	return ce_parse(&ev, e, n, NULL) == 0 ? cekafka_binary_lossless(&ev) : -1;
}

struct rt_count {
	int events, lossless, lossy;
};

/* The properties for one event text: see the top of the file. */
static int round_trip(const char *text, size_t len, const char *what, struct rt_count *c)
{
	cloudevent ev;
	ce_error ce;
	buf canon = BUF_INIT(BIG), out = BUF_INIT(BIG), again = BUF_INIT(BIG);
	errinfo err;
	int ok = 1;
	if (ce_parse(&ev, text, len, &ce) != 0 || ce_write_json(&ev, &canon) != 0) {
		printf("# %s: not a valid event: %s %s\n", what, ce.attribute, ce.text);
		return 0;
	}
	char *e = dup_exact(canon.data, canon.len);
	c->events++;
	if (via_kafka(e, canon.len, CEKAFKA_STRUCTURED, &out, &err) != 0 || out.len != canon.len ||
	    memcmp(out.data, e, canon.len) != 0) {
		printf("# %s: structured round trip differs\n#   %s\n#   %s\n", what, canon.data,
		       out.data ? out.data : err.text);
		ok = 0;
	}
	int lossless = lossless_of(e, canon.len);
	int r = via_kafka(e, canon.len, CEKAFKA_BINARY, &out, &err);
	if (r != 0) {
		printf("# %s: binary round trip fails: %s\n#   %s\n", what, err.text, canon.data);
		ok = 0;
	} else {
		int same = out.len == canon.len && memcmp(out.data, e, canon.len) == 0;
		if (same != (lossless == 1)) {
			printf("# %s: binary round trip %s but lossless says %d\n#   %s\n#   %s\n", what,
			       same ? "is exact" : "differs", lossless, canon.data, out.data);
			ok = 0;
		}
		lossless ? c->lossless++ : c->lossy++;
		/* what binary mode gives back is a fixed point */
		char *e2 = dup_exact(out.data, out.len);
		if (via_kafka(e2, out.len, CEKAFKA_BINARY, &again, &err) != 0 || again.len != out.len ||
		    memcmp(again.data, e2, out.len) != 0 || lossless_of(e2, out.len) != 1) {
			printf("# %s: second binary round trip differs\n", what);
			ok = 0;
		}
		free(e2);
	}
	free(e);
	buf_free(&canon);
	buf_free(&out);
	buf_free(&again);
	return ok;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf b = BUF_INIT(BIG);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		if (buf_append(&b, tmp, n) != 0)
			break;
	fclose(f);
	*len = b.len;
	return b.data;
}

static void test_round_trip_conformance(void)
{
	char path[512];
	const char *shared = getenv("SHARED_DIR");
	snprintf(path, sizeof path, "%s" CONFORMANCE "valid-events.json",
		 shared && *shared ? shared : "../shared");
	size_t len = 0;
	char *text = read_all(path, &len);
	CHECK(text != NULL);
	if (!text) {
		printf("# cannot read %s\n", path);
		return;
	}
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	CHECK(doc != NULL);
	const cJSON *t;
	struct rt_count c = {0, 0, 0};
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tests")) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
		char *line = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "event"));
		CHECK(id && line);
		if (id && line)
			CHECK(round_trip(line, strlen(line), id, &c));
		cJSON_free(line);
	}
	printf("# %d vectors: %d binary-lossless, %d not\n", c.events, c.lossless, c.lossy);
	CHECK(c.events >= 10 && c.lossless > 0 && c.lossy > 0);
	cJSON_Delete(doc);
}

/* Each entry of the lossy list in cekafka.h, with what comes back. */
static void test_binary_lossy_list(void)
{
	static const struct {
		const char *rest, *back;
	} cases[] = {
		/* 1 */
		{",\"n\":7,\"b\":true}", ",\"b\":\"true\",\"n\":\"7\"}"},
		/* 2 */
		{",\"subject\":\"\\u00e9\\/\"}", ",\"subject\":\"\xc3\xa9/\"}"},
		{",\"datacontenttype\":\"text/plain\",\"data\":\"\\u0041\"}",
		 ",\"datacontenttype\":\"text/plain\",\"data\":\"A\"}"},
		/* 3 */
		{",\"data_base64\":\"\"}", "}"},
		{",\"datacontenttype\":\"text/plain\",\"data\":\"\"}", ",\"datacontenttype\":\"text/plain\"}"},
		/* 4 */
		{",\"data_base64\":\"WzFd\"}", ",\"data\":[1]}"},
		{",\"datacontenttype\":\"application/json\",\"data_base64\":\"IHt9IA==\"}",
		 ",\"datacontenttype\":\"application/json\",\"data\":{}}"},
		{",\"datacontenttype\":\"text/plain\",\"data_base64\":\"aGk=\"}",
		 ",\"datacontenttype\":\"text/plain\",\"data\":\"hi\"}"},
		/* 5 */
		{",\"datacontenttype\":\"text/plain\",\"data\":{\"a\":1}}",
		 ",\"datacontenttype\":\"text/plain\",\"data\":\"{\\\"a\\\":1}\"}"},
		{",\"datacontenttype\":\"application/xml\",\"data\":[1]}",
		 ",\"datacontenttype\":\"application/xml\",\"data_base64\":\"WzFd\"}"},
		{",\"datacontenttype\":\"application/xml\",\"data\":\"<a/>\"}",
		 ",\"datacontenttype\":\"application/xml\",\"data_base64\":\"PGEvPg==\"}"},
	};
	static const char head[] = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"";
	buf out = BUF_INIT(BIG);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char e[512], want[512];
		snprintf(e, sizeof e, "%s%s", head, cases[i].rest);
		snprintf(want, sizeof want, "%s%s", head, cases[i].back);
		errinfo err;
		CHECK_INT(lossless_of(e, strlen(e)), 0);
		CHECK_INT(via_kafka(e, strlen(e), CEKAFKA_BINARY, &out, &err), 0);
		CHECK_STR(out.data, want);
	}
	buf_free(&out);
}

/* ---- generated events ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A JSON string token with a random mix of plain, escaped and non-ASCII
 * characters (never empty, no control characters). */
static int gen_plain; /* only pieces binary mode keeps as they are */

static void gen_string(buf *b)
{
	static const char *const pieces[] = {"a", "Z", "0", "-", "/", " ", "\\\"", "\\\\", "\\/",
					     "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\\u20ac",
					     "\\ud83d\\ude00", "\xf0\x9f\x98\x80", "%41", ":", "."};
	buf_putc(b, '"');
	unsigned n = 1 + rnd(6);
	for (unsigned i = 0; i < n; i++) {
		const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
		buf_puts(b, gen_plain && strchr(p, '\\') && strcmp(p, "\\\"") != 0 &&
					   strcmp(p, "\\\\") != 0
				    ? "b"
				    : p);
	}
	buf_putc(b, '"');
}

static void gen_event(buf *b)
{
	static const char *const cts[] = {NULL, "application/json", "text/plain",
					  "text/csv; charset=utf-8",
					  "application/octet-stream", "application/cloudevents+json",
					  "application/vnd.a+json"};
	static const char *const datas[] = {"{\"a\":[1,true,null,\"x\"]}", "[]", "0", "\"\"", "\"text\"",
					    "\"t\\u00e9\\n\"", "\"\xc3\xa9\"", "null", "{\"k\":\"v\"}"};
	static const char *const b64s[] = {"", "AAEC", "WzFd", "aGk=", "/w==", "IiI=", "e30=", "4pyT"};
	buf_reset(b);
	gen_plain = rnd(2);
	buf_puts(b, "{\"specversion\":\"1.0\",\"id\":");
	gen_string(b);
	buf_puts(b, ",\"source\":");
	gen_string(b);
	buf_puts(b, ",\"type\":");
	gen_string(b);
	if (rnd(2)) {
		buf_puts(b, ",\"subject\":");
		gen_string(b);
	}
	if (rnd(2))
		buf_puts(b, rnd(2) ? ",\"time\":\"2026-11-27T09:51:38.123456789+01:00\""
				   : ",\"time\":\"2018-04-05T17:31:00Z\"");
	const char *ct = cts[rnd(sizeof cts / sizeof cts[0])];
	if (ct)
		buf_printf(b, ",\"datacontenttype\":\"%s\"", ct);
	if (rnd(3) == 0)
		buf_puts(b, ",\"dataschema\":\"https://example.com/s\\/1\"");
	unsigned n_ext = rnd(5);
	for (unsigned i = 0; i < n_ext; i++) {
		buf_printf(b, ",\"x%u%c\":", i, 'a' + rnd(26));
		switch (gen_plain ? 2 : rnd(5)) {
		case 0: buf_printf(b, "%d", (int)rnd(2000) - 1000); break;
		case 1: buf_puts(b, rnd(2) ? "true" : "false"); break;
		default: gen_string(b);
		}
	}
	switch (rnd(3)) {
	case 0: break;
	case 1: buf_printf(b, ",\"data\":%s", datas[rnd(sizeof datas / sizeof datas[0])]); break;
	default: buf_printf(b, ",\"data_base64\":\"%s\"", b64s[rnd(sizeof b64s / sizeof b64s[0])]);
	}
	buf_putc(b, '}');
}

static void test_round_trip_generated(void)
{
	buf b = BUF_INIT(BIG);
	struct rt_count c = {0, 0, 0};
	int bad = 0;
	for (int i = 0; i < 3000 && bad < 5; i++) {
		gen_event(&b);
		char what[32];
		snprintf(what, sizeof what, "generated %d", i);
		if (!round_trip(b.data, b.len, what, &c))
			bad++;
	}
	CHECK_INT(bad, 0);
	printf("# %d generated events: %d binary-lossless, %d not\n", c.events, c.lossless, c.lossy);
	CHECK(c.lossless > 300 && c.lossy > 300);
	buf_free(&b);
}

/* ---- timing (printed, not asserted) ---- */

static void test_encode_timing(void)
{
	const int n = 200000;
	cekafka_msg m;
	buf s = BUF_INIT(BIG);
	errinfo err;
	size_t sum = 0;
	int fails = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		fails += cekafka_encode(&m, typical, sizeof typical - 1, CEKAFKA_BINARY, &s, &err) != 0;
		sum += m.n_headers + m.value_len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# encode (binary, %zu-byte event): %.0f events/s\n", sizeof typical - 1, n / secs);
	CHECK_INT(fails, 0);
	CHECK(sum > 0);
	buf_free(&s);
}

int main(void)
{
	RUN(test_encode_binary_typical);
	RUN(test_encode_values);
	RUN(test_encode_structured);
	RUN(test_encode_invalid);
	RUN(test_hop_headers);
	RUN(test_decode_binary);
	RUN(test_decode_structured);
	RUN(test_decode_errors);
	RUN(test_decode_trace);
	RUN(test_round_trip_conformance);
	RUN(test_binary_lossy_list);
	RUN(test_round_trip_generated);
	RUN(test_encode_timing);
	return unit_done();
}
