/* test_uuid7.c - UUIDv7 form, bits, strict order and uniqueness. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rand.h"
#include "unit.h"
#include "uuid7.h"

static int form_ok(const char *s)
{
	if (strlen(s) != UUID_STR_LEN)
		return 0;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

static int variant_ok(const char *s)
{
	return s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b';
}

static uint64_t ts_ms(const char *s)
{
	char hex[13];
	memcpy(hex, s, 8);
	memcpy(hex + 8, s + 9, 4);
	hex[12] = '\0';
	return strtoull(hex, NULL, 16);
}

static void test_form_and_bits(void)
{
	char id[UUID_STR_LEN + 1];
	for (int i = 0; i < 1000; i++) {
		CHECK_INT(uuid7_generate(id), 0);
		CHECK(form_ok(id));
		CHECK(id[14] == '7');
		CHECK(variant_ok(id));
		CHECK_INT(uuid4_generate(id), 0);
		CHECK(form_ok(id));
		CHECK(id[14] == '4');
		CHECK(variant_ok(id));
	}
	/* The timestamp field is the wall clock in milliseconds. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	CHECK_INT(uuid7_generate(id), 0);
	uint64_t t = ts_ms(id);
	CHECK(t + 1 >= before && t <= before + 5000); /* may run a little ahead */
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_monotonic_unique(void)
{
	enum { N = 1000000 };
	char *ids = malloc((size_t)N * (UUID_STR_LEN + 1));
	char **ptr = malloc(N * sizeof *ptr);
	CHECK(ids && ptr);
	if (!ids || !ptr) {
		free(ids);
		free(ptr);
		return;
	}
	int bad_order = 0, bad_form = 0;
	for (int i = 0; i < N; i++) {
		char *id = ids + (size_t)i * (UUID_STR_LEN + 1);
		ptr[i] = id;
		if (uuid7_generate(id) != 0 || !form_ok(id) || id[14] != '7' || !variant_ok(id))
			bad_form++;
		if (i > 0 && strcmp(ptr[i - 1], id) >= 0)
			bad_order++;
	}
	CHECK_INT(bad_form, 0);
	CHECK_INT(bad_order, 0);
	/* Strictly increasing implies unique; check uniqueness of the v4
	 * path separately by sorting. */
	for (int i = 0; i < N; i++)
		uuid4_generate(ptr[i]);
	qsort(ptr, N, sizeof *ptr, cmp_str);
	int dups = 0;
	for (int i = 1; i < N; i++)
		if (strcmp(ptr[i - 1], ptr[i]) == 0)
			dups++;
	CHECK_INT(dups, 0);
	free(ids);
	free(ptr);
}

static void test_clock_backwards_and_overflow(void)
{
	char prev[UUID_STR_LEN + 1], id[UUID_STR_LEN + 1];
	/* Far in the future so that earlier tests' state is behind. */
	uint64_t base = UINT64_C(4102444800000); /* 2100-01-01 */
	CHECK_INT(uuid7_generate_ms(base, prev), 0);
	CHECK(ts_ms(prev) == base);
	/* The seed leaves the counter's top bit clear. */
	CHECK(prev[15] >= '0' && prev[15] <= '7');
	/* Clock goes back: still increasing, timestamp stays. */
	CHECK_INT(uuid7_generate_ms(base - 60000, id), 0);
	CHECK(strcmp(prev, id) < 0);
	CHECK(ts_ms(id) == base);
	/* 5000 ids in one millisecond overflow the 12-bit counter at least
	 * once: the timestamp advances and order holds. */
	int bad = 0;
	memcpy(prev, id, sizeof prev);
	for (int i = 0; i < 5000; i++) {
		CHECK_INT(uuid7_generate_ms(base, id), 0);
		if (strcmp(prev, id) >= 0)
			bad++;
		memcpy(prev, id, sizeof prev);
	}
	CHECK_INT(bad, 0);
	CHECK(ts_ms(id) > base);
	CHECK(ts_ms(id) <= base + 3);
	/* The real clock is now behind the saved state: still increasing. */
	CHECK_INT(uuid7_generate(id), 0);
	CHECK(strcmp(prev, id) < 0);
}

static void test_rand_bytes(void)
{
	unsigned char a[64], b[64], big[10000];
	CHECK_INT(rand_bytes(a, sizeof a), 0);
	CHECK_INT(rand_bytes(b, sizeof b), 0);
	CHECK(memcmp(a, b, sizeof a) != 0);
	CHECK_INT(rand_bytes(big, sizeof big), 0);
	CHECK_INT(rand_bytes(a, 0), 0);
	/* Crossing the pool's refill many times. */
	int ok = 1;
	for (int i = 0; i < 1000; i++)
		if (rand_bytes(a, 37) != 0)
			ok = 0;
	CHECK(ok);
	/* Not all zero (probability 2^-80000 for a real source). */
	unsigned acc = 0;
	for (size_t i = 0; i < sizeof big; i++)
		acc |= big[i];
	CHECK(acc != 0);
}

int main(void)
{
	RUN(test_form_and_bits);
	RUN(test_monotonic_unique);
	RUN(test_clock_backwards_and_overflow);
	RUN(test_rand_bytes);
	return unit_done();
}
