/* fnv.h - FNV-1a, the tools' non-cryptographic hash for short inputs:
 * the relay's held-back keys and its lock byte, which must stay the same
 * across runs and builds. (The dedupe keys, hashed for every event on
 * the consumer's hot path, have a word-at-a-time hash of their own in
 * dedupe.c, seeded with FNV1A_START.) Inputs are trusted or bounded, so no
 * keyed hash is needed. No state. */
#ifndef FNV_H
#define FNV_H

#include <stddef.h>
#include <stdint.h>

/* The start value the tools have used from the first lock on; keep it, or
 * relays of two versions would lock different bytes. */
#define FNV1A_START 1469598103934665603ull

/* Continue hash h over p[0..n). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

#endif
