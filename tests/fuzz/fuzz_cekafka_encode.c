/* fuzz_cekafka_encode.c - libFuzzer target for cekafka_encode and
 * cekafka_hop_headers (lib/cekafka.c) over arbitrary event text.
 *
 * Encoding must never crash and must agree with ce_parse on what is valid
 * (a rejection says why, status 65). For an accepted event, in both
 * modes: every header name and value is UTF-8 text without control
 * characters, no value pointer leaves the event text or the scratch buffer, the
 * key, type and trace fields equal the decoded attributes, the hop
 * traceparent is valid and keeps the event's trace id when the event's is
 * valid; decoding the message succeeds and gives the canonical event
 * (structured: always; binary: exactly when cekafka_binary_lossless says
 * so). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekafka.h"
#include "exitcode.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static int inside(const void *p, size_t n, const char *lo, size_t len)
{
	const char *c = p;
	return c >= lo && c + n <= lo + len;
}

static void check_span(const void *p, size_t n, const char *text, size_t len, const buf *s)
{
	ASSERT(p != NULL);
	ASSERT(inside(p, n, text, len) || inside(p, n, s->data, s->len) ||
	       (n == 0)); /* an empty value may point at a static "" */
}

static void check_text(const char *p, size_t n)
{
	ASSERT(utf8_valid(p, n));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		ASSERT(c >= 0x20 && c != 0x7F);
		ASSERT(!(c == 0xC2 && i + 1 < n && (unsigned char)p[i + 1] < 0xA0));
	}
}

/* The decoded value of an optional attribute equals [p, p+n). */
static void check_attr(const ce_attr *a, const char *p, size_t n)
{
	if (!a || !a->value.p) {
		ASSERT(p == NULL);
		return;
	}
	buf v;
	buf_init(&v, 0);
	ASSERT(ce_attr_value(a, &v) == 0);
	ASSERT(p && v.len == n && memcmp(v.data ? v.data : "", p, n) == 0);
	buf_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	static cloudevent ev;
	static cekafka_msg m;
	ce_error ce;
	int valid = ce_parse(&ev, text, size, &ce) == 0;
	buf canon, scratch, out;
	buf_init(&canon, 0);
	buf_init(&scratch, 0);
	buf_init(&out, 0);
	if (valid)
		ASSERT(ce_write_json(&ev, &canon) == 0);
	for (int mode = CEKAFKA_BINARY; mode <= CEKAFKA_STRUCTURED; mode++) {
		errinfo err;
		int r = cekafka_encode(&m, text, size, (enum cekafka_mode)mode, &scratch, &err);
		if (!valid) {
			ASSERT(r == EXIT_DATAERR && err.text[0] != '\0');
			continue;
		}
		ASSERT(r == 0);
		if (m.mode == CEKAFKA_STRUCTURED)
			ASSERT(m.n_headers == 1 && m.h[0].value_len == strlen(CEKAFKA_STRUCTURED_CT) &&
			       memcmp(m.h[0].value, CEKAFKA_STRUCTURED_CT, m.h[0].value_len) == 0);
		for (size_t i = 0; i < m.n_headers; i++) {
			/* names are static strings or "ce_" + name in scratch */
			if (m.mode == CEKAFKA_BINARY)
				check_span(m.h[i].value, m.h[i].value_len, text, size, &scratch);
			check_text(m.h[i].name, m.h[i].name_len);
			check_text(m.h[i].value, m.h[i].value_len);
		}
		if (m.value)
			check_span(m.value, m.value_len, text, size, &scratch);
		else
			ASSERT(m.mode == CEKAFKA_BINARY && ev.data_kind == CE_DATA_NONE);
		check_attr(&ev.type, m.type, m.type_len);
		check_attr(ce_find_extension(&ev, "partitionkey"), m.key, m.key_len);
		check_attr(ce_find_extension(&ev, "traceparent"), m.traceparent, m.traceparent_len);
		check_attr(ce_find_extension(&ev, "tracestate"), m.tracestate, m.tracestate_len);

		size_t before = m.n_headers;
		traceparent hop, parent;
		ASSERT(cekafka_hop_headers(&m, &hop, &err) == 0);
		ASSERT(m.n_headers == before + 1 || m.n_headers == before + 2);
		ASSERT(traceparent_parse(&parent, m.hop_traceparent, TRACEPARENT_LEN) == 0);
		if (m.traceparent && traceparent_parse(&parent, m.traceparent, m.traceparent_len) == 0)
			ASSERT(memcmp(parent.trace_id, hop.trace_id, 16) == 0 && parent.flags == hop.flags);

		buf_reset(&out);
		int d = cekafka_decode(m.h, m.n_headers, m.value, m.value_len, &out, NULL, &err);
		ASSERT(d == 0);
		int exact = out.len == canon.len && memcmp(out.data, canon.data, canon.len) == 0;
		if (m.mode == CEKAFKA_STRUCTURED)
			ASSERT(exact);
		else
			ASSERT(exact == cekafka_binary_lossless(&ev));
	}
	buf_free(&canon);
	buf_free(&scratch);
	buf_free(&out);
	return 0;
}
