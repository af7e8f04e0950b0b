/* test_json.c - unit tests of lib/json.c */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "json.h"
#include "strscan.h"
#include "unit.h"

/* Every input is copied to a heap block of exactly its size, so ASan
 * catches a read past the end (inputs are never NUL-terminated). */
static char *exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	if (p && n)
		memcpy(p, s, n);
	return p;
}

static int parse(const char *s, size_t n, json_span *v, enum json_type *t, json_error *e)
{
	char *c = exact(s, n);
	if (!c)
		return -2;
	int r = json_parse_value(c, n, v, t, e);
	/* spans point into c: report them relative to s */
	if (r == 0 && v)
		v->p = s + (v->p - c);
	free(c);
	return r;
}

#define S(lit) lit, sizeof(lit) - 1

static const struct {
	const char *s;
	size_t n;
	enum json_type type;
} valid[] = {
	{S("0"), JSON_NUMBER},
	{S("-0"), JSON_NUMBER},
	{S("1.5"), JSON_NUMBER},
	{S("-1.5e10"), JSON_NUMBER},
	{S("1E+2"), JSON_NUMBER},
	{S("1e-2"), JSON_NUMBER},
	{S("0.0e0"), JSON_NUMBER},
	{S("123456789012345678901234567890"), JSON_NUMBER},
	{S("true"), JSON_TRUE},
	{S("false"), JSON_FALSE},
	{S("null"), JSON_NULL},
	{S("\"\""), JSON_STRING},
	{S("\"plain ascii string longer than eight\""), JSON_STRING},
	{S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), JSON_STRING},
	{S("\"\\u00e9\\uD83D\\uDE00\\u0000\""), JSON_STRING},
	{S("\"\xc3\xa9\xf0\x9f\x98\x80 caf\xc3\xa9 \xe2\x82\xac\""), JSON_STRING},
	{S("\"\x7f del is fine\""), JSON_STRING},
	{S("\"12345678\\n12345678\xc3\xa9" "12345678\""), JSON_STRING},
	{S("[]"), JSON_ARRAY},
	{S("{}"), JSON_OBJECT},
	{S(" \t\r\n[ 1 , { \"a\" : [ ] , \"b\":{}} ,\"x\",true,false,null] \n"), JSON_ARRAY},
	{S("{\"a\":1,\"a\":2}"), JSON_OBJECT}, /* duplicates: the caller's business */
	{S("[[[[[[[[[[]]]]]]]]]]"), JSON_ARRAY},
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		json_span v;
		enum json_type t = JSON_INVALID;
		json_error e = {0, NULL};
		int r = parse(valid[i].s, valid[i].n, &v, &t, &e);
		if (r != 0)
			printf("# valid[%zu] rejected at %zu: %s\n", i, e.offset, e.what);
		CHECK_INT(r, 0);
		CHECK_INT(t, valid[i].type);
		CHECK_INT(json_type_of(v), valid[i].type);
	}
}

static const struct {
	const char *s;
	size_t n;
	long offset; /* -1: not checked */
} invalid[] = {
	{S(""), 0},
	{S("   "), 3},
	{S("-"), 1},
	{S("--1"), 1},
	{S("+1"), 0},
	{S("1."), 2},
	{S("1.e5"), 2},
	{S(".5"), 0},
	{S("1e"), 2},
	{S("1e+"), 3},
	{S("1E-x"), 3},
	{S("01"), 0},
	{S("-01"), 1},
	{S("00"), 0},
	{S("1 2"), 2},
	{S("1x"), 1},
	{S("tru"), 0},
	{S("truex"), 4},
	{S("nul"), 0},
	{S("NaN"), 0},
	{S("Infinity"), 0},
	{S("-Infinity"), 1},
	{S("'a'"), 0},
	{S("[1,]"), 3},
	{S("[,1]"), 1},
	{S("[1 2]"), 3},
	{S("["), 1},
	{S("]"), 0},
	{S("[1"), 2},
	{S("{\"a\":1,}"), 7},
	{S("{,}"), 1},
	{S("{\"a\"}"), 4},
	{S("{\"a\":}"), 5},
	{S("{\"a\" 1}"), 5},
	{S("{1:2}"), 1},
	{S("{\"a\":1"), 6},
	{S("{\"a\":1]"), 6},
	{S("[1}"), 2},
	{S("\"abc"), 4},
	{S("\"abcdefghijklmnop"), 17},
	{S("\"\x01\""), 1},
	{S("\"tab\there\""), 4},
	{S("\"0123456789\n\""), 11},
	{S("\"\\x\""), 1},
	{S("\"\\"), 2},
	{S("\"\\u12\""), 1},
	{S("\"\\u12G4\""), 1},
	{S("\"\\ud800\""), 1},
	{S("\"\\udc00\""), 1},
	{S("\"\\ud800\\u0041\""), 1},
	{S("\"\\ud800\\n\""), 1},
	{S("\"ab\xff\""), 3},
	{S("\"\xc0\xaf\""), 1},      /* overlong */
	{S("\"\xed\xa0\x80\""), 1},  /* UTF-8 surrogate */
	{S("\"\xf4\x90\x80\x80\""), 1}, /* above U+10FFFF */
	{S("\"\xc3\""), 1},          /* truncated sequence */
	{S("\"\xe2\x82\""), 1},
	{S("1\0"), 1},
	{S("\"a\0b\""), 2},
	{S("[1]x"), 3},
	{S("/* c */ 1"), 0},
};

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		json_span v;
		enum json_type t;
		json_error e = {999, NULL};
		int r = parse(invalid[i].s, invalid[i].n, &v, &t, &e);
		if (r == 0)
			printf("# invalid[%zu] accepted\n", i);
		CHECK_INT(r, -1);
		CHECK(e.what != NULL && e.what[0] != '\0');
		CHECK(e.offset <= invalid[i].n);
		if (invalid[i].offset >= 0 && (long)e.offset != invalid[i].offset)
			printf("# invalid[%zu]: offset %zu (%s), want %ld\n", i, e.offset,
			       e.what ? e.what : "", invalid[i].offset);
		if (invalid[i].offset >= 0)
			CHECK_INT(e.offset, invalid[i].offset);
	}
	/* err may be NULL */
	CHECK_INT(json_parse_value("[", 1, NULL, NULL, NULL), -1);
}

static void test_messages(void)
{
	json_error e;
	CHECK_INT(parse(S("01"), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "leading zero in number");
	CHECK_INT(parse(S("\"abc"), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "unterminated string");
	CHECK_INT(parse(S("\"\x01\""), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "control character in string");
	CHECK_INT(parse(S("\"\xff\""), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "invalid UTF-8 in string");
	CHECK_INT(parse(S("\"\\ud800\""), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "unpaired surrogate in \\u escape");
	CHECK_INT(parse(S("1 2"), NULL, NULL, &e), -1);
	CHECK_STR(e.what, "trailing characters after value");
}

/* Nesting up to JSON_MAX_DEPTH is fine, one more is not, and a very deep
 * input neither recurses nor crashes. */
static void test_depth(void)
{
	size_t big = 100000;
	char *s = malloc(2 * big);
	if (!s) {
		CHECK(0);
		return;
	}
	for (size_t d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
		memset(s, '[', d);
		memset(s + d, ']', d);
		json_error e;
		int r = parse(s, 2 * d, NULL, NULL, &e);
		CHECK_INT(r, d <= JSON_MAX_DEPTH ? 0 : -1);
		if (r != 0) {
			CHECK_STR(e.what, "nesting too deep");
			CHECK_INT(e.offset, JSON_MAX_DEPTH);
		}
	}
	for (size_t i = 0; i < big; i++)
		s[2 * i] = '{', s[2 * i + 1] = '[';
	CHECK_INT(parse(s, 2 * big, NULL, NULL, NULL), -1);
	memset(s, '[', 2 * big);
	CHECK_INT(parse(s, 2 * big, NULL, NULL, NULL), -1);
	free(s);
}

/* The scanner, checked against cJSON on inputs where both must agree:
 * every prefix of some documents is invalid for both (except where a
 * prefix is itself a complete number). */
static void test_prefixes(void)
{
	static const char doc[] =
		"{\"a\":[1,2.5e3,\"x\\u00e9\\ud83d\\ude00\",true,false,null],\"b\":{\"c\":\"\xc3\xa9\"}}";
	size_t n = sizeof doc - 1;
	for (size_t k = 0; k < n; k++) {
		int r = parse(doc, k, NULL, NULL, NULL);
		CHECK_INT(r, -1);
	}
	CHECK_INT(parse(doc, n, NULL, NULL, NULL), 0);
}

static void test_scan(void)
{
	static const char text[] = " 1 [2, 3]{\"a\":\"b\"}\"s\"-4.5e1 x";
	size_t len = sizeof text - 1, pos = 0;
	json_span v;
	enum json_type t;
	json_error e;
	static const enum json_type want[] = {JSON_NUMBER, JSON_ARRAY, JSON_OBJECT, JSON_STRING, JSON_NUMBER};
	static const char *const wtext[] = {"1", "[2, 3]", "{\"a\":\"b\"}", "\"s\"", "-4.5e1"};
	for (size_t i = 0; i < 5; i++) {
		CHECK_INT(json_scan(text, len, &pos, &v, &t, &e), 0);
		CHECK_INT(t, want[i]);
		CHECK(v.n == strlen(wtext[i]) && memcmp(v.p, wtext[i], v.n) == 0);
	}
	CHECK_INT(json_scan(text, len, &pos, &v, &t, &e), -1);
	CHECK_INT(e.offset, len - 1);
	static const struct {
		const char *s;
		unsigned flags;
	} fl[] = {
		{"\"abc\"", 0},
		{"\"a\\nb\"", JSON_SCAN_ESCAPES},
		{"\"caf\xc3\xa9\"", JSON_SCAN_NONASCII},
		{"{\"k\\u0065y\":[\"\xc3\xa9\"]}", JSON_SCAN_ESCAPES | JSON_SCAN_NONASCII},
		{"[1, true, \"x\"]", 0},
	};
	for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
		unsigned f = 99;
		pos = 0;
		CHECK_INT(json_scan_flags(fl[i].s, strlen(fl[i].s), &pos, &v, &t, &f, &e), 0);
		CHECK_INT(f, fl[i].flags);
		CHECK_INT(pos, strlen(fl[i].s));
	}
	pos = len;
	CHECK_INT(json_scan(text, len, &pos, &v, &t, &e), -1);
	pos = len + 1;
	CHECK_INT(json_scan(text, len, &pos, &v, &t, &e), -1);
}

static int span_is(json_span s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void test_iterate(void)
{
	static const char doc[] = "{ \"a\" : 1 , \"b\\\"c\":[1, {\"x\":\"]}\"}], \"d\" : \"q\\\\\" ,\"e\":{}}";
	json_span v, k, val;
	enum json_type t;
	CHECK_INT(parse(doc, sizeof doc - 1, &v, &t, NULL), 0);
	json_iter it;
	json_object_begin(&it, v);
	static const char *const keys[] = {"\"a\"", "\"b\\\"c\"", "\"d\"", "\"e\""};
	static const char *const vals[] = {"1", "[1, {\"x\":\"]}\"}]", "\"q\\\\\"", "{}"};
	static const enum json_type types[] = {JSON_NUMBER, JSON_ARRAY, JSON_STRING, JSON_OBJECT};
	size_t n = 0;
	while (json_object_next(&it, &k, &val, &t)) {
		CHECK(n < 4);
		if (n >= 4)
			break;
		CHECK(span_is(k, keys[n]));
		CHECK(span_is(val, vals[n]));
		CHECK_INT(t, types[n]);
		if (n == 1) {
			json_iter ai;
			json_span e;
			enum json_type et;
			size_t m = 0;
			json_array_begin(&ai, val);
			while (json_array_next(&ai, &e, &et))
				m++;
			CHECK_INT(m, 2);
		}
		n++;
	}
	CHECK_INT(n, 4);
	CHECK_INT(json_object_next(&it, &k, &val, &t), 0);

	json_span empty = {"[ ]", 3};
	json_array_begin(&it, empty);
	CHECK_INT(json_array_next(&it, &val, &t), 0);
	/* misuse: iterating a non-object yields nothing */
	json_span num = {"12", 2};
	json_object_begin(&it, num);
	CHECK_INT(json_object_next(&it, &k, &val, &t), 0);
}

static void test_pointer(void)
{
	/* RFC 6901 section 5 */
	static const char doc[] =
		"{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3, "
		"\"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8, "
		"\"\\u0078y\": 9, \"n\": {\"x\": [10, [11, 12]]}}";
	static const struct {
		const char *ptr;
		int r;
		const char *val;
	} cases[] = {
		{"", 1, NULL},
		{"/foo", 1, "[\"bar\", \"baz\"]"},
		{"/foo/0", 1, "\"bar\""},
		{"/foo/1", 1, "\"baz\""},
		{"/", 1, "0"},
		{"/a~1b", 1, "1"},
		{"/c%d", 1, "2"},
		{"/e^f", 1, "3"},
		{"/g|h", 1, "4"},
		{"/i\\j", 1, "5"},
		{"/k\"l", 1, "6"},
		{"/ ", 1, "7"},
		{"/m~0n", 1, "8"},
		{"/xy", 1, "9"},
		{"/n/x/1/0", 1, "11"},
		{"/n/x/1/1", 1, "12"},
		{"/foo/2", 0, NULL},
		{"/foo/01", 0, NULL},
		{"/foo/-", 0, NULL},
		{"/foo/-1", 0, NULL},
		{"/foo/0/x", 0, NULL},
		{"/nope", 0, NULL},
		{"/a/b", 0, NULL},
		{"/foo/99999999999999999999999", 0, NULL},
		{"foo", -1, NULL},
		{"/~2", -1, NULL},
		{"/a~", -1, NULL},
	};
	json_span d;
	CHECK_INT(parse(doc, sizeof doc - 1, &d, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_span v = {NULL, 0};
		enum json_type t;
		int r = json_pointer_find(d, cases[i].ptr, &v, &t);
		if (r != cases[i].r)
			printf("# pointer \"%s\": %d, want %d\n", cases[i].ptr, r, cases[i].r);
		CHECK_INT(r, cases[i].r);
		CHECK_INT(json_pointer_check(cases[i].ptr), cases[i].r < 0 ? -1 : 0);
		if (r == 1 && cases[i].val) {
			CHECK(span_is(v, cases[i].val));
			CHECK_INT(t, json_type_of(v));
		}
		if (r == 1 && !cases[i].val)
			CHECK(v.p == d.p && v.n == d.n);
	}
	/* the first of duplicate keys */
	json_span v;
	json_span dup = {"{\"a\":1,\"a\":2}", 13};
	CHECK_INT(json_pointer_find(dup, "/a", &v, NULL), 1);
	CHECK(span_is(v, "1"));
	CHECK_INT(json_pointer_check(NULL), -1);
}

static void test_strings(void)
{
	json_span plain = {"\"abc\"", 5}, esc = {"\"a\\nb\\u00e9\\ud83d\\ude00\\/\"", 26};
	CHECK(json_string_is_plain(plain));
	CHECK(!json_string_is_plain(esc));
	CHECK(json_string_equals(plain, "abc"));
	CHECK(!json_string_equals(plain, "ab"));
	CHECK(!json_string_equals(plain, "abcd"));
	CHECK(json_string_equals(esc, "a\nb\xc3\xa9\xf0\x9f\x98\x80/"));
	CHECK(!json_string_equals(esc, "a\nb\xc3\xa9\xf0\x9f\x98\x80"));
	CHECK(!json_string_equals(esc, "a\nb\xc3\xa9\xf0\x9f\x98\x80/x"));

	buf b;
	buf_init(&b, 0);
	CHECK_INT(json_string_decode(esc, &b), 0);
	CHECK_STR(b.data, "a\nb\xc3\xa9\xf0\x9f\x98\x80/");
	buf_reset(&b);
	json_span nul = {"\"x\\u0000y\"", 10};
	CHECK_INT(json_string_decode(nul, &b), 0);
	CHECK(b.len == 3 && memcmp(b.data, "x\0y", 3) == 0);
	CHECK(!json_string_equals(nul, "x"));

	char small[4];
	CHECK_INT(json_string_decode_fixed(plain, small, 3), 3);
	CHECK_INT(json_string_decode_fixed(plain, small, 2), (size_t)-1);
	char dst[64];
	size_t n = json_string_decode_fixed(esc, dst, sizeof dst);
	CHECK(n == 10 && memcmp(dst, "a\nb\xc3\xa9\xf0\x9f\x98\x80/", 10) == 0);
	CHECK_INT(json_string_decode_fixed(esc, dst, 9), (size_t)-1);
	CHECK_INT(json_string_decode_fixed(esc, dst, 10), 10);

	size_t pos = 0;
	static const long cps[] = {'a', '\n', 'b', 0xE9, 0x1F600, '/'};
	for (size_t i = 0; i < 6; i++)
		CHECK_INT(json_string_next_cp(esc, &pos), cps[i]);
	CHECK_INT(json_string_next_cp(esc, &pos), -1);
	json_span raw = {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\"", 12};
	pos = 0;
	CHECK_INT(json_string_next_cp(raw, &pos), 0xE9);
	CHECK_INT(json_string_next_cp(raw, &pos), 0x20AC);
	CHECK_INT(json_string_next_cp(raw, &pos), 0x1F600);
	CHECK_INT(json_string_next_cp(raw, &pos), 'z');
	CHECK_INT(json_string_next_cp(raw, &pos), -1);
	buf_free(&b);
}

static void test_encode(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{S(""), "\"\""},
		{S("abc"), "\"abc\""},
		{S("a\"b\\c"), "\"a\\\"b\\\\c\""},
		{S("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\""},
		{S("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\""},
		{S("nul\0byte"), "\"nul\\u0000byte\""},
		{S("caf\xc3\xa9 \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
		{S("0123456789abcdef\"0123456789abcdef\n"), "\"0123456789abcdef\\\"0123456789abcdef\\n\""},
		{S("/"), "\"/\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf b;
		buf_init(&b, 0);
		CHECK_INT(buf_puts(&b, "pre"), 0);
		CHECK_INT(json_string_encode(&b, cases[i].in, cases[i].n), 0);
		CHECK(b.len >= 3 && memcmp(b.data, "pre", 3) == 0);
		CHECK_STR(b.data + 3, cases[i].out);
		/* the token parses and decodes back to the input */
		json_span v;
		enum json_type t;
		CHECK_INT(parse(b.data + 3, b.len - 3, &v, &t, NULL), 0);
		CHECK_INT(t, JSON_STRING);
		buf d;
		buf_init(&d, 0);
		json_span tok = {b.data + 3, b.len - 3};
		CHECK_INT(json_string_decode(tok, &d), 0);
		CHECK(d.len == cases[i].n && memcmp(d.data ? d.data : "", cases[i].in, d.len) == 0);
		buf_free(&d);
		buf_free(&b);
	}
	/* A full buffer: -1, contents unchanged, both on the first
	 * reservation and on a later one (escapes need room). */
	buf b;
	buf_init(&b, 8);
	CHECK_INT(buf_puts(&b, "ab"), 0);
	CHECK_INT(json_string_encode(&b, "0123456789", 10), -1);
	CHECK_STR(b.data, "ab");
	CHECK_INT(b.len, 2);
	CHECK_INT(json_string_encode(&b, "\n\n\n", 3), -1);
	CHECK_STR(b.data, "ab");
	CHECK_INT(json_string_encode(&b, "x\n", 2), 0);
	CHECK_STR(b.data, "ab\"x\\n\"");
	buf_free(&b);

	/* every byte value from 1 to 127, and a long mixed string */
	char all[127];
	for (int i = 0; i < 127; i++)
		all[i] = (char)(i + 1);
	buf_init(&b, 0);
	CHECK_INT(json_string_encode(&b, all, sizeof all), 0);
	json_span tok;
	CHECK_INT(parse(b.data, b.len, &tok, NULL, NULL), 0);
	tok.p = b.data;
	buf d;
	buf_init(&d, 0);
	CHECK_INT(json_string_decode(tok, &d), 0);
	CHECK(d.len == sizeof all && memcmp(d.data, all, sizeof all) == 0);
	buf_free(&d);
	buf_free(&b);
}

static void test_compact(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"1", "1"},
		{" [ 1 , 2 ] ", "[1,2]"},
		{"{ \"a b\" : \" x \\\" y \" ,\n\t\"c\" : [ true , null , { } ] }",
		 "{\"a b\":\" x \\\" y \",\"c\":[true,null,{}]}"},
		{"\"  \\\\\"", "\"  \\\\\""},
		{"[ \"\\\\\" , \" \" ]", "[\"\\\\\",\" \"]"},
		{"{\r\n  \"k\": -1.5e+3\r\n}", "{\"k\":-1.5e+3}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_span v;
		CHECK_INT(parse(cases[i].in, strlen(cases[i].in), &v, NULL, NULL), 0);
		buf b;
		buf_init(&b, 0);
		CHECK_INT(json_compact(v, &b), 0);
		CHECK_STR(b.data, cases[i].out);
		json_span c = {b.data, b.len};
		CHECK(json_is_compact(c));
		CHECK_INT(json_is_compact(v), strcmp(cases[i].in, cases[i].out) == 0);
		/* cross-check with cJSON: same document */
		cJSON *a = cJSON_ParseWithLength(cases[i].in, strlen(cases[i].in));
		cJSON *z = cJSON_ParseWithLength(b.data, b.len);
		CHECK(a && z && cJSON_Compare(a, z, 1));
		cJSON_Delete(a);
		cJSON_Delete(z);
		buf_free(&b);
	}
	/* full: -1 and unchanged */
	buf b;
	buf_init(&b, 4);
	json_span v = {"[1, 2, 3]", 9};
	CHECK_INT(json_compact(v, &b), -1);
	CHECK_INT(b.len, 0);
	buf_free(&b);
}

/* The scanner agrees with cJSON on what cJSON also treats strictly. */
static void test_against_cjson(void)
{
	static const char *const docs[] = {
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}",
		"[1,2,3,[4,5,[6]]]",
		"[\"\\u00e9\",\"\\ud83d\\ude00\",-0.5e-7]",
		"{\"x\":{\"y\":{\"z\":[true,false]}}}",
		"[1,]",
		"{\"a\":1,}",
		"[1 2]",
		"{\"a\" 1}",
		"[\"a\"\"b\"]",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		size_t n = strlen(docs[i]);
		cJSON *c = cJSON_ParseWithLength(docs[i], n);
		int ours = parse(docs[i], n, NULL, NULL, NULL);
		CHECK_INT(ours == 0, c != NULL);
		cJSON_Delete(c);
	}
}

struct each_log {
	char seen[8][16];
	long n, stop_at;
};

static int each_log(void *ctx, json_span v, enum json_type t)
{
	struct each_log *l = ctx;
	(void)t;
	if (l->n < 8)
		snprintf(l->seen[l->n], sizeof l->seen[0], "%.*s", (int)v.n, v.p);
	l->n++;
	return l->stop_at && l->n >= l->stop_at;
}

/* Duplicate keys: json_pointer_find sees the first member, most readers
 * the last; json_pointer_each visits every one, at every level. */
static void test_pointer_each(void)
{
	const char *doc = " {\"a\":{\"b\":1,\"b\":2},\"x\":0,\"\\u0061\":{\"b\":3,\"c\":4},\"a\":[5]} ";
	json_span d = { doc, strlen(doc) };
	struct each_log l = { { { 0 } }, 0, 0 };
	CHECK_INT(json_pointer_each(d, "/a/b", each_log, &l), 3);
	CHECK_STR(l.seen[0], "1");
	CHECK_STR(l.seen[1], "2");
	CHECK_STR(l.seen[2], "3");
	l = (struct each_log){ { { 0 } }, 0, 0 };
	CHECK_INT(json_pointer_each(d, "/a", each_log, &l), 3);
	CHECK_STR(l.seen[2], "[5]");
	l = (struct each_log){ { { 0 } }, 0, 0 };
	CHECK_INT(json_pointer_each(d, "/a/0", each_log, &l), 1); /* the array one */
	CHECK_STR(l.seen[0], "5");
	CHECK_INT(json_pointer_each(d, "/nope", each_log, &l), 0);
	CHECK_INT(json_pointer_each(d, "a", each_log, &l), -1);
	l = (struct each_log){ { { 0 } }, 0, 2 };
	CHECK_INT(json_pointer_each(d, "/a/b", each_log, &l), -2); /* stopped */
	CHECK_INT(l.n, 2);
	l = (struct each_log){ { { 0 } }, 0, 0 };
	CHECK_INT(json_pointer_each(d, "", each_log, &l), 1);
	/* a pointer far longer than the nesting costs no recursion */
	static char longp[200001];
	for (size_t i = 0; i < 100000; i++)
		memcpy(longp + 2 * i, "/a", 2);
	CHECK_INT(json_pointer_each(d, longp, each_log, &l), 0);
}

static void test_bom(void)
{
	json_error e = { 0, NULL };
	CHECK_INT(json_parse_value("\xef\xbb\xbf{}", 5, NULL, NULL, &e), -1);
	CHECK_STR(e.what, "byte order mark (U+FEFF) not allowed");
	CHECK_INT(e.offset, 0);
	CHECK_INT(json_parse_value("[\xef\xbb\xbf" "1]", 6, NULL, NULL, &e), -1);
	CHECK_STR(e.what, "byte order mark (U+FEFF) not allowed");
	CHECK_INT(json_parse_value("\"\xef\xbb\xbf\"", 5, NULL, NULL, &e), 0); /* in a string: text */
}

/* strscan_plain (the 16- and 8-byte string scan of json.c and cloudevent.c)
 * against the byte-by-byte definition: every byte value, at every offset
 * of buffers long enough to go through the 16-byte, the 8-byte and the
 * byte loop, in buffers allocated to their exact length (ASan sees any
 * read past the end). */
static void test_strscan(void)
{
	int bad = 0;
	for (int stop_del = 0; stop_del <= 1; stop_del++)
		for (size_t n = 0; n <= 40; n++) {
			unsigned char *b = malloc(n ? n : 1);
			if (!b) {
				CHECK(b != NULL);
				return;
			}
			memset(b, 'a', n);
			CHECK_INT(strscan_plain(b, n, stop_del), n);
			for (size_t k = 0; k < n; k++)
				for (unsigned c = 0; c < 256; c++) {
					b[k] = (unsigned char)c;
					/* a second stop byte later must not matter */
					if (k + 3 < n)
						b[k + 3] = '"';
					size_t want = strscan_plain_byte(c, stop_del) ? (k + 3 < n ? k + 3 : n) : k;
					bad += strscan_plain(b, n, stop_del) != want;
					memset(b, 'a', n);
				}
			free(b);
		}
	CHECK_INT(bad, 0);
	/* what each mode stops on */
	CHECK(!strscan_plain_byte(0x7F, 1) && strscan_plain_byte(0x7F, 0));
	CHECK(!strscan_plain_byte(0x80, 0) && !strscan_plain_byte(0x1F, 0));
	CHECK(!strscan_plain_byte('"', 0) && !strscan_plain_byte('\\', 1));
	CHECK(strscan_plain_byte(' ', 1) && strscan_plain_byte('~', 1));
}

int main(void)
{
	RUN(test_valid);
	RUN(test_invalid);
	RUN(test_messages);
	RUN(test_depth);
	RUN(test_prefixes);
	RUN(test_scan);
	RUN(test_iterate);
	RUN(test_pointer);
	RUN(test_strings);
	RUN(test_encode);
	RUN(test_compact);
	RUN(test_against_cjson);
	RUN(test_pointer_each);
	RUN(test_bom);
	RUN(test_strscan);
	return unit_done();
}
