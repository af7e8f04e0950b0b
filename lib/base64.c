/* base64.c - see base64.h */
#include "base64.h"

#include <stdint.h>

static const char enc_tab[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding table: 0..63 for alphabet bytes, 0xff for everything else
 * (including '=', which is handled separately at the end). Written out
 * rather than computed at run time so that there is no init step and no
 * thread-safety question. */
#define X 0xff
static const uint8_t dec_tab[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
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

int base64_encode(buf *out, const void *p, size_t n)
{
	const uint8_t *s = p;
	/* ceil(n/3)*4 without overflow in n + 2. */
	size_t groups = n / 3 + (n % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4)
		return -1;
	size_t outlen = groups * 4;
	if (buf_reserve(out, outlen) != 0)
		return -1;
	char *d = out->data + out->len;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		d[0] = enc_tab[v >> 18];
		d[1] = enc_tab[(v >> 12) & 63];
		d[2] = enc_tab[(v >> 6) & 63];
		d[3] = enc_tab[v & 63];
		d += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		d[0] = enc_tab[v >> 18];
		d[1] = enc_tab[(v >> 12) & 63];
		d[2] = '=';
		d[3] = '=';
		d += 4;
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		d[0] = enc_tab[v >> 18];
		d[1] = enc_tab[(v >> 12) & 63];
		d[2] = enc_tab[(v >> 6) & 63];
		d[3] = '=';
		d += 4;
	}
	out->len += outlen;
	out->data[out->len] = '\0';
	return 0;
}

/* Validate s[0..n) and, when dst is not NULL, write the decoded bytes
 * there. Returns the decoded length, or -1 if invalid. One routine for
 * check and decode so that they can never disagree. */
static long long decode_into(uint8_t *dst, const char *s, size_t n)
{
	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	const uint8_t *u = (const uint8_t *)s;
	size_t full = n - 4; /* every quad but the last is padding-free */
	size_t o = 0;
	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = dec_tab[u[i]], b = dec_tab[u[i + 1]];
		uint32_t c = dec_tab[u[i + 2]], e = dec_tab[u[i + 3]];
		if ((a | b | c | e) & 0x80)
			return -1;
		if (dst) {
			uint32_t v = a << 18 | b << 12 | c << 6 | e;
			dst[o] = (uint8_t)(v >> 16);
			dst[o + 1] = (uint8_t)(v >> 8);
			dst[o + 2] = (uint8_t)v;
		}
		o += 3;
	}
	const uint8_t *q = u + full;
	uint32_t a = dec_tab[q[0]], b = dec_tab[q[1]];
	if ((a | b) & 0x80)
		return -1;
	if (q[2] == '=') {
		/* "xx==": one byte; the low 4 bits of b must be zero. */
		if (q[3] != '=' || (b & 0x0f) != 0)
			return -1;
		if (dst)
			dst[o] = (uint8_t)(a << 2 | b >> 4);
		return (long long)(o + 1);
	}
	uint32_t c = dec_tab[q[2]];
	if (c & 0x80)
		return -1;
	if (q[3] == '=') {
		/* "xxx=": two bytes; the low 2 bits of c must be zero. */
		if ((c & 0x03) != 0)
			return -1;
		if (dst) {
			uint32_t v = a << 18 | b << 12 | c << 6;
			dst[o] = (uint8_t)(v >> 16);
			dst[o + 1] = (uint8_t)(v >> 8);
		}
		return (long long)(o + 2);
	}
	uint32_t e = dec_tab[q[3]];
	if (e & 0x80)
		return -1;
	if (dst) {
		uint32_t v = a << 18 | b << 12 | c << 6 | e;
		dst[o] = (uint8_t)(v >> 16);
		dst[o + 1] = (uint8_t)(v >> 8);
		dst[o + 2] = (uint8_t)v;
	}
	return (long long)(o + 3);
}

int base64_decode(buf *out, const char *s, size_t n)
{
	if (n % 4 != 0)
		return -1;
	/* The decoded length follows from n and the padding; the single pass
	 * below both validates and writes. */
	size_t m = n / 4 * 3;
	if (n >= 4)
		m -= (s[n - 1] == '=') + (s[n - 2] == '=');
	if (buf_reserve(out, m) != 0)
		return decode_into(NULL, s, n) < 0 ? -1 : -2;
	long long w = decode_into((uint8_t *)out->data + out->len, s, n);
	if (w < 0 || (size_t)w != m) {
		/* Bytes past len may have been written: restore the NUL so the
		 * buffer reads exactly as before. */
		out->data[out->len] = '\0';
		return -1;
	}
	out->len += m;
	out->data[out->len] = '\0';
	return 0;
}

int base64_check(const char *s, size_t n)
{
	return decode_into(NULL, s, n) < 0 ? -1 : 0;
}
