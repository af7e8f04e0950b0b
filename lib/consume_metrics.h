/* consume_metrics.h - event-consume's Prometheus metrics (--metrics-file):
 * events consumed by type, handled, handler errors by reason, handler
 * latency, dead-lettered, duplicates skipped, undecodable, and consumer
 * lag per partition (end offset minus the next offset to handle).
 *
 * Ownership: a consume_metrics owns its registry; nothing given is kept.
 * Single-threaded (the consumer's loop).
 */
#ifndef CONSUME_METRICS_H
#define CONSUME_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef struct consume_metrics consume_metrics;

consume_metrics *consume_metrics_new(const char *path, const char *group, errinfo *err);
void consume_metrics_event(consume_metrics *m, const char *type, size_t type_len);
void consume_metrics_handled(consume_metrics *m, unsigned long n, double seconds);
void consume_metrics_handler_error(consume_metrics *m, const char *reason);
void consume_metrics_dead_lettered(consume_metrics *m);
void consume_metrics_duplicate(consume_metrics *m);
void consume_metrics_undecodable(consume_metrics *m);
void consume_metrics_lag(consume_metrics *m, const char *topic, int32_t partition, int64_t lag);
/* Write the file when min_interval_ms passed since the last write (0:
 * now). 0, or 73/74 with err set (the old file stays); a write
 * not yet due returns the last write's status and reason again. */
int consume_metrics_write(consume_metrics *m, uint64_t min_interval_ms, errinfo *err);
void consume_metrics_free(consume_metrics *m);

#endif
