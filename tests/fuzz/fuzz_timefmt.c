/* fuzz_timefmt.c - rfc3339_check and rfc3339_parse_us agree; a parsed
 * instant formats to a string that parses back to the same instant; the
 * formatter's per-second cache never changes its output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_US (INT64_C(-62167219200) * 1000000)
#define MAX_US (INT64_C(253402300799) * 1000000 + 999999)

static void check_format(int64_t us)
{
	char out[TIMEFMT_MICROS_LEN + 1], again[TIMEFMT_MICROS_LEN + 1];
	rfc3339_format_us(us, out);
	if (strlen(out) != TIMEFMT_MICROS_LEN || rfc3339_check(out, TIMEFMT_MICROS_LEN) != 0)
		abort();
	int64_t back;
	if (rfc3339_parse_us(out, TIMEFMT_MICROS_LEN, &back) != 0)
		abort();
	int64_t want = us < MIN_US ? MIN_US : us > MAX_US ? MAX_US : us;
	if (back != want)
		abort();
	/* Another second in between, then the same value: the cache is
	 * refilled and must give the same text. */
	rfc3339_format_us(us ^ INT64_C(0x40000000), again);
	rfc3339_format_us(us, again);
	if (memcmp(out, again, sizeof out) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t us = 0;
	int c = rfc3339_check(s, size);
	int p = rfc3339_parse_us(s, size, &us);
	if (c != p || (c != 0 && c != -1))
		abort();
	if (p == 0)
		check_format(us);
	if (size >= 8) {
		int64_t v;
		memcpy(&v, data, sizeof v);
		check_format(v);
	}
	return 0;
}
