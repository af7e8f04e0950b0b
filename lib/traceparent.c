/* traceparent.c - see traceparent.h */
#include "traceparent.h"

#include <string.h>

#include "rand.h"

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

static const char hexdig[16] = "0123456789abcdef";

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

static char *put_hex(char *o, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*o++ = hexdig[b[i] >> 4];
		*o++ = hexdig[b[i] & 15];
	}
	return o;
}

void traceparent_format(const traceparent *tp, char out[TRACEPARENT_LEN + 1])
{
	char *o = out;
	*o++ = '0';
	*o++ = '0';
	*o++ = '-';
	o = put_hex(o, tp->trace_id, 16);
	*o++ = '-';
	o = put_hex(o, tp->parent_id, 8);
	*o++ = '-';
	o = put_hex(o, &tp->flags, 1);
	*o = '\0';
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
	if (random_id(t.trace_id, sizeof t.trace_id) != 0 ||
	    random_id(t.parent_id, sizeof t.parent_id) != 0)
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

/* ---- tracestate ------------------------------------------------------ */

static int is_lcalpha(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_keychar(unsigned char c)
{
	return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

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
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return 0;
	}
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
