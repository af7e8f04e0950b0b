/* json.c - see json.h
 *
 * Two kinds of code live here:
 *  - the validating scanner (json_scan and its helpers), which trusts
 *    nothing, never reads at or past `end`, and is the hot path of every
 *    tool: it is an explicit state machine (no recursion, a 256-bit stack of
 *    container kinds) and scans string bodies eight bytes at a time;
 *  - walkers over spans that json_scan already accepted (iteration, pointer
 *    lookup, decoding, compaction). They rely on validity for speed, but
 *    they still bound every read by the span, so misuse cannot make them
 *    read out of bounds.
 */
#include "json.h"

#include <stdint.h>
#include <string.h>

#include "strscan.h"
#include "utf8.h"

typedef const unsigned char *uptr;

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_SWAR 1
#else
#define JSON_SWAR 0
#endif

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

static inline int is_ws(unsigned c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline uptr skip_ws(uptr p, uptr end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

#if JSON_SWAR
static inline uint64_t load64(uptr p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

/* High bit set in every byte of w that is '"', '\\', below 0x20 or
 * non-ASCII. The classic has-zero-byte trick can flag a byte spuriously,
 * but only above a byte that is flagged for real (a borrow comes from a
 * true hit), so the lowest flagged byte is always exact, and that is the
 * only one callers use. */
static inline uint64_t string_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"');
	uint64_t b = w ^ (ONES * '\\');
	uint64_t m = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w);
	return (m | w) & HIGHS;
}
#endif

/* First byte at or after p that is not plain string content, or end
 * (strscan.h: 16 bytes at a time). */
static inline uptr skip_plain(uptr p, uptr end)
{
	return p + strscan_plain(p, (size_t)(end - p), 0);
}

static int hexval(unsigned c)
{
	if (c - '0' < 10)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6)
		return (int)(c - 'a' + 10);
	return -1;
}

/* Value of the four hex digits at p, or -1 (also when fewer remain). */
static long hex4(uptr p, uptr end)
{
	if (end - p < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

struct scan {
	uptr base;
	json_error *err;
	/* JSON_SCAN_*: ESCAPES and NONASCII set by the slow string path,
	 * WHITESPACE by skip_ws_in */
	unsigned flags;
};

/* skip_ws for whitespace inside a value: notes that there was some. The
 * usual compact text pays one test. */
static inline uptr skip_ws_in(struct scan *s, uptr p, uptr end)
{
	if (LIKELY(p >= end || !is_ws(*p)))
		return p;
	s->flags |= JSON_SCAN_WHITESPACE;
	return skip_ws(p + 1, end);
}

static uptr fail(struct scan *s, uptr at, const char *what)
{
	if (s->err) {
		s->err->offset = (size_t)(at - s->base);
		s->err->what = what;
	}
	return NULL;
}

/* The careful part of scan_string: p is at a byte skip_plain stopped on. */
static uptr scan_string_slow(struct scan *s, uptr p, uptr end)
{
	for (;;) {
		if (UNLIKELY(p >= end))
			return fail(s, end, "unterminated string");
		unsigned c = *p;
		if (LIKELY(c == '"'))
			return p + 1;
		if (c == '\\') {
			s->flags |= JSON_SCAN_ESCAPES;
			if (end - p < 2)
				return fail(s, end, "unterminated string");
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				p += 2;
				break;
			case 'u': {
				long cp = hex4(p + 2, end);
				if (cp < 0)
					return fail(s, p, "invalid \\u escape");
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return fail(s, p, "unpaired surrogate in \\u escape");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					long lo = -1;
					if (end - p >= 12 && p[6] == '\\' && p[7] == 'u')
						lo = hex4(p + 8, end);
					if (lo < 0xDC00 || lo > 0xDFFF)
						return fail(s, p, "unpaired surrogate in \\u escape");
					p += 6;
				}
				p += 6;
				break;
			}
			default:
				return fail(s, p, "invalid escape in string");
			}
		} else if (c < 0x20) {
			return fail(s, p, "control character in string");
		} else if (c >= 0x80) {
			s->flags |= JSON_SCAN_NONASCII;
			/* A run of non-ASCII bytes holds whole UTF-8 sequences
			 * when valid (no sequence contains an ASCII byte), so
			 * one utf8_valid_prefix call checks the run. */
			uptr q = p + 1;
			while (q < end && *q >= 0x80)
				q++;
			size_t n = (size_t)(q - p);
			size_t ok = utf8_valid_prefix((const char *)p, n);
			if (ok != n)
				return fail(s, p + ok, "invalid UTF-8 in string");
			p = q;
		} else {
			p++; /* unreachable: skip_plain stops only on the above */
		}
		p = skip_plain(p, end);
	}
}

/* Validate a string body; p is just past the opening quote. Returns the
 * position just past the closing quote, or NULL. Most strings are short
 * and plain, so that case is inlined and the rest kept out of line. */
static inline uptr scan_string(struct scan *s, uptr p, uptr end)
{
	p = skip_plain(p, end);
	if (LIKELY(p < end && *p == '"'))
		return p + 1;
	return scan_string_slow(s, p, end);
}

/* Validate a number starting at p (a '-' or a digit). */
static uptr scan_number(struct scan *s, uptr p, uptr end)
{
	if (*p == '-') {
		p++;
		if (p >= end || *p - (unsigned)'0' >= 10)
			return fail(s, p, "expected a digit in number");
	}
	if (*p == '0') {
		p++;
		if (p < end && *p - (unsigned)'0' < 10)
			return fail(s, p - 1, "leading zero in number");
	} else {
		while (p < end && *p - (unsigned)'0' < 10)
			p++;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p - (unsigned)'0' >= 10)
			return fail(s, p, "expected a digit after decimal point");
		while (p < end && *p - (unsigned)'0' < 10)
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p - (unsigned)'0' >= 10)
			return fail(s, p, "expected a digit in exponent");
		while (p < end && *p - (unsigned)'0' < 10)
			p++;
	}
	return p;
}

static uptr scan_literal(struct scan *s, uptr p, uptr end, const char *lit, size_t n)
{
	if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
		return fail(s, p, "invalid literal");
	return p + n;
}

/* The validating state machine. Containers are tracked in a bit stack
 * (1 = object) so nesting costs no recursion and no allocation. */
static uptr scan_value(struct scan *s, uptr p, uptr end, uptr *vstart)
{
	/* Each push sets or clears its bit, so no bit is read unwritten. */
	uint64_t stack[JSON_MAX_DEPTH / 64];
	unsigned depth = 0;

	p = skip_ws(p, end);
	*vstart = p;
value:
	if (UNLIKELY(p >= end))
		return fail(s, end, depth ? "unexpected end of input" : "expected a value, found end of input");
	switch (*p) {
	case '"':
		p = scan_string(s, p + 1, end);
		if (!p)
			return NULL;
		goto after;
	case '{':
		if (depth >= JSON_MAX_DEPTH)
			return fail(s, p, "nesting too deep");
		stack[depth >> 6] |= UINT64_C(1) << (depth & 63);
		depth++;
		p = skip_ws_in(s, p + 1, end);
		if (p < end && *p == '}') {
			p++;
			depth--;
			goto after;
		}
		goto key;
	case '[':
		if (depth >= JSON_MAX_DEPTH)
			return fail(s, p, "nesting too deep");
		stack[depth >> 6] &= ~(UINT64_C(1) << (depth & 63));
		depth++;
		p = skip_ws_in(s, p + 1, end);
		if (p < end && *p == ']') {
			p++;
			depth--;
			goto after;
		}
		goto value;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		p = scan_number(s, p, end);
		break;
	case 't':
		p = scan_literal(s, p, end, "true", 4);
		break;
	case 'f':
		p = scan_literal(s, p, end, "false", 5);
		break;
	case 'n':
		p = scan_literal(s, p, end, "null", 4);
		break;
	default:
		/* RFC 8259 forbids a BOM in JSON text; name it, since
		 * "expected a value" at byte 1 puzzles anyone whose editor
		 * hides it. */
		if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
			return fail(s, p, "byte order mark (U+FEFF) not allowed");
		return fail(s, p, "expected a value");
	}
	if (!p)
		return NULL;
after:
	if (depth == 0)
		return p;
	p = skip_ws_in(s, p, end);
	if (UNLIKELY(p >= end))
		return fail(s, end, "unexpected end of input");
	if (stack[(depth - 1) >> 6] >> ((depth - 1) & 63) & 1) {
		if (*p == ',') {
			p = skip_ws_in(s, p + 1, end);
			goto key;
		}
		if (*p == '}') {
			p++;
			depth--;
			goto after;
		}
		return fail(s, p, "expected ',' or '}' in object");
	}
	if (*p == ',') {
		p = skip_ws_in(s, p + 1, end);
		goto value;
	}
	if (*p == ']') {
		p++;
		depth--;
		goto after;
	}
	return fail(s, p, "expected ',' or ']' in array");
key:
	if (UNLIKELY(p >= end))
		return fail(s, end, "unexpected end of input");
	if (*p != '"')
		return fail(s, p, "expected a string key in object");
	p = scan_string(s, p + 1, end);
	if (!p)
		return NULL;
	p = skip_ws_in(s, p, end);
	if (p >= end || *p != ':')
		return fail(s, p, "expected ':' after object key");
	p = skip_ws_in(s, p + 1, end);
	goto value;
}

enum json_type json_type_of(json_span v)
{
	if (!v.p || v.n == 0)
		return JSON_INVALID;
	switch (v.p[0]) {
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case '"': return JSON_STRING;
	case 't': return JSON_TRUE;
	case 'f': return JSON_FALSE;
	case 'n': return JSON_NULL;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return JSON_NUMBER;
	default:
		return JSON_INVALID;
	}
}

int json_scan(const char *text, size_t len, size_t *pos, json_span *value,
	      enum json_type *type, json_error *err)
{
	return json_scan_flags(text, len, pos, value, type, NULL, err);
}

int json_scan_flags(const char *text, size_t len, size_t *pos, json_span *value,
		    enum json_type *type, unsigned *flags, json_error *err)
{
	int r = json_scan_flags_ws(text, len, pos, value, type, flags, err);
	if (r == 0 && flags)
		*flags &= JSON_SCAN_ESCAPES | JSON_SCAN_NONASCII;
	return r;
}

int json_scan_flags_ws(const char *text, size_t len, size_t *pos, json_span *value,
		       enum json_type *type, unsigned *flags, json_error *err)
{
	struct scan s = {(uptr)text, err, 0};
	uptr end = (uptr)text + len, start;
	if (*pos > len) {
		fail(&s, end, "position past end of input");
		return -1;
	}
	uptr p = scan_value(&s, (uptr)text + *pos, end, &start);
	if (!p)
		return -1;
	json_span v = {(const char *)start, (size_t)(p - start)};
	if (value)
		*value = v;
	if (type)
		*type = json_type_of(v);
	*pos = (size_t)(p - (uptr)text);
	if (flags)
		*flags = s.flags;
	return 0;
}

int json_parse_value(const char *text, size_t len, json_span *value,
		     enum json_type *type, json_error *err)
{
	size_t pos = 0;
	if (json_scan(text, len, &pos, value, type, err) != 0)
		return -1;
	uptr end = (uptr)text + len;
	uptr p = skip_ws((uptr)text + pos, end);
	if (p != end) {
		struct scan s = {(uptr)text, err, 0};
		fail(&s, p, "trailing characters after value");
		return -1;
	}
	return 0;
}

/* ---- walkers over validated spans ---- */

/* p is just past an opening quote; returns just past the closing one.
 * Only '"' and '\\' matter in a validated body; strings are mostly short,
 * where eight bytes at a time beats a call to memchr. */
static uptr skip_string_v(uptr p, uptr end)
{
	for (;;) {
#if JSON_SWAR
		while (end - p >= 8) {
			uint64_t w = load64(p);
			uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
			uint64_t m = (((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS;
			if (m) {
				p += __builtin_ctzll(m) >> 3;
				break;
			}
			p += 8;
		}
#endif
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
			return end;
		if (*p == '"')
			return p + 1;
		p += 2; /* an escape; the rest of a \uXXXX is plain */
		if (p > end)
			return end;
	}
}

/* p is the first byte of a validated value; returns just past it. */
static uptr skip_value_v(uptr p, uptr end)
{
	if (p >= end)
		return end;
	switch (*p) {
	case '"':
		return skip_string_v(p + 1, end);
	case '{':
	case '[': {
		size_t depth = 0;
		while (p < end) {
			switch (*p++) {
			case '"':
				p = skip_string_v(p, end);
				break;
			case '{':
			case '[':
				depth++;
				break;
			case '}':
			case ']':
				if (--depth == 0)
					return p;
				break;
			default:
				break;
			}
		}
		return end;
	}
	default:
		while (p < end && *p != ',' && *p != ']' && *p != '}' && !is_ws(*p))
			p++;
		return p;
	}
}

static void iter_begin(json_iter *it, json_span v, char open)
{
	if (v.p && v.n >= 2 && v.p[0] == open) {
		it->p = v.p + 1;
		it->end = v.p + v.n - 1; /* the closing bracket */
	} else {
		it->p = it->end = v.p;
	}
}

void json_object_begin(json_iter *it, json_span obj) { iter_begin(it, obj, '{'); }
void json_array_begin(json_iter *it, json_span arr) { iter_begin(it, arr, '['); }

/* Position of the next element of an iteration, or NULL at the end. */
static uptr iter_element(json_iter *it)
{
	uptr p = (uptr)it->p, end = (uptr)it->end;
	p = skip_ws(p, end);
	if (p < end && *p == ',')
		p = skip_ws(p + 1, end);
	if (p >= end) {
		it->p = it->end;
		return NULL;
	}
	return p;
}

int json_object_next(json_iter *it, json_span *key, json_span *val, enum json_type *type)
{
	uptr end = (uptr)it->end;
	uptr p = iter_element(it);
	if (!p || *p != '"') {
		it->p = it->end;
		return 0;
	}
	uptr k = skip_string_v(p + 1, end);
	json_span kt = {(const char *)p, (size_t)(k - p)};
	p = skip_ws(k, end);
	if (p >= end || *p != ':') {
		it->p = it->end;
		return 0;
	}
	p = skip_ws(p + 1, end);
	uptr v = skip_value_v(p, end);
	json_span vt = {(const char *)p, (size_t)(v - p)};
	it->p = (const char *)v;
	if (key)
		*key = kt;
	if (val)
		*val = vt;
	if (type)
		*type = json_type_of(vt);
	return vt.n ? 1 : 0;
}

int json_array_next(json_iter *it, json_span *val, enum json_type *type)
{
	uptr end = (uptr)it->end;
	uptr p = iter_element(it);
	if (!p)
		return 0;
	uptr v = skip_value_v(p, end);
	json_span vt = {(const char *)p, (size_t)(v - p)};
	it->p = (const char *)v;
	if (val)
		*val = vt;
	if (type)
		*type = json_type_of(vt);
	return vt.n ? 1 : 0;
}

/* ---- strings ---- */

int json_string_is_plain(json_span tok)
{
	if (!tok.p || tok.n < 2)
		return 1;
	if (tok.n > 34)
		return memchr(tok.p + 1, '\\', tok.n - 2) == NULL;
	for (size_t i = 1; i < tok.n - 1; i++) /* short: cheaper than a call */
		if (tok.p[i] == '\\')
			return 0;
	return 1;
}

static size_t put_utf8(unsigned char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (unsigned char)(0xC0 | cp >> 6);
		d[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (unsigned char)(0xE0 | cp >> 12);
		d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		d[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	d[0] = (unsigned char)(0xF0 | cp >> 18);
	d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	d[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the escape at p (p[0] == '\\') into out (at most 4 bytes, never
 * more than the escape's own length). Returns the input bytes consumed and
 * sets *outn. Malformed escapes (only possible on unvalidated input)
 * decode to U+FFFD and consume what is there, so callers stay in bounds. */
static size_t decode_escape(uptr p, uptr end, unsigned char out[4], size_t *outn)
{
	if (end - p < 2) {
		*outn = 0;
		return (size_t)(end - p);
	}
	unsigned char c;
	switch (p[1]) {
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'u': {
		long cp = hex4(p + 2, end);
		if (cp < 0) {
			*outn = put_utf8(out, 0xFFFD);
			return 2;
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			long lo = -1;
			if (end - p >= 12 && p[6] == '\\' && p[7] == 'u')
				lo = hex4(p + 8, end);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				unsigned long full = 0x10000 + ((unsigned long)(cp - 0xD800) << 10) + (unsigned long)(lo - 0xDC00);
				*outn = put_utf8(out, full);
				return 12;
			}
			*outn = put_utf8(out, 0xFFFD);
			return 6;
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			cp = 0xFFFD;
		*outn = put_utf8(out, (unsigned long)cp);
		return 6;
	}
	default:
		c = p[1];
		break;
	}
	out[0] = c;
	*outn = 1;
	return 2;
}

/* Decode a string body [p, end) into d, which has room for end - p bytes
 * (enough: no escape decodes to more bytes than it occupies). */
static size_t decode_into(uptr p, uptr end, unsigned char *d)
{
	unsigned char *d0 = d;
	while (p < end) {
		uptr bs = memchr(p, '\\', (size_t)(end - p));
		if (!bs) {
			memcpy(d, p, (size_t)(end - p));
			d += end - p;
			break;
		}
		memcpy(d, p, (size_t)(bs - p));
		d += bs - p;
		size_t n;
		p = bs + decode_escape(bs, end, d, &n);
		d += n;
	}
	return (size_t)(d - d0);
}

int json_string_decode(json_span tok, buf *out)
{
	if (!tok.p || tok.n < 2)
		return 0;
	size_t body = tok.n - 2;
	if (buf_reserve(out, body) != 0)
		return -1;
	uptr p = (uptr)tok.p + 1;
	size_t n = decode_into(p, p + body, (unsigned char *)out->data + out->len);
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* Reader of the decoded bytes of a string body, one at a time. */
struct dec {
	uptr p, end;
	unsigned char pend[4];
	size_t npend, ipend;
};

/* Next decoded byte, or -1 at the end. */
static int dec_next(struct dec *d)
{
	if (d->ipend < d->npend)
		return d->pend[d->ipend++];
	if (d->p >= d->end)
		return -1;
	if (*d->p != '\\')
		return *d->p++;
	d->p += decode_escape(d->p, d->end, d->pend, &d->npend);
	d->ipend = 0;
	return dec_next(d);
}

int json_string_equals(json_span tok, const char *s)
{
	if (!tok.p || tok.n < 2 || !s)
		return 0;
	size_t body = tok.n - 2, sn = strlen(s);
	if (json_string_is_plain(tok))
		return body == sn && memcmp(tok.p + 1, s, sn) == 0;
	if (sn > body) /* decoding never lengthens */
		return 0;
	struct dec d = {(uptr)tok.p + 1, (uptr)tok.p + 1 + body, {0}, 0, 0};
	for (size_t i = 0; i < sn; i++)
		if (dec_next(&d) != (unsigned char)s[i])
			return 0;
	return dec_next(&d) < 0;
}

size_t json_string_decode_fixed(json_span tok, char *dst, size_t cap)
{
	if (!tok.p || tok.n < 2)
		return 0;
	uptr p = (uptr)tok.p + 1, end = (uptr)tok.p + tok.n - 1;
	if ((size_t)(end - p) <= cap)
		return decode_into(p, end, (unsigned char *)dst);
	struct dec d = {p, end, {0}, 0, 0};
	size_t n = 0;
	int c;
	while ((c = dec_next(&d)) >= 0) {
		if (n == cap)
			return (size_t)-1;
		dst[n++] = (char)c;
	}
	return n;
}

long json_string_next_cp(json_span tok, size_t *pos)
{
	if (!tok.p || tok.n < 2)
		return -1;
	uptr b = (uptr)tok.p + 1, end = (uptr)tok.p + tok.n - 1;
	if (*pos >= (size_t)(end - b))
		return -1;
	uptr p = b + *pos;
	unsigned c = *p;
	long cp;
	size_t used;
	if (c == '\\') {
		if (end - p >= 2 && p[1] == 'u') {
			long hi = hex4(p + 2, end), lo = -1;
			used = 6;
			cp = hi < 0 ? 0xFFFD : hi;
			if (hi >= 0xD800 && hi <= 0xDBFF) {
				if (end - p >= 12 && p[6] == '\\' && p[7] == 'u')
					lo = hex4(p + 8, end);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
					used = 12;
				} else {
					cp = 0xFFFD;
				}
			} else if (hi >= 0xDC00 && hi <= 0xDFFF) {
				cp = 0xFFFD;
			}
		} else {
			unsigned char tmp[4];
			size_t n;
			used = decode_escape(p, end, tmp, &n);
			cp = n ? tmp[0] : 0xFFFD;
		}
	} else if (c < 0x80) {
		cp = c;
		used = 1;
	} else {
		/* Validated UTF-8: the lead byte gives the length. */
		size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if ((size_t)(end - p) < n)
			n = (size_t)(end - p);
		cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F);
		for (size_t i = 1; i < n; i++)
			cp = cp << 6 | (p[i] & 0x3F);
		used = n;
	}
	if (used > (size_t)(end - p))
		used = (size_t)(end - p);
	*pos += used;
	return cp;
}

/* Bytes that json_string_encode must escape. */
static inline int needs_escape(unsigned c) { return c < 0x20 || c == '"' || c == '\\'; }

/* Length of the encoding of [p, end), without quotes. */
static size_t encoded_len(uptr p, uptr end)
{
	size_t n = 0;
	for (; p < end; p++) {
		unsigned c = *p;
		if (!needs_escape(c))
			n++;
		else if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
			n += 2;
		else
			n += 6;
	}
	return n;
}

int json_string_encode(buf *out, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t save = out->len;
	uptr p = (uptr)s, end = p + n;
	int exact = 0;
	/* Room for the common case, no escapes; grown when one shows up. */
	if (buf_reserve(out, n + 2) != 0)
		return -1;
	out->data[out->len++] = '"';
	while (p < end) {
		uptr q = p;
#if JSON_SWAR
		/* Non-ASCII bytes are flagged too; they are copied as is. */
		while (end - q >= 8) {
			uint64_t m = string_special(load64(q));
			if (m) {
				q += __builtin_ctzll(m) >> 3;
				if (*q >= 0x80) {
					q++;
					continue;
				}
				break;
			}
			q += 8;
		}
#endif
		while (q < end && !needs_escape(*q))
			q++;
		if (q > p) { /* s may be NULL when n == 0 */
			memcpy(out->data + out->len, p, (size_t)(q - p));
			out->len += (size_t)(q - p);
		}
		if (q == end)
			break;
		/* At the first escape, reserve exactly what the rest needs
		 * (a worst-case guess could fail a string that fits). */
		if (!exact) {
			if (buf_reserve(out, encoded_len(q, end) + 1) != 0) {
				out->len = save;
				if (out->data)
					out->data[save] = '\0';
				return -1;
			}
			exact = 1;
		}
		char *d = out->data + out->len;
		unsigned c = *q;
		switch (c) {
		case '"': d[0] = '\\'; d[1] = '"'; out->len += 2; break;
		case '\\': d[0] = '\\'; d[1] = '\\'; out->len += 2; break;
		case '\b': d[0] = '\\'; d[1] = 'b'; out->len += 2; break;
		case '\f': d[0] = '\\'; d[1] = 'f'; out->len += 2; break;
		case '\n': d[0] = '\\'; d[1] = 'n'; out->len += 2; break;
		case '\r': d[0] = '\\'; d[1] = 'r'; out->len += 2; break;
		case '\t': d[0] = '\\'; d[1] = 't'; out->len += 2; break;
		default:
			memcpy(d, "\\u00", 4);
			d[4] = hexd[c >> 4];
			d[5] = hexd[c & 15];
			out->len += 6;
			break;
		}
		p = q + 1;
	}
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
	return 0;
}

/* ---- compaction ---- */

int json_compact(json_span v, buf *out)
{
	if (!v.p || v.n == 0)
		return 0;
	if (buf_reserve(out, v.n) != 0)
		return -1;
	uptr p = (uptr)v.p, end = p + v.n;
	unsigned char *d = (unsigned char *)out->data + out->len, *d0 = d;
	while (p < end) {
		unsigned c = *p;
		if (c == '"') {
			uptr q = skip_string_v(p + 1, end);
			memcpy(d, p, (size_t)(q - p));
			d += q - p;
			p = q;
		} else {
			if (!is_ws(c))
				*d++ = (unsigned char)c;
			p++;
		}
	}
	out->len += (size_t)(d - d0);
	out->data[out->len] = '\0';
	return 0;
}

int json_is_compact(json_span v)
{
	if (!v.p)
		return 1;
	uptr p = (uptr)v.p, end = p + v.n;
	while (p < end) {
		unsigned c = *p;
		if (c == '"')
			p = skip_string_v(p + 1, end);
		else if (is_ws(c))
			return 0;
		else
			p++;
	}
	return 1;
}

/* ---- JSON Pointer (RFC 6901) ---- */

int json_pointer_check(const char *ptr)
{
	if (!ptr)
		return -1;
	if (*ptr == '\0')
		return 0;
	if (*ptr != '/')
		return -1;
	for (const char *s = ptr; *s; s++)
		if (*s == '~' && s[1] != '0' && s[1] != '1')
			return -1;
	return 0;
}

/* 1 if the decoded key token equals the reference token [s, e) after
 * its ~0 / ~1 unescaping. */
static int key_equals_ref(json_span key, const char *s, const char *e)
{
	if (key.n < 2)
		return 0;
	struct dec d = {(uptr)key.p + 1, (uptr)key.p + key.n - 1, {0}, 0, 0};
	while (s < e) {
		int want = (unsigned char)*s++;
		if (want == '~' && s < e)
			want = *s++ == '0' ? '~' : '/';
		if (dec_next(&d) != want)
			return 0;
	}
	return dec_next(&d) < 0;
}

/* Array index of [s, e): decimal, no leading zero, no sign; -1 if not. */
static long long ref_index(const char *s, const char *e)
{
	if (s == e || (e - s > 1 && *s == '0') || e - s > 18)
		return -1;
	long long v = 0;
	for (; s < e; s++) {
		if ((unsigned)(*s - '0') >= 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* json_pointer_each from the reference token at s ("" or "/..."): the
 * recursion descends only into a member that matched, so it is never
 * deeper than the document's nesting (JSON_MAX_DEPTH), however long the
 * pointer. */
static long each_rec(json_span cur, const char *s, json_each_fn fn, void *ctx)
{
	if (!*s)
		return fn(ctx, cur, json_type_of(cur)) != 0 ? -2 : 1;
	s++; /* the '/' */
	const char *t = strchr(s, '/');
	if (!t)
		t = s + strlen(s);
	json_iter it;
	json_span k, v;
	long total = 0;
	switch (json_type_of(cur)) {
	case JSON_OBJECT:
		json_object_begin(&it, cur);
		while (json_object_next(&it, &k, &v, NULL))
			if (key_equals_ref(k, s, t)) {
				long r = each_rec(v, t, fn, ctx);
				if (r < 0)
					return r;
				total += r;
			}
		break;
	case JSON_ARRAY: {
		long long idx = ref_index(s, t);
		if (idx < 0)
			return 0;
		json_array_begin(&it, cur);
		while (json_array_next(&it, &v, NULL))
			if (idx-- == 0)
				return each_rec(v, t, fn, ctx);
		break;
	}
	default:
		break;
	}
	return total;
}

long json_pointer_each(json_span doc, const char *ptr, json_each_fn fn, void *ctx)
{
	if (json_pointer_check(ptr) != 0)
		return -1;
	uptr b = skip_ws((uptr)doc.p, (uptr)doc.p + doc.n), e = (uptr)doc.p + doc.n;
	while (e > b && is_ws(e[-1]))
		e--;
	return each_rec((json_span){(const char *)b, (size_t)(e - b)}, ptr, fn, ctx);
}

int json_pointer_find(json_span doc, const char *ptr, json_span *val, enum json_type *type)
{
	if (json_pointer_check(ptr) != 0)
		return -1;
	/* Tolerate surrounding whitespace in the document span. */
	uptr b = skip_ws((uptr)doc.p, (uptr)doc.p + doc.n), e = (uptr)doc.p + doc.n;
	while (e > b && is_ws(e[-1]))
		e--;
	json_span cur = {(const char *)b, (size_t)(e - b)};
	const char *s = ptr;
	while (*s) {
		s++; /* the '/' */
		const char *t = strchr(s, '/');
		if (!t)
			t = s + strlen(s);
		json_iter it;
		json_span k, v;
		int found = 0;
		switch (json_type_of(cur)) {
		case JSON_OBJECT:
			json_object_begin(&it, cur);
			while (json_object_next(&it, &k, &v, NULL))
				if (key_equals_ref(k, s, t)) {
					found = 1;
					break;
				}
			break;
		case JSON_ARRAY: {
			long long idx = ref_index(s, t);
			if (idx < 0)
				return 0;
			json_array_begin(&it, cur);
			while (json_array_next(&it, &v, NULL))
				if (idx-- == 0) {
					found = 1;
					break;
				}
			break;
		}
		default:
			break;
		}
		if (!found)
			return 0;
		cur = v;
		s = t;
	}
	if (val)
		*val = cur;
	if (type)
		*type = json_type_of(cur);
	return 1;
}
