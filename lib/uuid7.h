/* uuid7.h - UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then a
 * 12-bit counter seeded randomly each millisecond (method 1 of section
 * 6.2) so ids from one process are strictly increasing, then 62 random
 * bits. Time-ordered ids keep SQLite's unique index append-only.
 * If the clock goes back, or more than the counter's room (at least 2048
 * ids) is asked for in one millisecond, the timestamp field runs ahead of
 * the clock rather than ever producing a smaller id. Output only in the
 * caller's buffer; nothing to free. */
#ifndef UUID7_H
#define UUID7_H

#include <stdint.h>

#define UUID_STR_LEN 36

/* Write a new UUIDv7 in lowercase 8-4-4-4-12 form, NUL-terminated.
 * 0, or -1 if the random source failed. */
int uuid7_generate(char out[UUID_STR_LEN + 1]);
/* As uuid7_generate, with the clock reading given (Unix milliseconds):
 * for tests of clock steps. Ids stay increasing whatever ms_now is; the
 * state is shared with uuid7_generate. Thread-safe (one process lock). */
int uuid7_generate_ms(uint64_t ms_now, char out[UUID_STR_LEN + 1]);
/* Random UUIDv4, same form (for comparison benchmarks and tests). */
int uuid4_generate(char out[UUID_STR_LEN + 1]);

#endif
