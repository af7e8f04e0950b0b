/* timefmt.c - see timefmt.h */
#include "timefmt.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#define US_PER_SEC INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact for every year we accept, no tables, no libc
 * time zone state (timegm would consult TZ files and is not in C11). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int dig(const char *s, size_t i)
{
	unsigned c = (unsigned char)s[i] - '0';
	return c <= 9 ? (int)c : -1;
}

/* Two digits at s[i]; -1 if either is not a digit. */
static int dig2(const char *s, size_t i)
{
	int a = dig(s, i), b = dig(s, i + 1);
	return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/* The shared strict parser behind check and parse. */
static int parse(const char *s, size_t n, int64_t *out)
{
	/* Shortest form: "YYYY-MM-DDTHH:MM:SSZ" (20). */
	if (n < 20)
		return -1;
	int y1 = dig2(s, 0), y2 = dig2(s, 2);
	if (y1 < 0 || y2 < 0 || s[4] != '-' || s[7] != '-')
		return -1;
	unsigned year = (unsigned)(y1 * 100 + y2);
	int mon = dig2(s, 5), day = dig2(s, 8);
	if (mon < 1 || mon > 12 || day < 1 || (unsigned)day > days_in_month(year, (unsigned)mon))
		return -1;
	if (s[10] != 'T' && s[10] != 't')
		return -1;
	int hh = dig2(s, 11), mm = dig2(s, 14), ss = dig2(s, 17);
	if (s[13] != ':' || s[16] != ':' || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	size_t i = 19;
	int64_t frac_us = 0;
	if (s[i] == '.') {
		i++;
		size_t start = i;
		int64_t scale = 100000;
		while (i < n && dig(s, i) >= 0) {
			/* Digits past the sixth are checked but truncated. */
			frac_us += dig(s, i) * scale;
			scale /= 10;
			i++;
		}
		if (i == start)
			return -1;
	}
	if (i >= n)
		return -1;
	int off_min;
	if (s[i] == 'Z' || s[i] == 'z') {
		off_min = 0;
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (n - i < 6 || s[i + 3] != ':')
			return -1;
		int oh = dig2(s, i + 1), om = dig2(s, i + 4);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off_min = oh * 60 + om;
		if (s[i] == '-')
			off_min = -off_min;
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t days = days_from_civil(year, (unsigned)mon, (unsigned)day);
	int64_t sec = days * SEC_PER_DAY + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss) - (int64_t)off_min * 60;
	if (ss == 60) {
		/* A leap second exists only as the last second of a UTC month
		 * (RFC 3339 section 5.7: 23:59:60 UTC at a month's end). */
		int64_t next = sec + 1;
		int64_t nd = next / SEC_PER_DAY - (next % SEC_PER_DAY < 0);
		int64_t ny;
		unsigned nm, ndd;
		civil_from_days(nd, &ny, &nm, &ndd);
		if (next - nd * SEC_PER_DAY != 0 || ndd != 1)
			return -1;
		/* Kept inside the second it extends so that order is preserved:
		 * 23:59:59.x <= 23:59:60.y <= 00:00:00. */
		frac_us = US_PER_SEC - 1;
	}
	if (out)
		*out = sec * US_PER_SEC + frac_us;
	return 0;
}

/* Little-endian load of 8 bytes, whatever the host's byte order. */
static uint64_t load_le64(const char *s)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;
	memcpy(&w, s, 8);
	return w;
#else
	unsigned char b[8];
	memcpy(b, s, 8);
	uint64_t w = 0;
	for (int i = 7; i >= 0; i--)
		w = w << 8 | b[i];
	return w;
#endif
}

/* Bytes [0, 16) of "YYYY-MM-DDTHH:MM:SS": 0xFF where a digit must be. */
#define DIGITS_0 UINT64_C(0x00FFFF00FFFFFFFF) /* "YYYY-MM-" */
#define DIGITS_8 UINT64_C(0xFFFF00FFFF00FFFF) /* "DDTHH:MM" */
#define LOW7S UINT64_C(0x7F7F7F7F7F7F7F7F)

/* 1 if every byte of w under mask is an ASCII digit. Each masked byte
 * becomes c ^ '0', which is 0..9 exactly for digits; adding 0x76 sets the
 * high bit for 10..0x7F, and OR-ing the byte itself catches 0x80 and up. A
 * carry out of a byte only happens for a byte that already fails. */
static int all_digits(uint64_t w, uint64_t mask)
{
	uint64_t x = (w ^ UINT64_C(0x3030303030303030)) & mask;
	return (((x + (UINT64_C(0x7676767676767676) & mask)) | x) & mask & ~LOW7S) == 0;
}

/* Fast acceptance of the form almost every producer writes:
 * "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (seconds 00-59). Returns 1 only when s
 * is certainly valid; 0 means "not this form, or not sure" and parse()
 * decides, so every rejection, offset and leap second keeps the one
 * careful implementation. */
static int check_common(const char *s, size_t n)
{
	if (n < 20)
		return 0;
	uint64_t a = load_le64(s), b = load_le64(s + 8);
	/* separators: '-' at 4 and 7; 'T' or 't' at 10, ':' at 13 */
	if ((a & ~DIGITS_0) != (UINT64_C(0x2D) << 32 | UINT64_C(0x2D) << 56) ||
	    ((b | UINT64_C(0x20) << 16) & ~DIGITS_8) != (UINT64_C(0x74) << 16 | UINT64_C(0x3A) << 40) ||
	    !all_digits(a, DIGITS_0) || !all_digits(b, DIGITS_8))
		return 0;
	/* ":SS" at 16..18 */
	unsigned s1 = (unsigned char)s[17] - '0', s2 = (unsigned char)s[18] - '0';
	if (s[16] != ':' || s1 > 5 || s2 > 9)
		return 0;
	unsigned mon = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	unsigned day = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	unsigned hh = (unsigned)(s[11] - '0') * 10 + (unsigned)(s[12] - '0');
	unsigned mm = (unsigned)(s[14] - '0') * 10 + (unsigned)(s[15] - '0');
	if (mon - 1 > 11 || day == 0 || hh > 23 || mm > 59)
		return 0;
	if (day > 28) {
		unsigned year = ((unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0')) * 100 +
				(unsigned)(s[2] - '0') * 10 + (unsigned)(s[3] - '0');
		if (day > days_in_month(year, mon))
			return 0;
	}
	size_t i = 19;
	if (s[i] == '.') {
		i++;
		while (i < n && (unsigned)((unsigned char)s[i] - '0') <= 9u)
			i++;
		if (i == 20)
			return 0;
	}
	return i == n - 1 && (s[i] == 'Z' || s[i] == 'z');
}

int rfc3339_check(const char *s, size_t n)
{
	if (check_common(s, n))
		return 0;
	return parse(s, n, NULL);
}

int rfc3339_parse_us(const char *s, size_t n, int64_t *us)
{
	int64_t v;
	if (parse(s, n, &v) != 0)
		return -1;
	*us = v;
	return 0;
}

static const char two_digits[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static void put2(char *p, unsigned v)
{
	memcpy(p, two_digits + 2 * v, 2);
}

/* First and last instants we can write in four-digit years. */
#define MIN_SEC (INT64_C(-62167219200))  /* 0000-01-01T00:00:00Z */
#define MAX_SEC (INT64_C(253402300799))  /* 9999-12-31T23:59:59Z */

static void format_second(int64_t sec, char out[19])
{
	int64_t days = sec / SEC_PER_DAY;
	int64_t rem = sec % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	put2(out, (unsigned)(y / 100));
	put2(out + 2, (unsigned)(y % 100));
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, (unsigned)(rem / 3600));
	out[13] = ':';
	put2(out + 14, (unsigned)(rem / 60 % 60));
	out[16] = ':';
	put2(out + 17, (unsigned)(rem % 60));
}

/* Per-thread cache of the last second formatted: events come in bursts
 * within one second, so the calendar arithmetic runs once a second and the
 * common case is one 19-byte copy plus six digits. */
static _Thread_local int64_t cache_sec = INT64_MIN;
static _Thread_local char cache_text[19];

void rfc3339_format_us(int64_t us, char out[TIMEFMT_MICROS_LEN + 1])
{
	/* Floor division: -1 us is 1969-12-31T23:59:59.999999Z. */
	int64_t sec = us / US_PER_SEC;
	int64_t frac = us % US_PER_SEC;
	if (frac < 0) {
		frac += US_PER_SEC;
		sec--;
	}
	/* Out of the four-digit-year range: clamp rather than write a
	 * malformed timestamp. */
	if (sec < MIN_SEC) {
		sec = MIN_SEC;
		frac = 0;
	} else if (sec > MAX_SEC) {
		sec = MAX_SEC;
		frac = US_PER_SEC - 1;
	}
	if (sec != cache_sec) {
		format_second(sec, cache_text);
		cache_sec = sec;
	}
	memcpy(out, cache_text, 19);
	out[19] = '.';
	unsigned f = (unsigned)frac;
	put2(out + 20, f / 10000);
	put2(out + 22, f / 100 % 100);
	put2(out + 24, f % 100);
	out[26] = 'Z';
	out[27] = '\0';
}

int64_t timefmt_now_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0; /* cannot fail for CLOCK_REALTIME on Linux */
	return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t timefmt_now_coarse_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0)
		return timefmt_now_us();
	return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}
