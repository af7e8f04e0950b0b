/* relay_sink.h - where outbox-relay hands its messages: the interface
 * between the relay engine (relay.c) and each destination (relay_kafka.c,
 * relay_stdout.c, relay_http.c).
 *
 * A sink takes one message at a time with submit() and reports its
 * outcome through the done callback it was opened with, exactly once per
 * accepted message: at once (stdout, HTTP) or later from poll() (Kafka
 * delivery reports). The engine never marks a row from anything but that
 * callback.
 *
 * Ownership: everything a relay_item points to is only borrowed for the
 * submit() call; a sink that keeps the bytes copies them. The token is
 * the engine's and is handed back untouched. A sink owns its own
 * resources; close() releases them (after which done is never called).
 */
#ifndef RELAY_SINK_H
#define RELAY_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "cekafka.h"
#include "diag.h"
#include "kafkaconf.h"
#include "outbuf.h"

typedef struct relay_item {
	const char *topic;            /* NUL-terminated; Kafka only */
	const cekafka_msg *msg;       /* headers (the hop's trace headers too), value,
					 key (Kafka, HTTP) */
	const char *event;            /* the canonical event (stdout, HTTP structured) */
	size_t event_len;
	int structured;               /* content mode */
	const char *key;              /* message key, or NULL for none */
	size_t key_len;
	void *token;                  /* handed back in the outcome */
} relay_item;

enum relay_outcome_kind {
	RELAY_OUT_SENT = 0,   /* delivered: mark sent */
	RELAY_OUT_RETRY,      /* failed, may succeed later: reschedule */
	RELAY_OUT_DEAD,       /* failed, cannot succeed: mark dead */
	RELAY_OUT_UNTOUCHED   /* outcome unknown (purged at exit): leave pending */
};

typedef struct relay_outcome {
	enum relay_outcome_kind kind;
	int32_t partition; /* SENT to Kafka; -1 otherwise */
	int64_t offset;    /* SENT to Kafka; -1 when unknown */
	const char *error; /* RETRY/DEAD: the reason (copied by the callee) */
	const char *reason_code; /* RETRY/DEAD: a short static label for metrics
				    (a Kafka error name, "http_503"); may be NULL */
} relay_outcome;

typedef void relay_done_fn(void *ctx, void *token, const relay_outcome *o);

typedef struct relay_sink relay_sink;

/* submit(): full for now (never an exit code). */
#define RELAY_SINK_FULL (-1)
/* broken(): close and open the sink again. */
#define RELAY_SINK_REOPEN (-1)

typedef struct relay_sink_ops {
	/* Accept one message. 0: accepted, and its outcome comes through done
	 * exactly once (now or from poll); RELAY_SINK_FULL: not accepted, poll
	 * and submit again; an exit code: not accepted (done is not called)
	 * and the sink cannot go on (err set). A message the sink refuses for
	 * its own sake (too large) is accepted and reported DEAD. */
	int (*submit)(relay_sink *s, const relay_item *it, errinfo *err);
	/* Serve outcomes, waiting up to timeout_ms for one (0: never wait).
	 * Returns the number of messages still in flight. */
	size_t (*poll)(relay_sink *s, int timeout_ms);
	/* 0 when the destination answers within timeout_ms, else
	 * EXIT_UNAVAILABLE/EXIT_NOPERM/EXIT_CONFIG with err set. */
	int (*reachable)(relay_sink *s, uint64_t timeout_ms, errinfo *err);
	/* Stop waiting: every message in flight is reported UNTOUCHED by the
	 * next poll()s. */
	void (*purge)(relay_sink *s);
	/* 0 while the sink works; RELAY_SINK_REOPEN when it hit an error that
	 * needs it closed and opened again (a fatal idempotent-producer
	 * error); an exit code with err set when it cannot go on at all (the
	 * broker refused our credentials: 77). Messages in flight have been
	 * reported or will be by poll(). */
	int (*broken)(relay_sink *s, errinfo *err);
	void (*close)(relay_sink *s);
} relay_sink_ops;

struct relay_sink {
	const relay_sink_ops *ops;
	relay_done_fn *done;
	void *ctx;
};

relay_sink *relay_kafka_open(const kafkaconf *kc, relay_done_fn *done, void *ctx, errinfo *err);
relay_sink *relay_stdout_open(outbuf *out, relay_done_fn *done, void *ctx, errinfo *err);
relay_sink *relay_http_open(const char *url, uint64_t timeout_ms, relay_done_fn *done, void *ctx,
			    errinfo *err);

#endif
