/* strscan.h - the string-body scan shared by the JSON scanner (json.c) and
 * the CloudEvents fast path (cloudevent.c): the length of the leading run
 * of "plain" bytes, 16 at a time where SSE2 is there (every x86-64), else
 * 8 at a time (SWAR on little-endian GCC/Clang), else one by one.
 *
 * strscan_plain(p, n, stop_del) returns the offset in p[0..n) of the first
 * byte that is '"', '\\', below 0x20 or 0x80 and up (and, when stop_del is
 * 1, 0x7F too), or n when there is none. It never reads at or past p + n.
 * Header-only and inline: it runs once per string token of every event.
 * Nothing here allocates. */
#ifndef STRSCAN_H
#define STRSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define STRSCAN_SSE2 1
#else
#define STRSCAN_SSE2 0
#endif

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define STRSCAN_SWAR 1
#else
#define STRSCAN_SWAR 0
#endif

static inline int strscan_plain_byte(unsigned c, int stop_del)
{
	return c >= 0x20 && c < (stop_del ? 0x7Fu : 0x80u) && c != '"' && c != '\\';
}

static inline size_t strscan_plain(const unsigned char *p, size_t n, int stop_del)
{
	size_t i = 0;
#if STRSCAN_SSE2
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	/* Signed compares: bytes 0x80..0xFF are negative, so "below 0x20"
	 * catches them too; with stop_del, adding 1 first moves 0x7F to
	 * 0x80 (negative) and leaves the other verdicts alone (0xFF wraps
	 * to 0x00, still below). */
	const __m128i one = _mm_set1_epi8(1);
	const __m128i lim = _mm_set1_epi8(stop_del ? 0x21 : 0x20);
	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i low = _mm_cmplt_epi8(stop_del ? _mm_add_epi8(v, one) : v, lim);
		__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)), low);
		unsigned m = (unsigned)_mm_movemask_epi8(bad);
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
#if STRSCAN_SWAR
	{
		const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
			/* High bit in every byte that is '"', '\\', below 0x20,
			 * or 0x80 and up (w itself), or 0x7F (w + 1 carries into
			 * bit 7). The zero-byte tricks may flag a byte
			 * spuriously, but only above a byte flagged for real,
			 * so the lowest flag is exact. */
			uint64_t m = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
			if (stop_del)
				m |= w + ones;
			m &= highs;
			if (m)
				return i + ((size_t)__builtin_ctzll(m) >> 3);
			i += 8;
		}
	}
#endif
	while (i < n && strscan_plain_byte(p[i], stop_del))
		i++;
	return i;
}

#endif
