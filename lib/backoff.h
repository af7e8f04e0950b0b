/* backoff.h - retry delays: exponential backoff with full jitter above a
 * floor, one rule for the relay's rescheduled rows and the consumer's
 * retried handlers. After n failed attempts the next try waits a random
 * delay between MIN and the ceiling min(MAX, MIN * 2^(n-1)), so many
 * failures at once spread their retries and none comes sooner than MIN.
 * No allocation; random bytes from rand.h.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>

/* The delay in milliseconds before the attempt after `failed` failed ones
 * (failed >= 1); min_ms <= max_ms. */
uint64_t backoff_delay_ms(uint64_t min_ms, uint64_t max_ms, unsigned failed);

#endif
