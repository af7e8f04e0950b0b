/* fuzz_json.c - libFuzzer target for lib/json.c.
 *
 * The whole input is parsed as one JSON value. When it is valid, the
 * walkers must agree with the scanner: compaction re-parses to a compact
 * value of the same type, iteration yields valid members, keys decode and
 * re-encode to themselves, pointer lookups find what iteration found.
 * Independently, the first line is tried as a JSON Pointer into the rest,
 * and json_scan walks the input as a stream of values. Any disagreement
 * aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static void check_valid(json_span v, enum json_type t)
{
	json_span w;
	enum json_type u;
	ASSERT(json_parse_value(v.p, v.n, &w, &u, NULL) == 0);
	ASSERT(u == t && w.p == v.p && w.n == v.n);
}

/* Append "/" and the RFC 6901 escape of a decoded key. */
static int pointer_append(buf *p, const char *k, size_t n)
{
	if (buf_putc(p, '/') != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int r = k[i] == '~' ? buf_puts(p, "~0") : k[i] == '/' ? buf_puts(p, "~1") : buf_putc(p, k[i]);
		if (r != 0)
			return -1;
	}
	return 0;
}

static void check_string(json_span tok)
{
	buf d, e, d2;
	buf_init(&d, 0);
	buf_init(&e, 0);
	buf_init(&d2, 0);
	ASSERT(json_string_decode(tok, &d) == 0);
	ASSERT(d.len <= tok.n - 2);
	ASSERT(utf8_valid(d.data ? d.data : "", d.len));
	/* decode_fixed agrees */
	char fixed[64];
	size_t fn = json_string_decode_fixed(tok, fixed, sizeof fixed);
	if (d.len <= sizeof fixed)
		ASSERT(fn == d.len && memcmp(fixed, d.data ? d.data : "", d.len) == 0);
	else
		ASSERT(fn == (size_t)-1);
	/* code points re-encode to the decoded bytes */
	size_t pos = 0, cps = 0;
	long cp;
	while ((cp = json_string_next_cp(tok, &pos)) >= 0) {
		ASSERT(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
		cps++;
	}
	ASSERT(cps <= d.len);
	/* encode -> valid token -> decodes to the same bytes */
	ASSERT(json_string_encode(&e, d.data ? d.data : "", d.len) == 0);
	json_span et = {e.data, e.len};
	enum json_type t;
	ASSERT(json_parse_value(e.data, e.len, &et, &t, NULL) == 0 && t == JSON_STRING);
	ASSERT(json_string_decode(et, &d2) == 0);
	ASSERT(d2.len == d.len && memcmp(d2.data ? d2.data : "", d.data ? d.data : "", d.len) == 0);
	if (!memchr(d.data ? d.data : "", '\0', d.len))
		ASSERT(json_string_equals(tok, d.data ? d.data : ""));
	ASSERT(json_string_is_plain(tok) == (memchr(tok.p + 1, '\\', tok.n - 2) == NULL));
	buf_free(&d);
	buf_free(&e);
	buf_free(&d2);
}

struct each_seen {
	json_span first;
	long n;
};

static int each_note(void *ctx, json_span v, enum json_type t)
{
	struct each_seen *e = ctx;
	ASSERT(json_type_of(v) == t);
	if (e->n++ == 0)
		e->first = v;
	return 0;
}

static void check_members(json_span v, enum json_type t)
{
	json_iter it;
	json_span k, m;
	enum json_type mt;
	size_t count = 0;
	if (t == JSON_OBJECT) {
		json_object_begin(&it, v);
		while (json_object_next(&it, &k, &m, &mt)) {
			ASSERT(k.p >= v.p && m.p + m.n <= v.p + v.n);
			ASSERT(json_type_of(k) == JSON_STRING);
			check_valid(k, JSON_STRING);
			check_valid(m, mt);
			check_string(k);
			if (count++ < 8) {
				/* a pointer to the key finds the first member so named */
				buf d, p;
				buf_init(&d, 0);
				buf_init(&p, 0);
				ASSERT(json_string_decode(k, &d) == 0);
				if (!memchr(d.data ? d.data : "", '\0', d.len)) {
					ASSERT(pointer_append(&p, d.data ? d.data : "", d.len) == 0);
					json_span f;
					ASSERT(json_pointer_find(v, p.data, &f, NULL) == 1);
					json_iter it2;
					json_span k2, m2;
					json_object_begin(&it2, v);
					while (json_object_next(&it2, &k2, &m2, NULL))
						if (json_string_equals(k2, d.data ? d.data : ""))
							break;
					ASSERT(f.p == m2.p && f.n == m2.n);
					/* json_pointer_each visits that one first, and
					 * every member with the name (duplicates). */
					struct each_seen e = { { NULL, 0 }, 0 };
					long n_each = json_pointer_each(v, p.data, each_note, &e);
					ASSERT(n_each >= 1 && n_each == e.n);
					ASSERT(e.first.p == f.p && e.first.n == f.n);
				}
				buf_free(&d);
				buf_free(&p);
			}
		}
	} else if (t == JSON_ARRAY) {
		json_array_begin(&it, v);
		while (json_array_next(&it, &m, &mt)) {
			check_valid(m, mt);
			if (mt == JSON_STRING)
				check_string(m);
			if (count < 8) {
				char p[32];
				snprintf(p, sizeof p, "/%zu", count);
				json_span f;
				ASSERT(json_pointer_find(v, p, &f, NULL) == 1);
				ASSERT(f.p == m.p && f.n == m.n);
			}
			count++;
		}
		char p[32];
		snprintf(p, sizeof p, "/%zu", count);
		ASSERT(json_pointer_find(v, p, NULL, NULL) == 0);
	} else if (t == JSON_STRING) {
		check_string(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_span v;
	enum json_type t;
	json_error err;

	if (json_parse_value(text, size, &v, &t, &err) == 0) {
		ASSERT(t != JSON_INVALID && t == json_type_of(v));
		ASSERT(v.p >= text && v.p + v.n <= text + size);
		buf c, c2;
		buf_init(&c, 0);
		buf_init(&c2, 0);
		ASSERT(json_compact(v, &c) == 0);
		ASSERT(c.len <= v.n);
		json_span cv;
		enum json_type ct;
		ASSERT(json_parse_value(c.data, c.len, &cv, &ct, NULL) == 0);
		ASSERT(ct == t && cv.n == c.len);
		ASSERT(json_is_compact(cv));
		ASSERT(json_is_compact(v) == (c.len == v.n));
		ASSERT(json_compact(cv, &c2) == 0);
		ASSERT(c2.len == c.len && memcmp(c2.data, c.data, c.len) == 0);
		buf_free(&c);
		buf_free(&c2);
		check_members(v, t);
		ASSERT(json_pointer_find(v, "", NULL, NULL) == 1);
		ASSERT(json_pointer_each(v, "", each_note, &(struct each_seen){ { NULL, 0 }, 0 }) == 1);
	} else {
		ASSERT(err.what && err.what[0]);
		ASSERT(err.offset <= size);
	}

	/* The input as a stream of values: json_scan always progresses. */
	size_t pos = 0;
	for (int i = 0; i < 64 && pos < size; i++) {
		size_t before = pos;
		if (json_scan(text, size, &pos, &v, &t, &err) != 0) {
			ASSERT(err.offset <= size);
			break;
		}
		ASSERT(pos > before && pos <= size);
		ASSERT(v.p + v.n == text + pos);
	}

	/* The first line as a pointer into the rest. */
	const char *nl = memchr(text, '\n', size);
	if (nl && (size_t)(nl - text) < 256) {
		char ptr[256];
		size_t pn = (size_t)(nl - text);
		memcpy(ptr, text, pn);
		ptr[pn] = '\0';
		if (strlen(ptr) == pn) {
			const char *rest = nl + 1;
			size_t rn = size - pn - 1;
			int chk = json_pointer_check(ptr);
			if (json_parse_value(rest, rn, &v, &t, NULL) == 0) {
				json_span f;
				enum json_type ft;
				int r = json_pointer_find(v, ptr, &f, &ft);
				ASSERT(r == (chk == 0 ? r : -1));
				ASSERT(chk != 0 || r >= 0);
				if (r == 1) {
					ASSERT(f.p >= v.p && f.p + f.n <= v.p + v.n);
					check_valid(f, ft);
				}
			}
		}
	}
	return 0;
}
