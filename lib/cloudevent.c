/* cloudevent.c - see cloudevent.h
 *
 * ce_parse validates and extracts in a single pass over the text: it walks
 * the top-level object itself and lets json_scan validate each key and
 * value, so an event is read once. The first problem with an attribute is
 * remembered rather than returned at once, so that a line which is not
 * JSON at all is reported as such, whatever attribute comes first.
 *
 * Before that, parse_canonical tries the text as an event exactly as
 * ce_write_json writes it in its simplest form (what outbox rows hold):
 * it only says yes, with the very event the general path would fill; on
 * anything else it steps aside and the general path starts over, so every
 * error message comes from the general path.
 */
#include "cloudevent.h"
#include "exitcode.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "strscan.h"
#include "timefmt.h"
#include "utf8.h"
#include "traceparent.h"

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Value flag of our own, beside json.h's JSON_SCAN_*: the value is a
 * string token whose body is printable ASCII (0x20-0x7E) without a
 * backslash, so it is valid JSON and a valid CloudEvents String as it
 * stands. */
#define VF_PLAIN 0x100u

/* The fast path's string reader. p[0..n) is the text from just past an
 * opening quote to the end of the input. Returns the offset of the first
 * byte that is not printable ASCII (0x20-0x7E) other than '"' and '\\':
 * when that is a '"' (check it), the string is VF_PLAIN and ends there;
 * anything else (escape, control character, DEL, non-ASCII, end of input)
 * sends the caller to the full scanner, which then decides and reports.
 * strscan.h: 16 bytes at a time; never reads at or past p + n. */
static inline size_t plain_run(const unsigned char *p, size_t n)
{
	return strscan_plain(p, n, 1);
}

/* Longest decoded name a key written with escapes may have; plain keys
 * have no limit. Extension names are [a-z0-9]+, so nobody escapes them in
 * practice. */
#define NAME_MAX_DECODED 256

enum core {
	C_SPECVERSION,
	C_ID,
	C_SOURCE,
	C_TYPE,
	C_SUBJECT,
	C_TIME,
	C_DATACONTENTTYPE,
	C_DATASCHEMA,
	C_DATA,
	C_DATA_BASE64,
	C_NONE
};

static const char *const core_name[] = {
	"specversion", "id", "source", "type", "subject", "time",
	"datacontenttype", "dataschema", "data", "data_base64",
};

static const char *type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL: return "null";
	case JSON_FALSE:
	case JSON_TRUE: return "a boolean";
	case JSON_NUMBER: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	default: return "an invalid value";
	}
}

/* Attribute of a key, by its decoded name. */
static enum core core_of(const char *s, size_t n)
{
	switch (n) {
	case 2:
		return memcmp(s, "id", 2) == 0 ? C_ID : C_NONE;
	case 4:
		if (memcmp(s, "type", 4) == 0) return C_TYPE;
		if (memcmp(s, "time", 4) == 0) return C_TIME;
		if (memcmp(s, "data", 4) == 0) return C_DATA;
		return C_NONE;
	case 6:
		return memcmp(s, "source", 6) == 0 ? C_SOURCE : C_NONE;
	case 7:
		return memcmp(s, "subject", 7) == 0 ? C_SUBJECT : C_NONE;
	case 10:
		return memcmp(s, "dataschema", 10) == 0 ? C_DATASCHEMA : C_NONE;
	case 11:
		if (memcmp(s, "specversion", 11) == 0) return C_SPECVERSION;
		if (memcmp(s, "data_base64", 11) == 0) return C_DATA_BASE64;
		return C_NONE;
	case 15:
		return memcmp(s, "datacontenttype", 15) == 0 ? C_DATACONTENTTYPE : C_NONE;
	default:
		return C_NONE;
	}
}

/* The fast path's key reader: the core attribute whose name, then the
 * closing '"', starts p[0..n) (the text just past a key's opening quote),
 * with *len the name's length; C_NONE when none does (an extension, an
 * escaped name, anything else: the caller then reads the key in full). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline enum core core_key(const unsigned char *p, size_t n, size_t *len)
{
#define KEY(lit, c)                                                         \
	if (n >= sizeof lit - 1 && memcmp(p, lit, sizeof lit - 1) == 0) { \
		*len = sizeof lit - 2;                                     \
		return c;                                                  \
	}
	if (n == 0)
		return C_NONE;
	switch (p[0]) {
	case 's':
		KEY("specversion\"", C_SPECVERSION)
		KEY("source\"", C_SOURCE)
		KEY("subject\"", C_SUBJECT)
		break;
	case 'i':
		KEY("id\"", C_ID)
		break;
	case 't':
		KEY("type\"", C_TYPE)
		KEY("time\"", C_TIME)
		break;
	case 'd':
		KEY("data\"", C_DATA)
		KEY("datacontenttype\"", C_DATACONTENTTYPE)
		KEY("dataschema\"", C_DATASCHEMA)
		KEY("data_base64\"", C_DATA_BASE64)
		break;
	default:
		break;
	}
	return C_NONE;
#undef KEY
}

/* ---- errors ---- */

/* Copy a name into err->attribute, truncated on a UTF-8 boundary, with
 * control characters replaced so the message is safe on a terminal. */
static void set_attribute(ce_error *err, const char *s, size_t n)
{
	size_t cap = sizeof err->attribute - 1;
	if (n > cap) {
		n = cap;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		err->attribute[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	err->attribute[n] = '\0';
}

static void set_text(ce_error *err, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void set_text(ce_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	if (r < 0)
		err->text[0] = '\0';
}

/* The first attribute problem found, reported when the JSON is sound. */
struct pending {
	const char *msg;      /* NULL: none */
	json_span key;        /* key token of the attribute, or */
	const char *name;     /* a fixed name when key.p is NULL */
	enum json_type found; /* for "must be ..." messages, else JSON_INVALID */
	int is_specversion;
};

static void note(struct pending *pe, json_span key, const char *name, const char *msg,
		 enum json_type found)
{
	int spec = name && strcmp(name, "specversion") == 0;
	/* A bad specversion outranks anything else: the other rules are
	 * those of 1.0 and mean nothing for another version. */
	if (pe->msg && !(spec && !pe->is_specversion))
		return;
	pe->msg = msg;
	pe->key = key;
	pe->name = name;
	pe->found = found;
	pe->is_specversion = spec;
}

static void report(const struct pending *pe, ce_error *err)
{
	if (!err)
		return;
	if (pe->key.p) {
		char tmp[sizeof err->attribute];
		size_t n = json_string_decode_fixed(pe->key, tmp, sizeof tmp);
		if (n == (size_t)-1)
			n = sizeof tmp;
		set_attribute(err, tmp, n);
	} else {
		set_attribute(err, pe->name, strlen(pe->name));
	}
	if (pe->found != JSON_INVALID)
		set_text(err, "%s, found %s", pe->msg, type_name(pe->found));
	else
		set_text(err, "%s", pe->msg);
}

static int json_fail(ce_error *err, const json_error *je)
{
	if (err) {
		err->attribute[0] = '\0';
		set_text(err, "invalid JSON at byte %zu: %s", je->offset + 1, je->what);
	}
	return -1;
}

/* ---- value checks ---- */

/* CloudEvents String: no U+0000-001F, U+007F-009F, noncharacters (and no
 * surrogates, which valid UTF-8 and checked \u escapes exclude already). */
static int cp_allowed(long cp)
{
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
		return 0;
	if (cp >= 0xFDD0 && cp <= 0xFDEF)
		return 0;
	return (cp & 0xFFFE) != 0xFFFE;
}

/* 1 if a validated string token holds only characters a CloudEvents
 * String allows. Printable ASCII without escapes, the usual case, is
 * settled eight bytes at a time. */
static int string_chars_ok(json_span tok, unsigned flags)
{
	if (flags & VF_PLAIN)
		return 1;
	const unsigned char *p = (const unsigned char *)tok.p + 1;
	const unsigned char *end = (const unsigned char *)tok.p + tok.n - 1;
	/* The scanner saw no escape and no byte >= 0x80: DEL is all that
	 * can be wrong. */
	if (!(flags & (JSON_SCAN_ESCAPES | JSON_SCAN_NONASCII)))
		return memchr(p, 0x7F, (size_t)(end - p)) == NULL;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t b = w ^ (ONES * '\\');
		/* byte >= 0x7F, or byte == '\\' (exact enough: any hit
		 * sends us to the careful path) */
		if (((w | (w + ONES)) & HIGHS) || ((b - ONES) & ~b & HIGHS))
			goto slow;
		p += 8;
	}
	for (; p < end; p++)
		if (*p == '\\' || *p >= 0x7F)
			goto slow;
	return 1;
slow:;
	size_t pos = 0;
	long cp;
	while ((cp = json_string_next_cp(tok, &pos)) >= 0)
		if (!cp_allowed(cp))
			return 0;
	return 1;
}

int ce_string_token_valid(json_span tok)
{
	return tok.n >= 2 && string_chars_ok(tok, JSON_SCAN_ESCAPES | JSON_SCAN_NONASCII);
}

size_t ce_string_invalid_at(const char *s, size_t n)
{
	size_t ok = utf8_valid_prefix(s, n);
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < ok) {
		long cp;
		size_t len;
		if (p[i] < 0x80) {
			cp = p[i];
			len = 1;
		} else if (p[i] < 0xE0) {
			cp = (long)(p[i] & 0x1F) << 6 | (p[i + 1] & 0x3F);
			len = 2;
		} else if (p[i] < 0xF0) {
			cp = (long)(p[i] & 0x0F) << 12 | (long)(p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F);
			len = 3;
		} else {
			cp = (long)(p[i] & 0x07) << 18 | (long)(p[i + 1] & 0x3F) << 12 |
			     (long)(p[i + 2] & 0x3F) << 6 | (p[i + 3] & 0x3F);
			len = 4;
		}
		if (!cp_allowed(cp))
			return i;
		i += len;
	}
	return ok;
}

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~ */
static const unsigned char tchar_tab[128] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static inline int is_tchar(long c) { return c >= 0 && c < 0x80 && tchar_tab[c]; }

/* 1 if a string token holds no backslash. Keys and attribute values are
 * short, where an inline loop beats a call. */
static inline int plain(json_span tok)
{
	for (size_t i = 1; i + 1 < tok.n; i++)
		if (tok.p[i] == '\\')
			return 0;
	return 1;
}

/* RFC 2046 / RFC 9110 media type: type "/" subtype *(OWS ";" OWS
 * [token "=" (token / quoted-string)]). One state machine fed either the
 * raw bytes of a plain token (the usual case) or decoded code points, so
 * escapes and any length need no buffer. Bytes and code points >= 0x80
 * are treated alike: allowed only as obs-text inside quoted strings. */
enum mt_state { TYPE0, TYPE, SUB0, SUB, OWS1, OWS2, PNAME, PVAL0, PTOK, PQ, PQESC, PQEND };

static int media_type_ok(json_span tok, unsigned flags)
{
	enum mt_state st = TYPE0;
	int is_plain = !(flags & JSON_SCAN_ESCAPES);
	size_t pos = 0, i = 1;
	for (;;) {
		long c;
		if (is_plain)
			c = i + 1 < tok.n ? (unsigned char)tok.p[i++] : -1;
		else
			c = json_string_next_cp(tok, &pos);
		if (c < 0)
			break;
		int ws = c == ' ' || c == '\t';
		switch (st) {
		case TYPE0:
		case TYPE:
			if (is_tchar(c))
				st = TYPE;
			else if (c == '/' && st == TYPE)
				st = SUB0;
			else
				return 0;
			break;
		case SUB0:
			if (!is_tchar(c))
				return 0;
			st = SUB;
			break;
		case SUB:
		case PTOK:
		case PQEND:
			if (is_tchar(c) && st != PQEND)
				break;
			if (ws)
				st = OWS1;
			else if (c == ';')
				st = OWS2;
			else
				return 0;
			break;
		case OWS1:
			if (c == ';')
				st = OWS2;
			else if (!ws)
				return 0;
			break;
		case OWS2:
			if (ws || c == ';')
				break;
			if (!is_tchar(c))
				return 0;
			st = PNAME;
			break;
		case PNAME:
			if (c == '=')
				st = PVAL0;
			else if (!is_tchar(c))
				return 0;
			break;
		case PVAL0:
			if (c == '"')
				st = PQ;
			else if (is_tchar(c))
				st = PTOK;
			else
				return 0;
			break;
		case PQ:
			/* qdtext: HTAB, SP, VCHAR except '"' and '\\', obs-text */
			if (c == '"')
				st = PQEND;
			else if (c == '\\')
				st = PQESC;
			else if (!(c == '\t' || (c >= 0x20 && c != 0x7F)))
				return 0;
			break;
		case PQESC:
			if (!(c == '\t' || (c >= 0x20 && c != 0x7F)))
				return 0;
			st = PQ;
			break;
		}
	}
	/* RFC 9110 allows whitespace only around ';', and an empty
	 * parameter, so "text/plain;" passes and "text/plain " does not. */
	return st == SUB || st == PTOK || st == PQEND || st == OWS2;
}

/* An absolute URI starts with a scheme: ALPHA *(ALPHA / DIGIT / "+" / "-"
 * / ".") ":" (RFC 3986). */
static int has_scheme(json_span tok)
{
	size_t pos = 0;
	long c = json_string_next_cp(tok, &pos);
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		return 0;
	/* The scheme is short and almost never escaped: walking code
	 * points only up to the ':' costs little. */
	while ((c = json_string_next_cp(tok, &pos)) >= 0) {
		if (c == ':')
			return 1;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return 0;
}

static int time_ok(json_span tok, unsigned flags)
{
	if (!(flags & JSON_SCAN_ESCAPES))
		return rfc3339_check(tok.p + 1, tok.n - 2) == 0;
	char tmp[64]; /* far longer than any sane timestamp */
	size_t n = json_string_decode_fixed(tok, tmp, sizeof tmp);
	return n != (size_t)-1 && rfc3339_check(tmp, n) == 0;
}

/* A CloudEvents Integer: a JSON number without fraction or exponent in
 * -2^31 .. 2^31-1. */
static int integer_ok(json_span tok)
{
	const char *p = tok.p, *end = tok.p + tok.n;
	int neg = 0;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || end - p > 10)
		return 0;
	long long v = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (*p - '0');
	}
	return neg ? v <= 2147483648LL : v <= 2147483647LL;
}

/* Visit the base64 text of a data_base64 token in chunks of whole 4-char
 * quanta, so an escaped token needs no allocation. fn returns 0 to go on.
 * Returns -1 when the text is not base64 (a code point outside ASCII, or a
 * padded quantum before the end), else what fn last returned. */
typedef int (*b64_chunk_fn)(const char *s, size_t n, int last, void *ctx);

static int base64_chunks(json_span tok, b64_chunk_fn fn, void *ctx)
{
	if (plain(tok))
		return fn(tok.p + 1, tok.n - 2, 1, ctx);
	char chunk[1024];
	size_t n = 0, pos = 0;
	long c;
	while ((c = json_string_next_cp(tok, &pos)) >= 0) {
		if (c >= 0x80)
			return -1;
		if (n == sizeof chunk) {
			if (memchr(chunk, '=', n))
				return -1;
			int r = fn(chunk, n, 0, ctx);
			if (r != 0)
				return r;
			n = 0;
		}
		chunk[n++] = (char)c;
	}
	return fn(chunk, n, 1, ctx);
}

static int b64_check_chunk(const char *s, size_t n, int last, void *ctx)
{
	(void)last;
	(void)ctx;
	return base64_check(s, n) == 0 ? 0 : -1;
}

static int b64_decode_chunk(const char *s, size_t n, int last, void *ctx)
{
	(void)last;
	int r = base64_decode(ctx, s, n);
	return r == 0 ? 0 : r == -2 ? -2 : -1;
}

/* ---- names ---- */

/* Decoded name of a key token: the raw body when it has no escape, else
 * decoded into tmp. NULL when too long to decode. */
static const char *key_name(json_span key, unsigned flags, char tmp[NAME_MAX_DECODED], size_t *n)
{
	if (!(flags & JSON_SCAN_ESCAPES)) {
		*n = key.n - 2;
		return key.p + 1;
	}
	size_t d = json_string_decode_fixed(key, tmp, NAME_MAX_DECODED);
	if (d == (size_t)-1)
		return NULL;
	*n = d;
	return tmp;
}

static int names_equal(json_span a, json_span b)
{
	if (plain(a) && plain(b))
		return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
	size_t pa = 0, pb = 0;
	for (;;) {
		long ca = json_string_next_cp(a, &pa), cb = json_string_next_cp(b, &pb);
		if (ca != cb)
			return 0;
		if (ca < 0)
			return 1;
	}
}

/* names_cmp of two name tokens known to hold no escapes. */
static inline int plain_names_cmp(json_span a, json_span b)
{
	size_t na = a.n - 2, nb = b.n - 2;
	int r = memcmp(a.p + 1, b.p + 1, na < nb ? na : nb);
	return r ? r : (na > nb) - (na < nb);
}

/* <0, 0, >0 as decoded name a sorts before, with, after b (bytewise,
 * which for [a-z0-9] names is code point order). */
static int names_cmp(json_span a, json_span b)
{
	if (plain(a) && plain(b))
		return plain_names_cmp(a, b);
	size_t pa = 0, pb = 0;
	for (;;) {
		long ca = json_string_next_cp(a, &pa), cb = json_string_next_cp(b, &pb);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			return 0;
	}
}

int ce_extension_name_valid(const char *name, size_t len)
{
	if (!name || len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return core_of(name, len) == C_NONE;
}

/* ---- parsing ---- */

struct parse {
	cloudevent *ev;
	struct pending pe;
	unsigned seen; /* bit per enum core, null included */
	uint64_t escaped_ext; /* bit per ev->ext[] whose name has an escape */
	json_span null_ext[CE_MAX_EXTENSIONS]; /* extensions given as null */
	size_t n_null_ext;
};

static void core_member(struct parse *ps, enum core c, json_span key, json_span val,
			enum json_type t, unsigned vflags)
{
	cloudevent *ev = ps->ev;
	const char *name = core_name[c];
	if (ps->seen & 1u << c) {
		note(&ps->pe, key, name, "duplicate attribute", JSON_INVALID);
		return;
	}
	ps->seen |= 1u << c;
	if (c == C_DATA || c == C_DATA_BASE64) {
		if (t == JSON_NULL)
			return; /* no data */
		if (ev->data_kind != CE_DATA_NONE) {
			note(&ps->pe, key, name, "data and data_base64 are mutually exclusive", JSON_INVALID);
			return;
		}
		if (c == C_DATA_BASE64) {
			if (t != JSON_STRING) {
				note(&ps->pe, key, name, "must be a string", t);
				return;
			}
			if (base64_chunks(val, b64_check_chunk, NULL) != 0) {
				note(&ps->pe, key, name, "not valid base64 (RFC 4648, padded)", JSON_INVALID);
				return;
			}
		}
		ev->data_kind = c == C_DATA ? CE_DATA_JSON : CE_DATA_BASE64;
		ev->data = val;
		ev->data_type = t;
		if (!(vflags & JSON_SCAN_WHITESPACE))
			ev->data_compact = val;
		return;
	}
	if (t == JSON_NULL) {
		if (c <= C_TYPE)
			note(&ps->pe, key, name, "required attribute missing (null)", JSON_INVALID);
		return; /* an optional attribute given as null is absent */
	}
	if (t != JSON_STRING) {
		note(&ps->pe, key, name, "must be a string", t);
		return;
	}
	if (val.n == 2) {
		note(&ps->pe, key, name, c == C_SPECVERSION ? "must be \"1.0\", found an empty string"
							    : "must be a non-empty string", JSON_INVALID);
		return;
	}
	const char *bad = NULL;
	switch (c) {
	case C_SPECVERSION:
		if (vflags & JSON_SCAN_ESCAPES ? !json_string_equals(val, "1.0")
					       : !(val.n == 5 && memcmp(val.p, "\"1.0\"", 5) == 0))
			bad = "unsupported version (must be \"1.0\")";
		break;
	case C_TIME:
		if (!time_ok(val, vflags))
			bad = "not an RFC 3339 timestamp";
		break;
	case C_DATACONTENTTYPE:
		/* the usual value, settled without the state machine */
		if ((vflags & VF_PLAIN) && val.n == 18 && memcmp(val.p, "\"application/json\"", 18) == 0)
			break;
		if (!media_type_ok(val, vflags))
			bad = "not an RFC 2046 media type (type/subtype)";
		break;
	case C_DATASCHEMA:
		if (!has_scheme(val))
			bad = "not an absolute URI";
		break;
	default:
		break;
	}
	if (!bad && !string_chars_ok(val, vflags))
		bad = "holds a control character or noncharacter";
	if (bad) {
		note(&ps->pe, key, name, bad, JSON_INVALID);
		return;
	}
	ce_attr *a = c == C_SPECVERSION ? &ev->specversion
		   : c == C_ID		? &ev->id
		   : c == C_SOURCE	? &ev->source
		   : c == C_TYPE	? &ev->type
		   : c == C_SUBJECT	? &ev->subject
		   : c == C_TIME	? &ev->time
		   : c == C_DATACONTENTTYPE ? &ev->datacontenttype
					    : &ev->dataschema;
	a->name = key;
	a->value = val;
	a->type = t;
}

/* The distributed-tracing extension (W3C Trace Context): traceparent and
 * tracestate are strings the relay puts on the wire as headers, so they
 * are checked as W3C defines them. 1 (and noted) when bad. */
#define TRACE_TEXT_MAX 8192 /* 32 members of key (256) = value (256), and commas */
static int trace_ext_bad(const char *name, size_t n, json_span val, enum json_type t,
			 unsigned vflags, struct pending *pe, json_span key)
{
	int tp = n == 11 && memcmp(name, "traceparent", 11) == 0;
	int ts = n == 10 && memcmp(name, "tracestate", 10) == 0;
	if (!tp && !ts)
		return 0;
	if (t != JSON_STRING) {
		note(pe, key, NULL, "must be a string", t);
		return 1;
	}
	char tmp[TRACE_TEXT_MAX];
	const char *text = val.p + 1;
	size_t len = val.n - 2;
	if (vflags & (JSON_SCAN_ESCAPES | JSON_SCAN_NONASCII)) {
		/* W3C values are ASCII: decode (escapes) and let the checks
		 * refuse what is not. Longer than any valid value: bad. */
		len = json_string_decode_fixed(val, tmp, sizeof tmp);
		text = tmp;
	}
	if (tp && (len == (size_t)-1 || traceparent_check(text, len) != 0)) {
		note(pe, key, NULL, "not a valid W3C traceparent", JSON_INVALID);
		return 1;
	}
	if (ts && (len == (size_t)-1 || tracestate_check(text, len) != 0)) {
		note(pe, key, NULL, "not a valid W3C tracestate", JSON_INVALID);
		return 1;
	}
	return 0;
}

static void ext_member(struct parse *ps, const char *name, size_t n, json_span key,
		       unsigned kflags, json_span val, enum json_type t, unsigned vflags)
{
	cloudevent *ev = ps->ev;
	if (!name || !ce_extension_name_valid(name, n)) {
		note(&ps->pe, key, NULL, "invalid extension name (must be lowercase a-z and 0-9)",
		     JSON_INVALID);
		return;
	}
	int esc = (kflags & JSON_SCAN_ESCAPES) != 0;
	for (size_t i = 0; i < ev->n_ext; i++)
		if (esc || (ps->escaped_ext >> i & 1) ? names_equal(ev->ext[i].name, key)
						       : ev->ext[i].name.n == key.n &&
							 memcmp(ev->ext[i].name.p, key.p, key.n) == 0) {
			note(&ps->pe, key, NULL, "duplicate attribute", JSON_INVALID);
			return;
		}
	for (size_t i = 0; i < ps->n_null_ext; i++)
		if (names_equal(ps->null_ext[i], key)) {
			note(&ps->pe, key, NULL, "duplicate attribute", JSON_INVALID);
			return;
		}
	if (t != JSON_NULL && trace_ext_bad(name, n, val, t, vflags, &ps->pe, key))
		return;
	switch (t) {
	case JSON_NULL:
		if (ps->n_null_ext == CE_MAX_EXTENSIONS) {
			note(&ps->pe, key, NULL, "too many extension attributes", JSON_INVALID);
			return;
		}
		ps->null_ext[ps->n_null_ext++] = key; /* absent, kept to see duplicates */
		return;
	case JSON_STRING:
		if (!string_chars_ok(val, vflags)) {
			note(&ps->pe, key, NULL, "holds a control character or noncharacter", JSON_INVALID);
			return;
		}
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		break;
	case JSON_NUMBER:
		if (!integer_ok(val)) {
			note(&ps->pe, key, NULL,
			     "extension value must be a string, boolean or integer (-2^31..2^31-1)",
			     JSON_INVALID);
			return;
		}
		break;
	default:
		note(&ps->pe, key, NULL, "extension value must be a string, boolean or integer", t);
		return;
	}
	if (ev->n_ext == CE_MAX_EXTENSIONS) {
		note(&ps->pe, key, NULL, "too many extension attributes", JSON_INVALID);
		return;
	}
	if (esc)
		ps->escaped_ext |= UINT64_C(1) << ev->n_ext;
	ce_attr *a = &ev->ext[ev->n_ext++];
	a->name = key;
	a->value = val;
	a->type = t;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Rank of a member in ce_write_json's order: core attributes by enum core,
 * then extensions, then data or data_base64. */
#define RANK_EXT 8
#define RANK_DATA 9

/* Read one value at text[*pos] (after optional whitespace). The common
 * shapes are read here: a plain string (VF_PLAIN, see plain_run) and the
 * literals; anything else, or anything doubtful, goes to the full scanner
 * from the same position, so verdicts and error offsets are the scanner's.
 * *ws is set when insignificant whitespace was seen (before the value or
 * inside it). */
static int read_value(const char *text, size_t len, size_t *pos, json_span *val,
		      enum json_type *t, unsigned *vflags, int *ws, json_error *je)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t at = *pos;
	if (at < len) {
		switch (s[at]) {
		case '"': {
			size_t e = at + 1 + plain_run(s + at + 1, len - at - 1);
			if (e < len && s[e] == '"') {
				val->p = text + at;
				val->n = e + 1 - at;
				*t = JSON_STRING;
				*vflags = VF_PLAIN;
				*pos = e + 1;
				return 0;
			}
			break;
		}
		case 'n':
		case 't':
			if (len - at >= 4 && memcmp(text + at, s[at] == 'n' ? "null" : "true", 4) == 0) {
				val->p = text + at;
				val->n = 4;
				*t = s[at] == 'n' ? JSON_NULL : JSON_TRUE;
				*vflags = 0;
				*pos = at + 4;
				return 0;
			}
			break;
		case 'f':
			if (len - at >= 5 && memcmp(text + at, "false", 5) == 0) {
				val->p = text + at;
				val->n = 5;
				*t = JSON_FALSE;
				*vflags = 0;
				*pos = at + 5;
				return 0;
			}
			break;
		default:
			break;
		}
	}
	if (json_scan_flags_ws(text, len, pos, val, t, vflags, je) != 0)
		return -1;
	if (val->p != text + at || (*vflags & JSON_SCAN_WHITESPACE))
		*ws = 1;
	return 0;
}

/* Only what the parse reads is reset: ext[] past n_ext is left alone
 * (2 KB of memset per event would cost more than the parse). */
static void reset_event(cloudevent *ev)
{
	static const ce_attr none = {{NULL, 0}, {NULL, 0}, JSON_INVALID};
	ev->specversion = ev->id = ev->source = ev->type = none;
	ev->subject = ev->time = ev->datacontenttype = ev->dataschema = none;
	ev->n_ext = 0;
	ev->data_kind = CE_DATA_NONE;
	ev->data.p = NULL;
	ev->data.n = 0;
	ev->data_type = JSON_INVALID;
	ev->canonical.p = NULL;
	ev->canonical.n = 0;
	ev->data_compact.p = NULL;
	ev->data_compact.n = 0;
}

/* ---- the canonical fast path ---- */

static inline int ext_name_char(unsigned c)
{
	return c - 'a' < 26u || c - '0' < 10u;
}

/* The length of the run of [a-z0-9] that starts p[0..n); 16 bytes at a
 * time with SSE2 (signed compares: bytes 0x80 and up are negative, so in
 * neither range). Never reads at or past p + n. */
static inline size_t ext_name_run(const unsigned char *p, size_t n)
{
	size_t i = 0;
#if STRSCAN_SSE2
	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i az = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
					   _mm_cmplt_epi8(v, _mm_set1_epi8('z' + 1)));
		__m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
					  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
		unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_or_si128(az, d)) & 0xFFFFu;
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (i < n && ext_name_char(p[i]))
		i++;
	return i;
}

/* 1 if core_member would accept the VF_PLAIN string val for c (as
 * core_member: non-empty, and each attribute's own rule). */
static int fast_core_ok(enum core c, json_span val)
{
	if (val.n == 2)
		return 0;
	switch (c) {
	case C_SPECVERSION:
		return val.n == 5 && memcmp(val.p, "\"1.0\"", 5) == 0;
	case C_TIME:
		return time_ok(val, VF_PLAIN);
	case C_DATACONTENTTYPE:
		return (val.n == 18 && memcmp(val.p, "\"application/json\"", 18) == 0) ||
		       media_type_ok(val, VF_PLAIN);
	case C_DATASCHEMA:
		return has_scheme(val);
	default:
		return 1;
	}
}

/* The end of a JSON number without whitespace at s[pos] (RFC 8259:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or 0 when there is none
 * or a digit follows a leading 0. */
static inline int digit(unsigned c) { return c - '0' < 10u; }

static size_t number_end(const unsigned char *s, size_t len, size_t pos)
{
	if (pos < len && s[pos] == '-')
		pos++;
	if (pos >= len || !digit(s[pos]))
		return 0;
	if (s[pos] == '0') {
		pos++;
		if (pos < len && digit(s[pos]))
			return 0;
	} else {
		while (pos < len && digit(s[pos]))
			pos++;
	}
	if (pos < len && s[pos] == '.') {
		if (++pos >= len || !digit(s[pos]))
			return 0;
		while (pos < len && digit(s[pos]))
			pos++;
	}
	if (pos < len && (s[pos] == 'e' || s[pos] == 'E')) {
		pos++;
		if (pos < len && (s[pos] == '+' || s[pos] == '-'))
			pos++;
		if (pos >= len || !digit(s[pos]))
			return 0;
		while (pos < len && digit(s[pos]))
			pos++;
	}
	return pos;
}

/* The end of a flat JSON object at s[pos] == '{' as event data usually
 * is: no whitespace, VF_PLAIN keys, and values that are VF_PLAIN
 * strings, numbers, true, false or null. 0 when it is anything else
 * (nested, escaped, spaced, invalid...): the caller then has the full
 * scanner read it, which decides. */
static size_t flat_object_end(const unsigned char *s, size_t len, size_t pos)
{
	pos++;
	if (pos < len && s[pos] == '}')
		return pos + 1;
	for (;;) {
		if (pos >= len || s[pos] != '"')
			return 0;
		pos += 1 + plain_run(s + pos + 1, len - pos - 1);
		if (pos + 1 >= len || s[pos] != '"' || s[pos + 1] != ':')
			return 0;
		pos += 2;
		if (pos >= len)
			return 0;
		switch (s[pos]) {
		case '"':
			pos += 1 + plain_run(s + pos + 1, len - pos - 1);
			if (pos >= len || s[pos] != '"')
				return 0;
			pos++;
			break;
		case 't':
		case 'n':
			if (len - pos < 4 || memcmp(s + pos, s[pos] == 't' ? "true" : "null", 4) != 0)
				return 0;
			pos += 4;
			break;
		case 'f':
			if (len - pos < 5 || memcmp(s + pos, "false", 5) != 0)
				return 0;
			pos += 5;
			break;
		default:
			if ((pos = number_end(s, len, pos)) == 0)
				return 0;
			break;
		}
		if (pos >= len)
			return 0;
		if (s[pos] == '}')
			return pos + 1;
		if (s[pos] != ',')
			return 0;
		pos++;
	}
}

int ce_json_flat_compact(const char *s, size_t n)
{
	return n >= 2 && s[0] == '{' && flat_object_end((const unsigned char *)s, n, 0) == n;
}

/* Parse text[0..len) when it is an event exactly as ce_write_json writes
 * it (what outbox rows hold, outbox(5)), in its simplest form: no
 * whitespace at all, members in canonical order, every key and every
 * attribute value a VF_PLAIN string (extension values may also be true or
 * false), data compact JSON. 0 with ev filled exactly as the general path
 * fills it (canonical span included); -1 as soon as anything is
 * otherwise, valid or not: the caller then resets ev and takes the
 * general path, which alone reports errors. So this path only ever says
 * yes to what the general path accepts, and it skips what canonical order
 * makes impossible (duplicates, nulls, escaped names) and the bookkeeping
 * for error reports. */
static int parse_canonical(cloudevent *ev, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return -1;
	size_t pos = 1;
	int rank = -1; /* of the member before, in ce_write_json's order */
	unsigned seen = 0;
	json_span last_ext = {NULL, 0};
	for (;;) {
		json_span key, val;
		enum json_type t;
		size_t n = 0;
		if (s[pos] != '"') /* pos < len here: see the loop's end */
			return -1;
		enum core c = core_key(s + pos + 1, len - pos - 1, &n);
		key.p = text + pos;
		if (c != C_NONE) {
			int r = c >= C_DATA ? RANK_DATA : (int)c;
			if (r <= rank) /* out of order, or a duplicate */
				return -1;
			rank = r;
			key.n = n + 2;
		} else {
			size_t e = pos + 1 + ext_name_run(s + pos + 1, len - pos - 1);
			if (e == pos + 1 || e >= len || s[e] != '"' || rank > RANK_EXT)
				return -1;
			key.n = e + 1 - pos;
			if (rank == RANK_EXT && plain_names_cmp(last_ext, key) >= 0)
				return -1;
			rank = RANK_EXT;
			last_ext = key;
		}
		pos += key.n;
		if (pos >= len || s[pos] != ':')
			return -1;
		pos++;
		if (c == C_DATA) {
			size_t e = pos < len && s[pos] == '{' ? flat_object_end(s, len, pos) : 0;
			if (e) {
				val.p = text + pos;
				val.n = e - pos;
				t = JSON_OBJECT;
				pos = e;
			} else {
				unsigned vflags;
				int ws = 0;
				json_error je;
				if (read_value(text, len, &pos, &val, &t, &vflags, &ws, &je) != 0 || ws ||
				    t == JSON_NULL)
					return -1;
			}
			ev->data_kind = CE_DATA_JSON;
			ev->data = val;
			ev->data_type = t;
			ev->data_compact = val;
		} else {
			if (pos >= len)
				return -1;
			if (s[pos] == '"') {
				size_t e = pos + 1 + plain_run(s + pos + 1, len - pos - 1);
				if (e >= len || s[e] != '"')
					return -1;
				val.p = text + pos;
				val.n = e + 1 - pos;
				t = JSON_STRING;
			} else if (c == C_NONE && len - pos >= 4 && memcmp(text + pos, "true", 4) == 0) {
				val.p = text + pos;
				val.n = 4;
				t = JSON_TRUE;
			} else if (c == C_NONE && len - pos >= 5 && memcmp(text + pos, "false", 5) == 0) {
				val.p = text + pos;
				val.n = 5;
				t = JSON_FALSE;
			} else {
				return -1;
			}
			pos += val.n;
			if (c == C_NONE) {
				/* ext_member's checks that canonical order leaves */
				if (ev->n_ext == CE_MAX_EXTENSIONS)
					return -1;
				struct pending pe = {NULL, {NULL, 0}, NULL, JSON_INVALID, 0};
				if (trace_ext_bad(key.p + 1, key.n - 2, val, t, VF_PLAIN, &pe, key))
					return -1;
				ce_attr *a = &ev->ext[ev->n_ext++];
				a->name = key;
				a->value = val;
				a->type = t;
			} else if (c == C_DATA_BASE64) {
				if (base64_check(val.p + 1, val.n - 2) != 0)
					return -1;
				ev->data_kind = CE_DATA_BASE64;
				ev->data = val;
				ev->data_type = JSON_STRING;
				ev->data_compact = val;
			} else {
				if (!fast_core_ok(c, val))
					return -1;
				ce_attr *a = c == C_SPECVERSION ? &ev->specversion
					   : c == C_ID		? &ev->id
					   : c == C_SOURCE	? &ev->source
					   : c == C_TYPE	? &ev->type
					   : c == C_SUBJECT	? &ev->subject
					   : c == C_TIME	? &ev->time
					   : c == C_DATACONTENTTYPE ? &ev->datacontenttype
								    : &ev->dataschema;
				a->name = key;
				a->value = val;
				a->type = JSON_STRING;
				seen |= 1u << c;
			}
		}
		if (pos >= len)
			return -1;
		if (s[pos] == '}') {
			if (pos == len - 1)
				break;
			return -1;
		}
		/* a ',' then a member, which cannot start at the final '}' */
		if (s[pos] != ',' || ++pos >= len - 1)
			return -1;
	}
	if ((seen & 0xFu) != 0xFu) /* specversion, id, source, type */
		return -1;
	ev->canonical.p = text;
	ev->canonical.n = len;
	return 0;
}

int ce_parse(cloudevent *ev, const char *text, size_t len, ce_error *err)
{
	reset_event(ev);
	if (parse_canonical(ev, text, len) == 0)
		return 0;
	reset_event(ev);

	struct parse ps;
	ps.ev = ev;
	ps.pe.msg = NULL;
	ps.pe.is_specversion = 0;
	ps.seen = 0;
	ps.escaped_ext = 0;
	ps.n_null_ext = 0;

	const unsigned char *s = (const unsigned char *)text;
	json_error je;
	size_t pos = 0;
	while (pos < len && is_ws(text[pos]))
		pos++;
	if (pos >= len || text[pos] != '{') {
		enum json_type t;
		if (json_parse_value(text, len, NULL, &t, &je) != 0)
			return json_fail(err, &je);
		if (err) {
			err->attribute[0] = '\0';
			set_text(err, "event is not a JSON object, found %s", type_name(t));
		}
		return -1;
	}
	/* Whether the object is, so far, exactly what ce_write_json would
	 * write (see cloudevent.h, canonical): no whitespace inside, plain
	 * keys, no nulls, members in canonical order. */
	size_t obj = pos;
	int canon = 1, rank = -1;
	json_span last_ext = {NULL, 0};
	pos++;
	if (pos < len && is_ws(text[pos])) {
		canon = 0;
		while (pos < len && is_ws(text[pos]))
			pos++;
	}
	if (pos < len && text[pos] == '}') {
		pos++;
	} else {
		for (;;) {
			json_span key, val;
			enum json_type t;
			unsigned kflags, vflags;
			int ws = 0;
			if (pos >= len || text[pos] != '"') {
				je.offset = pos;
				je.what = pos >= len ? "unexpected end of input" : "expected a string key in object";
				return json_fail(err, &je);
			}
			/* The key: a core attribute's name is recognised
			 * in place, other printable ASCII without escapes is
			 * read here, the rest by the scanner. */
			char tmp[NAME_MAX_DECODED];
			const char *name;
			size_t n = 0;
			enum core c = core_key(s + pos + 1, len - pos - 1, &n);
			if (c != C_NONE) {
				key.p = text + pos;
				key.n = n + 2;
				kflags = 0;
				pos += n + 2;
				name = key.p + 1;
			} else {
				size_t e = pos + 1 + plain_run(s + pos + 1, len - pos - 1);
				if (e < len && s[e] == '"') {
					/* not a core name: core_key knows them all */
					key.p = text + pos;
					key.n = e + 1 - pos;
					kflags = 0;
					pos = e + 1;
					name = key.p + 1;
					n = key.n - 2;
				} else {
					if (json_scan_flags(text, len, &pos, &key, NULL, &kflags, &je) != 0)
						return json_fail(err, &je);
					canon = 0;
					name = key_name(key, kflags, tmp, &n);
					c = name ? core_of(name, n) : C_NONE;
				}
			}
			if (pos < len && is_ws(text[pos])) {
				canon = 0;
				while (pos < len && is_ws(text[pos]))
					pos++;
			}
			if (pos >= len || text[pos] != ':') {
				je.offset = pos;
				je.what = "expected ':' after object key";
				return json_fail(err, &je);
			}
			pos++;
			if (read_value(text, len, &pos, &val, &t, &vflags, &ws, &je) != 0)
				return json_fail(err, &je);

			if (c != C_NONE)
				core_member(&ps, c, key, val, t, vflags);
			else
				ext_member(&ps, name, n, key, kflags, val, t, vflags);

			if (canon) { /* so far: then this key has no escape */
				int r = c == C_NONE ? RANK_EXT : c >= C_DATA ? RANK_DATA : (int)c;
				if (ws || t == JSON_NULL || r < rank ||
				    (r == rank && (r != RANK_EXT || plain_names_cmp(last_ext, key) >= 0)))
					canon = 0;
				rank = r;
				last_ext = key;
			}

			if (pos < len && is_ws(text[pos])) {
				canon = 0;
				while (pos < len && is_ws(text[pos]))
					pos++;
			}
			if (pos < len && text[pos] == ',') {
				pos++;
				if (pos < len && is_ws(text[pos])) {
					canon = 0;
					while (pos < len && is_ws(text[pos]))
						pos++;
				}
				continue;
			}
			if (pos < len && text[pos] == '}') {
				pos++;
				break;
			}
			je.offset = pos;
			je.what = pos >= len ? "unexpected end of input" : "expected ',' or '}' in object";
			return json_fail(err, &je);
		}
	}
	size_t obj_end = pos;
	while (pos < len && is_ws(text[pos]))
		pos++;
	if (pos != len) {
		je.offset = pos;
		je.what = "trailing characters after value";
		return json_fail(err, &je);
	}

	for (enum core c = C_SPECVERSION; c <= C_TYPE; c++)
		if (!(ps.seen & 1u << c))
			note(&ps.pe, (json_span){NULL, 0}, core_name[c], "required attribute missing",
			     JSON_INVALID);
	if (ps.pe.msg) {
		report(&ps.pe, err);
		return -1;
	}
	if (canon) {
		ev->canonical.p = text + obj;
		ev->canonical.n = obj_end - obj;
	}
	return 0;
}

/* ---- writing ---- */

static char *put(char *d, const char *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

/* 1 if ev->data is known to hold no insignificant whitespace: ce_parse
 * saw it (data_compact is that very span), or a look says so. */
static int data_is_compact(const cloudevent *ev)
{
	if (ev->data_compact.p && ev->data_compact.p == ev->data.p && ev->data_compact.n == ev->data.n)
		return 1;
	return json_is_compact(ev->data);
}

/* One member of is_canonical_text(): the writer emits key[0..keylen)
 * (the key token and ':'; key NULL: the text's own bytes, for extension
 * names) and then the value token v. *at is where the member must start in
 * the text, at most end + 1 (end is the closing '}'). 1 if the member sits
 * there, after a '{' or ',', with v right behind its key; *at then moves
 * past the value and the separator after it. Only pointers inside the
 * text are formed, and compared for equality with the event's. */
static inline int member_at(const char **at, const char *end, const char *key, size_t keylen,
			    json_span v)
{
	const char *p = *at;
	if (p > end || (size_t)(end - p) <= keylen || (p[-1] != '{' && p[-1] != ',') ||
	    v.p != p + keylen || v.n > (size_t)(end - v.p) || p[keylen - 1] != ':' ||
	    (key && memcmp(p, key, keylen) != 0))
		return 0;
	*at = v.p + v.n + 1;
	return 1;
}

/* 1 if the general writer below would write exactly the bytes of
 * ev->canonical. ce_parse sets that span only for canonical input, but
 * the event may have been edited since, so this does not trust it: it
 * walks the members the writer would emit, in the writer's order, and
 * checks that each one's key and value sit in the text back to back, one
 * separator apart, from the '{' to the '}'. Pointer comparisons and a few
 * short memcmps; no pass over the values. */
static int is_canonical_text(const cloudevent *ev)
{
	const char *at = ev->canonical.p;
	if (!at || ev->canonical.n < 2 || *at != '{')
		return 0;
	const char *end = at + ev->canonical.n - 1;
	if (*end != '}')
		return 0;
	at++;
	/* Core attributes: the writer puts their fixed keys. */
#define CORE(f, tok)                                                                     \
	if (ev->f.value.p && !member_at(&at, end, tok, sizeof tok - 1, ev->f.value)) \
		return 0;
	CORE(specversion, "\"specversion\":")
	CORE(id, "\"id\":")
	CORE(source, "\"source\":")
	CORE(type, "\"type\":")
	CORE(subject, "\"subject\":")
	CORE(time, "\"time\":")
	CORE(datacontenttype, "\"datacontenttype\":")
	CORE(dataschema, "\"dataschema\":")
#undef CORE
	/* Extensions: the writer puts a name token without escapes as it is,
	 * and its sort leaves names already in order where they are. */
	size_t n_ext = ev->n_ext < CE_MAX_EXTENSIONS ? ev->n_ext : CE_MAX_EXTENSIONS;
	for (size_t i = 0; i < n_ext; i++) {
		const ce_attr *a = &ev->ext[i];
		/* ext[i - 1].name passed the plain() test one round ago */
		if (a->name.p != at || a->name.n < 2 || !plain(a->name) ||
		    (i > 0 && plain_names_cmp(ev->ext[i - 1].name, a->name) > 0) ||
		    !member_at(&at, end, NULL, a->name.n + 1, a->value))
			return 0;
	}
	if (ev->data_kind != CE_DATA_NONE && ev->data.p) {
		if (ev->data_kind == CE_DATA_BASE64) {
			if (!member_at(&at, end, "\"data_base64\":", 14, ev->data))
				return 0;
		} else if (!data_is_compact(ev) || !member_at(&at, end, "\"data\":", 7, ev->data)) {
			return 0;
		}
	}
	return at == end + 1;
}

int ce_write_json(const cloudevent *ev, buf *out)
{
	static const struct {
		const char *key; /* ,"name": */
		size_t n;
		size_t off; /* of the ce_attr in cloudevent */
	} core[] = {
#define K(s, f) {",\"" s "\":", sizeof(",\"" s "\":") - 1, offsetof(cloudevent, f)}
		K("specversion", specversion), K("id", id), K("source", source),
		K("type", type), K("subject", subject), K("time", time),
		K("datacontenttype", datacontenttype), K("dataschema", dataschema),
#undef K
	};
	/* An upper bound of the output, so one reservation serves it all. */
	size_t need = 2 + sizeof ",\"data_base64\":";
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
		const ce_attr *a = (const ce_attr *)((const char *)ev + core[i].off);
		if (a->value.p)
			need += core[i].n + a->value.n;
	}
	size_t n_ext = ev->n_ext < CE_MAX_EXTENSIONS ? ev->n_ext : CE_MAX_EXTENSIONS;
	for (size_t i = 0; i < n_ext; i++)
		need += 2 + ev->ext[i].name.n + ev->ext[i].value.n;
	if (ev->data_kind != CE_DATA_NONE)
		need += ev->data.n;
	if (buf_reserve(out, need) != 0)
		return -1;

	if (is_canonical_text(ev)) {
		/* The input was canonical already: one copy. */
		memcpy(out->data + out->len, ev->canonical.p, ev->canonical.n);
		out->len += ev->canonical.n;
		out->data[out->len] = '\0';
		return 0;
	}

	size_t save = out->len;
	char *d = out->data + out->len;
	*d++ = '{';
	int first = 1;
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
		const ce_attr *a = (const ce_attr *)((const char *)ev + core[i].off);
		if (!a->value.p)
			continue;
		d = first ? put(d, core[i].key + 1, core[i].n - 1) : put(d, core[i].key, core[i].n);
		d = put(d, a->value.p, a->value.n);
		first = 0;
	}

	/* Extensions sorted by name: insertion sort of at most 64 indexes. */
	unsigned char order[CE_MAX_EXTENSIONS];
	for (size_t i = 0; i < n_ext; i++) {
		size_t j = i;
		while (j > 0 && names_cmp(ev->ext[order[j - 1]].name, ev->ext[i].name) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = (unsigned char)i;
	}
	for (size_t k = 0; k < n_ext; k++) {
		const ce_attr *a = &ev->ext[order[k]];
		if (!first)
			*d++ = ',';
		first = 0;
		if (plain(a->name)) {
			d = put(d, a->name.p, a->name.n);
		} else {
			/* A valid name is [a-z0-9]+: written decoded, it needs
			 * no escape and is never longer than the token. */
			*d++ = '"';
			size_t n = json_string_decode_fixed(a->name, d, a->name.n - 2);
			d += n == (size_t)-1 ? 0 : n;
			*d++ = '"';
		}
		*d++ = ':';
		d = put(d, a->value.p, a->value.n);
	}

	if (ev->data_kind != CE_DATA_NONE && ev->data.p) {
		if (!first)
			*d++ = ',';
		if (ev->data_kind == CE_DATA_BASE64) {
			d = put(d, "\"data_base64\":", 14);
			d = put(d, ev->data.p, ev->data.n);
		} else {
			d = put(d, "\"data\":", 7);
			if (data_is_compact(ev)) {
				d = put(d, ev->data.p, ev->data.n);
			} else {
				/* json_compact appends at out->len: point it
				 * at our cursor, within the reservation made. */
				out->len = (size_t)(d - out->data);
				if (json_compact(ev->data, out) != 0) {
					/* cannot happen: the room is reserved */
					out->len = save;
					out->data[save] = '\0';
					return -1;
				}
				d = out->data + out->len;
			}
		}
	}
	*d++ = '}';
	out->len = (size_t)(d - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* ---- accessors ---- */

int ce_attr_value(const ce_attr *a, buf *out)
{
	if (!a->value.p)
		return 0;
	if (a->type == JSON_STRING)
		return json_string_decode(a->value, out);
	return buf_append(out, a->value.p, a->value.n);
}

const ce_attr *ce_find_extension(const cloudevent *ev, const char *name)
{
	for (size_t i = 0; i < ev->n_ext && i < CE_MAX_EXTENSIONS; i++)
		if (json_string_equals(ev->ext[i].name, name))
			return &ev->ext[i];
	return NULL;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ieq(const char *a, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lit[i])
			return 0;
	return 1;
}

int ce_content_type_is_json(const char *ct, size_t len)
{
	if (!ct || len == 0)
		return 1;
	const char *p = ct, *end = ct + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	const char *e = memchr(p, ';', (size_t)(end - p));
	if (!e)
		e = end;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	size_t n = (size_t)(e - p);
	if (ieq(p, n, "application/json") || ieq(p, n, "text/json"))
		return 1;
	const char *slash = memchr(p, '/', n);
	return slash && e - slash > 5 && ieq(e - 5, 5, "+json");
}

/* 1 if the event's datacontenttype means JSON. */
static int event_data_is_json(const cloudevent *ev)
{
	json_span ct = ev->datacontenttype.value;
	if (!ct.p)
		return 1;
	if (plain(ct))
		return ce_content_type_is_json(ct.p + 1, ct.n - 2);
	/* Only the part before ';' matters; a prefix of a longer value
	 * holds it unless the type itself is absurdly long (then: not JSON). */
	char tmp[512];
	size_t n = json_string_decode_fixed(ct, tmp, sizeof tmp);
	if (n == (size_t)-1) {
		if (!memchr(tmp, ';', sizeof tmp))
			return 0;
		n = sizeof tmp;
	}
	return ce_content_type_is_json(tmp, n);
}

int ce_data_bytes(const cloudevent *ev, buf *out)
{
	if (ev->data_kind == CE_DATA_NONE || !ev->data.p)
		return 0;
	if (ev->data_kind == CE_DATA_BASE64) {
		size_t save = out->len;
		int r = base64_chunks(ev->data, b64_decode_chunk, out);
		if (r != 0) {
			out->len = save;
			if (out->data)
				out->data[save] = '\0';
			return -1;
		}
		return 0;
	}
	if (ev->data_type == JSON_STRING && !event_data_is_json(ev))
		return json_string_decode(ev->data, out);
	if (data_is_compact(ev))
		return buf_append(out, ev->data.p, ev->data.n);
	return json_compact(ev->data, out);
}

/* ---- batches ---- */

int ce_batch_begin(ce_batch *b, const char *text, size_t len, ce_error *err)
{
	json_span v;
	enum json_type t;
	json_error je;
	b->index = 0;
	b->it.p = b->it.end = text;
	if (json_parse_value(text, len, &v, &t, &je) != 0)
		return json_fail(err, &je);
	if (t != JSON_ARRAY) {
		if (err) {
			err->attribute[0] = '\0';
			set_text(err, "a batch must be a JSON array, found %s", type_name(t));
		}
		return -1;
	}
	json_array_begin(&b->it, v);
	return 0;
}

int ce_batch_next(ce_batch *b, cloudevent *ev, ce_error *err)
{
	json_span v;
	enum json_type t;
	if (!json_array_next(&b->it, &v, &t))
		return 0;
	b->index++;
	if (t != JSON_OBJECT) {
		if (err) {
			err->attribute[0] = '\0';
			set_text(err, "batch element %zu: not a JSON object, found %s", b->index, type_name(t));
		}
		return -1;
	}
	ce_error e;
	if (ce_parse(ev, v.p, v.n, &e) != 0) {
		if (err) {
			memcpy(err->attribute, e.attribute, sizeof err->attribute);
			set_text(err, "batch element %zu: %.200s", b->index, e.text);
		}
		return -1;
	}
	return 1;
}

int ce_parse_line(cloudevent *ev, const char *text, size_t len, errinfo *err)
{
	ce_error ce;
	if (ce_parse(ev, text, len, &ce) == 0)
		return 0;
	if (ce.attribute[0])
		return errinfo_set(err, EXIT_DATAERR, "%s: %s", ce.attribute, ce.text);
	return errinfo_set(err, EXIT_DATAERR, "%s", ce.text);
}
