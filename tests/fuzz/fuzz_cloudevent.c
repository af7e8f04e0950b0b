/* fuzz_cloudevent.c - libFuzzer target for lib/cloudevent.c.
 *
 * The input is parsed as one event. When accepted, the canonical output
 * must parse again to an equivalent event (same attribute tokens, same
 * extensions, same data once compacted, same payload bytes) and writing
 * that one must give the same bytes. A rejection must explain itself. The
 * input is also walked as a batch. Any disagreement aborts.
 *
 * Differential check of ce_parse's fast path: the input is parsed again
 * after spread() (a space after every '{' '[' ',' ':' outside strings, and
 * the first character of the event's short keys written as a \u00XX
 * escape), which means the same thing but takes the general path
 * everywhere (whitespace, escaped names, never canonical). Both must agree on the verdict, on the
 * error (attribute and text; for invalid JSON the text up to the byte
 * offset), and on the canonical output, byte for byte. The canonical
 * fast path (ce_parse's path for events exactly as ce_write_json writes
 * them, which wants '{' first) is checked against the general path on the
 * very same bytes too: the input after one leading space must give the
 * same verdict, the same error, and the same event span for span, one byte
 * further on (canonical and data_compact included). The whole input is
 * also tried as a timestamp: rfc3339_check (with its fast path) and
 * rfc3339_parse_us (the full parser alone) must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevent.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static int same_span(json_span a, json_span b)
{
	if (!a.p || !b.p)
		return !a.p && !b.p;
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static int same_name(json_span a, json_span b)
{
	buf x, y;
	buf_init(&x, 0);
	buf_init(&y, 0);
	ASSERT(json_string_decode(a, &x) == 0 && json_string_decode(b, &y) == 0);
	int same = x.len == y.len && memcmp(x.data ? x.data : "", y.data ? y.data : "", x.len) == 0;
	buf_free(&x);
	buf_free(&y);
	return same;
}

static void check_equivalent(const cloudevent *a, const cloudevent *b)
{
	ASSERT(same_span(a->specversion.value, b->specversion.value));
	ASSERT(same_span(a->id.value, b->id.value));
	ASSERT(same_span(a->source.value, b->source.value));
	ASSERT(same_span(a->type.value, b->type.value));
	ASSERT(same_span(a->subject.value, b->subject.value));
	ASSERT(same_span(a->time.value, b->time.value));
	ASSERT(same_span(a->datacontenttype.value, b->datacontenttype.value));
	ASSERT(same_span(a->dataschema.value, b->dataschema.value));
	ASSERT(a->n_ext == b->n_ext);
	for (size_t i = 0; i < a->n_ext; i++) {
		size_t j;
		for (j = 0; j < b->n_ext; j++)
			if (same_name(a->ext[i].name, b->ext[j].name))
				break;
		ASSERT(j < b->n_ext);
		ASSERT(same_span(a->ext[i].value, b->ext[j].value));
		ASSERT(a->ext[i].type == b->ext[j].type);
	}
	ASSERT(a->data_kind == b->data_kind);
	if (a->data_kind == CE_DATA_JSON) {
		buf c;
		buf_init(&c, 0);
		ASSERT(json_compact(a->data, &c) == 0);
		ASSERT(c.len == b->data.n && memcmp(c.data, b->data.p, c.len) == 0);
		buf_free(&c);
		ASSERT(a->data_type == b->data_type);
	} else if (a->data_kind == CE_DATA_BASE64) {
		ASSERT(same_span(a->data, b->data));
	}
	buf x, y;
	buf_init(&x, 0);
	buf_init(&y, 0);
	ASSERT(ce_data_bytes(a, &x) == 0 && ce_data_bytes(b, &y) == 0);
	ASSERT(x.len == y.len && memcmp(x.data ? x.data : "", y.data ? y.data : "", x.len) == 0);
	buf_free(&x);
	buf_free(&y);
}

/* See the top. out has room for 7 * n bytes. Returns the length. */
static size_t spread(const char *t, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	long depth = 0; /* only the event's own keys are escaped, not data's */
	for (size_t i = 0; i < n;) {
		char c = t[i];
		if (c != '"') {
			depth += (c == '{' || c == '[') - (c == '}' || c == ']');
			out[o++] = c;
			if (c == '{' || c == '[' || c == ',' || c == ':')
				out[o++] = ' ';
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && t[j] != '"')
			j += t[j] == '\\' ? 2 : 1;
		if (j >= n) { /* unterminated: the rest as it is */
			memcpy(out + o, t + i, n - i);
			return o + n - i;
		}
		size_t k = j + 1;
		while (k < n && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '\r'))
			k++;
		unsigned char f = (unsigned char)t[i + 1];
		if (depth == 1 && k < n && t[k] == ':' && j - i - 1 <= 200 && f >= 0x20 && f < 0x7F && f != '"' &&
		    f != '\\') {
			memcpy(out + o, "\"\\u00", 5);
			out[o + 5] = hex[f >> 4];
			out[o + 6] = hex[f & 15];
			o += 7;
			i += 2;
		}
		memcpy(out + o, t + i, j + 1 - i);
		o += j + 1 - i;
		i = j + 1;
	}
	return o;
}

/* The text of an error up to a byte offset, which spread() moves. */
static size_t stable_len(const char *text)
{
	static const char pre[] = "invalid JSON at byte ";
	if (strncmp(text, pre, sizeof pre - 1) != 0)
		return strlen(text) + 1;
	return sizeof pre - 1;
}

static void check_spread(const char *text, size_t size, int r, const cloudevent *ev,
			 const ce_error *err)
{
	static cloudevent ev3;
	char *tmp = malloc(size * 7 + 1);
	ASSERT(tmp);
	size_t sn = spread(text, size, tmp);
	char *sp = malloc(sn ? sn : 1); /* exactly sn bytes: ASan sees over-reads */
	ASSERT(sp);
	memcpy(sp, tmp, sn);
	free(tmp);
	ce_error err3;
	int r3 = ce_parse(&ev3, sp, sn, &err3);
	ASSERT(r3 == r);
	if (r == 0) {
		ASSERT(ev3.canonical.p == NULL || sn == size);
		buf a, b;
		buf_init(&a, 0);
		buf_init(&b, 0);
		ASSERT(ce_write_json(ev, &a) == 0 && ce_write_json(&ev3, &b) == 0);
		ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		buf_free(&a);
		buf_free(&b);
	} else {
		ASSERT(strcmp(err->attribute, err3.attribute) == 0);
		size_t n = stable_len(err->text);
		ASSERT(n == stable_len(err3.text) && memcmp(err->text, err3.text, n) == 0);
		if (n == sizeof "invalid JSON at byte " - 1) { /* then ": what" */
			const char *w = strstr(err->text, ": "), *w3 = strstr(err3.text, ": ");
			ASSERT(w && w3 && strcmp(w, w3) == 0);
		}
	}
	free(sp);
}

/* 1 if span b is span a one byte further on (both absent counts). */
static int moved1(json_span a, json_span b, const char *ba, const char *bb)
{
	if (!a.p || !b.p)
		return !a.p && !b.p && a.n == b.n;
	return a.n == b.n && a.p - ba + 1 == b.p - bb;
}

static void same_attr1(const ce_attr *a, const ce_attr *b, const char *ba, const char *bb)
{
	ASSERT(moved1(a->name, b->name, ba, bb) && moved1(a->value, b->value, ba, bb));
	ASSERT(!a->value.p || a->type == b->type);
}

/* See the top: the general path on " " + text. */
static void check_leading_space(const char *text, size_t size, int r, const cloudevent *ev,
				const ce_error *err)
{
	static cloudevent e2;
	char *sp = malloc(size + 1);
	ASSERT(sp);
	sp[0] = ' ';
	memcpy(sp + 1, text, size);
	ce_error err2;
	int r2 = ce_parse(&e2, sp, size + 1, &err2);
	ASSERT(r2 == r);
	if (r != 0) {
		ASSERT(strcmp(err->attribute, err2.attribute) == 0);
		size_t n = stable_len(err->text);
		ASSERT(n == stable_len(err2.text) && memcmp(err->text, err2.text, n) == 0);
	} else {
		same_attr1(&ev->specversion, &e2.specversion, text, sp);
		same_attr1(&ev->id, &e2.id, text, sp);
		same_attr1(&ev->source, &e2.source, text, sp);
		same_attr1(&ev->type, &e2.type, text, sp);
		same_attr1(&ev->subject, &e2.subject, text, sp);
		same_attr1(&ev->time, &e2.time, text, sp);
		same_attr1(&ev->datacontenttype, &e2.datacontenttype, text, sp);
		same_attr1(&ev->dataschema, &e2.dataschema, text, sp);
		ASSERT(ev->n_ext == e2.n_ext);
		for (size_t i = 0; i < ev->n_ext; i++)
			same_attr1(&ev->ext[i], &e2.ext[i], text, sp);
		ASSERT(ev->data_kind == e2.data_kind && moved1(ev->data, e2.data, text, sp));
		ASSERT(!ev->data.p || ev->data_type == e2.data_type);
		ASSERT(moved1(ev->canonical, e2.canonical, text, sp));
		ASSERT(moved1(ev->data_compact, e2.data_compact, text, sp));
	}
	free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	static cloudevent ev, ev2;
	ce_error err;

	int64_t us;
	ASSERT((rfc3339_check(text, size) == 0) == (rfc3339_parse_us(text, size, &us) == 0));

	int r = ce_parse(&ev, text, size, &err);
	check_spread(text, size, r, &ev, &err);
	check_leading_space(text, size, r, &ev, &err);
	if (r == 0) {
		buf out, again;
		buf_init(&out, 0);
		buf_init(&again, 0);
		ASSERT(ce_write_json(&ev, &out) == 0);
		ASSERT(json_parse_value(out.data, out.len, NULL, NULL, NULL) == 0);
		if (ce_parse(&ev2, out.data, out.len, &err) != 0)
			abort();
		check_equivalent(&ev, &ev2);
		ASSERT(ce_write_json(&ev2, &again) == 0);
		ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
		for (size_t i = 0; i < ev.n_ext; i++) {
			buf v;
			buf_init(&v, 0);
			ASSERT(ce_attr_value(&ev.ext[i], &v) == 0);
			buf_free(&v);
		}
		buf_free(&out);
		buf_free(&again);
	} else {
		ASSERT(err.text[0] != '\0');
		ASSERT(memchr(err.attribute, '\0', sizeof err.attribute) != NULL);
		for (const char *p = err.attribute; *p; p++)
			ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	}

	ce_batch b;
	if (ce_batch_begin(&b, text, size, &err) == 0) {
		int more;
		for (int i = 0; i < 1000 && (more = ce_batch_next(&b, &ev, &err)) != 0; i++)
			ASSERT(more == 1 || err.text[0] != '\0');
	}
	return 0;
}
