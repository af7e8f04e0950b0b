/* fuzz_bindings.c - libFuzzer target for the bindings file parser and the
 * Spring YAML import. The first byte picks the entry point so one corpus
 * covers both; every parsed table is walked and resolved against so the
 * index is exercised, not only the tokenizer. */
#include "bindings.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void report(void *arg, int severity, const char *file, unsigned long line, const char *msg)
{
	(void)severity;
	(void)file;
	(void)line;
	/* Touch the message so a missing terminator shows up under ASan. */
	*(size_t *)arg += strlen(msg);
}

static void walk(const bindings *t)
{
	for (size_t i = 0; i < bindings_count(t); i++) {
		const binding *b = bindings_at(t, i);
		if (b->kind == BINDING_PRODUCER) {
			const binding *r = bindings_resolve(t, b->event_type, b->event_type_len);
			if (!r || r->event_type_len != b->event_type_len ||
			    memcmp(r->event_type, b->event_type, b->event_type_len) != 0)
				abort(); /* every bound type must resolve to itself */
		}
		if (!bindings_find(t, b->name) || !bindings_topic_valid(b->topic, strlen(b->topic)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	size_t sink = 0;
	errinfo err = { 0 };
	if (data[0] & 1) {
		buf out = BUF_INIT(1 << 20);
		if (bindings_import_spring_text(text, len, "fuzz.yml", &out, report, &sink, &err) == 0) {
			/* Whatever the import prints must load. */
			bindings *t = bindings_parse(out.data, out.len, "import", NULL, NULL, &err);
			if (!t)
				abort();
			walk(t);
			bindings_free(t);
		}
		buf_free(&out);
		return 0;
	}
	bindings *t = bindings_parse(text, len, "fuzz", (data[0] & 2) ? report : NULL, &sink, &err);
	if (t) {
		walk(t);
		bindings_free(t);
	}
	return 0;
}
