/* test_timefmt.c - RFC 3339 check/parse tables and the cached formatter. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"
#include "unit.h"

static const char *valid[] = {
	"2018-04-05T17:31:00Z",
	"2018-04-05T17:31:00.000000000Z",
	"2018-04-05T18:31:00+01:00",
	"2018-04-05T16:31:00-01:00",
	"2018-04-05t17:31:00z",
	"2018-04-05T17:31:00.1Z",
	"2018-04-05T17:31:00.123456789012345678901234567890Z",
	"1985-04-12T23:20:50.52Z",       /* RFC 3339 section 5.8 */
	"1996-12-19T16:39:57-08:00",
	"1990-12-31T23:59:60Z",          /* leap second */
	"1990-12-31T15:59:60-08:00",     /* the same leap second, local time */
	"1937-01-01T12:00:27.87+00:20",
	"2016-12-31T23:59:60.5Z",
	"2020-02-29T00:00:00Z",          /* leap year */
	"2000-02-29T00:00:00Z",          /* divisible by 400 */
	"0000-01-01T00:00:00Z",
	"9999-12-31T23:59:59.999999Z",
	"2018-04-05T17:31:00+23:59",
	"2018-04-05T17:31:00-00:00",
	"2018-06-30T23:59:60Z",
};

static const char *invalid[] = {
	"",
	"lunchtime",
	"2018-04-05T18:31Z",             /* no seconds */
	"2018-04-05T18:31:00X",
	"2018-04-05T18:31:00+25:00",
	"2018-04-05T18:31:00+24:00",
	"2018-04-05T18:31:00+xx:00",
	"2018-04-05T18:31:00+05",
	"2018-04-05T18:31:00+0500",
	"2018-04-05T18:31:00+05:60",
	"2018-04-05T18:31:00",           /* no offset */
	"2018-04-05 18:31:00Z",          /* space instead of T */
	"2018-04-05x18:31:00Z",
	"2018-04-05T18:31:00.Z",         /* empty fraction */
	"2018-04-05T18:31:00,5Z",
	"2019-02-29T00:00:00Z",          /* not a leap year */
	"1900-02-29T00:00:00Z",          /* divisible by 100, not 400 */
	"2018-04-31T00:00:00Z",
	"2018-13-01T00:00:00Z",
	"2018-00-01T00:00:00Z",
	"2018-01-00T00:00:00Z",
	"2018-01-32T00:00:00Z",
	"2018-01-01T24:00:00Z",
	"2018-01-01T23:60:00Z",
	"2018-01-01T23:59:61Z",
	"2018-04-05T12:00:60Z",          /* leap second not at 23:59 UTC */
	"2018-04-05T23:59:60Z",          /* not the last day of a month */
	"1990-12-31T23:59:60+01:00",     /* 22:59:60 UTC */
	"18-04-05T18:31:00Z",
	"+2018-04-05T18:31:00Z",
	"2018-4-05T18:31:00Z",
	"2018-04-05T18:31:00Zjunk",
	"2018-04-05T18:31:00Z ",
	" 2018-04-05T18:31:00Z",
	"2018-04-05T18:31:00+01:00:00",
	"2018-04-05T1:31:00Z",
	"2018/04/05T18:31:00Z",
	"2018-04-05T18:31:00.5",
	"2018-04-05T18:31:00-",
	"2018-04-05T18:31:00+01:0",
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		int64_t us;
		int rc = rfc3339_check(valid[i], strlen(valid[i]));
		if (rc != 0)
			printf("# rejected %s\n", valid[i]);
		CHECK_INT(rc, 0);
		CHECK_INT(rfc3339_parse_us(valid[i], strlen(valid[i]), &us), 0);
	}
}

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		int64_t us = 42;
		int rc = rfc3339_check(invalid[i], strlen(invalid[i]));
		if (rc != -1)
			printf("# accepted %s\n", invalid[i]);
		CHECK_INT(rc, -1);
		CHECK_INT(rfc3339_parse_us(invalid[i], strlen(invalid[i]), &us), -1);
		CHECK_INT(us, 42); /* untouched on failure */
	}
	/* Length is honoured: a valid prefix is not enough, and bytes past n
	 * are never read. */
	CHECK_INT(rfc3339_check("2018-04-05T17:31:00Z", 19), -1);
	CHECK_INT(rfc3339_check("2018-04-05T17:31:00Zjunk", 20), 0);
}

static void test_parse_values(void)
{
	static const struct { const char *s; int64_t us; } v[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"1970-01-01T00:00:00.000001Z", 1},
		{"1970-01-01T00:00:00.0000019Z", 1}, /* truncated, not rounded */
		{"1969-12-31T23:59:59.999999Z", -1},
		{"2018-04-05T17:31:00Z", INT64_C(1522949460000000)},
		{"2018-04-05T18:31:00+01:00", INT64_C(1522949460000000)},
		{"2018-04-05T16:31:00-01:00", INT64_C(1522949460000000)},
		{"2018-04-05T17:31:00.5Z", INT64_C(1522949460500000)},
		{"2000-02-29T12:00:00Z", INT64_C(951825600000000)},
		{"1990-12-31T23:59:60Z", INT64_C(662687999999999)},
		{"1990-12-31T15:59:60.3-08:00", INT64_C(662687999999999)},
		{"0000-01-01T00:00:00Z", INT64_C(-62167219200000000)},
		{"9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999)},
		{"1900-01-01T00:00:00Z", INT64_C(-2208988800000000)},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int64_t us = 0;
		CHECK_INT(rfc3339_parse_us(v[i].s, strlen(v[i].s), &us), 0);
		if (us != v[i].us)
			printf("# %s\n", v[i].s);
		CHECK_INT(us, v[i].us);
	}
}

/* Reference formatter through libc, independent of the cache. */
static void ref_format(int64_t us, char out[TIMEFMT_MICROS_LEN + 1])
{
	int64_t sec = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[96];
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)frac);
	snprintf(out, TIMEFMT_MICROS_LEN + 1, "%.*s", TIMEFMT_MICROS_LEN, tmp);
}

static void test_format(void)
{
	char out[TIMEFMT_MICROS_LEN + 1];
	rfc3339_format_us(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00.000000Z");
	rfc3339_format_us(-1, out);
	CHECK_STR(out, "1969-12-31T23:59:59.999999Z");
	rfc3339_format_us(-1000000, out);
	CHECK_STR(out, "1969-12-31T23:59:59.000000Z");
	rfc3339_format_us(-1000001, out);
	CHECK_STR(out, "1969-12-31T23:59:58.999999Z");
	rfc3339_format_us(INT64_C(1522949460123456), out);
	CHECK_STR(out, "2018-04-05T17:31:00.123456Z");
	rfc3339_format_us(INT64_C(951825600000000), out);
	CHECK_STR(out, "2000-02-29T12:00:00.000000Z");
	rfc3339_format_us(INT64_C(-62167219200000000), out);
	CHECK_STR(out, "0000-01-01T00:00:00.000000Z");
	/* Out of range: clamped to the representable years. */
	rfc3339_format_us(INT64_MIN, out);
	CHECK_STR(out, "0000-01-01T00:00:00.000000Z");
	rfc3339_format_us(INT64_MAX, out);
	CHECK_STR(out, "9999-12-31T23:59:59.999999Z");
	rfc3339_format_us(INT64_C(253402300800000000), out);
	CHECK_STR(out, "9999-12-31T23:59:59.999999Z");
	CHECK_INT(strlen(out), TIMEFMT_MICROS_LEN);
}

static void test_format_cache_boundaries(void)
{
	/* Step across second, minute, day, month, year and leap-day
	 * boundaries, in both directions, so the cache is hit, missed and
	 * re-filled; each result must equal the uncached reference. */
	static const int64_t base[] = {
		0, INT64_C(951782400000000) /* 2000-02-29 */,
		INT64_C(1704067200000000) /* 2024-01-01 */,
		INT64_C(-2208988800000000) /* 1900-01-01 */, -86400000000,
	};
	static const int64_t step[] = {1, 999, 999999, 1000000, 1000001, -1, -1000000};
	char got[TIMEFMT_MICROS_LEN + 1], want[TIMEFMT_MICROS_LEN + 1];
	int bad = 0;
	for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
		for (size_t s = 0; s < sizeof step / sizeof step[0]; s++) {
			int64_t t = base[b] - 3 * 1000000;
			for (int i = 0; i < 20000 && bad < 5; i++) {
				rfc3339_format_us(t, got);
				ref_format(t, want);
				if (strcmp(got, want) != 0) {
					printf("# %" PRId64 ": got %s want %s\n", t, got, want);
					bad++;
				}
				t += step[s] > 0 ? step[s] : -step[s] * (i % 2 ? -1 : 2);
			}
		}
	}
	CHECK_INT(bad, 0);
}

static void test_round_trip(void)
{
	char out[TIMEFMT_MICROS_LEN + 1];
	int64_t vals[] = {0, 1, -1, 999999, 1000000, INT64_C(1522949460123456),
			  INT64_C(-62167219200000000), INT64_C(253402300799999999),
			  INT64_C(951868799999999)};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		int64_t back = 12345;
		rfc3339_format_us(vals[i], out);
		CHECK_INT(rfc3339_check(out, strlen(out)), 0);
		CHECK_INT(rfc3339_parse_us(out, strlen(out), &back), 0);
		CHECK_INT(back, vals[i]);
	}
	/* A pseudo-random sweep over the whole representable range. */
	uint64_t x = 88172645463325252u;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t v = (int64_t)(x % UINT64_C(315569520000000000)) - INT64_C(62167219200000000);
		int64_t back;
		rfc3339_format_us(v, out);
		if (rfc3339_parse_us(out, strlen(out), &back) != 0 || back != v)
			bad++;
	}
	CHECK_INT(bad, 0);
}

/* rfc3339_check has a fast path for "YYYY-MM-DDTHH:MM:SS[.frac]Z" and
 * leaves everything else to the full parser, which rfc3339_parse_us uses
 * alone: the two must agree on every near-miss of the fixed form. */
static int same_verdict(const char *s, size_t n)
{
	int64_t us;
	int a = rfc3339_check(s, n) == 0, b = rfc3339_parse_us(s, n, &us) == 0;
	if (a != b)
		printf("# \"%.*s\": check %d, parse %d\n", (int)n, s, a, b);
	return a == b;
}

static void test_fast_form(void)
{
	static const char *base[] = {
		"2026-11-27T09:51:38.000001Z",
		"2026-11-27T09:51:38Z",
		"2024-02-29T23:59:59.9z",
		"2016-12-31T23:59:60Z",
		"2026-11-27T09:51:38.123456789+01:00",
		"1999-09-30t00:00:00.000000000000Z",
	};
	int bad = 0;
	for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
		char s[64];
		size_t n = strlen(base[b]);
		CHECK(rfc3339_check(base[b], n) == 0);
		/* every byte at every position; every truncation; one more byte */
		for (size_t i = 0; i < n; i++)
			for (int c = 0; c < 256; c++) {
				memcpy(s, base[b], n);
				s[i] = (char)c;
				bad += !same_verdict(s, n);
			}
		for (size_t k = 0; k <= n; k++)
			bad += !same_verdict(base[b], k);
		for (int c = 0; c < 256; c++) {
			memcpy(s, base[b], n);
			s[n] = (char)c;
			bad += !same_verdict(s, n + 1);
			memmove(s + 1, s, n);
			s[0] = (char)c;
			bad += !same_verdict(s, n + 1);
		}
	}
	/* every month/day/hour/minute/second field value around its range */
	static const char *years[] = {"2023", "2024", "1900", "2000", "0000", "9999"};
	for (size_t y = 0; y < sizeof years / sizeof years[0]; y++)
		for (int m = 0; m <= 13; m++)
			for (int d = 0; d <= 32; d++) {
				char s[64];
				snprintf(s, sizeof s, "%s-%02d-%02dT12:00:00Z", years[y], m, d);
				bad += !same_verdict(s, strlen(s));
			}
	for (int h = 0; h <= 99; h++)
		for (int v = 0; v <= 99; v += 1) {
			char s[64];
			snprintf(s, sizeof s, "2026-12-31T%02d:%02d:%02d.5Z", h, v, v);
			bad += !same_verdict(s, strlen(s));
			snprintf(s, sizeof s, "2026-06-30T23:%02d:%02dZ", h, v);
			bad += !same_verdict(s, strlen(s));
		}
	CHECK_INT(bad, 0);
	/* the fast form's own verdicts */
	CHECK(rfc3339_check("2024-02-29T00:00:00Z", 20) == 0);
	CHECK(rfc3339_check("2023-02-29T00:00:00Z", 20) == -1);
	CHECK(rfc3339_check("1900-02-29T00:00:00Z", 20) == -1);
	CHECK(rfc3339_check("2026-04-31T00:00:00Z", 20) == -1);
	CHECK(rfc3339_check("2026-11-27T09:51:38.Z", 21) == -1);
	CHECK(rfc3339_check("2026-11-27T09:51:38.1ZZ", 23) == -1);
	CHECK(rfc3339_check("2026-11-27T09:51:38.1", 21) == -1);
	CHECK(rfc3339_check("2026-11-27 09:51:38Z", 20) == -1);
	CHECK(rfc3339_check("2026-11-27T09:51:60Z", 20) == -1); /* not a month's end */
	CHECK(rfc3339_check("2026-12-31T23:59:60Z", 20) == 0);
}

static void test_now(void)
{
	int64_t a = timefmt_now_us();
	int64_t b = timefmt_now_us();
	CHECK(a > INT64_C(1577836800000000)); /* after 2020 */
	CHECK(b >= a - 1000000);
	time_t t = time(NULL);
	CHECK(a / 1000000 <= (int64_t)t + 1 && a / 1000000 >= (int64_t)t - 2);
	/* the coarse clock: the same clock, behind by at most a tick or so
	 * (a jiffy: 1-10 ms), never ahead */
	int64_t c = timefmt_now_coarse_us();
	int64_t d = timefmt_now_us();
	CHECK(c <= d);
	CHECK(d - c < 50000);
}

int main(void)
{
	RUN(test_valid);
	RUN(test_invalid);
	RUN(test_parse_values);
	RUN(test_fast_form);
	RUN(test_format);
	RUN(test_format_cache_boundaries);
	RUN(test_round_trip);
	RUN(test_now);
	return unit_done();
}
