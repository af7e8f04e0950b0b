/* consume.h - read CloudEvents from Kafka topics and hand them on
 * (event-consume(1)): to standard output as NDJSON, or to a handler
 * (consume_handler below: a command, an HTTP endpoint), with retries, a
 * dead-letter topic, a dedupe store, and offsets committed only after
 * their event was handled.
 *
 * Offsets. The consumer never lets librdkafka store an offset by itself
 * (enable.auto.offset.store=false): an offset is stored only once the
 * event before it was handled (printed and flushed, handler exit 0, or
 * produced to the dead-letter topic with a delivery report), and the
 * stored offsets are committed periodically, on rebalance before
 * partitions are given up, and at exit. Without a group nothing is
 * committed.
 *
 * Order. Events of one partition are handled in offset order. An event
 * whose handler asks for a retry holds its partition back (paused, and
 * sought back to the event when it resumes) until it is handled or dead-
 * lettered; other partitions keep flowing.
 *
 * Ownership: consume_run() borrows everything in consume_options for its
 * duration and keeps nothing afterwards. A handler's events are valid only
 * during the call.
 */
#ifndef CONSUME_H
#define CONSUME_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cloudevent.h"
#include "diag.h"
#include "kafkaconf.h"
#include "outbuf.h"
#include "traceparent.h"

enum consume_from { CONSUME_FROM_DEFAULT = 0, CONSUME_FROM_BEGINNING, CONSUME_FROM_END,
		    CONSUME_FROM_STORED, CONSUME_FROM_TIME };
enum consume_output { CONSUME_OUT_EVENT = 0, CONSUME_OUT_DATA, CONSUME_OUT_WITH_KAFKA };

/* One event as a handler sees it. */
typedef struct consume_event {
	const char *json;        /* canonical event JSON (no newline) */
	size_t json_len;
	const cloudevent *ev;    /* parsed from json */
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key;         /* NULL when the message has none */
	size_t key_len;
	int64_t timestamp_ms;    /* -1 when unknown */
	traceparent hop;         /* this consumer's span: a child of the
				    message's traceparent header, else of the
				    event's traceparent extension, else a root */
	const char *tracestate;  /* the hop's tracestate (the message's header,
				    else the event's extension); NULL when none */
	size_t tracestate_len;
	unsigned attempt;        /* 1 for the first try */
} consume_event;

enum consume_result {
	CONSUME_OK = 0,      /* handled: its offset may be committed */
	CONSUME_RETRY,       /* try again later (backoff), then dead-letter */
	CONSUME_DEAD,        /* cannot succeed: dead-letter now */
	CONSUME_STOP         /* cannot go on at all (e.g. 401): stop, commit nothing for it */
};

/* A handler takes n events (1, or up to --batch) and says what became of
 * them all; why (NUL-terminated, at most why_cap bytes) says why when not
 * OK. stop_code is the exit status for CONSUME_STOP. */
typedef struct consume_handler {
	enum consume_result (*handle)(void *self, const consume_event *ev, size_t n, char *why,
				      size_t why_cap, int *stop_code);
	void (*close)(void *self);
	void *self;
} consume_handler;

#define CONSUME_DEFAULT_MAX_ATTEMPTS 5
#define CONSUME_DEFAULT_BACKOFF_MIN_MS 1000
#define CONSUME_DEFAULT_BACKOFF_MAX_MS 60000

typedef struct consume_options {
	const char *const *topics;
	size_t n_topics;
	const char *group;           /* NULL: no group, nothing committed */
	enum consume_from from;
	int64_t from_ms;             /* CONSUME_FROM_TIME: epoch milliseconds */
	uint64_t count;              /* stop after this many events; 0 = no limit */
	int exit_eof;                /* stop at the end offsets seen at assignment */
	uint64_t idle_timeout_ms;    /* stop after this long without a message; 0 = never */
	enum consume_output output;
	const char *const *types;    /* only these types (others are skipped, handled) */
	size_t n_types;
	consume_handler *handler;    /* NULL: print to out */
	unsigned batch;              /* events per handler call; 0/1 = one */
	uint64_t handler_timeout_ms; /* how long one handler run may take */
	unsigned max_attempts;
	uint64_t backoff_min_ms, backoff_max_ms;
	const char *dlq_topic;       /* NULL: error.<topic>.<group> with a group */
	int no_dlq;                  /* --no-dlq: report and skip instead */
	const char *dedupe_file;     /* NULL: no dedupe */
	uint64_t dedupe_ttl_ms;
	const char *metrics_file;
	const kafkaconf *kc;
	outbuf *out;
} consume_options;

typedef struct consume_stats {
	unsigned long consumed;      /* messages read */
	unsigned long handled;       /* printed, or handler OK */
	unsigned long skipped;       /* filtered out by --type */
	unsigned long duplicates;    /* skipped by the dedupe store */
	unsigned long retried;       /* handler retries */
	unsigned long dead_lettered; /* produced to the dead-letter topic */
	unsigned long undecodable;   /* not a CloudEvent */
} consume_stats;

void consume_options_init(consume_options *o);

/* Consume until *stop, -c, --exit-eof or --idle-timeout. Returns the exit
 * status event-consume(1) documents: 0; 65 when events were undecodable or
 * dead without a dead-letter topic to take them; 69 broker unreachable;
 * 75 stopped with events still waiting for a retry; 77; 78; 74 output. */
int consume_run(const consume_options *o, volatile sig_atomic_t *stop, consume_stats *st,
		errinfo *err);

#endif
