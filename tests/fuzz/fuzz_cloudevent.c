/* fuzz_cloudevent.c - libFuzzer target for lib/cloudevent.c.
 *
 * The input is parsed as one event. When accepted, the canonical output
 * must parse again to an equivalent event (same attribute tokens, same
 * extensions, same data once compacted, same payload bytes) and writing
 * that one must give the same bytes. A rejection must explain itself. The
 * input is also walked as a batch. Any disagreement aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevent.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	static cloudevent ev, ev2;
	ce_error err;

	if (ce_parse(&ev, text, size, &err) == 0) {
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
		int r;
		for (int i = 0; i < 1000 && (r = ce_batch_next(&b, &ev, &err)) != 0; i++)
			ASSERT(r == 1 || err.text[0] != '\0');
	}
	return 0;
}
