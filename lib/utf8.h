/* utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/* Length of the longest valid UTF-8 prefix of s; == n when all is valid. */
size_t utf8_valid_prefix(const char *s, size_t n);

static inline int utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }

#endif
