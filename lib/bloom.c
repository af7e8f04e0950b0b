/* bloom.c - see bloom.h. */
#include "bloom.h"

#include <stdlib.h>

#define PROBES 4

int bloom_init(bloom *b, unsigned bits_log2)
{
	b->mask = 0;
	if (bits_log2 < 9 || bits_log2 > 40 ||
	    !(b->words = calloc((size_t)1 << (bits_log2 - 6), sizeof *b->words)))
		return -1;
	b->mask = ((uint64_t)1 << bits_log2) - 1;
	return 0;
}

/* A finalizer (splitmix64's), so that a caller's hash whose bits mix
 * poorly still spreads over the block and the probes. */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

/* The block (8 words, one 64-byte cache line) that holds all of a key's
 * probes: a lookup costs one cache miss where four spread probes cost up
 * to four (the filter is larger than the L2 cache). Its bits come from
 * the low bits of h, the probes from the high ones. */
static uint64_t *block_of(const bloom *b, uint64_t h)
{
	return b->words + ((h & b->mask) >> 9 << 3);
}

void bloom_add(bloom *b, uint64_t hash)
{
	uint64_t h = mix(hash), *blk = block_of(b, h);
	for (int i = 0, shift = 28; i < PROBES; i++, shift += 9) {
		unsigned bit = (unsigned)(h >> shift) & 511;
		blk[bit >> 6] |= (uint64_t)1 << (bit & 63);
	}
}

int bloom_maybe(const bloom *b, uint64_t hash)
{
	uint64_t h = mix(hash);
	const uint64_t *blk = block_of(b, h);
	for (int i = 0, shift = 28; i < PROBES; i++, shift += 9) {
		unsigned bit = (unsigned)(h >> shift) & 511;
		if (!(blk[bit >> 6] & (uint64_t)1 << (bit & 63)))
			return 0;
	}
	return 1;
}

void bloom_prefetch(const bloom *b, uint64_t hash)
{
	if (b->words)
		__builtin_prefetch(block_of(b, mix(hash)), 1);
}

void bloom_free(bloom *b)
{
	free(b->words);
	b->words = NULL;
	b->mask = 0;
}
