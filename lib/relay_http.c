/* relay_http.c - the relay's HTTP sink: one request per event through
 * lib/cehttp (CloudEvents HTTP binding, binary or structured mode, one
 * keep-alive connection). 2xx is sent; 408, 429, 5xx and transport errors
 * are retried with backoff; other 4xx are dead. 401 and 403 stop the run
 * (exit 77) and leave the row pending: the credentials are wrong, not the
 * event.
 */
#include "cehttp.h"
#include "exitcode.h"
#include "relay_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOP_VALUE_MAX 600

struct http_sink {
	relay_sink base;
	cehttp *h;
};

/* A header value as a NUL-terminated copy; hop headers are short. */
static void copy_value(char *dst, size_t cap, const cekafka_header *hd)
{
	size_t n = hd->value_len < cap - 1 ? hd->value_len : cap - 1;
	memcpy(dst, hd->value, n);
	dst[n] = '\0';
}

static int h_submit(relay_sink *s, const relay_item *it, errinfo *err)
{
	struct http_sink *k = (struct http_sink *)s;
	const cekafka_msg *m = it->msg;
	cehttp_attr attrs[CEKAFKA_MAX_HEADERS];
	size_t nattrs = 0;
	char ct[512], hop[2][HOP_VALUE_MAX];
	cehttp_header extra[2];
	size_t nextra = 0;
	const char *content_type = NULL;
	/* The Kafka headers name everything the HTTP binding needs:
	 * ce_NAME -> ce-NAME, content-type -> Content-Type, and the hop's
	 * plain trace headers as they are. */
	for (size_t i = 0; i < m->n_headers; i++) {
		const cekafka_header *hd = &m->h[i];
		if (hd->name_len > 3 && memcmp(hd->name, "ce_", 3) == 0) {
			attrs[nattrs++] = (cehttp_attr){ hd->name + 3, hd->name_len - 3, hd->value,
							 hd->value_len };
		} else if (hd->name_len == 12 && memcmp(hd->name, "content-type", 12) == 0) {
			copy_value(ct, sizeof ct, hd);
			content_type = ct;
		} else if (nextra < 2 && ((hd->name_len == 11 && memcmp(hd->name, "traceparent", 11) == 0) ||
					  (hd->name_len == 10 && memcmp(hd->name, "tracestate", 10) == 0))) {
			copy_value(hop[nextra], sizeof hop[nextra], hd);
			extra[nextra].name = hd->name_len == 11 ? "traceparent" : "tracestate";
			extra[nextra].value = hop[nextra];
			nextra++;
		}
	}
	cehttp_outcome out;
	errinfo e;
	cehttp_result res;
	if (it->structured)
		res = cehttp_send_structured(k->h, it->event, it->event_len, extra, nextra, &out, &e);
	else
		res = cehttp_send_binary(k->h, attrs, nattrs, m->value, m->value ? m->value_len : 0,
					 content_type, extra, nextra, &out, &e);
	relay_outcome o = { RELAY_OUT_SENT, -1, -1, NULL };
	if (res == CEHTTP_PERMANENT && out.auth) {
		o.kind = RELAY_OUT_UNTOUCHED;
		k->base.done(k->base.ctx, it->token, &o);
		return errinfo_set(err, EXIT_NOPERM, "%s", e.text);
	}
	if (res == CEHTTP_RETRY) {
		o.kind = RELAY_OUT_RETRY;
		o.error = e.text;
	} else if (res == CEHTTP_PERMANENT) {
		o.kind = RELAY_OUT_DEAD;
		o.error = e.text;
	}
	k->base.done(k->base.ctx, it->token, &o);
	return 0;
}

static size_t h_poll(relay_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;
	return 0;
}

/* Reaching the endpoint is learnt from the first request: a transport
 * error reschedules the row (75) like any other retryable failure. */
static int h_reachable(relay_sink *s, uint64_t timeout_ms, errinfo *err)
{
	(void)s;
	(void)timeout_ms;
	(void)err;
	return 0;
}

static void h_purge(relay_sink *s)
{
	(void)s;
}

static int h_broken(relay_sink *s)
{
	(void)s;
	return 0;
}

static void h_close(relay_sink *s)
{
	struct http_sink *k = (struct http_sink *)s;
	if (k)
		cehttp_free(k->h);
	free(k);
}

static const relay_sink_ops http_ops = { h_submit, h_poll, h_reachable, h_purge, h_broken, h_close };

relay_sink *relay_http_open(const char *url, uint64_t timeout_ms, relay_done_fn *done, void *ctx,
			    errinfo *err)
{
	struct http_sink *k = calloc(1, sizeof *k);
	if (!k) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	k->base.ops = &http_ops;
	k->base.done = done;
	k->base.ctx = ctx;
	cehttp_options opt = { url, NULL, 0, (long)timeout_ms };
	if (cehttp_new(&k->h, &opt, err) != 0) {
		free(k);
		return NULL;
	}
	return &k->base;
}
