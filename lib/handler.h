/* handler.h - event-consume's handlers (consume_handler in consume.h).
 *
 * exec: run a command through /bin/sh -c, the events on its standard
 * input as NDJSON, the first event's attributes in its environment:
 *   CE_ID CE_SOURCE CE_TYPE CE_SPECVERSION CE_SUBJECT CE_TIME
 *   CE_DATACONTENTTYPE CE_DATASCHEMA, CE_<NAME> for every extension (name
 *   upper-cased), TRACEPARENT (the consumer's span, a child of the
 *   event's context), TRACESTATE when known, KAFKA_TOPIC KAFKA_PARTITION
 *   KAFKA_OFFSET KAFKA_KEY (absent without a key; a key that is not text
 *   goes as KAFKA_KEY_BASE64; a key over 4096 bytes only as
 *   KAFKA_KEY_LENGTH, so the environment stays small enough to start the
 *   command), KAFKA_TIMESTAMP, EVENT_COUNT (events on standard input),
 *   EVENT_ATTEMPT (1 for the first try).
 * The command runs in a process group of its own (a timeout kills the
 * whole group) and is killed when the consumer dies (PR_SET_PDEATHSIG),
 * so no handler finishes work that its dead consumer can no longer record.
 * Its exit status decides: 0 handled; 65 permanent failure (dead letter);
 * anything else, death by a signal, or running past the timeout (then
 * SIGTERM, and SIGKILL 5 s later) is a failure to retry. Its standard
 * output and error are the consumer's.
 *
 * post: deliver each event with one HTTP request (lib/cehttp, binary mode
 * or structured): 2xx handled; 408, 429, 5xx and transport errors retry;
 * 401 and 403 stop the consumer (77); other 4xx are permanent.
 *
 * Ownership: a handler owns its copies of the command or URL and its
 * connection; its close() releases them.
 */
#ifndef HANDLER_H
#define HANDLER_H

#include <stdint.h>

#include "consume.h"
#include "diag.h"

/* 0 with *h filled, or an exit code with err set. */
int handler_exec_new(consume_handler *h, const char *command, uint64_t timeout_ms, errinfo *err);
int handler_post_new(consume_handler *h, const char *url, int structured, uint64_t timeout_ms,
		     errinfo *err);

#endif
