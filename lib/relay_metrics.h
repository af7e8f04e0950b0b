/* relay_metrics.h - outbox-relay's Prometheus metrics (--metrics-file and
 * the seed's publisher metrics): events published by type and topic,
 * publish errors by reason, publish latency (created_at to delivery
 * report), batch time, and, read from the table when the file is written,
 * the outbox size and the oldest pending age.
 *
 * Ownership: a relay_metrics owns its registry and its lookups; the
 * bindings and the connection it is given are borrowed per call.
 * Updates are meant for the relay's main thread only.
 */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include <stdint.h>

#include "bindings.h"
#include "diag.h"

typedef struct relay_metrics relay_metrics;
typedef struct sqlite3 sqlite3;

/* NULL with err set on failure. table labels every series. */
relay_metrics *relay_metrics_new(const char *path, const char *table, errinfo *err);

/* One delivery that succeeded: b may be NULL (sinks without topics);
 * created_us is the row's created_at (0 when unknown). */
void relay_metrics_sent(relay_metrics *m, const binding *b, int64_t created_us);
/* One failed attempt; reason is a short label such as a Kafka error name. */
void relay_metrics_error(relay_metrics *m, const char *reason);
/* One batch read and handed over, in seconds. */
void relay_metrics_batch(relay_metrics *m, double seconds);

/* Read the outbox size and oldest pending age from db (qtable quoted) and
 * write the file atomically when at least min_interval_ms passed since
 * the last write (0: now). 0, or 73/74 with err set (the old file stays); a write
 * not yet due returns the last write's status and reason again. */
int relay_metrics_write(relay_metrics *m, sqlite3 *db, const char *qtable, uint64_t min_interval_ms,
			errinfo *err);

void relay_metrics_free(relay_metrics *m);

#endif
