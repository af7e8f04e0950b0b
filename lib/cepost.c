/* cepost.c - see cepost.h. */
#include "cepost.h"

#include <string.h>

#define HOP_VALUE_MAX 600
#define EXTRA_MAX 8

/* A header value as a NUL-terminated copy (cehttp wants C strings). */
static void copy_value(char *dst, size_t cap, const cekafka_header *hd)
{
	size_t n = hd->value_len < cap - 1 ? hd->value_len : cap - 1;
	memcpy(dst, hd->value, n);
	dst[n] = '\0';
}

cehttp_result cepost_send(cehttp *h, const cekafka_msg *m, int structured, const char *event,
			  size_t len, const cehttp_header *extra, size_t nextra, cehttp_outcome *out,
			  errinfo *err)
{
	cehttp_attr attrs[CEKAFKA_MAX_HEADERS];
	size_t nattrs = 0;
	char ct[512], hop[2][HOP_VALUE_MAX];
	cehttp_header hdrs[EXTRA_MAX + 2];
	size_t nh = 0, nhop = 0;
	const char *content_type = NULL;
	for (size_t i = 0; i < nextra && nh < EXTRA_MAX; i++)
		hdrs[nh++] = extra[i];
	for (size_t i = 0; i < m->n_headers; i++) {
		const cekafka_header *hd = &m->h[i];
		if (hd->name_len > 3 && memcmp(hd->name, "ce_", 3) == 0) {
			attrs[nattrs++] = (cehttp_attr){ hd->name + 3, hd->name_len - 3, hd->value,
							 hd->value_len };
		} else if (hd->name_len == 12 && memcmp(hd->name, "content-type", 12) == 0) {
			copy_value(ct, sizeof ct, hd);
			content_type = ct;
		} else if (nhop < 2 && ((hd->name_len == 11 && memcmp(hd->name, "traceparent", 11) == 0) ||
					(hd->name_len == 10 && memcmp(hd->name, "tracestate", 10) == 0))) {
			copy_value(hop[nhop], sizeof hop[nhop], hd);
			hdrs[nh].name = hd->name_len == 11 ? "traceparent" : "tracestate";
			hdrs[nh].value = hop[nhop];
			nh++;
			nhop++;
		}
	}
	if (structured)
		return cehttp_send_structured(h, event, len, hdrs, nh, out, err);
	return cehttp_send_binary(h, attrs, nattrs, m->value, m->value ? m->value_len : 0,
				  content_type, hdrs, nh, out, err);
}
