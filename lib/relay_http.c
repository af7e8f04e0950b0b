/* relay_http.c - the relay's HTTP sink: one request per event through
 * lib/cehttp (CloudEvents HTTP binding, binary or structured mode, one
 * keep-alive connection). 2xx is sent; 408, 429, 5xx and transport errors
 * are retried with backoff; other 4xx are dead. 401 and 403 stop the run
 * (exit 77) and leave the row pending: the credentials are wrong, not the
 * event.
 */
#include "cehttp.h"
#include "cepost.h"
#include "exitcode.h"
#include "relay_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_sink {
	relay_sink base;
	cehttp *h;
};

static int h_submit(relay_sink *s, const relay_item *it, errinfo *err)
{
	struct http_sink *k = (struct http_sink *)s;
	cehttp_outcome out;
	errinfo e;
	cehttp_result res = cepost_send(k->h, it->msg, it->structured, it->event, it->event_len, NULL,
					0, &out, &e);
	relay_outcome o = { RELAY_OUT_SENT, -1, -1, NULL };
	if (res == CEHTTP_PERMANENT && out.auth) /* not accepted: stays pending */
		return errinfo_set(err, EXIT_NOPERM, "%s", e.text);
	char code[32];
	snprintf(code, sizeof code, out.status ? "http_%ld" : "http_transport", out.status);
	if (res == CEHTTP_RETRY) {
		o.kind = RELAY_OUT_RETRY;
		o.error = e.text;
		o.reason_code = code;
	} else if (res == CEHTTP_PERMANENT) {
		o.kind = RELAY_OUT_DEAD;
		o.error = e.text;
		o.reason_code = code;
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

static int h_broken(relay_sink *s, errinfo *err)
{
	(void)s;
	(void)err;
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
