/* test_bloom.c - the dedupe filter: no false negatives, a false positive
 * rate within its bound, and sizes it refuses. */
#include <stdint.h>
#include <stdio.h>

#include "bloom.h"
#include "fnv.h"
#include "unit.h"

/* Keys as the dedupe store hashes them: UUID-like ids, one source. */
static uint64_t key(unsigned long i)
{
	char id[64];
	int n = snprintf(id, sizeof id, "0190a1b2-%04lx-7%03lx-8000-%012lx", i >> 20 & 0xffff, i & 0xfff, i);
	uint64_t h = fnv1a(FNV1A_START, "/wallet-hub", 11);
	h = fnv1a(h, "\xff", 1);
	return fnv1a(h, id, (size_t)n);
}

/* A 2^25-bit filter holding key(0) .. key(n - 1). */
static void filled(bloom *b, unsigned long n)
{
	CHECK_INT(bloom_init(b, 25), 0);
	for (unsigned long i = 0; i < n; i++)
		bloom_add(b, key(i));
}

static void test_no_false_negatives(void)
{
	bloom b;
	filled(&b, 1000000);
	unsigned long missing = 0;
	for (unsigned long i = 0; i < 1000000; i++)
		missing += !bloom_maybe(&b, key(i));
	CHECK_INT(missing, 0);
	bloom_free(&b);
}

/* bloom.h promises about 2e-4 at 1M keys in 2^25 bits: allow 5e-4. */
static void test_false_positive_rate(void)
{
	bloom b;
	filled(&b, 1000000);
	unsigned long fp = 0;
	for (unsigned long i = 1000000; i < 2000000; i++)
		fp += (unsigned long)bloom_maybe(&b, key(i));
	printf("# false positives: %lu in 1,000,000\n", fp);
	CHECK(fp < 500);
	bloom_free(&b);
}

static void test_empty_and_sizes(void)
{
	bloom b;
	CHECK_INT(bloom_init(&b, 10), 0);
	CHECK_INT(bloom_maybe(&b, key(1)), 0);
	bloom_add(&b, key(1));
	CHECK_INT(bloom_maybe(&b, key(1)), 1);
	bloom_prefetch(&b, key(2)); /* a hint: changes nothing */
	CHECK_INT(bloom_maybe(&b, key(2)), 0);
	bloom_free(&b);
	bloom_free(&b); /* harmless twice */
	bloom_prefetch(&b, key(1)); /* and on a freed filter */
	CHECK_INT(bloom_init(&b, 5), -1);
	CHECK_INT(bloom_init(&b, 41), -1);
}

int main(void)
{
	RUN(test_no_false_negatives);
	RUN(test_false_positive_rate);
	RUN(test_empty_and_sizes);
	return unit_done();
}
