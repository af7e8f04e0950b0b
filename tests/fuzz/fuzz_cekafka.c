/* fuzz_cekafka.c - libFuzzer target for cekafka_decode (lib/cekafka.c).
 *
 * Framing of the input (chosen so that short inputs reach every branch):
 *   byte 0          number of headers, modulo 17
 *   per header      1 byte name length, the name, 1 byte value length
 *                   (255 = a NULL value, else that many bytes), the value
 *                   (lengths are cut to what is left)
 *   what is left    nothing: a NULL message value; else the value is
 *                   everything after its first byte (so an empty, non-NULL
 *                   value can be expressed)
 * Decoding must never crash; a rejection leaves out unchanged and says
 * why. What decodes is a canonical event (ce_parse + ce_write_json give it
 * back byte for byte); encoding it in structured mode and decoding gives
 * it back byte for byte; encoding it in binary mode and decoding gives it
 * back exactly when cekafka_binary_lossless says so, always when the
 * message was a binary one, and what comes back is a fixed point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cekafka.h"
#include "exitcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static int same(const buf *a, const char *p, size_t n)
{
	return a->len == n && memcmp(a->data, p, n) == 0;
}

/* Encode E (canonical) in mode, decode into out; 0 or the status. */
static int via_kafka(const char *e, size_t n, enum cekafka_mode mode, buf *scratch, buf *out)
{
	static cekafka_msg m;
	errinfo err;
	int r = cekafka_encode(&m, e, n, mode, scratch, &err);
	ASSERT(r == 0); /* a canonical event always encodes */
	ASSERT(cekafka_hop_headers(&m, NULL, &err) == 0);
	buf_reset(out);
	return cekafka_decode(m.h, m.n_headers, m.value, m.value_len, out, NULL, &err);
}

static void check_event(const char *e, size_t n, int was_binary)
{
	static cloudevent ev;
	buf canon, scratch, out, again;
	buf_init(&canon, 0);
	buf_init(&scratch, 0);
	buf_init(&out, 0);
	buf_init(&again, 0);
	char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees over-reads */
	ASSERT(copy);
	memcpy(copy, e, n);
	ASSERT(ce_parse(&ev, copy, n, NULL) == 0);
	ASSERT(ce_write_json(&ev, &canon) == 0 && same(&canon, copy, n));
	int lossless = cekafka_binary_lossless(&ev);

	ASSERT(via_kafka(copy, n, CEKAFKA_STRUCTURED, &scratch, &out) == 0);
	ASSERT(same(&out, copy, n));

	ASSERT(via_kafka(copy, n, CEKAFKA_BINARY, &scratch, &out) == 0);
	ASSERT(same(&out, copy, n) == lossless);
	if (was_binary)
		ASSERT(lossless);
	char *e2 = malloc(out.len ? out.len : 1);
	ASSERT(e2);
	memcpy(e2, out.data, out.len);
	size_t n2 = out.len;
	ASSERT(via_kafka(e2, n2, CEKAFKA_BINARY, &scratch, &again) == 0);
	ASSERT(same(&again, e2, n2));
	free(e2);
	free(copy);
	buf_free(&canon);
	buf_free(&scratch);
	buf_free(&out);
	buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cekafka_header h[16];
	size_t n = 0, pos = 0;
	if (size == 0)
		return 0;
	size_t want = data[pos++] % 17;
	while (n < want && n < 16) {
		size_t nl = pos < size ? data[pos++] : 0;
		if (nl > size - pos)
			nl = size - pos;
		h[n].name = (const char *)data + pos;
		h[n].name_len = nl;
		pos += nl;
		size_t vl = pos < size ? data[pos++] : 0;
		if (vl == 255) {
			h[n].value = NULL;
			h[n].value_len = 0;
		} else {
			if (vl > size - pos)
				vl = size - pos;
			h[n].value = (const char *)data + pos;
			h[n].value_len = vl;
			pos += vl;
		}
		n++;
	}
	const void *value = pos < size ? data + pos + 1 : NULL;
	size_t value_len = pos < size ? size - pos - 1 : 0;

	buf out;
	buf_init(&out, 0);
	ASSERT(buf_puts(&out, "P") == 0);
	cekafka_info info;
	errinfo err;
	int r = cekafka_decode(h, n, value, value_len, &out, &info, &err);
	if (r != 0) {
		ASSERT(r == EXIT_DATAERR);
		ASSERT(err.text[0] != '\0');
		ASSERT(out.len == 1 && out.data[0] == 'P');
		for (const char *p = err.text; *p; p++)
			ASSERT(*p != '\n');
	} else {
		ASSERT(out.len > 1 && out.data[0] == 'P');
		check_event(out.data + 1, out.len - 1, info.mode == CEKAFKA_BINARY);
	}
	if (info.tracestate)
		ASSERT(info.has_traceparent);
	buf_free(&out);
	return 0;
}
