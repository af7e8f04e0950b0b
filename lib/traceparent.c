/* traceparent.c - see traceparent.h */
#include "traceparent.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rand.h"

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* traceparent_check reads eight hex digits (one 64-bit word) at a time: a
 * traceparent is 50 hex digits, and every relayed event that has one has
 * it checked. Only per-byte tests and equality are done on a word, so the
 * machine's byte order does not matter. */
static inline uint64_t load8(const char *s)
{
	uint64_t w;
	memcpy(&w, s, 8);
	return w;
}

/* High bit of every byte of w (all bytes below 0x80) that lies in
 * [lo, hi]: w + (0x80 - lo) reaches bit 7 when the byte is >= lo, and
 * w + (0x7F - hi) when it is > hi; no byte overflows into the next. */
static inline uint64_t in_range(uint64_t w, unsigned lo, unsigned hi)
{
	return (w + ONES * (0x80 - lo)) & ~(w + ONES * (0x7F - hi)) & HIGHS;
}

/* Lowercase hex digit values; 0xff for anything else, uppercase included
 * (the spec allows lowercase only). */
#define X 0xff
static const uint8_t hexval[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

/* Decode 2*n lowercase hex characters into n bytes; -1 on a bad digit.
 * Also reports whether every byte was zero. */
static int unhex(uint8_t *dst, const char *s, size_t n, int *all_zero)
{
	uint8_t acc = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t hi = hexval[(unsigned char)s[2 * i]];
		uint8_t lo = hexval[(unsigned char)s[2 * i + 1]];
		bad |= hi | lo;
		dst[i] = (uint8_t)(hi << 4 | (lo & 0x0f));
		acc |= dst[i];
	}
	if (bad & 0xf0)
		return -1;
	*all_zero = acc == 0;
	return 0;
}

int traceparent_parse(traceparent *tp, const char *s, size_t n)
{
	if (n < TRACEPARENT_LEN)
		return -1;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -1;
	traceparent t;
	int zero;
	if (unhex(&t.version, s, 1, &zero) != 0 || t.version == 0xff)
		return -1;
	/* Version 00 is exactly 55 characters. A later version may append
	 * fields, which must start with '-'; we read only the 00 part. */
	if (t.version == 0 ? n != TRACEPARENT_LEN : n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
		return -1;
	if (unhex(t.trace_id, s + 3, 16, &zero) != 0 || zero)
		return -1;
	if (unhex(t.parent_id, s + 36, 8, &zero) != 0 || zero)
		return -1;
	if (unhex(&t.flags, s + 53, 1, &zero) != 0)
		return -1;
	*tp = t;
	return 0;
}

/* 1 if the eight characters in w are all lowercase hex digits. */
static inline int hex8_ok(uint64_t w)
{
	return !(w & HIGHS) && (in_range(w, '0', '9') | in_range(w, 'a', 'f')) == HIGHS;
}

#define ZEROS8 (ONES * '0') /* "00000000" as a word */

int traceparent_check(const char *s, size_t n)
{
	if (n < TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return -1;
	if ((hexval[(unsigned char)s[0]] | hexval[(unsigned char)s[1]] | hexval[(unsigned char)s[53]] |
	     hexval[(unsigned char)s[54]]) & 0xf0)
		return -1;
	if (s[0] == 'f' && s[1] == 'f')
		return -1;
	if (s[0] == '0' && s[1] == '0' ? n != TRACEPARENT_LEN : n > TRACEPARENT_LEN && s[TRACEPARENT_LEN] != '-')
		return -1;
	uint64_t t0 = load8(s + 3), t1 = load8(s + 11), t2 = load8(s + 19), t3 = load8(s + 27);
	uint64_t p0 = load8(s + 36), p1 = load8(s + 44);
	if (!hex8_ok(t0) || !hex8_ok(t1) || !hex8_ok(t2) || !hex8_ok(t3) || !hex8_ok(p0) || !hex8_ok(p1))
		return -1;
	if ((t0 == ZEROS8 && t1 == ZEROS8 && t2 == ZEROS8 && t3 == ZEROS8) || (p0 == ZEROS8 && p1 == ZEROS8))
		return -1;
	return 0;
}

/* "000102...feff": the two lowercase hex digits of every byte value, so
 * that writing an id costs a copy of two bytes per byte. */
#define HEXROW(h)                                                                               \
	h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h "b" h "c" h "d" h "e" \
	h "f"
static const char hexpairs[512 + 1] = HEXROW("0") HEXROW("1") HEXROW("2") HEXROW("3") HEXROW("4")
	HEXROW("5") HEXROW("6") HEXROW("7") HEXROW("8") HEXROW("9") HEXROW("a") HEXROW("b")
	HEXROW("c") HEXROW("d") HEXROW("e") HEXROW("f");
#undef HEXROW

/* 2 * n lowercase hex digits for the n bytes at b, in order. */
static inline void put_hex(char *o, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		memcpy(o + 2 * i, hexpairs + 2 * b[i], 2);
}

#if defined(__SSE2__)
/* The ids with SSE2 (every x86-64): nibbles interleaved high first, then
 * '0' + d, plus 39 more where d > 9 ('a' - '0' - 10). */
static inline __m128i hex_digits(__m128i nib)
{
	__m128i gt9 = _mm_cmpgt_epi8(nib, _mm_set1_epi8(9));
	return _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')), _mm_and_si128(gt9, _mm_set1_epi8(39)));
}

/* 2 * n digits for n == 8 or 16 bytes at b. */
static inline void put_hex_id(char *o, const uint8_t *b, size_t n)
{
	const __m128i low4 = _mm_set1_epi8(0x0F);
	__m128i v = n == 16 ? _mm_loadu_si128((const __m128i *)(const void *)b)
			    : _mm_loadl_epi64((const __m128i *)(const void *)b);
	__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4), lo = _mm_and_si128(v, low4);
	_mm_storeu_si128((__m128i *)(void *)o, hex_digits(_mm_unpacklo_epi8(hi, lo)));
	if (n == 16)
		_mm_storeu_si128((__m128i *)(void *)(o + 16), hex_digits(_mm_unpackhi_epi8(hi, lo)));
}
#else
static inline void put_hex_id(char *o, const uint8_t *b, size_t n) { put_hex(o, b, n); }
#endif

void traceparent_format(const traceparent *tp, char out[TRACEPARENT_LEN + 1])
{
	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
	put_hex_id(out + 3, tp->trace_id, 16);
	out[35] = '-';
	put_hex_id(out + 36, tp->parent_id, 8);
	out[52] = '-';
	put_hex(out + 53, &tp->flags, 1);
	out[55] = '\0';
}

static int all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* Random non-zero id: an all-zero draw (2^-64 or less) is drawn again. */
static int random_id(uint8_t *b, size_t n)
{
	do {
		if (rand_bytes(b, n) != 0)
			return -1;
	} while (all_zero(b, n));
	return 0;
}

int traceparent_new_root(traceparent *tp)
{
	traceparent t;
	t.version = 0;
	t.flags = 0x01;
	/* Both ids from one draw (one call into the pool instead of two);
	 * an all-zero one, 2^-64 or less, is drawn again alone. */
	uint8_t r[sizeof t.trace_id + sizeof t.parent_id];
	if (rand_bytes(r, sizeof r) != 0)
		return -1;
	memcpy(t.trace_id, r, sizeof t.trace_id);
	memcpy(t.parent_id, r + sizeof t.trace_id, sizeof t.parent_id);
	if ((all_zero(t.trace_id, sizeof t.trace_id) && random_id(t.trace_id, sizeof t.trace_id) != 0) ||
	    (all_zero(t.parent_id, sizeof t.parent_id) && random_id(t.parent_id, sizeof t.parent_id) != 0))
		return -1;
	*tp = t;
	return 0;
}

int traceparent_child(const traceparent *parent, traceparent *child)
{
	traceparent t;
	t.version = 0; /* we speak version 00 */
	memcpy(t.trace_id, parent->trace_id, sizeof t.trace_id);
	t.flags = parent->flags;
	if (random_id(t.parent_id, sizeof t.parent_id) != 0)
		return -1;
	*child = t;
	return 0;
}

int traceparent_child_text(const char *parent, char out[TRACEPARENT_LEN + 1])
{
	uint8_t id[8];
	if (random_id(id, sizeof id) != 0)
		return -1;
	out[0] = '0';
	out[1] = '0';
	memcpy(out + 2, parent + 2, 34); /* "-", the trace-id, "-" */
	put_hex_id(out + 36, id, sizeof id);
	memcpy(out + 52, parent + 52, 3); /* "-" and the flags */
	out[55] = '\0';
	return 0;
}

/* ---- tracestate ------------------------------------------------------ */

/* Character classes of the tracestate grammar, for ASCII; bytes 0x80 and
 * up are in none. */
#define TS_LCALPHA 1u
#define TS_DIGIT 2u
#define TS_KEYCHAR 4u /* lcalpha, DIGIT, "_", "-", "*", "/" */
#define TS_CHR 8u     /* value chr: %x20-2B / %x2D-3C / %x3E-7E */
static const uint8_t ts_class[128] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 8,  8,  8,  8,  8,  8,  8,  8,  8,  8, 12,  8,  0, 12,  8, 12,
	14, 14, 14, 14, 14, 14, 14, 14, 14, 14,  8,  8,  8,  0,  8,  8,
	 8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,
	 8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8, 12,
	 8, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,
	13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,  8,  8,  8,  8,  0,
};

static inline unsigned ts_cls(unsigned char c) { return c < 0x80 ? ts_class[c] : 0; }

static int is_lcalpha(unsigned char c) { return ts_cls(c) & TS_LCALPHA; }
static int is_digit(unsigned char c) { return ts_cls(c) & TS_DIGIT; }
static int is_keychar(unsigned char c) { return ts_cls(c) & TS_KEYCHAR; }

static int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* key = simple-key / multi-tenant-key
 *   simple-key = lcalpha 0*255( keychar )
 *   multi-tenant-key = tenant-id "@" system-id
 *   tenant-id = ( lcalpha / DIGIT ) 0*240( keychar )
 *   system-id = lcalpha 0*13( keychar ) */
static int key_ok(const char *k, size_t n)
{
	const unsigned char *u = (const unsigned char *)k;
	const unsigned char *at = memchr(u, '@', n);
	if (!at) {
		if (n < 1 || n > 256 || !is_lcalpha(u[0]))
			return 0;
		for (size_t i = 1; i < n; i++)
			if (!is_keychar(u[i]))
				return 0;
		return 1;
	}
	size_t tn = (size_t)(at - u), sn = n - tn - 1;
	if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
		return 0;
	if (!is_lcalpha(u[0]) && !is_digit(u[0]))
		return 0;
	for (size_t i = 1; i < tn; i++)
		if (!is_keychar(u[i]))
			return 0;
	if (!is_lcalpha(at[1]))
		return 0;
	for (size_t i = 1; i < sn; i++)
		if (!is_keychar(at[1 + i]))
			return 0;
	return 1;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static int value_ok(const char *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(ts_cls((unsigned char)v[i]) & TS_CHR))
			return 0;
	return 1;
}

int tracestate_check(const char *s, size_t n)
{
	struct { const char *k; size_t n; } keys[TRACESTATE_MAX_MEMBERS];
	size_t nkeys = 0;
	size_t i = 0;
	for (;;) {
		/* One list-member between commas, OWS trimmed both sides; an
		 * empty one is allowed by the spec. */
		size_t a = i;
		while (i < n && s[i] != ',')
			i++;
		size_t b = i;
		while (a < b && is_ows((unsigned char)s[a]))
			a++;
		while (b > a && is_ows((unsigned char)s[b - 1]))
			b--;
		if (a < b) {
			const char *eq = memchr(s + a, '=', b - a);
			if (!eq)
				return -1;
			size_t kn = (size_t)(eq - (s + a));
			if (!key_ok(s + a, kn) || !value_ok(eq + 1, b - a - kn - 1))
				return -1;
			if (nkeys == TRACESTATE_MAX_MEMBERS)
				return -1;
			for (size_t j = 0; j < nkeys; j++)
				if (keys[j].n == kn && memcmp(keys[j].k, s + a, kn) == 0)
					return -1;
			keys[nkeys].k = s + a;
			keys[nkeys].n = kn;
			nkeys++;
		}
		if (i >= n)
			break;
		i++; /* past ',' */
	}
	return nkeys > 0 ? 0 : -1;
}
