/* fnv.h - FNV-1a, the one non-cryptographic hash of the tools: in-memory
 * tables (the relay's held-back keys, the consumer's pending ids) and the
 * relay's lock byte, which must stay the same across runs and builds.
 * Inputs are trusted or bounded, so no keyed hash is needed. No state. */
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
