/* fuzz_cehttp.c - the text handling of lib/cehttp on any bytes:
 * percent-encoding yields a legal header value that decodes back to the
 * input; URL redaction never shows userinfo or a query and stays bounded;
 * Retry-After parsing never reads past n and answers -1 or a count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cehttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* the encoder writes upper case only */
}

static void check_pct(const uint8_t *data, size_t size)
{
	buf b;
	buf_init(&b, 0);
	if (cehttp_pct_encode(&b, (const char *)data, size) != 0)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];
		if (c < 0x21 || c > 0x7e || c == '"')
			abort(); /* not a legal, unquoted header value byte */
		unsigned char dec = c;
		if (c == '%') {
			if (i + 2 >= b.len)
				abort();
			int hi = hexval(b.data[i + 1]), lo = hexval(b.data[i + 2]);
			if (hi < 0 || lo < 0)
				abort();
			dec = (unsigned char)(hi * 16 + lo);
			/* Only what the binding requires is encoded. */
			if (dec >= 0x21 && dec <= 0x7e && dec != '"' && dec != '%')
				abort();
			i += 2;
		}
		if (k >= size || data[k++] != dec)
			abort();
	}
	if (k != size)
		abort();
	buf_free(&b);
}

static void check_redact(const uint8_t *data, size_t size)
{
	char url[512];
	size_t n = size < sizeof url - 1 ? size : sizeof url - 1;
	memcpy(url, data, n);
	url[n] = '\0';
	n = strlen(url);
	char out[96];
	memset(out, 'Z', sizeof out);
	cehttp_redact_url(url, out, sizeof out);
	size_t on = strnlen(out, sizeof out);
	if (on == sizeof out)
		abort(); /* not terminated inside the buffer */
	/* The query, if any, never shows: after '?' only "***". */
	const char *q = strchr(out, '?');
	if (q && strncmp(q, "?***", strlen(q)) != 0)
		abort();
	/* Userinfo never shows: whenever the authority holds an '@', the
	 * output starts with the scheme, "://" and "***@" (as far as it
	 * fits). */
	const char *sep = strstr(url, "://");
	size_t a = sep && strcspn(url, "/?#") >= (size_t)(sep - url) ? (size_t)(sep - url) + 3 : 0;
	size_t aend = a + strcspn(url + a, "/?#");
	if (memchr(url + a, '@', aend - a)) {
		char want[520];
		memcpy(want, url, a);
		memcpy(want + a, "***@", 5);
		size_t wl = a + 4, cmp = wl < sizeof out - 1 ? wl : sizeof out - 1;
		if (on < cmp || memcmp(out, want, cmp) != 0)
			abort();
	}
	char tiny[1];
	cehttp_redact_url(url, tiny, sizeof tiny);
	if (tiny[0] != '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_pct(data, size);
	check_redact(data, size);
	long r = cehttp_parse_retry_after((const char *)data, size);
	if (r < -1)
		abort();
	return 0;
}
