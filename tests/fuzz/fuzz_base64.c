/* fuzz_base64.c - decode(encode(x)) == x; check agrees with decode; strict
 * decoding means every accepted input is the canonical encoding of what it
 * decodes to. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf e, d;
	buf_init(&e, 0);
	buf_init(&d, 0);
	if (base64_encode(&e, data, size) != 0)
		abort();
	if (e.len != (size + 2) / 3 * 4 || base64_check(e.data ? e.data : "", e.len) != 0)
		abort();
	if (base64_decode(&d, e.data ? e.data : "", e.len) != 0 || d.len != size ||
	    (size && memcmp(d.data, data, size) != 0))
		abort();
	buf_free(&e);
	buf_free(&d);

	const char *s = (const char *)data;
	buf_init(&d, 0);
	int rc = base64_decode(&d, s, size);
	int ck = base64_check(s, size);
	if ((rc == 0) != (ck == 0) || (rc != 0 && rc != -1))
		abort();
	if (rc == 0) {
		buf_init(&e, 0);
		if (base64_encode(&e, d.data ? d.data : "", d.len) != 0 || e.len != size ||
		    (size && memcmp(e.data, s, size) != 0))
			abort();
		buf_free(&e);
	} else if (d.len != 0) {
		abort(); /* a failed decode appends nothing */
	}
	buf_free(&d);
	return 0;
}
