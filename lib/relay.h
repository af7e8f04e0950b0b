/* relay.h - publish an outbox table's pending rows (outbox-relay(1)).
 *
 * The engine reads pending rows in seq order, resolves each type through
 * the bindings, hands each row to a sink (Kafka, stdout or HTTP) and
 * records every outcome back in the table: sent (with where it landed),
 * rescheduled with backoff, or dead. It pipelines: rows keep being read
 * and handed over while earlier ones wait for their delivery reports, and
 * outcomes are written in grouped transactions, never one per row.
 *
 * Guarantees (outbox-relay(1), "DELIVERY"):
 *  - a row is marked sent only after its own positive outcome (a Kafka
 *    delivery report, a written and flushed line, a 2xx answer);
 *  - a crash between delivery and marking republishes the row on the next
 *    run: at-least-once, duplicates carry the same id;
 *  - with key ordering (the default) a row is never handed over while an
 *    earlier pending row with the same message key is waiting for a retry,
 *    has no binding, or is still in flight on a failed attempt.
 *
 * Ownership: relay_run() borrows everything in relay_options for its
 * duration and keeps nothing afterwards. The stop flag is read, never
 * written.
 */
#ifndef RELAY_H
#define RELAY_H

#include <signal.h>
#include <stdint.h>

#include "bindings.h"
#include "diag.h"
#include "kafkaconf.h"
#include "outbuf.h"

enum relay_sink_kind { RELAY_SINK_KAFKA = 0, RELAY_SINK_STDOUT, RELAY_SINK_HTTP };
enum relay_mode { RELAY_MODE_BINDING = -1, RELAY_MODE_BINARY = 0, RELAY_MODE_STRUCTURED = 1 };

#define RELAY_DEFAULT_BATCH 500
#define RELAY_DEFAULT_MAX_ATTEMPTS 10
#define RELAY_DEFAULT_BACKOFF_MIN_MS 1000
#define RELAY_DEFAULT_BACKOFF_MAX_MS 300000
#define RELAY_DEFAULT_INTERVAL_MS 5000
#define RELAY_DEFAULT_DRAIN_MS 30000
#define RELAY_DEFAULT_INFLIGHT 16384

typedef struct relay_options {
	const char *db;                /* outbox database path */
	const char *table;             /* NULL = "outbox" */
	unsigned busy_ms;              /* 0 = the outbox default */
	unsigned batch;                /* rows per read; 0 = default */
	unsigned max_inflight;         /* rows handed over, outcome unknown */
	enum relay_mode mode;          /* forced content mode, or the binding's */
	int ordering;                  /* 1: per-key order (default), 0: none */
	unsigned max_attempts;         /* attempts before a row is dead */
	uint64_t backoff_min_ms, backoff_max_ms;
	int once;                      /* one pass, then exit */
	uint64_t interval_ms;          /* run mode: poll at least this often */
	uint64_t drain_timeout_ms;     /* on a signal: wait this long for reports */
	uint64_t connect_timeout_ms;   /* --once: reach the broker within this */
	enum relay_sink_kind sink;
	const char *url;               /* RELAY_SINK_HTTP */
	uint64_t http_timeout_ms;
	outbuf *out;                   /* RELAY_SINK_STDOUT */
	const bindings *bindings;
	const kafkaconf *kc;           /* RELAY_SINK_KAFKA */
	const char *metrics_file;      /* NULL: none */
} relay_options;

typedef struct relay_stats {
	unsigned long sent;        /* marked sent */
	unsigned long rescheduled; /* failed, pending again with a backoff */
	unsigned long dead;        /* marked dead (bad row, permanent error, gave up) */
	unsigned long unbound;     /* due rows whose type has no binding (skipped) */
	unsigned long blocked;     /* due rows held behind an earlier row of their key */
	unsigned long untouched;   /* handed over, outcome unknown at exit (left pending);
				    * during the run it counts every pass's */
	unsigned passes;
} relay_stats;

/* Fill o with the defaults above (sink Kafka, mode from the binding, key
 * ordering). */
void relay_options_init(relay_options *o);

/* Run the relay until *stop becomes non-zero or, with o->once, until one
 * pass over the due rows is done and every outcome is recorded. Returns
 * the exit status outbox-relay(1) documents:
 *   0   every due row was sent (or nothing was due)
 *   65  some rows were marked dead (bad rows, permanent errors, gave up)
 *   69  --once: the broker or endpoint could not be reached (nothing marked)
 *   75  some rows were rescheduled or held back; or the database stayed
 *       locked; or a signal cut the drain short
 *   78  some due rows have a type without a binding (left pending)
 *   and the outbox(5) open errors (66 missing, 73, 74, 77, 78).
 * When several apply, the highest in the order 69, 78, 75, 65 wins.
 * err holds the message for a failure that stopped the run. */
int relay_run(const relay_options *o, volatile sig_atomic_t *stop, relay_stats *st, errinfo *err);

#endif
