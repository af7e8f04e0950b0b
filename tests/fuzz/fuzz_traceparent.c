/* fuzz_traceparent.c - parse then format reproduces valid version-00
 * input exactly; traceparent_check (the validating fast path) agrees with
 * traceparent_parse, and traceparent_child_text with traceparent_child;
 * tracestate_check never reads past n and is stable under the additions
 * the grammar allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traceparent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	traceparent tp;
	int parsed = traceparent_parse(&tp, s, size);
	if (traceparent_check(s, size) != parsed)
		abort();
	if (parsed == 0) {
		char text[TRACEPARENT_LEN + 1];
		traceparent c2;
		if (traceparent_child_text(s, text) != 0 || strlen(text) != TRACEPARENT_LEN ||
		    traceparent_parse(&c2, text, TRACEPARENT_LEN) != 0 || c2.version != 0 ||
		    memcmp(c2.trace_id, tp.trace_id, 16) != 0 || c2.flags != tp.flags)
			abort();
		char out[TRACEPARENT_LEN + 1];
		traceparent_format(&tp, out);
		if (strlen(out) != TRACEPARENT_LEN)
			abort();
		if (tp.version == 0) {
			if (size != TRACEPARENT_LEN || memcmp(out, s, size) != 0)
				abort();
		} else {
			if (tp.version == 0xff || memcmp(out + 2, s + 2, TRACEPARENT_LEN - 2) != 0)
				abort();
		}
		traceparent again;
		if (traceparent_parse(&again, out, TRACEPARENT_LEN) != 0 ||
		    memcmp(again.trace_id, tp.trace_id, 16) != 0 ||
		    memcmp(again.parent_id, tp.parent_id, 8) != 0 || again.flags != tp.flags)
			abort();
		traceparent child;
		if (traceparent_child(&tp, &child) != 0 ||
		    memcmp(child.trace_id, tp.trace_id, 16) != 0 || child.flags != tp.flags)
			abort();
	}

	int ok = tracestate_check(s, size);
	if (ok != 0 && ok != -1)
		abort();
	if (size < 4096) {
		/* Appending an empty member (",") or OWS never changes the
		 * verdict: neither adds a member. */
		char *t = malloc(size + 2);
		if (!t)
			return 0;
		memcpy(t, s, size);
		t[size] = ',';
		t[size + 1] = ' ';
		if (tracestate_check(t, size + 1) != ok || tracestate_check(t, size + 2) != ok)
			abort();
		free(t);
	}
	return 0;
}
