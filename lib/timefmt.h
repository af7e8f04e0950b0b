/* timefmt.h - RFC 3339 timestamps. No allocation. */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_MICROS_LEN 27 /* "2026-11-27T09:51:38.123456Z" */

/* 0 if s[0..n) is a valid RFC 3339 date-time (section 5.6): full-date "T"
 * full-time, 'T'/'t' and 'Z'/'z' accepted, optional fraction of any number
 * of digits, offset Z or +hh:mm/-hh:mm, month/day ranges with leap years,
 * hour 00-23, minute 00-59, second 00-60 (leap second). Else -1. */
int rfc3339_check(const char *s, size_t n);
/* Parse to microseconds since the Unix epoch (fraction truncated to
 * microseconds, offset applied). 0 or -1 if invalid. */
int rfc3339_parse_us(const char *s, size_t n, int64_t *us);
/* Format microseconds since the epoch as UTC with exactly six fraction
 * digits and 'Z' into out (TIMEFMT_MICROS_LEN + 1 bytes, NUL-terminated). */
void rfc3339_format_us(int64_t us, char out[TIMEFMT_MICROS_LEN + 1]);
/* Current time as microseconds since the epoch (CLOCK_REALTIME). */
int64_t timefmt_now_us(void);

#endif
