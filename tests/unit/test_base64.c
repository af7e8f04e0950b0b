/* test_base64.c - RFC 4648 vectors and the strictness rules of base64.h. */
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"
#include "unit.h"

static void test_rfc4648_vectors(void)
{
	static const struct { const char *plain, *enc; } v[] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		buf b;
		buf_init(&b, 0);
		CHECK_INT(base64_encode(&b, v[i].plain, strlen(v[i].plain)), 0);
		CHECK_STR(b.data ? b.data : "", v[i].enc);
		buf d;
		buf_init(&d, 0);
		CHECK_INT(base64_decode(&d, v[i].enc, strlen(v[i].enc)), 0);
		CHECK_INT(d.len, strlen(v[i].plain));
		CHECK(d.len == 0 || memcmp(d.data, v[i].plain, d.len) == 0);
		CHECK_INT(base64_check(v[i].enc, strlen(v[i].enc)), 0);
		buf_free(&b);
		buf_free(&d);
	}
}

static void test_all_bytes_round_trip(void)
{
	uint8_t in[256];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t n = 0; n <= 256; n++) {
		buf e, d;
		buf_init(&e, 0);
		buf_init(&d, 0);
		CHECK_INT(base64_encode(&e, in, n), 0);
		CHECK_INT(e.len, (n + 2) / 3 * 4);
		CHECK_INT(base64_decode(&d, e.data ? e.data : "", e.len), 0);
		CHECK_INT(d.len, n);
		CHECK(n == 0 || memcmp(d.data, in, n) == 0);
		buf_free(&e);
		buf_free(&d);
	}
	/* Both non-alphanumeric symbols of the standard alphabet. */
	buf e;
	buf_init(&e, 0);
	CHECK_INT(base64_encode(&e, "\xfb\xff", 2), 0);
	CHECK_STR(e.data, "+/8=");
	buf_free(&e);
}

static void test_invalid(void)
{
#define S(lit) {lit, sizeof lit - 1}
	static const struct { const char *s; size_t n; } bad[] = {
		S("Z"), S("Zg"), S("Zg="), S("Zg==="), S("Zm9"), /* length % 4 */
		S("Zg==Zg=="),                       /* padding in the middle */
		S("Z==="), S("===="), S("Zm=v"),     /* padding misplaced */
		S("Zh=="), S("Zm9="),                /* unused bits not zero */
		S("Zm9v\n"), S(" Zm9v"), S("Zm 9v"), S("Zm9vZm\r\n"), /* spaces */
		S("Zm9-"), S("Zm9_"),                /* base64url alphabet */
		S("Zm9\x80"), S("Zm9\0"),           /* non-ASCII and NUL */
	};
#undef S
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf d;
		buf_init(&d, 0);
		CHECK_INT(base64_decode(&d, bad[i].s, bad[i].n), -1);
		CHECK_INT(d.len, 0);
		if (base64_check(bad[i].s, bad[i].n) != -1) {
			printf("# accepted case %zu\n", i);
			CHECK(0);
		}
		buf_free(&d);
	}
}

static void test_full_buffer(void)
{
	/* A failed append leaves the buffer exactly as it was. */
	buf b = BUF_INIT(6);
	CHECK_INT(base64_encode(&b, "ab", 2), 0); /* "YWI=" */
	CHECK_INT(base64_encode(&b, "ab", 2), -1);
	CHECK_STR(b.data, "YWI=");
	buf d = BUF_INIT(4);
	CHECK_INT(base64_decode(&d, "YWJj", 4), 0);
	CHECK_INT(base64_decode(&d, "YWJj", 4), -2);
	CHECK_INT(base64_decode(&d, "YWJ!", 4), -1); /* invalid wins over full */
	CHECK_INT(d.len, 3);
	CHECK_STR(d.data, "abc");
	buf_free(&b);
	buf_free(&d);
	/* A failed decode into a roomy buffer keeps its NUL in place. */
	buf r;
	buf_init(&r, 0);
	CHECK_INT(buf_puts(&r, "x"), 0);
	CHECK_INT(base64_decode(&r, "YWJjYWJjYW==", 12), -1);
	CHECK_INT(r.len, 1);
	CHECK_STR(r.data, "x");
	buf_free(&r);
}

int main(void)
{
	RUN(test_rfc4648_vectors);
	RUN(test_all_bytes_round_trip);
	RUN(test_invalid);
	RUN(test_full_buffer);
	return unit_done();
}
