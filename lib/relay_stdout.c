/* relay_stdout.c - the relay's stdout sink: each event as one line of
 * CloudEvents NDJSON (relay_sink.h). A row counts as sent once its line
 * has been written and flushed to the descriptor: a pipe reader has it.
 * A reader that went away (EPIPE) ends the run quietly; the row whose line
 * could not be written stays pending.
 */
#include "exitcode.h"
#include "relay_sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct stdout_sink {
	relay_sink base;
	outbuf *out;
};

static int s_submit(relay_sink *s, const relay_item *it, errinfo *err)
{
	struct stdout_sink *k = (struct stdout_sink *)s;
	relay_outcome o = { RELAY_OUT_SENT, -1, -1, NULL };
	if (outbuf_write(k->out, it->event, it->event_len) != 0 ||
	    outbuf_write(k->out, "\n", 1) != 0 || outbuf_flush(k->out) != 0) {
		/* Not accepted: the row stays pending. */
		if (k->out->err == EPIPE)
			return errinfo_set(err, EXIT_TEMPFAIL, "standard output: the reader went away");
		return errinfo_set(err, EXIT_IOERR, "standard output: %s", strerror(k->out->err));
	}
	k->base.done(k->base.ctx, it->token, &o);
	return 0;
}

static size_t s_poll(relay_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;
	return 0;
}

static int s_reachable(relay_sink *s, uint64_t timeout_ms, errinfo *err)
{
	(void)s;
	(void)timeout_ms;
	(void)err;
	return 0;
}

static void s_purge(relay_sink *s)
{
	(void)s;
}

static int s_broken(relay_sink *s, errinfo *err)
{
	(void)s;
	(void)err;
	return 0;
}

static void s_close(relay_sink *s)
{
	free(s);
}

static const relay_sink_ops stdout_ops = { s_submit, s_poll, s_reachable, s_purge, s_broken, s_close };

relay_sink *relay_stdout_open(outbuf *out, relay_done_fn *done, void *ctx, errinfo *err)
{
	struct stdout_sink *k = calloc(1, sizeof *k);
	if (!k) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	k->base.ops = &stdout_ops;
	k->base.done = done;
	k->base.ctx = ctx;
	k->out = out;
	return &k->base;
}
